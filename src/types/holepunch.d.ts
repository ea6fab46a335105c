// Minimal types for the holepunch modules we use (they ship none).
declare module "hyperswarm" {
  const Hyperswarm: any;
  export default Hyperswarm;
}
declare module "hyperdht" {
  const DHT: any;
  export default DHT;
}
declare module "protomux" {
  const Protomux: any;
  export default Protomux;
}
declare module "hypercore-crypto" {
  const crypto: {
    keyPair(seed?: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array };
    validateKeyPair(kp: { publicKey: Uint8Array; secretKey: Uint8Array }): boolean;
    sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array;
    verify(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean;
    hash(data: Uint8Array | Uint8Array[]): Buffer;
  };
  export default crypto;
}
declare module "sodium-native" {
  const sodium: unknown;
  export default sodium;
}
declare module "blind-relay" {
  const BlindRelay: { Server: any; Client: any };
  export default BlindRelay;
}

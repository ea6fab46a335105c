// ed25519 identity: the key pair a host proves itself with on the mesh (the
// hyperswarm Noise handshake) and signs its votes with.

import { closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, writeSync, existsSync } from "node:fs";
import crypto from "hypercore-crypto";
import { UmbraError } from "./errors.ts";

export type KeyPair = { publicKey: Buffer; secretKey: Buffer };

export function generateKeyPair(): KeyPair {
  const kp = crypto.keyPair();
  return { publicKey: Buffer.from(kp.publicKey), secretKey: Buffer.from(kp.secretKey) };
}

/** Writes {"publicKey","secretKey"} as hex, mode 0600, via a fsynced temp file and a rename. */
export function writeKeyFile(path: string, kp: KeyPair, opts: { force: boolean }): void {
  if (!opts.force && existsSync(path)) {
    throw new UmbraError("key_invalid", `${path} already exists; refusing to overwrite a key (use --force to replace it)`, { path });
  }
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, JSON.stringify({ publicKey: kp.publicKey.toString("hex"), secretKey: kp.secretKey.toString("hex") }) + "\n");
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export function readKeyFile(path: string): KeyPair {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    throw new UmbraError("key_unreadable", `cannot read key file ${path}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file (create one with `umbra keygen --out " + path + "`)" : (err as Error).message}`, { path }, err);
  }
  if ((st.mode & 0o077) !== 0) {
    throw new UmbraError("key_invalid", `key file ${path} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}); fix it with: chmod 600 ${path}`, { path });
  }
  let parsed: { publicKey?: unknown; secretKey?: unknown };
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new UmbraError("key_invalid", `key file ${path} is not valid JSON: ${(err as Error).message}`, { path }, err);
  }
  const hex = (v: unknown, bytes: number, what: string): Buffer => {
    if (typeof v !== "string" || !/^[0-9a-f]*$/.test(v) || v.length !== bytes * 2) {
      throw new UmbraError("key_invalid", `key file ${path}: ${what} must be ${bytes * 2} lowercase hex characters`, { path });
    }
    return Buffer.from(v, "hex");
  };
  const kp = { publicKey: hex(parsed.publicKey, 32, "publicKey"), secretKey: hex(parsed.secretKey, 64, "secretKey") };
  if (!crypto.validateKeyPair(kp)) {
    throw new UmbraError("key_invalid", `key file ${path}: the secret key does not belong to the public key (the file is corrupt)`, { path });
  }
  return kp;
}

export function sign(secretKey: Buffer, message: Buffer): Buffer {
  return Buffer.from(crypto.sign(message, secretKey));
}

export function verify(publicKey: Buffer, message: Buffer, signature: Buffer): boolean {
  if (signature.length !== 64 || publicKey.length !== 32) return false;
  return crypto.verify(message, signature, publicKey);
}

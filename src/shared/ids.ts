// Branded ids and units: a HostId cannot be passed where a ServiceName is
// expected, and a duration in milliseconds says so in its type.

export type HostId = string & { readonly __brand: "HostId" };
export type ServiceName = string & { readonly __brand: "ServiceName" };
export type Millis = number & { readonly __brand: "Millis" };
export type Epoch = number & { readonly __brand: "Epoch" };

export const hostId = (s: string): HostId => s as HostId;
export const serviceName = (s: string): ServiceName => s as ServiceName;
export const millis = (n: number): Millis => n as Millis;
export const epoch = (n: number): Epoch => n as Epoch;

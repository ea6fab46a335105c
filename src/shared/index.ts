export { assert, assertNever, AssertionError } from "./assert.ts";
export { UmbraError, isUmbraError, type ErrorCode } from "./errors.ts";
export { hostId, serviceName, millis, epoch, type HostId, type ServiceName, type Millis, type Epoch } from "./ids.ts";
export { rng, type Rng } from "./rng.ts";
export { logger, type Logger, type Level } from "./log.ts";

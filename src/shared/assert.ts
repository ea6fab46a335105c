// Assertions stay on in production: a failed one is a bug, and the agent
// crashes rather than act on a state it does not understand.

export class AssertionError extends Error {
  override name = "AssertionError";
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

export function assertNever(x: never, message = "unreachable"): never {
  throw new AssertionError(`${message}: ${JSON.stringify(x)}`);
}

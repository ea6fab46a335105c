/** A JSON value, as stored in the state document's deployment configuration. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

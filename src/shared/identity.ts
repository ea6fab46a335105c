// ed25519 identity: the key pair a host proves itself with on the mesh (the
// hyperswarm Noise handshake) and signs its votes with.

import { closeSync, fsyncSync, linkSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync, existsSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { dirname } from "node:path";
import crypto from "hypercore-crypto";
import { assert } from "./assert.ts";
import { UmbraError } from "./errors.ts";

export const PUBLIC_KEY_BYTES = 32;
export const SECRET_KEY_BYTES = 64;
export const SIGNATURE_BYTES = 64;

export type KeyPair = { publicKey: Buffer; secretKey: Buffer };

export function generateKeyPair(): KeyPair {
  const kp = crypto.keyPair();
  return { publicKey: Buffer.from(kp.publicKey), secretKey: Buffer.from(kp.secretKey) };
}

/**
 * Writes {"publicKey","secretKey"} as hex, mode 0600, via a fsynced temp file:
 * a crash leaves the old file or the new one, never half a key. Without force,
 * the temp file is hard-linked into place, which fails if the path exists, so
 * a key that appears meanwhile is not overwritten either.
 */
export function writeKeyFile(path: string, kp: KeyPair, opts: { force: boolean }): void {
  assert(kp.publicKey.length === PUBLIC_KEY_BYTES, "publicKey is 32 bytes");
  assert(kp.secretKey.length === SECRET_KEY_BYTES, "secretKey is 64 bytes");
  const refuse = () => new UmbraError("key_invalid", `${path} already exists; refusing to overwrite a key (use --force to replace it)`, { path });
  if (!opts.force && existsSync(path)) throw refuse();
  // A fresh random name, created exclusively ("wx"): the mode applies only on
  // creation, so reusing a leftover temp file could keep a looser mode.
  const tmp = `${path}.tmp-${randomBytes(6).toString("hex")}`;
  try {
    const fd = openSync(tmp, "wx", 0o600);
    try {
      writeSync(fd, JSON.stringify({ publicKey: kp.publicKey.toString("hex"), secretKey: kp.secretKey.toString("hex") }) + "\n");
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (opts.force) renameSync(tmp, path);
    else {
      try {
        linkSync(tmp, path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EEXIST") throw refuse();
        throw err;
      }
    }
    fsyncDir(dirname(path));
  } catch (err) {
    if (err instanceof UmbraError) throw err;
    throw new UmbraError("key_unreadable", `cannot write key file ${path}: ${ioReason(err)}`, { path }, err);
  } finally {
    rmSync(tmp, { force: true }); // gone already after a rename; after a link, the key stays at path
  }
}

/** Makes the new directory entry durable, not just the file's bytes. */
function fsyncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function ioReason(err: unknown): string {
  switch ((err as NodeJS.ErrnoException).code) {
    case "ENOENT":
      return "no such file or directory";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    default:
      return (err as Error).message;
  }
}

/** Reads and checks a key file the way ssh does: private to its owner, or refused. */
export function readKeyFile(path: string): KeyPair {
  let st;
  let text: string;
  try {
    st = statSync(path);
    text = readFileSync(path, "utf8");
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === "ENOENT" ? `no such file (create one with \`umbra keygen --out ${path}\`)` : ioReason(err);
    throw new UmbraError("key_unreadable", `cannot read key file ${path}: ${why}`, { path }, err);
  }
  if ((st.mode & 0o077) !== 0) {
    throw new UmbraError("key_invalid", `key file ${path} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}); fix it with: chmod 600 ${path}`, { path });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new UmbraError("key_invalid", `key file ${path} is not valid JSON: ${(err as Error).message}`, { path }, err);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new UmbraError("key_invalid", `key file ${path} must hold a JSON object {"publicKey", "secretKey"}`, { path });
  }
  const fields = parsed as { publicKey?: unknown; secretKey?: unknown };
  const hex = (v: unknown, bytes: number, what: string): Buffer => {
    if (typeof v !== "string" || !/^[0-9a-f]*$/.test(v) || v.length !== bytes * 2) {
      throw new UmbraError("key_invalid", `key file ${path}: ${what} must be ${bytes * 2} lowercase hex characters`, { path });
    }
    return Buffer.from(v, "hex");
  };
  const kp = { publicKey: hex(fields.publicKey, PUBLIC_KEY_BYTES, "publicKey"), secretKey: hex(fields.secretKey, SECRET_KEY_BYTES, "secretKey") };
  if (!crypto.validateKeyPair(kp)) {
    throw new UmbraError("key_invalid", `key file ${path}: the secret key does not belong to the public key (the file is corrupt)`, { path });
  }
  return kp;
}

export function sign(secretKey: Buffer, message: Buffer): Buffer {
  assert(secretKey.length === SECRET_KEY_BYTES, "secretKey is 64 bytes");
  const signature = Buffer.from(crypto.sign(message, secretKey));
  assert(signature.length === SIGNATURE_BYTES, "an ed25519 signature is 64 bytes");
  return signature;
}

/** False for a wrong key, a tampered message, or a malformed signature or key (wire data is untrusted). */
export function verify(publicKey: Buffer, message: Buffer, signature: Buffer): boolean {
  if (signature.length !== SIGNATURE_BYTES || publicKey.length !== PUBLIC_KEY_BYTES) return false;
  return crypto.verify(message, signature, publicKey);
}

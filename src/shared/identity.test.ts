// Proves keys are written private, never overwritten by accident, refused
// when readable by others or corrupt, and that signatures verify only intact.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { spawnSync } from "node:child_process";
import { generateKeyPair, readKeyFile, sign, verify, writeKeyFile } from "./identity.ts";

const dir = mkdtempSync(join(tmpdir(), "umbra-identity-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ROOT = resolve(import.meta.dir, "../..");

describe("key files", () => {
  test("written 0600 and read back", () => {
    const kp = generateKeyPair();
    const f = join(dir, "a.key");
    writeKeyFile(f, kp, { force: false });
    expect(statSync(f).mode & 0o777).toBe(0o600);
    const back = readKeyFile(f);
    expect(back.publicKey.equals(kp.publicKey)).toBe(true);
    expect(back.secretKey.equals(kp.secretKey)).toBe(true);
  });

  test("never overwritten without force", () => {
    const f = join(dir, "b.key");
    writeKeyFile(f, generateKeyPair(), { force: false });
    expect(() => writeKeyFile(f, generateKeyPair(), { force: false })).toThrow(/already exists; refusing to overwrite/);
    const kp = generateKeyPair();
    writeKeyFile(f, kp, { force: true });
    expect(readKeyFile(f).publicKey.equals(kp.publicKey)).toBe(true);
  });

  test("a refused or failed write leaves no temp file behind", () => {
    const sub = join(dir, "clean");
    mkdirSync(sub);
    const f = join(sub, "c.key");
    writeKeyFile(f, generateKeyPair(), { force: false });
    expect(() => writeKeyFile(f, generateKeyPair(), { force: false })).toThrow(/already exists/);
    writeKeyFile(f, generateKeyPair(), { force: true });
    expect(readdirSync(sub)).toEqual(["c.key"]);
  });

  test("a directory that does not exist is an operating error, not a crash", () => {
    expect(() => writeKeyFile(join(dir, "no/such/dir/k.key"), generateKeyPair(), { force: false })).toThrow(/^cannot write key file .*no\/such\/dir\/k\.key: no such file or directory$/);
  });

  test.each([
    ["readable by others", (f: string) => chmodSync(f, 0o644), /readable by group or others \(mode 644\); fix it with: chmod 600/],
    ["a secret that is not the public key's", (f: string) => {
      const j = JSON.parse(readFileSync(f, "utf8"));
      j.secretKey = generateKeyPair().secretKey.toString("hex");
      writeFileSync(f, JSON.stringify(j), { mode: 0o600 });
    }, /does not belong to the public key/],
    ["truncated hex", (f: string) => {
      const j = JSON.parse(readFileSync(f, "utf8"));
      j.publicKey = j.publicKey.slice(2);
      writeFileSync(f, JSON.stringify(j), { mode: 0o600 });
    }, /publicKey must be 64 lowercase hex characters/],
    ["not JSON", (f: string) => writeFileSync(f, "garbage", { mode: 0o600 }), /is not valid JSON/],
    ["JSON but not an object", (f: string) => writeFileSync(f, "null", { mode: 0o600 }), /must hold a JSON object/],
  ])("refused when %s", (_name, spoil, why) => {
    const f = join(dir, `spoiled-${Math.random().toString(36).slice(2)}.key`);
    writeKeyFile(f, generateKeyPair(), { force: false });
    spoil(f);
    expect(() => readKeyFile(f)).toThrow(why);
  });

  test("a missing key file says how to make one", () => {
    expect(() => readKeyFile(join(dir, "nope.key"))).toThrow(/no such file \(create one with `umbra keygen --out/);
  });
});

test("signatures verify only for the intact message and the right key", () => {
  const kp = generateKeyPair();
  const msg = Buffer.from("vote web 2 h2");
  const sig = sign(kp.secretKey, msg);
  expect(verify(kp.publicKey, msg, sig)).toBe(true);
  expect(verify(kp.publicKey, Buffer.from("vote web 2 h3"), sig)).toBe(false);
  expect(verify(generateKeyPair().publicKey, msg, sig)).toBe(false);
  const bad = Buffer.from(sig);
  bad[0] = bad[0]! ^ 1;
  expect(verify(kp.publicKey, msg, bad)).toBe(false);
  expect(verify(kp.publicKey, msg, sig.subarray(0, 10))).toBe(false);
});

test("umbra keygen writes a key the agent can read, and refuses to overwrite it", () => {
  const f = join(dir, "cli.key");
  const main = join(ROOT, "src/cli/main.ts");
  const node = join(ROOT, "node_modules/.bin/node");
  const r = spawnSync(node, [main, "keygen", "--out", f, "--json"], { encoding: "utf8" });
  expect(r.status).toBe(0);
  const out = JSON.parse(r.stdout);
  expect(out.publicKey).toBe(readKeyFile(f).publicKey.toString("hex"));
  const again = spawnSync(node, [main, "keygen", "--out", f], { encoding: "utf8" });
  expect(again.status).toBe(1);
  expect(again.stderr).toContain("already exists; refusing to overwrite a key (use --force to replace it)");
});

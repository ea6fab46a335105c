// What the single executable carries and how it reaches it, outside the
// executable: the data files are found in the checkout; the cache folder
// follows the environment and is refused unless ours alone; a native file is
// written only when its content differs from the build's digest, and never
// from bytes that do not match it; other builds' folders are swept.
// (Inside the executable: test/executable.slow.test.ts.)
import { afterAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cacheBase, checkoutPath, DATA_FILES, dataFile, ensureFile, isExecutable, privateDir, removeOtherBuilds, type DataFile } from "./embedded.ts";

const dir = mkdtempSync(join(tmpdir(), "umbra-embedded-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

test("in a checkout every data file is found where it lies, and read from there", () => {
  expect(isExecutable()).toBe(false);
  for (const name of Object.keys(DATA_FILES) as DataFile[]) {
    expect(existsSync(checkoutPath(name))).toBe(true);
    expect(dataFile(name).equals(readFileSync(checkoutPath(name)))).toBe(true);
  }
});

test("the cache folder: UMBRA_CACHE_DIR, then systemd's CACHE_DIRECTORY, then the user's cache (root's too)", () => {
  expect(cacheBase({ UMBRA_CACHE_DIR: "/a", CACHE_DIRECTORY: "/b" }, "/root")).toBe("/a");
  expect(cacheBase({ CACHE_DIRECTORY: "/b:/c" }, "/root")).toBe("/b");
  expect(cacheBase({}, "/root")).toBe("/root/.cache/umbra");
  expect(cacheBase({ XDG_CACHE_HOME: "/x" }, "/h")).toBe("/x/umbra");
});

test("a cache folder that is not ours alone is refused, saying why", () => {
  const ok = privateDir(join(dir, "ok"));
  expect(statSync(ok).mode & 0o777).toBe(0o700);
  const open = join(dir, "open");
  mkdirSync(open);
  chmodSync(open, 0o777);
  expect(() => privateDir(open)).toThrow(/writable by others \(mode 777\)/);
  const link = join(dir, "link");
  symlinkSync(ok, link);
  expect(() => privateDir(link)).toThrow(/not a directory \(a symbolic link\?\)/);
  if (process.getuid?.() === 0) {
    const theirs = join(dir, "theirs");
    mkdirSync(theirs, { mode: 0o700 });
    chownSync(theirs, 65534, 65534);
    expect(() => privateDir(theirs)).toThrow(/belongs to uid 65534/);
  }
});

test("a native file is written when absent or altered, left when whole, and never from bytes that miss the digest", () => {
  const bytes = new TextEncoder().encode("native code");
  const path = join(dir, "lib.so");
  ensureFile(path, () => bytes, sha(bytes));
  expect(readFileSync(path, "utf8")).toBe("native code");
  const before = statSync(path).mtimeMs;
  ensureFile(path, () => {
    throw new Error("a whole file is not read again");
  }, sha(bytes));
  expect(statSync(path).mtimeMs).toBe(before);
  chmodSync(path, 0o600);
  writeFileSync(path, "tampered");
  ensureFile(path, () => bytes, sha(bytes));
  expect(readFileSync(path, "utf8")).toBe("native code");
  expect(() => ensureFile(join(dir, "other.so"), () => bytes, sha(new TextEncoder().encode("else")))).toThrow(/executable is damaged/);
  expect(existsSync(join(dir, "other.so"))).toBe(false);
});

test("other builds' folders are swept; ours and anything not a build's are kept", () => {
  const base = privateDir(join(dir, "cache"));
  for (const d of ["0123456789abcdef", "fedcba9876543210", "notes"]) mkdirSync(join(base, d));
  removeOtherBuilds(base, "0123456789abcdef");
  expect(existsSync(join(base, "0123456789abcdef"))).toBe(true);
  expect(existsSync(join(base, "fedcba9876543210"))).toBe(false);
  expect(existsSync(join(base, "notes"))).toBe(true);
});

// The files umbra needs beside its code, wherever it runs from. In a
// checkout each lies in the repository or in node_modules; in the single
// executable (dist/umbra, built by scripts/build.ts) they ride inside it as
// Node SEA assets.
//
// Data files (the forecaster, the dashboard's page, script and uPlot, the
// systemd unit `umbra install` writes, Automerge's wasm) are
// read from the executable straight into memory. Native code cannot be
// loaded from memory: the addons (udx-native, sodium-native, ONNX Runtime's
// binding and its libonnxruntime.so.1) are written out once to a private
// cache directory, each checked against the SHA-256 recorded at build time
// before it is loaded (an altered or half-written file is written again),
// and loaded with process.dlopen. ONNX Runtime's binding finds its library
// beside it (its RUNPATH is $ORIGIN): no LD_LIBRARY_PATH.
//
// The cache directory: $UMBRA_CACHE_DIR, else systemd's $CACHE_DIRECTORY
// (CacheDirectory=umbra: /var/cache/umbra, the umbra user's), else
// $XDG_CACHE_HOME/umbra or ~/.cache/umbra (root's too: a root shell's
// `umbra keygen` must not trip over the service's folder, which is not
// root's); inside it one folder per build.
// That folder must be ours alone (owned by this user, no one else may write
// it, not a symbolic link), or umbra refuses to load code from it.

import { createHash } from "node:crypto";
import { closeSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, writeSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { join, resolve } from "node:path";

/** A data file: where it lies in a checkout (relative to the repository), or in a package. */
type Source = { repo: string } | { pkg: string; file: string };

/** The data files, by the name they carry inside the executable. */
export const DATA_FILES = {
  "forecaster.onnx": { repo: "models/forecaster.onnx" },
  "ui/index.html": { repo: "src/api/ui/index.html" },
  "ui/app.js": { repo: "src/api/ui/app.js" },
  "ui/uplot.js": { pkg: "uplot", file: "dist/uPlot.iife.min.js" },
  "ui/uplot.css": { pkg: "uplot", file: "dist/uPlot.min.css" },
  "contrib/umbra.service": { repo: "contrib/umbra.service" },
  "automerge.wasm": { pkg: "@automerge/automerge", file: "dist/mjs/wasm_bindgen_output/web/automerge_wasm_bg.wasm" },
} as const satisfies Record<string, Source>;
export type DataFile = keyof typeof DATA_FILES;

/** The asset that lists the native files and their SHA-256 (written by scripts/build.ts). */
export const NATIVE_MANIFEST = "native.json";
export type NativeManifest = { build: string; files: Record<string, string> };

const ROOT = resolve(import.meta.dirname, "../..");

type Sea = { isSea(): boolean; getAsset(key: string): ArrayBuffer; getRawAsset(key: string): ArrayBuffer };
let seaApi: Sea | null | undefined;

/** node:sea when running as the single executable; null in a checkout (and under runtimes without it). */
function sea(): Sea | null {
  if (seaApi === undefined) {
    const m = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule?.("node:sea") as Sea | undefined;
    seaApi = m !== undefined && m.isSea() ? m : null;
  }
  return seaApi;
}

/** Whether this process is the single executable. */
export const isExecutable = (): boolean => sea() !== null;

/** Where a data file lies in a checkout. */
export function checkoutPath(name: DataFile): string {
  const src: Source = DATA_FILES[name];
  if ("repo" in src) return join(ROOT, src.repo);
  const entry = createRequire(join(ROOT, "package.json")).resolve(src.pkg);
  const pkgRoot = entry.slice(0, entry.lastIndexOf(`node_modules/${src.pkg}/`) + `node_modules/${src.pkg}/`.length);
  return join(pkgRoot, src.file);
}

/** A data file's bytes: from inside the executable, or from the checkout. */
export function dataFile(name: DataFile): Buffer {
  const s = sea();
  return s === null ? readFileSync(checkoutPath(name)) : Buffer.from(s.getAsset(name));
}

/** The cache folder's parent, by the environment (see the header). */
export function cacheBase(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  if (env.UMBRA_CACHE_DIR) return env.UMBRA_CACHE_DIR;
  if (env.CACHE_DIRECTORY) return env.CACHE_DIRECTORY.split(":")[0]!;
  return join(env.XDG_CACHE_HOME || join(home, ".cache"), "umbra");
}

/** Creates `dir` (0700) if need be and checks it is ours alone; throws saying what is wrong otherwise. */
export function privateDir(dir: string, uid: number | undefined = process.getuid?.()): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new Error(`${dir}: umbra's native-code cache is not a directory (a symbolic link?); remove it or set UMBRA_CACHE_DIR`);
  if (uid !== undefined && st.uid !== uid) throw new Error(`${dir}: umbra's native-code cache belongs to uid ${st.uid}, not to this user (${uid}); remove it or set UMBRA_CACHE_DIR`);
  if ((st.mode & 0o022) !== 0) throw new Error(`${dir}: umbra's native-code cache is writable by others (mode ${(st.mode & 0o777).toString(8)}); chmod go-w it or set UMBRA_CACHE_DIR`);
  return dir;
}

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");
const HASH_CHUNK_BYTES = 1 << 20;

/** The SHA-256 of a file, read a chunk at a time (a 44 MB library is not held in memory whole); null when it cannot be read. */
function fileDigest(path: string): string | null {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return null;
  }
  try {
    const h = createHash("sha256");
    const buf = Buffer.allocUnsafe(HASH_CHUNK_BYTES);
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) h.update(buf.subarray(0, n));
    return h.digest("hex");
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes the bytes `content()` gives to `path` unless it already holds
 * exactly them (by SHA-256): a temporary file, synced, renamed over. The
 * bytes are asked for only then: reading an asset touches its pages of the
 * executable, which would count 44 MB more of it in the agent's memory.
 */
export function ensureFile(path: string, content: () => Uint8Array, digest: string): void {
  if (fileDigest(path) === digest) return;
  const bytes = content();
  if (sha256(bytes) !== digest) throw new Error(`the executable's copy of ${path} does not match its build's SHA-256: the executable is damaged`);
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w", 0o500);
  try {
    writeSync(fd, bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

let nativeDir: string | null = null;

/** The folder holding every native file of this build, written out and verified (once per process). */
function natives(s: Sea): string {
  if (nativeDir !== null) return nativeDir;
  const manifest = JSON.parse(Buffer.from(s.getAsset(NATIVE_MANIFEST)).toString("utf8")) as NativeManifest;
  const base = privateDir(cacheBase());
  const dir = privateDir(join(base, manifest.build));
  for (const [name, digest] of Object.entries(manifest.files)) ensureFile(join(dir, name), () => new Uint8Array(s.getRawAsset(name)), digest);
  removeOtherBuilds(base, manifest.build);
  nativeDir = dir;
  return dir;
}

/** A build's folder name: 16 hex digits (scripts/build.ts). */
const BUILD_DIR = /^[0-9a-f]{16}$/;

/**
 * Removes the folders earlier builds left in the cache (an upgrade's): ~45 MB
 * each. A process of an older build still running keeps the files it loaded
 * (they stay mapped); best effort, a folder that will not go is left.
 */
export function removeOtherBuilds(base: string, keep: string): void {
  for (const name of readdirSync(base)) {
    if (name === keep || !BUILD_DIR.test(name)) continue;
    try {
      rmSync(join(base, name), { recursive: true, force: true });
    } catch {
      // in use or not ours to remove: left
    }
  }
}

/** A native addon carried by the executable (by its file name, e.g. "udx-native.node"), loaded from the cache. */
export function loadAddon(file: string): unknown {
  const s = sea();
  if (s === null) throw new Error(`loadAddon(${file}) runs only inside the single executable`);
  const mod = { exports: {} as unknown };
  process.dlopen(mod, join(natives(s), file));
  return mod.exports;
}

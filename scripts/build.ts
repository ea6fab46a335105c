// npm run build: umbra as one executable, dist/umbra-linux-ARCH (and
// dist/umbra, for this machine's architecture), with Node's single
// executable applications: the Node binary of the version the agent runs on
// (the `node` devDependency; for another architecture its npm package
// node-linux-ARCH, fetched with `npm pack`), with a blob injected by postject
// that holds the bundled application (Bun's bundler, one CommonJS file) and
// its assets: the data files of src/shared/embedded.ts and the native code
// (udx-native, sodium-native, ONNX Runtime's binding and libonnxruntime.so.1)
// with a manifest of their SHA-256, checked each time they are loaded.
//
//   bun scripts/build.ts [--arch x64|arm64] [--out-dir DIR] [--json]
//
// Runs under Bun (Bun.build); needs no network for this machine's
// architecture, and binutils' strip (scripts/ensure-system.sh installs it).

import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { execFileSync, spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { AGENT_NODE_FLAGS } from "../src/shared/nodeflags.ts";
import { checkoutPath, DATA_FILES, NATIVE_MANIFEST, type DataFile, type NativeManifest } from "../src/shared/embedded.ts";

const ROOT = resolve(import.meta.dirname, "..");
const DIST_DEFAULT = join(ROOT, "dist");
const EMBEDDED = join(ROOT, "src/shared/embedded.ts");
const ENTRY = join(ROOT, "src/cli/cli.ts");
/** postject's marker in Node's binary (the SEA documentation's). */
const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";
const ARCHES = ["x64", "arm64"] as const;
type Arch = (typeof ARCHES)[number];

/** The native files of one architecture: name inside the executable -> where it lies in node_modules. */
function nativeFiles(arch: Arch): Record<string, string> {
  const nm = join(ROOT, "node_modules");
  const ort = join(nm, "onnxruntime-node/bin/napi-v6/linux", arch);
  return {
    "udx-native.node": join(nm, "udx-native/prebuilds", `linux-${arch}`, "udx-native.node"),
    "sodium-native.node": join(nm, "sodium-native/prebuilds", `linux-${arch}`, "sodium-native.node"),
    "onnxruntime_binding.node": join(ort, "onnxruntime_binding.node"),
    "libonnxruntime.so.1": join(ort, "libonnxruntime.so.1"),
  };
}

const sha256 = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");

/** Bun plugin: the packages that load files by path get them from inside the executable instead (native code through its cache). */
const nativeFromExecutable: Bun.BunPlugin = {
  name: "umbra-native",
  setup(b) {
    const addon = (file: string) => `module.exports = require(${JSON.stringify(EMBEDDED)}).loadAddon(${JSON.stringify(file)});\n`;
    // Automerge's Node entry reads its wasm from its package folder: the bundle takes its web entry...
    b.onResolve({ filter: /^@automerge\/automerge$/ }, () => ({ path: join(ROOT, "node_modules/@automerge/automerge/dist/mjs/entrypoints/fullfat_base64.js") }));
    // ...whose wasm, 4 MB of base64 in a string kept for the process's life, comes instead from the executable's assets (src/shared/embedded.ts).
    b.onLoad({ filter: /[\\/]automerge[\\/]dist[\\/]mjs[\\/]wasm_bindgen_output[\\/]web[\\/]index\.js$/ }, (args) => {
      const src = readFileSync(args.path, "utf8");
      if (!src.includes("initSync(wasmBlob)") || !src.includes('export * from "./automerge_wasm.js"')) throw new Error(`${args.path}: Automerge no longer starts its wasm as this build expects; update scripts/build.ts`);
      return { contents: `import { initSync } from "./automerge_wasm.js";\nimport { dataFile } from ${JSON.stringify(EMBEDDED)};\ninitSync({ module: dataFile("automerge.wasm") });\nexport * from "./automerge_wasm.js";\n`, loader: "js" };
    });
    b.onLoad({ filter: /[\\/]udx-native[\\/]binding\.js$/ }, () => ({ contents: addon("udx-native.node"), loader: "js" }));
    b.onLoad({ filter: /[\\/]sodium-native[\\/]binding\.js$/ }, () => ({ contents: addon("sodium-native.node"), loader: "js" }));
    b.onLoad({ filter: /[\\/]onnxruntime-node[\\/]dist[\\/]binding\.js$/ }, (args) => {
      const src = readFileSync(args.path, "utf8");
      const re = /require\(`\.\.\/bin\/napi-v\d+\/\$\{process\.platform\}\/\$\{process\.arch\}\/onnxruntime_binding\.node`\)/;
      if (!re.test(src)) throw new Error(`${args.path}: onnxruntime-node no longer loads its binding as this build expects; update scripts/build.ts`);
      return { contents: src.replace(re, `require(${JSON.stringify(EMBEDDED)}).loadAddon("onnxruntime_binding.node")`), loader: "js" };
    });
  },
};

/** The application as one CommonJS file. */
async function bundle(out: string): Promise<void> {
  const r = await Bun.build({ entrypoints: [ENTRY], target: "node", format: "cjs", minify: { whitespace: true, syntax: true }, plugins: [nativeFromExecutable] });
  if (!r.success) throw new Error(`bundling failed:\n${r.logs.map(String).join("\n")}`);
  if (r.outputs.length !== 1) throw new Error(`bundling gave ${r.outputs.length} files, not one: ${r.outputs.map((o) => o.path).join(", ")}`);
  writeFileSync(out, await r.outputs[0]!.text());
}

/** The Node binary for `arch`: this machine's devDependency, or node-linux-ARCH of the same version from the registry. */
function nodeBinary(arch: Arch, work: string): string {
  const version = (JSON.parse(readFileSync(join(ROOT, "node_modules/node/package.json"), "utf8")) as { version: string }).version;
  if (arch === process.arch) return join(ROOT, "node_modules/node/bin/node");
  const dir = join(work, `node-linux-${arch}-${version}`);
  const bin = join(dir, "package/bin/node");
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  const tgz = execFileSync("npm", ["pack", `node-linux-${arch}@${version}`, "--silent"], { cwd: dir, encoding: "utf8" }).trim().split("\n").at(-1)!;
  execFileSync("tar", ["-xzf", tgz], { cwd: dir });
  if (!existsSync(bin)) throw new Error(`node-linux-${arch}@${version} has no bin/node`);
  return bin;
}

export type BuildResult = { arch: Arch; executable: string; bytes: number; bundleBytes: number; seconds: number };

/** Builds the executable for `arch` into `dist` (its intermediate files in dist/build). */
export async function build(arch: Arch, dist: string = DIST_DEFAULT, log: (s: string) => void = () => {}): Promise<BuildResult> {
  const t0 = performance.now();
  const work = join(dist, "build");
  mkdirSync(work, { recursive: true });
  const main = join(work, "umbra.cjs");
  log(`bundling ${ENTRY}`);
  await bundle(main);
  const natives = nativeFiles(arch);
  for (const [name, path] of Object.entries(natives)) if (!existsSync(path)) throw new Error(`${name} for linux-${arch} is missing (${path}): run npm install`);
  const files = Object.fromEntries(Object.entries(natives).map(([name, path]) => [name, sha256(path)]));
  const manifest: NativeManifest = { build: createHash("sha256").update(JSON.stringify(files)).update(readFileSync(main)).digest("hex").slice(0, 16), files };
  const manifestPath = join(work, `native-${arch}.json`);
  writeFileSync(manifestPath, JSON.stringify(manifest));
  const data = Object.fromEntries((Object.keys(DATA_FILES) as DataFile[]).map((name) => [name, checkoutPath(name)]));
  const blob = join(work, `umbra-${arch}.blob`);
  const config = {
    main,
    output: blob,
    disableExperimentalSEAWarning: true,
    useSnapshot: false,
    useCodeCache: false,
    // The agent's flags (src/shared/nodeflags.ts says why), for every command: harmless to the CLI's short runs.
    execArgv: [...AGENT_NODE_FLAGS],
    assets: { ...data, ...natives, [NATIVE_MANIFEST]: manifestPath },
  };
  const configPath = join(work, `sea-config-${arch}.json`);
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  log("writing the SEA blob");
  execFileSync(join(ROOT, "node_modules/node/bin/node"), ["--experimental-sea-config", configPath], { stdio: ["ignore", "ignore", "pipe"] });
  const node = nodeBinary(arch, work);
  const out = join(dist, `umbra-linux-${arch}`);
  rmSync(out, { force: true });
  copyFileSync(node, out);
  chmodSync(out, 0o755);
  // Node's binary keeps its symbol table: 18 MB of the x64 executable. strip knows only this machine's architecture.
  if (arch === process.arch) execFileSync("strip", [out]);
  log(`injecting into a copy of ${node}`);
  inject(out, blob);
  if (arch === process.arch) {
    const link = join(dist, "umbra");
    if (lstatSafe(link)) unlinkSync(link);
    symlinkSync(`umbra-linux-${arch}`, link);
  }
  return { arch, executable: out, bytes: statSync(out).size, bundleBytes: statSync(main).size, seconds: (performance.now() - t0) / 1000 };
}

/**
 * postject's command, run as a child: LIEF inside it warns on stderr of every
 * ELF note section it cannot name, harmlessly; those lines are dropped,
 * anything else it says is passed on.
 */
function inject(out: string, blob: string): void {
  const r = spawnSync(join(ROOT, "node_modules/node/bin/node"), [join(ROOT, "node_modules/postject/dist/cli.js"), out, "NODE_SEA_BLOB", blob, "--sentinel-fuse", SEA_FUSE], { encoding: "utf8" });
  const said = `${r.stdout}${r.stderr}`.replace(/\x1b\[[0-9;]*m/g, "").split("\n").filter((l) => l.trim() !== "" && !/^warning: Can't find string offset for section name '\.note[^']*'$/.test(l) && !/^(Start injection|💉 Injection done)/.test(l.trim()));
  if (r.status !== 0) throw new Error(`postject failed (exit ${r.status}):\n${said.join("\n")}`);
  if (said.length > 0) process.stderr.write(said.map((l) => `postject: ${l}\n`).join(""));
}

function lstatSafe(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { arch: { type: "string", default: process.arch }, "out-dir": { type: "string", default: DIST_DEFAULT }, json: { type: "boolean", default: false }, help: { type: "boolean", short: "h", default: false } } });
  const usage = "usage: bun scripts/build.ts [--arch x64|arm64] [--out-dir DIR (default dist)] [--json]\n  builds DIR/umbra-linux-ARCH (and DIR/umbra for this machine's architecture)\n";
  if (values.help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  if (!(ARCHES as readonly string[]).includes(values.arch!)) {
    process.stderr.write(`build: --arch ${values.arch}: not one of ${ARCHES.join(", ")}\n${usage}`);
    process.exit(2);
  }
  try {
    const r = await build(values.arch as Arch, resolve(values["out-dir"]!), values.json ? () => {} : (s) => process.stderr.write(`build: ${s}\n`));
    process.stdout.write(values.json ? JSON.stringify(r) + "\n" : `${r.executable}: ${(r.bytes / 2 ** 20).toFixed(1)} MiB (bundle ${(r.bundleBytes / 2 ** 20).toFixed(1)} MiB), ${r.seconds.toFixed(1)} s\n`);
  } catch (err) {
    process.stderr.write(`build: ${(err as Error).message}\n`);
    process.exit(1);
  }
}

// umbra's entry point. Before anything else loads: Node's compile cache
// (compiled and type-stripped modules kept on disk, in the system's temporary
// folder, per user), which takes `umbra status` from 370 ms to 170 ms and
// `umbra --help` from 320 ms to 160 ms once warm (bench/footprint). The CLI
// itself is cli.ts, loaded once the cache is on.
import { enableCompileCache } from "node:module";

enableCompileCache?.();
await import("./cli.ts");

export { addVip, removeVip, vipPresent, announceArp, type Vip } from "./vip.ts";
export { runHook, type HookResult } from "./hooks.ts";

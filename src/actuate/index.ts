// The actuation part's front door: VIPs in the kernel (one long-lived ip
// -batch process), gratuitous ARP, and the operator's hooks.
export { addVip, announceFromPrimary, removeVip, vipPresent, announceArp, runCommand, type Vip, type VipResult, type Runner, type CommandResult, vipPlacementIssue } from "./vip.ts";
export { runHook, type HookResult, type HookRun } from "./hooks.ts";
export { ipBatch, BATCH_QUEUE_MAX, type IpBatch } from "./ipbatch.ts";
export { armedArping, type Announcer } from "./garp.ts";
export { openFence, removeFence, vipAddress, FENCE_TABLE, FENCE_TIMEOUT_MAX_MS, type Fence } from "./fence.ts";

// The CLI's commands: each in its own module, loaded only when run.

/** Each command in its own module, loaded only when run: `umbra --help` stays quick. */
export const COMMANDS: Record<string, () => Promise<{ run(rest: string[]): Promise<void> }>> = {
  agent: () => import("./commands/agent.ts"),
  keygen: () => import("./commands/keygen.ts"),
  bootstrap: () => import("./commands/bootstrap.ts"),
  status: () => import("./commands/status.ts"),
  simulate: () => import("./commands/simulate.ts"),
  release: () => import("./commands/release.ts"),
  move: () => import("./commands/order.ts").then((m) => m.command("move")),
  failover: () => import("./commands/order.ts").then((m) => m.command("failover")),
  standby: () => import("./commands/order.ts").then((m) => m.command("standby")),
  unstandby: () => import("./commands/order.ts").then((m) => m.command("unstandby")),
  rejoin: () => import("./commands/order.ts").then((m) => m.command("rejoin")),
  maintenance: () => import("./commands/order.ts").then((m) => m.command("maintenance")),
  override: () => import("./commands/order.ts").then((m) => m.command("override")),
  audit: () => import("./commands/audit.ts"),
  state: () => import("./commands/state.ts"),
  demo: () => import("./commands/demo.ts"),
  install: () => import("./commands/install.ts"),
  completion: () => import("./commands/completion.ts"),
};

/** The command names, as `umbra completion` offers them. */
export const COMMAND_NAMES: readonly string[] = Object.keys(COMMANDS);

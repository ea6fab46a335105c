// The imperative shell: turns sockets, timers, samples and the outcomes of
// its own effects into events for the one host core (decide/host.ts), and
// carries out the core's effects in the order they were emitted (the vote
// record is written, synchronously, before the vote it guards goes out).
// Nothing here decides. Network events wait in a bounded inbox that the
// agent empties on its own tick; VIP changes and hooks run off the loop, and
// their outcomes come back as events, so nothing on the lease path ever
// waits on `ip`, a disk or a hook.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { assert, assertNever } from "../shared/assert.ts";
import { UmbraError } from "../shared/errors.ts";
import type { HostId } from "../shared/ids.ts";
import { logger, type Logger } from "../shared/log.ts";
import { rng } from "../shared/rng.ts";
import { randomInt } from "node:crypto";
import type { Config } from "../shared/config.ts";
import { readKeyFile } from "../shared/identity.ts";
import * as host from "../decide/host.ts";
import type { HostEffect, HostEvent } from "../decide/host.ts";
import type { QuorumState } from "../decide/quorum.ts";
import { openMesh, parseHostPort, type Mesh } from "../mesh/swarm.ts";
import type { BeaconForecast, WireMsg } from "../mesh/codec.ts";
import { startBackgroundSampler } from "../probe/index.ts";
import { startReplaySampler } from "../probe/replay.ts";
import type { HostSample } from "../probe/index.ts";
import { ipBatch, removeVip } from "../actuate/index.ts";
import { createApi, serveApi } from "../api/index.ts";
import { startReplicator } from "../state/replicator.ts";
import { startForecasting } from "./forecasting.ts";
import { loadRecord, writeRecord } from "./records.ts";
import { signatures } from "./signatures.ts";
import { buildStatus, median } from "./status.ts";
import { effectRunners, type ServiceRt } from "./runners.ts";
import { attachStateChannel, type StateLink } from "../state/channel.ts";
import { openChunkStore } from "../state/chunks.ts";
import { serveBlobs, type BlobPeer } from "../state/blobs/index.ts";
import type { StatusDoc } from "../api/index.ts";

/** Events waiting for the next tick; past it the oldest network events are dropped (and counted). */
export const INBOX_MAX = 10_000;
/** Events handled in one tick at most, so a flood cannot starve timers. */
export const EVENTS_PER_TICK_MAX = 2_000;
/** RTT samples kept per peer for the median latency. */
export const RTT_SAMPLES_MAX = 32;

/** A gap between ticks this many tick intervals long is logged as a stall. */
export const LOOP_STALL_WARN_TICKS = 4;

export const VERSION = "0.1.0";

type Inbound = { from: HostId; msg: WireMsg };


export type Agent = { status(): StatusDoc; stop(): Promise<void> };

/** Monotonic milliseconds: leases must never follow wall-clock jumps. */
const monoNow = (): number => performance.now();

export async function runAgent(config: Config): Promise<void> {
  const agent = await startAgent(config);
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      agent.stop().then(resolve, (err) => {
        process.stderr.write(`umbra: error while stopping on ${sig}: ${(err as Error).message}\n`);
        resolve();
      });
    };
    const onInt = () => stop("SIGINT");
    const onTerm = () => stop("SIGTERM");
    process.on("SIGINT", onInt);
    process.on("SIGTERM", onTerm);
  });
}

export async function startAgent(config: Config): Promise<Agent> {
  const self = config.host as HostId;
  const log: Logger = logger(self, config.logLevel);
  const t = config.timing;
  const keyPair = readKeyFile(config.keyFile);
  const selfEntry = config.hosts.find((h) => h.id === self);
  assert(selfEntry !== undefined, "config validation put self in hosts");
  if (selfEntry.publicKey !== keyPair.publicKey.toString("hex")) {
    throw new UmbraError("key_invalid", `the key in ${config.keyFile} is not the one listed for host "${self}" in [[hosts]] (listed ${selfEntry.publicKey.slice(0, 16)}…, file has ${keyPair.publicKey.toString("hex").slice(0, 16)}…)`);
  }
  const allHosts = config.hosts.map((h) => h.id as HostId);
  const sigs = signatures(keyPair.secretKey, new Map(config.hosts.map((h) => [h.id as HostId, Buffer.from(h.publicKey, "hex")])), log);
  const stateDir = config.stateDir;
  mkdirSync(stateDir, { recursive: true });
  const random = rng((Math.floor(Math.random() * 2 ** 31) ^ Date.now()) >>> 0);
  const startedMono = monoNow();
  const startedWall = Date.now();

  // ------------------------------------------------------------ the host core
  // A fresh incarnation per process: a grant or vote meant for an earlier
  // run of this host counts for nothing (seq numbers restart with us).
  const boot = randomInt(0, 2 ** 31);
  const hostConfig: host.HostConfig = {
    self,
    hosts: allHosts,
    boot,
    services: config.services.map((svc) => ({ name: svc.name, candidates: [svc.primary, ...svc.shadows] as HostId[], voters: svc.voters as HostId[], ackShadows: svc.ackShadows })),
    timing: t,
    replication: { writeTimeoutMs: t.writeTimeoutMs, staleAfterMs: t.syncStaleMs },
    proactive: config.forecast.enabled
      ? {
          threshold: config.forecast.threshold,
          sustainMs: config.forecast.sustainMs,
          // A forecast of a host is news for a few steps of its data, and never less than 30 s.
          staleMs: Math.max(30_000, 3 * config.forecast.stepMs),
          cooldownMs: config.forecast.cooldownMs,
        }
      : null,
  };
  let core = host.initialHost(hostConfig, Object.fromEntries(config.services.map((svc) => [svc.name, loadRecord(stateDir, svc.name, log)])), monoNow());
  const services: ServiceRt[] = config.services.map((svc) => ({ name: svc.name, cfg: svc, vipBusy: false, lastChange: null, alarm: null }));
  const byName = new Map(services.map((s) => [s.name, s]));
  const quorumOf = (name: string): QuorumState => core.services[name]!;

  // ------------------------------------------------------------ forecasts
  const forecasting = await startForecasting(config.forecast, log);

  // VIP changes go to one long-lived `ip -batch` process: no fork on the lease's critical path.
  const ip = ipBatch();

  // A VIP left behind by a crash is not backed by any lease now: remove it.
  for (const s of services) {
    await removeVip({ cidr: s.cfg.vip, iface: s.cfg.interface }, ip.run).catch((err: Error) =>
      log("warn", "actuate", "stale-vip-remove-failed", { service: s.name, error: err.message }),
    );
  }

  // ------------------------------------------------------------ inputs
  const inbox: Inbound[] = [];
  let inboxDropped = 0;
  /** Outcomes of this host's own effects: never dropped (the core waits for each), bounded by the effects in flight (one VIP change and a hook or two per service) and by what the replicator reports (one event per write, per peer answer). */
  const outcomes: HostEvent[] = [];
  // The loop's own state: set before anything (the mesh, the state channel) can hand it work.
  let stopping = false;
  let ticking = false;
  let loopError: unknown = null;
  /** A turn is scheduled to step in the outcomes at once (see kick). */
  let kicked = false;
  const connected = new Set<HostId>();
  const beacons = new Map<HostId, { atMono: number; sample: HostSample | null; forecast: BeaconForecast | null }>();
  const rtts = new Map<HostId, number[]>();
  let latestSample: HostSample | null = null;

  const enqueue = (from: HostId, msg: WireMsg) => {
    if (inbox.length >= INBOX_MAX) {
      inbox.shift();
      inboxDropped += 1;
    }
    inbox.push({ from, msg });
  };

  /** Connects and disconnects seen by the transport, turned into membership hints on the next tick. */
  const pendingPeers: HostEvent[] = [];

  // ------------------------------------------------------------ state replication
  const stateLinks = new Map<HostId, StateLink>();
  const chunkStore = await openChunkStore(join(stateDir, "chunks"), {
    syncEach: false, // one syncfs per blob instead of two fsyncs per chunk (see chunks.ts)
    onCorrupt: (hash, file) => log("error", "state", "chunk-corrupt", { hash, file, action: "removed; it will be fetched again" }),
  });
  const swept = await chunkStore.sweep();
  if (swept > 0) log("info", "state", "chunk-temps-swept", { files: swept });
  const blobPeers = new Map<HostId, BlobPeer>();
  const replicator = startReplicator({
    self,
    stateDir,
    services: config.services.map((s) => ({ name: s.name, replicas: [s.primary, ...s.shadows] as HostId[], primary: s.primary as HostId, ackShadows: s.ackShadows })),
    writeTimeoutMs: t.writeTimeoutMs,
    staleAfterMs: t.syncStaleMs,
    log,
    now: monoNow,
    send: (to, msg) => stateLinks.get(to)?.send(msg) ?? false,
    // The replication machine runs in the host core: what the replicator learns goes in as events, right away.
    core: {
      feed: (ev) => {
        outcomes.push(ev);
        kick();
      },
      peers: (service) => host.replicaPeers(core, service),
    },
    blobs: {
      store: chunkStore,
      rateBytesPerSec: config.state.blobRateMBps * 1_000_000,
      sources: (peers) => peers.flatMap((p) => {
        const bp = blobPeers.get(p);
        return bp !== undefined && !bp.closed ? [bp] : [];
      }),
    },
  });

  const runners = effectRunners({ self, services: byName, ip, replicator, hookTimeoutMs: t.hookTimeoutMs, log, now: monoNow, report: (ev) => outcomes.push(ev) });

  const peersByKey = new Map<string, HostId>();
  for (const h of config.hosts) if (h.id !== self) peersByKey.set(h.publicKey, h.id as HostId);
  const mesh: Mesh = await openMesh({
    cluster: config.cluster,
    self,
    keyPair,
    peers: peersByKey,
    bootstrap: config.bootstrap.map(parseHostPort),
    log,
    onMessage: (from, msg) => {
      if (!sigs.verify(from, msg)) return;
      enqueue(from, msg);
    },
    onMux: (id, mux) => {
      const bp = serveBlobs(mux, chunkStore, { label: id, log });
      if (bp !== null) blobPeers.set(id, bp);
      attachStateChannel(mux, id, {
        log,
        onOpen: (peer, link) => {
          stateLinks.set(peer, link);
          replicator.onPeer(peer, true);
        },
        onMessage: (peer, msg) => replicator.onMessage(peer, msg),
        onClose: (peer, link) => {
          // A newer connection may have replaced this one already.
          if (stateLinks.get(peer) !== link) return;
          stateLinks.delete(peer);
          replicator.onPeer(peer, false);
        },
      });
    },
    onPeer: (id, up) => {
      if (up) connected.add(id);
      else connected.delete(id);
      if (pendingPeers.length < INBOX_MAX) pendingPeers.push({ type: up ? "peer-connected" : "peer-disconnected", id });
    },
  });

  // ------------------------------------------------------------ effects
  const sendWire = (to: HostId, msg: WireMsg) => {
    if (to === self) {
      enqueue(self, msg);
      return;
    }
    mesh.send(to, msg);
  };

  const serviceOfMsg = (msg: WireMsg): string | null => {
    switch (msg.type) {
      case "beacon":
      case "ping":
      case "ack":
      case "ping-req":
        return null;
      case "certificate":
        return msg.cert.service;
      default:
        return msg.service;
    }
  };

  /** One event into the core, and its effects carried out in order. */
  function stepCore(ev: HostEvent): void {
    const out = host.step(core, ev, monoNow());
    core = out.state;
    runEffects(out.effects);
  }

  function runEffects(effects: HostEffect[]): void {
    // A vote record that could not be written: the sends after it in this
    // batch (the vote itself) must not go out. The core believes it voted,
    // which only makes it more careful.
    const unrecorded = new Set<string>();
    for (const fx of effects) {
      switch (fx.type) {
        case "persist":
          try {
            // Synchronously: the record must be on disk before the vote it guards is sent.
            writeRecord(stateDir, fx.service, fx.record);
          } catch (err) {
            unrecorded.add(fx.service);
            log("error", "quorum", "vote-record-failed", { code: "vote_record_failed", service: fx.service, dir: stateDir, error: (err as Error).message, action: "the vote is not sent" });
          }
          break;
        case "send": {
          const sv = serviceOfMsg(fx.msg);
          if (sv !== null && unrecorded.has(sv)) break;
          const msg = fx.msg.type === "ping" || fx.msg.type === "ack" || fx.msg.type === "ping-req" ? fx.msg : sigs.sign(fx.msg);
          sendWire(fx.to, msg);
          break;
        }
        case "take-vip":
        case "drop-vip":
          runners.changeVip(fx);
          break;
        case "run-hook":
          runners.startHook(fx.service, fx.hook, fx.epoch);
          break;
        case "reconcile":
          runners.reconcileAfterFailover(fx.service, fx.epoch);
          break;
        case "certified": {
          log("info", "quorum", "certified", { service: fx.service, epoch: fx.cert.epoch, holder: fx.cert.holder, from: fx.cert.from, reason: fx.cert.reason, voters: fx.cert.votes.map((v) => v.voter) });
          const s = byName.get(fx.service);
          if (s !== undefined) s.lastChange = { atMs: Date.now(), reason: fx.cert.reason, fromHolder: fx.cert.from, toHolder: fx.cert.holder };
          break;
        }
        case "move-abandoned":
          log("warn", "quorum", "move-abandoned", { service: fx.service, epoch: fx.epoch, why: "no majority signed the planned move in time; staying holder" });
          break;
        case "alarm": {
          const s = byName.get(fx.service);
          if (s !== undefined) s.alarm = fx.alarm === "vip-drop-recovered" ? null : { alarm: fx.alarm, epoch: fx.epoch, error: fx.error, attempts: fx.attempts, atMs: Date.now() };
          log(fx.alarm === "vip-drop-recovered" ? "warn" : "error", "actuate", fx.alarm, { service: fx.service, epoch: fx.epoch, attempts: fx.attempts, error: fx.error, vip: s?.cfg.vip });
          break;
        }
        case "member-changed":
          log(fx.status === "alive" ? "info" : "warn", "membership", "member-changed", { member: fx.id, status: fx.status, incarnation: fx.incarnation });
          break;
        case "rtt-measured": {
          const xs = rtts.get(fx.id) ?? [];
          xs.push(fx.rttMs);
          if (xs.length > RTT_SAMPLES_MAX) xs.shift();
          rtts.set(fx.id, xs);
          break;
        }
        case "predicted-changed":
          log(fx.predicted.length > 0 ? "warn" : "info", "forecast", "predicted", { hosts: fx.predicted });
          break;
        case "request-durable":
        case "write-acked":
        case "write-failed":
        case "sync-status-changed":
          replicator.onEffect(fx);
          break;
        case "move-predicted": {
          const f = forecasting?.latest().find((x) => x.host === self);
          log("warn", "forecast", "predicted-move", { service: fx.service, to: fx.to, probability: Math.round(fx.probability * 1000) / 1000, metric: f?.metric, aboveForMs: Math.round(monoNow() - fx.sinceMs) });
          break;
        }
        default:
          assertNever(fx);
      }
    }
  }

  /** A message from the inbox: beacons feed the forecaster (shell data), the rest go to the core. */
  function handle(item: Inbound): void {
    const { from, msg } = item;
    if (msg.type === "beacon") {
      beacons.set(from, { atMono: monoNow(), sample: msg.metrics, forecast: msg.forecast ?? null });
      if (msg.metrics !== null) forecasting?.sample(from, msg.metrics);
      return;
    }
    stepCore({ type: "received", from, msg });
  }

  // ------------------------------------------------------------ loop
  function tick(): void {
    // Outcomes first: a removal confirmed releases an in-person handover.
    for (const ev of outcomes.splice(0)) stepCore(ev);
    for (const ev of pendingPeers.splice(0)) stepCore(ev);
    stepCore({ type: "tick", rand: random.next() });
    replicator.tick();
    if (forecasting !== null) for (const f of forecasting.drain()) stepCore({ type: "forecast-ready", host: f.host as HostId, probability: f.exhaustionProbability });
    for (let i = 0; i < EVENTS_PER_TICK_MAX && inbox.length > 0; i++) handle(inbox.shift()!);
  }
  // A stalled event loop eats the lease's safety margin (the kernel keeps
  // answering for the VIP while we are not running): say so loudly.
  let lastTickMono = monoNow();
  const timer = setInterval(() => {
    const nowTick = monoNow();
    const gapMs = nowTick - lastTickMono;
    lastTickMono = nowTick;
    if (gapMs > LOOP_STALL_WARN_TICKS * t.tickMs) log("warn", "agent", "loop-stall", { gapMs: Math.round(gapMs), ticking });
    guarded(tick);
  }, t.tickMs);

  /** Outcomes waiting (a state write durable, a peer's answer) are stepped in at once, not on the next tick: a write's acknowledgement waits on them. */
  function kick(): void {
    if (kicked) return;
    kicked = true;
    setImmediate(() => {
      kicked = false;
      guarded(() => {
        for (const ev of outcomes.splice(0)) stepCore(ev);
      });
    });
  }

  /** Runs one turn of the loop, never two at once; a failed assertion is a bug: crash rather than act on a bad state. */
  function guarded(turn: () => void): void {
    if (ticking || stopping || loopError !== null) return;
    ticking = true;
    try {
      turn();
    } catch (err) {
      loopError = err;
      log("error", "agent", "crash", { error: (err as Error).stack });
      process.exitCode = 70;
      setImmediate(() => {
        throw err;
      });
    } finally {
      ticking = false;
    }
  }

  // ------------------------------------------------------------ probe and beacons
  function ownBeaconForecast(): BeaconForecast | null {
    const own = forecasting?.latest().find((f) => f.host === self);
    return own === undefined ? null : { exhaustionProbability: own.exhaustionProbability, metric: own.metric, anomaly: Math.max(...own.metrics.map((m) => m.anomaly)) };
  }
  const onSample = (sample: HostSample) => {
    latestSample = { ...sample, networkLatency: medianLatency() };
    forecasting?.sample(self, latestSample);
    const forecast = ownBeaconForecast();
    for (const h of connected) mesh.send(h, { type: "beacon", sentAtWallMs: Date.now(), metrics: latestSample, forecast });
  };
  const replay = config.probe.replay;
  const sampler =
    replay === undefined
      ? startBackgroundSampler(config.probe.intervalMs, onSample, (message) => log("warn", "probe", "sample-failed", { error: message }))
      : startReplaySampler(replay, onSample, () => log("info", "probe", "replay-ended", { file: replay.file }));
  if (replay !== undefined) log("info", "probe", "replaying", { file: replay.file, metric: replay.metric, speed: replay.speed });

  function medianLatency(): number | null {
    const all = [...rtts.values()].map((xs) => median(xs)).filter((x): x is number => x !== null);
    return median(all);
  }

  // ------------------------------------------------------------ api
  function status(): StatusDoc {
    return buildStatus({
      config,
      version: VERSION,
      core,
      nowMono: monoNow(),
      startedMono,
      nowWall: Date.now(),
      extras: new Map(services.map((s) => [s.name, { lastChange: s.lastChange, alarm: s.alarm }])),
      connected,
      beacons,
      rtts,
      ownSample: latestSample,
      ownForecast: ownBeaconForecast(),
      rest: {
        replication: replicator.status(),
        reconciliations: replicator.lastReconciles(),
        forecasts: forecasting?.latest() ?? [],
        forecastModel: forecasting === null ? null : { ...forecasting.model, bytes: forecasting.modelBytes, horizonMinutes: config.forecast.horizonMinutes },
        blobs: replicator.blobStatus(),
      },
    });
  }
  const api = await serveApi(createApi({ status, state: replicator, log }), config.api);
  log("info", "agent", "started", { cluster: config.cluster, api: api.address, services: services.map((s) => s.name), hosts: allHosts, startedAt: new Date(startedWall).toISOString(), inboxDropped });

  return {
    status,
    async stop() {
      if (stopping) return;
      stopping = true;
      clearInterval(timer);
      await sampler.stop();
      // Leaving on purpose: give the VIP up now rather than at lease expiry.
      for (const s of services) {
        if (!quorumOf(s.name).vipPresent) continue;
        try {
          await removeVip({ cidr: s.cfg.vip, iface: s.cfg.interface }, ip.run);
          log("info", "actuate", "drop-vip", { service: s.name, why: "shutdown" });
        } catch (err) {
          log("error", "actuate", "vip-change-failed", { service: s.name, op: "del", why: "shutdown", vip: s.cfg.vip, error: (err as Error).message });
        }
      }
      ip.close();
      await mesh.close();
      await replicator.saved(); // a change received just before the stop reaches the disk
      await api.close();
      log("info", "agent", "stopped", { loopError: loopError === null ? null : String(loopError) });
    },
  };
}



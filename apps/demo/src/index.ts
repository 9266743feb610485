/**
 * @farmbrain/demo: a demo fleet of simulated trading agents on a synthetic
 * market, recording everything through the farmbrain SDK and reading its
 * memory back through the gateway.
 *
 *   import { startDemoFleet, demoScopePolicy } from '@farmbrain/demo';
 *   // run ingest and the gateway with FB_SCOPE_POLICY=JSON.stringify(demoScopePolicy(6))
 *   const fleet = await startDemoFleet({ natsUrl, namespace, partitions, gateway: 'http://127.0.0.1:8080', agents: 6 });
 *   ...; await fleet.stop();
 *
 * Or `await runFleet()` (settings from the environment, stops on SIGINT/SIGTERM),
 * or `node apps/demo/dist/main.js --help`.
 *
 * Deterministic: the market, each agent's parameters, and so every decision,
 * trade, P&L and memory follow from the seed and the session (which run this
 * is in the namespace: 1, 2, ..., read from the risk desk's registration).
 * What the gateway answers (recall hits, similar decisions) is cited and
 * quoted in the rationale but does not change what an agent trades.
 * Timestamps, event and memory ids, and the run tag in order and correlation
 * ids differ from run to run, so runs in one namespace never collide.
 */
export { startDemoFleet } from './startDemoFleet.js';
export type { DemoFleet, DemoFleetOptions } from './startDemoFleet.js';
export { runFleet } from './runFleet.js';
export type { RunFleetOptions } from './runFleet.js';
export { demoRoster, demoScopePolicy, RISK_DESK_ID } from './roster.js';
export type { RosterEntry, StrategyName } from './roster.js';
export { SITUATION_FEATURES } from './market.js';
export { configFromEnv, parseCommand, ConfigError, DEMO_DEFAULTS, USAGE } from './config.js';
export type { DemoConfig, Env, Command } from './config.js';
export type { RosterView, ScopePolicyInput } from './fleet.js';
export type { FleetStats } from './stats.js';
export type { Log } from './ports.js';

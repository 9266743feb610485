/** The demo fleet (apps/demo, @farmbrain/demo), from ONE place: what `start` and `demo` use of it. */
import type { ScopePolicy } from '@farmbrain/contracts';

export interface DemoFleetOptions {
  natsUrl: string;
  namespace: string;
  partitions: number;
  /** The gateway's base URL: the agents read their memory back through it. */
  gateway?: string;
  /** The policy ingest runs with; default: the demo's own. */
  scopePolicy?: ScopePolicy | undefined;
  agents: number;
  tickMs: number;
  seed: number;
  log: (msg: string) => void;
}

export interface DemoFleet {
  /** The trading agents' ids. */
  agents: string[];
  riskDesk: string;
  roster: { id: string; symbols?: string[] }[];
  /** The current market situation of a symbol: [trend, volatility, funding, rsi/100]. */
  situation?(symbol: string): number[];
  /** Flattens positions, flushes and closes. */
  stop(): Promise<void>;
}

export interface DemoFleetModule {
  startDemoFleet(o: DemoFleetOptions): Promise<DemoFleet>;
  /** The scope policy the demo is written for: each team's lead its team, the risk desk the fleet. */
  demoScopePolicy(agents: number): ScopePolicy;
}

export async function loadDemoFleet(): Promise<DemoFleetModule> {
  return (await import('@farmbrain/demo')) satisfies DemoFleetModule;
}

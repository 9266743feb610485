/**
 * What the fleet needs from the outside world, as interfaces: the SDK client
 * of one agent (FarmbrainAgent fits it) and the gateway's plain HTTP reads.
 * The simulation runs against fakes of these in the tests.
 */
import type {
  AgentStatus,
  PayloadInput,
  RecallRequest,
  RecallResponse,
  SimilarDecisionsRequest,
  SimilarDecisionsResponse,
} from '@farmbrain/contracts';
import type { ClosePositionInput, DecisionInput, MemoryInput, MemoryUpdateInput, RecordOptions, TradeInput } from '@farmbrain/sdk';

export type Log = (msg: string) => void;

/** What the fleet reads of a record call's receipt. */
export interface Ack {
  eventId: string;
}

/** The calls a fleet member makes on its SDK client (a subset of FarmbrainAgent). */
export interface AgentSdk {
  /** Events not yet acknowledged by JetStream. */
  readonly pending: number;
  register(data: PayloadInput<'agent_registered'>): Promise<Ack>;
  setStatus(status: AgentStatus, extra?: { reason?: string }): Promise<Ack>;
  recordDecision(d: DecisionInput, opts?: RecordOptions): Promise<Ack>;
  recordTrade(t: TradeInput, opts?: RecordOptions): Promise<Ack>;
  closePosition(p: ClosePositionInput): Promise<Ack>;
  saveCheckpoint(label: string, state: string): Promise<Ack>;
  remember(m: MemoryInput): Promise<Ack & { memoryId: string }>;
  updateMemory(u: MemoryUpdateInput): Promise<Ack>;
  forget(memoryId: string, reason: string): Promise<Ack>;
  recall(req: RecallRequest): Promise<RecallResponse>;
  recallSimilarDecisions(req: SimilarDecisionsRequest): Promise<SimilarDecisionsResponse>;
  /** Flushes, then closes; rejects when events are left unsent after timeoutMs. */
  close(timeoutMs: number): Promise<void>;
}

/** An open position as the gateway lists it (GET /v1/agents/{id}/positions?status=open). */
export interface OpenPosition {
  symbol: string;
  /** Signed: > 0 long, < 0 short. */
  qty: number;
  avgPrice: number;
  fees?: number;
  decisionIds?: string[];
}

/** The gateway's reads the SDK has no call for. */
export interface GatewayHttp {
  /** The session the risk desk last registered with (its config.session), or undefined. Never rejects. */
  lastSession(): Promise<number | undefined>;
  /** An agent's open positions; [] for an agent the gateway does not know yet. */
  openPositions(agentId: string): Promise<OpenPosition[]>;
}

/**
 * The risk desk: keeps the fleet's risk limits as a fleet fact and raises
 * fleet-wide volatility alerts (fleet scope), which it updates and withdraws
 * (forgets) as volatility changes. It does not trade.
 */
import type { DemoAgent } from './agent.js';
import { round } from './format.js';
import { SYMBOLS, type Market } from './market.js';
import { FleetMember, type MemberDeps } from './member.js';
import { alertText, riskLimitsText } from './memoryTexts.js';
import { RISK_DESK_ID } from './roster.js';

/** Volatility ratio that raises an alert. */
export const ALERT_ON = 1.7;
/** Rise that updates it. */
export const ALERT_STEP = 0.3;
/** Below this the alert is withdrawn (forgotten). */
export const ALERT_OFF = 1.2;
export const ALERT_TTL_MS = 15 * 60_000;

/** What an alert does now: raise, update, withdraw, or nothing. Pure. */
export type AlertMove = 'raise' | 'update' | 'withdraw' | null;
export function alertMove(volRatio: number, raisedAt: number | undefined): AlertMove {
  if (raisedAt === undefined) return volRatio >= ALERT_ON ? 'raise' : null;
  if (volRatio >= raisedAt + ALERT_STEP) return 'update';
  if (volRatio < ALERT_OFF) return 'withdraw';
  return null;
}

export interface RiskDeskOptions {
  market: Market;
  /** The trading agents whose limits it states. */
  traders: readonly DemoAgent[];
  session: number;
}

export class RiskDesk extends FleetMember {
  readonly #market: Market;
  readonly #traders: readonly DemoAgent[];
  readonly #session: number;
  /** symbol -> the alert raised */
  readonly alerts = new Map<string, { memoryId: string; level: number }>();
  ticks = 0;

  constructor({ market, traders, session }: RiskDeskOptions, deps: MemberDeps) {
    super(RISK_DESK_ID, deps);
    this.#market = market;
    this.#traders = traders;
    this.#session = session;
  }

  async start(): Promise<void> {
    await this.call('register', () => this.sdk.register({
      name: 'Risk Desk', team: 'risk', strategy: 'risk-monitor',
      config: { watches: SYMBOLS.map((s) => s.symbol), alertOn: ALERT_ON, alertOff: ALERT_OFF, trades: false, session: this.#session },
    }));
    await this.call('setStatus', () => this.sdk.setStatus('active', { reason: 'demo fleet started' }));
  }

  /** The standing risk-limits fact (kept across runs), and alerts an earlier run left behind withdrawn. */
  async prepare(): Promise<void> {
    const { scope, scopeId } = this.scopeFor('fleet');
    const maxNotional = Math.max(...this.#traders.map((a) => a.params.notionalUsd)) * 1.5;
    const maxStop = Math.max(...this.#traders.map((a) => a.params.stopLossVol));
    await this.keepShared({
      kind: 'fact', tags: ['risk-limits', 'fleet'], importance: 0.9, scope, scopeId, label: 'the fleet risk limits',
      text: riskLimitsText(maxNotional, maxStop, SYMBOLS.map((s) => s.symbol)),
    });
    // Alerts expire by themselves; an earlier run stopped cleanly withdraws its own, a killed one may leave some.
    const stale = await this.read('recall', () => this.sdk.recall({ tags: ['risk-alert'], scopes: [scope], k: 100 }));
    const withdrawn: string[] = [];
    for (const h of stale?.hits ?? []) {
      if (h.memory.agentId !== this.id) continue;
      const ok = await this.call('forget', () => this.sdk.forget(h.memory.memoryId, 'stale: raised by an earlier run of the risk desk'));
      if (ok) {
        this.stats.forgets += 1;
        withdrawn.push(h.memory.tags.find((t) => SYMBOLS.some((x) => x.symbol === t)) ?? h.memory.memoryId);
      }
    }
    if (withdrawn.length) this.log(`${this.id} withdraws alerts an earlier run left behind (forgotten): ${withdrawn.join(', ')}`);
  }

  async tick(): Promise<void> {
    this.ticks += 1;
    for (const { symbol } of SYMBOLS) {
      const f = this.#market.features(symbol);
      const a = this.alerts.get(symbol);
      const move = alertMove(f.volRatio, a?.level);
      if (move === 'raise') {
        const { scope, scopeId } = this.scopeFor('fleet');
        const m = await this.remember({
          kind: 'observation', text: alertText(symbol, f.volRatio, f), tags: [symbol, 'volatile', 'risk-alert'], importance: 0.85, scope, scopeId,
          situation: f.situation, expiresAt: this.now() + ALERT_TTL_MS,
        });
        if (m) {
          this.alerts.set(symbol, { memoryId: m.memoryId, level: f.volRatio });
          this.log(`${this.id} ${scope === 'fleet' ? 'raises a fleet alert' : 'notes (privately) an alert'}: ${symbol} volatility ${f.volRatio.toFixed(1)}x normal`);
        }
      } else if (a && move === 'update') {
        const u = await this.call('updateMemory', () => this.sdk.updateMemory({
          memoryId: a.memoryId, text: alertText(symbol, f.volRatio, f), importance: round(Math.min(1, 0.85 + (f.volRatio - ALERT_ON) / 10), 3), expiresAt: this.now() + ALERT_TTL_MS,
        }));
        if (u) {
          this.stats.updates += 1;
          a.level = f.volRatio;
          this.log(`${this.id} updates its ${symbol} alert: volatility now ${f.volRatio.toFixed(1)}x normal`);
        }
      } else if (a && move === 'withdraw') {
        const ok = await this.call('forget', () => this.sdk.forget(a.memoryId, `${symbol} volatility back to ${f.volRatio.toFixed(1)}x normal`));
        if (ok) {
          this.stats.forgets += 1;
          this.alerts.delete(symbol);
          this.log(`${this.id} withdraws its ${symbol} alert (forgotten): volatility back to ${f.volRatio.toFixed(1)}x normal`);
        }
      }
    }
  }

  async stop(timeoutMs: number, clean: boolean): Promise<void> {
    if (clean) {
      const withdrawn: string[] = [];
      for (const [symbol, a] of [...this.alerts]) {
        const ok = await this.call('forget', () => this.sdk.forget(a.memoryId, 'withdrawn: the risk desk stopped'));
        if (ok) {
          this.stats.forgets += 1;
          this.alerts.delete(symbol);
          withdrawn.push(symbol);
        }
      }
      if (withdrawn.length) this.log(`${this.id} withdraws its alerts on ${withdrawn.join(', ')} (forgotten): the desk stops watching`);
      await this.call('setStatus', () => this.sdk.setStatus('stopped', { reason: 'demo fleet stopped' }));
    }
    await this.call('close', () => this.sdk.close(timeoutMs));
  }
}

import type { EventOf } from '@farmbrain/contracts';

export interface PositionRow {
  positionId: string;
  agentId: string;
  symbol: string;
  status: 'open' | 'closed';
  /** Signed: > 0 long, < 0 short. */
  qty: number;
  avgPrice: number;
  fees: number;
  openedAt: number;
  closedAt: number | null;
  realizedPnl: number | null;
  exitPrice: number | null;
  decisionIds: string[];
  tradeCount: number;
  closeEventId: string | null;
  updatedSeq: number;
}

export type PositionEvent = EventOf<'trade_executed'> | EventOf<'position_closed'>;

const key = (agentId: string, symbol: string) => `${agentId}\u0000${symbol}`;
const addId = (ids: string[], id: string) => (id && !ids.includes(id) ? [...ids, id] : ids);

/**
 * Pure position bookkeeping: folds new trades and closes (in log order) into the
 * open positions they touch. Returns every row that changed, closed ones first
 * (so one upsert never has two open rows for a symbol), and which close events
 * found a position.
 */
export function evolvePositions(open: readonly PositionRow[], events: readonly PositionEvent[]) {
  const current = new Map(open.map((p) => [key(p.agentId, p.symbol), { ...p }]));
  const changed = new Map<string, PositionRow>();
  const closedBy = new Map<string, string>();
  for (const e of events) {
    const k = key(e.agentId, e.data.symbol);
    const pos = current.get(k);
    if (e.type === 'trade_executed') {
      const d = e.data.side === 'buy' ? e.data.qty : -e.data.qty;
      if (!pos) {
        const row: PositionRow = {
          positionId: e.eventId,
          agentId: e.agentId,
          symbol: e.data.symbol,
          status: 'open',
          qty: d,
          avgPrice: e.data.price,
          fees: e.data.fees,
          openedAt: e.occurredAt,
          closedAt: null,
          realizedPnl: null,
          exitPrice: null,
          decisionIds: addId([], e.data.decisionId),
          tradeCount: 1,
          closeEventId: null,
          updatedSeq: e.producerSeq,
        };
        current.set(k, row);
        changed.set(row.positionId, row);
        continue;
      }
      const next = pos.qty + d;
      if (Math.sign(pos.qty) === Math.sign(d) || pos.qty === 0) {
        const total = Math.abs(pos.qty) + Math.abs(d);
        pos.avgPrice = total === 0 ? e.data.price : (Math.abs(pos.qty) * pos.avgPrice + Math.abs(d) * e.data.price) / total;
      } else if (Math.sign(next) !== Math.sign(pos.qty) && next !== 0) {
        pos.avgPrice = e.data.price; // flipped side: the remainder was opened at this price
      }
      pos.qty = next;
      pos.fees += e.data.fees;
      pos.tradeCount += 1;
      pos.decisionIds = addId(pos.decisionIds, e.data.decisionId);
      pos.updatedSeq = e.producerSeq;
      changed.set(pos.positionId, pos);
    } else {
      if (!pos) continue;
      pos.status = 'closed';
      pos.closedAt = e.occurredAt;
      pos.realizedPnl = e.data.realizedPnl;
      pos.exitPrice = e.data.exitPrice;
      pos.decisionIds = e.data.decisionIds.reduce(addId, pos.decisionIds);
      pos.closeEventId = e.eventId;
      pos.updatedSeq = e.producerSeq;
      changed.set(pos.positionId, pos);
      closedBy.set(e.eventId, pos.positionId);
      current.delete(k);
    }
  }
  const rows = [...changed.values()].sort((a, b) => (a.status === b.status ? 0 : a.status === 'closed' ? -1 : 1));
  return { rows, closedBy };
}

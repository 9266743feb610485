// farmbrain recall benchmark: top-k recall filtered by agent over a large memory
// store, measured in one run in a fresh namespace:
//
// 1. data: N memories of M agents (deterministic PRNG, trading vocabulary from
//    templates), embedded with the deployment's default model (hash-v1-256) and
//    bulk-loaded into the namespace's `memories` table. This stands in for the
//    tiering projection having applied N memory_stored events: same columns,
//    same embedding document (text + tags), change feed (part, change_seq) and
//    checkpoints, so the gateway's index sync loads them as it would in production.
// 2. in-process: the gateway's VectorIndex loaded by its IndexSync (@farmbrain/recall);
//    latency of index.search (HNSW) and recall@10 against the exact scan.
// 3. end to end: the real gateway (+ ingest and tiering, which project the
//    memory_recalled events) answering POST /v1/agents/:id/recall over HTTP.
// 4. what bounds it: the gateway's full-text SQL timed on its own.
//
//   node bench/run.mjs recall                              (1,000,000 memories, 100 agents)
//   node bench/run.mjs recall --memories 50000 --agents 10 (quick check)
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { MEMORY_KINDS, memoryDocument, partitionOf, readableOwnerKeys } from '../packages/contracts/dist/index.js';
import { connectPostgres, hashEmbedder, migrate, quoteIdent, toBytes, COMMON_DEFAULTS } from '../packages/platform/dist/index.js';
import { TestStack, freePort, uniqueNamespace } from '../packages/testing/dist/index.js';
import { MIGRATIONS_DIR } from '../packages/store/dist/index.js';
import { IndexSync, orQuery, VectorIndex } from '../packages/recall/dist/index.js';

const ROOT = new URL('../', import.meta.url).pathname;
const PROJECTION = 'tiering.v1';
const DAY = 86_400_000;
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const stats = (ms) => {
  const s = [...ms].sort((a, b) => a - b);
  return { n: s.length, p50Ms: pct(s, 50), p95Ms: pct(s, 95), p99Ms: pct(s, 99), maxMs: s[s.length - 1], meanMs: s.reduce((a, b) => a + b, 0) / s.length };
};
const mb = (bytes) => Math.round(bytes / 1048576);
const secs = (t0) => (performance.now() - t0) / 1000;

// ---- deterministic data ------------------------------------------------------

/** mulberry32: small, fast, deterministic. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SYMBOLS = ['BTC', 'ETH', 'SOL', 'AVAX', 'LINK', 'DOGE', 'XRP', 'ADA', 'MATIC', 'ARB', 'OP', 'BNB', 'DOT', 'ATOM', 'NEAR', 'APT', 'SUI', 'INJ', 'TIA', 'LTC'];
const QUOTES = ['USD', 'USDT', 'PERP'];
const REGIMES = ['trending up', 'trending down', 'range-bound', 'high volatility', 'low volatility', 'choppy', 'risk-off', 'risk-on',
  'capitulation', 'short squeeze', 'mean-reverting', 'breakout'];
const TIMEFRAMES = ['15m', '1h', '4h', 'daily', 'weekly'];
const SESSIONS = ['Asia session', 'London open', 'New York open', 'US close', 'the weekend', 'FOMC day', 'CPI release', 'month-end'];
const SIGNALS = ['RSI above 70', 'RSI below 30', 'RSI divergence on the highs', 'MACD crossed bullish', 'MACD crossed bearish',
  'price reclaimed VWAP', 'price lost VWAP', 'funding turned negative', 'funding spiked positive', 'open interest rising fast',
  'open interest flushed', 'order book bid-heavy', 'ask wall stacked above', 'Bollinger bands squeezed', 'close outside the upper band',
  'volume twice the 20-day average', 'volume drying up', 'basis widening', 'implied volatility crushed', 'liquidations cascading',
  'CVD diverging from price', 'retest of the 200-day moving average', 'ATR expanding', 'spot leading perps', 'stablecoin inflows rising',
  'whale wallets distributing'];
const ACTIONS = ['went long', 'went short', 'scaled in', 'took profit', 'cut the loss', 'hedged with puts', 'reduced size', 'stayed flat',
  'added on the dip', 'faded the move', 'trailed the stop', 'flipped short'];
const INTENTS = ['go long', 'go short', 'scale in', 'take profit', 'cut the loss', 'hedge', 'reduce size', 'stay flat', 'buy the dip', 'fade the move'];
const OUTCOMES = ['closed +2.4%', 'stopped out at -1.1%', 'small win', 'gave back the gains', 'hit target in 3 hours', 'slippage ate the edge',
  'scratch trade', 'clean 3R winner', 'loss from a wick', 'chopped out twice', 'closed +0.8%', 'stopped out at -2.6%'];
const ADVICE = ['wait for confirmation on the close', 'size down by half', 'avoid chasing the first candle', 'use a wider stop',
  'take partial profit early', 'do not fade strong trends', 'check funding before entry', 'trade only with the higher timeframe',
  'skip thin weekend books', 'respect the invalidation level'];
const RELIABILITY = ['reliable', 'unreliable', 'a trap', 'worth a small position', 'only good with volume', 'late more often than not'];

/** Each agent trades a few favourite symbols and regimes most of the time: per-agent structure, not uniform noise. */
function agentProfile(a, rand) {
  const pick = (xs, n) => {
    const out = new Set();
    while (out.size < n) out.add(xs[Math.floor(rand() * xs.length)]);
    return [...out];
  };
  return { id: `agent-${String(a).padStart(3, '0')}`, symbols: pick(SYMBOLS, 4), regimes: pick(REGIMES, 3), signals: pick(SIGNALS, 6) };
}

function textMaker(rand) {
  const one = (xs) => xs[Math.floor(rand() * xs.length)];
  const fav = (own, all) => (rand() < 0.8 ? own[Math.floor(rand() * own.length)] : one(all));
  const num = (lo, hi, d = 1) => (lo + rand() * (hi - lo)).toFixed(d);
  const pair = (sym) => (rand() < 0.5 ? sym : `${sym}-${one(QUOTES)}`);
  const fill = (main, extras) => {
    // 80..160 characters: add clauses while they fit.
    let s = main;
    for (const e of extras) {
      if (s.length >= 80 && rand() < 0.5) break;
      if (s.length + e.length + 1 <= 160) s += ` ${e}`;
    }
    if (s.length < 80) s += ` Noted on the ${one(TIMEFRAMES)} chart during ${one(SESSIONS)}.`;
    if (s.length > 160) s = s.slice(0, s.lastIndexOf(' ', 160));
    return s;
  };
  /** A memory of the agent: kind, text (80..160 chars) and tags. */
  const memory = (p) => {
    const sym = fav(p.symbols, SYMBOLS);
    const regime = fav(p.regimes, REGIMES);
    const sig = fav(p.signals, SIGNALS);
    const sig2 = one(SIGNALS);
    const kind = MEMORY_KINDS[Math.floor(rand() * MEMORY_KINDS.length)];
    const extras = [`${one(SIGNALS)}.`, `Regime: ${regime}.`, `${one(ADVICE)}.`, `Seen ${one(SESSIONS)}.`, `ATR ${num(0.5, 6)}%.`];
    let main;
    switch (kind) {
      case 'observation': main = `${pair(sym)} ${regime} on the ${one(TIMEFRAMES)}: ${sig} while ${sig2}; RSI ${num(15, 85, 0)}.`; break;
      case 'reflection': main = `${one(ACTIONS)} ${pair(sym)} after ${sig} in a ${regime} market; ${one(OUTCOMES)}.`; break;
      case 'lesson': main = `In ${regime} regimes, ${sig} on ${sym} is ${one(RELIABILITY)}: ${one(ADVICE)}.`; break;
      case 'fact': main = `${sym} tends to move ${num(0.5, 8)}% after ${sig} during ${one(SESSIONS)} (${one(TIMEFRAMES)}).`; break;
      default: main = `When ${sig} and ${sig2} on ${pair(sym)}: ${one(ACTIONS)}, stop at ${num(1, 3)} ATR, target ${num(1.5, 4)}R.`;
    }
    const tags = [sym.toLowerCase(), regime.replace(/ /g, '-')];
    if (rand() < 0.4) tags.push(kind === 'lesson' ? 'lesson' : one(['scalp', 'swing', 'macro', 'onchain', 'derivs']));
    return { kind, text: fill(main, extras), tags };
  };
  /** A recall query: shorter, phrased differently from the memories. */
  const query = (p) => {
    const sym = fav(p.symbols, SYMBOLS);
    const regime = fav(p.regimes, REGIMES);
    const sig = fav(p.signals, SIGNALS);
    switch (Math.floor(rand() * 5)) {
      case 0: return `${pair(sym)} ${regime} on the ${one(TIMEFRAMES)}, ${sig}: should I ${one(INTENTS)}?`;
      case 1: return `what happened last time ${sig} on ${sym} during ${one(SESSIONS)}`;
      case 2: return `${sig} and ${one(SIGNALS)} on ${sym}, ${regime} market: lessons`;
      case 3: return `${sym} ${regime}, thinking to ${one(INTENTS)} after ${sig}`;
      default: return `how reliable is ${sig} in ${regime} conditions for ${pair(sym)}`;
    }
  };
  return { memory, query };
}

const uuid = (rand) => {
  const h = [];
  for (let i = 0; i < 4; i++) h.push((Math.floor(rand() * 2 ** 32) >>> 0).toString(16).padStart(8, '0'));
  const s = h.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-4${s.slice(13, 16)}-${'89ab'[parseInt(s[16], 16) & 3]}${s.slice(17, 20)}-${s.slice(20, 32)}`;
};

// ---- Postgres: schema, bulk load, indexes --------------------------------------

const INSERT_SQL = `INSERT INTO memories (memory_id, agent_id, kind, text, tags, importance, scope, scope_id, version, created_at, updated_at,
                          embedding, embedding_dims, embedding_model, part, change_seq)
  SELECT id, agent, kind, txt, CASE WHEN tg = '' THEN '{}'::text[] ELSE string_to_array(tg, ',') END, imp, scope, scope_id, 1,
         to_timestamp(at / 1000.0), to_timestamp(at / 1000.0), emb, $13, $14, part, seq
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::float8[], $7::text[], $8::text[], $9::float8[],
                $10::bytea[], $11::int[], $12::bigint[]) AS x(id, agent, kind, txt, tg, imp, scope, scope_id, at, emb, part, seq)`;

/**
 * Generates and inserts every memory, in created_at order (agents interleaved,
 * as a live fleet writes them), `batch` rows per INSERT, two INSERTs in flight.
 * change_seq is the canonical stream sequence the event would have had (one
 * running number, so increasing within each partition, as tiering writes it).
 */
async function loadMemories(clients, o, profiles, teamOf, embedder, log) {
  const rand = prng(0xfa12b1);
  const gen = textMaker(rand);
  const t0 = Date.now() - 90 * DAY;
  const inflight = new Set();
  let genMs = 0;
  let embedMs = 0;
  let chars = 0;
  let next = 0;
  const counts = { agent: 0, team: 0, fleet: 0 };
  const started = performance.now();
  for (let start = 0, b = 0; start < o.memories; start += o.batch, b++) {
    const n = Math.min(o.batch, o.memories - start);
    const g0 = performance.now();
    const cols = [[], [], [], [], [], [], [], [], [], [], [], []];
    const docs = [];
    for (let i = 0; i < n; i++) {
      const seq = start + i + 1;
      const p = profiles[(start + i) % profiles.length];
      const m = gen.memory(p);
      const r = rand();
      const scope = r < o.fleetShare ? 'fleet' : r < o.fleetShare + o.teamShare ? 'team' : 'agent';
      counts[scope]++;
      const at = t0 + ((start + i) / o.memories) * 90 * DAY + Math.floor(rand() * 60_000);
      const importance = Math.round(((rand() + rand()) / 2) * 1000) / 1000;
      cols[0].push(uuid(rand)); cols[1].push(p.id); cols[2].push(m.kind); cols[3].push(m.text); cols[4].push(m.tags.join(','));
      cols[5].push(importance); cols[6].push(scope); cols[7].push(scope === 'team' ? teamOf.get(p.id) : ''); cols[8].push(at);
      cols[10].push(partitionOf(p.id, o.partitions)); cols[11].push(seq);
      docs.push(memoryDocument(m.text, m.tags));
      chars += m.text.length;
    }
    const e0 = performance.now();
    const vectors = await embedder.embed(docs);
    embedMs += performance.now() - e0;
    cols[9] = vectors.map((v) => toBytes(v));
    genMs += performance.now() - g0;
    const p = clients[b % clients.length].query(INSERT_SQL, [...cols, embedder.dims, embedder.model]).then(() => {
      inflight.delete(p);
      next += n;
    });
    inflight.add(p);
    if (inflight.size >= clients.length) await Promise.race(inflight);
    if (b % 40 === 39) log(`  loaded ${next.toLocaleString('en')} / ${o.memories.toLocaleString('en')} (${secs(started).toFixed(0)} s)`);
  }
  await Promise.all(inflight);
  return { seconds: secs(started), generateAndEmbedSeconds: genMs / 1000, embedSeconds: embedMs / 1000, meanTextChars: chars / o.memories, scopes: counts };
}

/** Secondary indexes of memories (not the primary key): dropped for the bulk load, rebuilt after. */
async function secondaryIndexes(pool, schema) {
  const r = await pool.query(
    `SELECT i.indexname, i.indexdef FROM pg_indexes i
      WHERE i.schemaname = $1 AND i.tablename = 'memories'
        AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass)`,
    [schema],
  );
  return r.rows;
}

async function rebuildIndexes(clients, defs) {
  // GIN (owner_key, tsv) is the long one: it gets its own connection; the btrees share the other.
  const gin = defs.filter((d) => /USING gin/i.test(d.indexdef));
  const rest = defs.filter((d) => !/USING gin/i.test(d.indexdef));
  const times = {};
  const run = async (c, list) => {
    await c.query("SET maintenance_work_mem = '1GB'");
    for (const d of list) {
      const t0 = performance.now();
      await c.query(d.indexdef);
      times[d.indexname] = secs(t0);
    }
    await c.query('RESET maintenance_work_mem');
  };
  const t0 = performance.now();
  await Promise.all([run(clients[0], gin), run(clients[1 % clients.length], rest)]);
  return { seconds: secs(t0), perIndex: times };
}

// ---- in-process: the gateway's VectorIndex and IndexSync -----------------------

async function inProcess(url, names, embedder, queries, o, log) {
  const pool = await connectPostgres(url, names.pgSchema, { max: 2, name: 'bench-recall-index' });
  const quiet = { warn() {}, info() {}, error() {}, debug() {} };
  const rss0 = process.memoryUsage().rss;
  const index = new VectorIndex();
  const sync = new IndexSync(pool, index, { projection: PROJECTION, partitions: names.partitions, log: quiet, pollMs: 1000, consistencyTimeoutMs: 5000 });
  try {
    const t0 = performance.now();
    const loaded = await sync.start();
    const loadSeconds = secs(t0);
    const mem = process.memoryUsage();
    log(`  index: ${loaded.memories.toLocaleString('en')} memories in ${loadSeconds.toFixed(1)} s, rss +${mb(mem.rss - rss0)} MiB`);
    if (loaded.memories !== o.memories) throw new Error(`index loaded ${loaded.memories} memories, expected ${o.memories}`);
    const model = embedder.model;
    const embedUs = [];
    for (const q of queries) {
      const t = performance.now();
      [q.vector] = await embedder.embed([q.text]);
      embedUs.push((performance.now() - t) * 1000);
    }
    const run = (filterOf, k) => {
      const ann = [];
      const exact = [];
      let recall = 0;
      let returned = 0;
      const exactIds = [];
      for (const q of queries) {
        const f = filterOf(q);
        let t = performance.now();
        const a = index.search(model, q.ownerKeys, q.vector, k, f);
        ann.push(performance.now() - t);
        t = performance.now();
        const e = index.search(model, q.ownerKeys, q.vector, k, f, true);
        exact.push(performance.now() - t);
        const truth = new Set(e.map((h) => h.meta.memoryId));
        const hit = a.filter((h) => truth.has(h.meta.memoryId)).length;
        recall += truth.size === 0 ? 1 : hit / truth.size;
        returned += a.length;
        exactIds.push(e.map((h) => h.meta.memoryId));
      }
      return { ann: stats(ann), exact: stats(exact), recallAt10: recall / queries.length, meanReturned: returned / queries.length, exactIds };
    };
    // Warm-up (JIT, caches) on a few queries, then the measured passes.
    for (const q of queries.slice(0, 50)) index.search(model, q.ownerKeys, q.vector, 10, { now: Date.now() });
    const now = Date.now();
    const plain = run(() => ({ now }), 10);
    log(`  ann top-10: p50 ${plain.ann.p50Ms.toFixed(3)} ms, p95 ${plain.ann.p95Ms.toFixed(3)} ms, recall@10 ${plain.recallAt10.toFixed(4)}`);
    const filtered = run((q) => ({ now, kinds: new Set([q.kind]), minImportance: 0.5 }), 10);
    log(`  ann top-10 (kind + importance >= 0.5): p50 ${filtered.ann.p50Ms.toFixed(3)} ms, p95 ${filtered.ann.p95Ms.toFixed(3)} ms, recall@10 ${filtered.recallAt10.toFixed(4)}`);
    // The gateway asks the index for max(5k, 50) candidates; time that size too (no exact pass needed).
    const pool50 = [];
    for (const q of queries) {
      const t = performance.now();
      index.search(model, q.ownerKeys, q.vector, 50, { now });
      pool50.push(performance.now() - t);
    }
    queries.forEach((q, i) => (q.exactTop1 = plain.exactIds[i][0]));
    const memAfter = process.memoryUsage();
    return {
      loadSeconds, loadedMemories: loaded.memories, syncReportedMs: loaded.ms, buckets: index.stats().buckets,
      rssMiB: mb(memAfter.rss), rssDeltaMiB: mb(mem.rss - rss0), heapUsedMiB: mb(memAfter.heapUsed), externalMiB: mb(memAfter.external + memAfter.arrayBuffers),
      bytesPerMemory: Math.round((mem.rss - rss0) / loaded.memories),
      queryEmbed: { p50Us: pct([...embedUs].sort((a, b) => a - b), 50), p99Us: pct([...embedUs].sort((a, b) => a - b), 99) },
      top10: { ann: plain.ann, exact: plain.exact, recallAt10: plain.recallAt10, meanReturned: plain.meanReturned },
      top10Filtered: { filter: 'kinds=[one kind], minImportance=0.5', ann: filtered.ann, exact: filtered.exact, recallAt10: filtered.recallAt10, meanReturned: filtered.meanReturned },
      top50: stats(pool50),
    };
  } finally {
    sync.stop();
    await pool.end();
  }
}

// ---- end to end: the real gateway over HTTP ------------------------------------

function postJson(agent, port, path, body) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const t0 = performance.now();
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const ms = performance.now() - t0;
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = { raw: text };
        }
        resolve({ status: res.statusCode, ms, body: json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(data);
  });
}

const procStatus = (pid) => {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
    return { vmHWMMiB: Math.round(kb('VmHWM') / 1024), vmRSSMiB: Math.round(kb('VmRSS') / 1024) };
  } catch {
    return undefined;
  }
};

async function startGateway(stack, log) {
  const port = await freePort();
  const output = [];
  const t0 = performance.now();
  const child = spawn(process.execPath, [`${ROOT}services/gateway/dist/main.js`], {
    env: { ...process.env, FB_NAMESPACE: stack.namespace, FB_PARTITIONS: String(stack.names.partitions), FB_GATEWAY_PORT: String(port),
      NATS_URL: stack.natsUrl, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (b) => {
    output.push(b.toString());
    if (output.length > 200) output.shift();
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const gw = { child, port, output, url: `http://127.0.0.1:${port}` };
  const deadline = Date.now() + 30 * 60_000;
  let lastLog = Date.now();
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`gateway exited (${child.exitCode ?? child.signalCode}): ${output.join('').slice(-3000)}`);
    const ok = await fetch(`${gw.url}/readyz`).then((r) => r.status === 200, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error('gateway not ready after 30 min');
    if (Date.now() - lastLog > 30_000) {
      lastLog = Date.now();
      log(`  gateway loading... ${secs(t0).toFixed(0)} s, rss ${procStatus(child.pid)?.vmRSSMiB} MiB`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  gw.readySeconds = secs(t0);
  // /readyz may answer 200 before the log line it follows has come through the pipe.
  const loadedLine = () => output.join('').split('\n').find((l) => l.includes('memory index loaded'));
  for (let i = 0; i < 50 && !loadedLine(); i++) await new Promise((r) => setTimeout(r, 20));
  const line = loadedLine();
  gw.indexLoad = line ? JSON.parse(line) : undefined;
  gw.afterLoad = procStatus(child.pid);
  return gw;
}

async function httpPhase(gw, queries, concurrency, exactTop1) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const ms = [];
  const took = [];
  let full = 0;
  let empty = 0;
  let top1 = 0;
  let top1Known = 0;
  let hot = 0;
  let hits = 0;
  let foreign = 0;
  let i = 0;
  const t0 = performance.now();
  const worker = async () => {
    for (;;) {
      const n = i++;
      if (n >= queries.length) return;
      const q = queries[n];
      const r = await postJson(agent, gw.port, `/v1/agents/${q.agentId}/recall`, { query: q.text, k: 10 });
      if (r.status !== 200) throw new Error(`recall ${q.agentId}: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 500)}`);
      ms.push(r.ms);
      took.push(r.body.tookMs);
      const hs = r.body.hits;
      if (hs.length === 10) full++;
      if (hs.length === 0) empty++;
      hits += hs.length;
      for (const h of hs) {
        if (h.tier === 'hot') hot++;
        const m = h.memory;
        const readable = m.scope === 'fleet' || (m.scope === 'team' ? m.scopeId === q.team : m.agentId === q.agentId);
        if (!readable) foreign++;
      }
      if (exactTop1 && q.exactTop1) {
        top1Known++;
        if (hs.some((h) => h.memory.memoryId === q.exactTop1)) top1++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = secs(t0);
  agent.destroy();
  if (foreign > 0) throw new Error(`${foreign} hits were not readable by the asking agent`);
  const fullRate = full / queries.length;
  // A broken path (no vector hits, no text hits) must not look fast.
  if (empty > 0 || fullRate < 0.95) throw new Error(`only ${(fullRate * 100).toFixed(1)} % of recalls returned 10 hits (${empty} empty)`);
  return {
    requests: queries.length, concurrency, seconds, reqPerSec: queries.length / seconds, latency: stats(ms), serverTookMs: stats(took),
    fullRate, meanHits: hits / queries.length, hotTierShare: hot / Math.max(1, hits),
    ...(exactTop1 ? { exactVectorTop1InTop10: top1 / Math.max(1, top1Known) } : {}),
  };
}

// ---- the full-text part alone --------------------------------------------------

/** Reference: the full-text query recall ran before it capped its scan (ranks every OR match in the agent's scopes). */
const FULL_TEXT_SQL = `SELECT memory_id, version, importance, (extract(epoch from created_at) * 1000)::bigint AS created,
              CASE WHEN $2::text IS NULL THEN NULL ELSE ts_rank_cd(tsv, to_tsquery('english', $2)) END AS relevance
         FROM memories
        WHERE owner_key = ANY($1) AND forgotten_at IS NULL AND ($2::text IS NULL OR tsv @@ to_tsquery('english', $2))
          AND (expires_at IS NULL OR expires_at > now())
          AND ($3::text[] IS NULL OR kind = ANY($3))
          AND ($4::text[] IS NULL OR tags @> $4)
          AND ($5::text[] IS NULL OR tags && $5)
          AND ($6::bigint IS NULL OR created_at >= to_timestamp($6 / 1000.0))
          AND ($7::bigint IS NULL OR created_at < to_timestamp($7 / 1000.0))
          AND importance >= $8
        ORDER BY relevance DESC NULLS LAST, created_at DESC
        LIMIT $9`;

async function fullTextAlone(pool, queries, sample) {
  const params = (q) => [q.ownerKeys, orQuery(q.text) ?? null, null, null, null, null, null, 0, 50];
  const c = await pool.connect();
  try {
    for (const q of queries.slice(0, 10)) await c.query(FULL_TEXT_SQL, params(q)); // warm
    const ms = [];
    let rows = 0;
    for (const q of queries.slice(0, sample)) {
      const t = performance.now();
      const r = await c.query(FULL_TEXT_SQL, params(q));
      ms.push(performance.now() - t);
      rows += r.rowCount;
    }
    // How many rows match (and get ts_rank_cd computed) before the LIMIT, for a sample.
    let matched = 0;
    const mSample = queries.slice(0, Math.min(50, sample));
    for (const q of mSample) {
      const r = await c.query("SELECT count(*)::int AS n FROM memories WHERE owner_key = ANY($1) AND forgotten_at IS NULL AND tsv @@ to_tsquery('english', $2)",
        [q.ownerKeys, orQuery(q.text)]);
      matched += r.rows[0].n;
    }
    const readable = await c.query('SELECT count(*)::int AS n FROM memories WHERE owner_key = ANY($1) AND forgotten_at IS NULL', [queries[0].ownerKeys]);
    // One plan, as the service would run it (generic parameters are inlined by EXPLAIN).
    const q = queries[0];
    const lit = (v) => (v === null ? 'NULL' : `'${String(v).replace(/'/g, "''")}'`);
    const explainSql = FULL_TEXT_SQL
      .replace('$1', `ARRAY[${q.ownerKeys.map(lit).join(',')}]::text[]`)
      .replaceAll('$2', lit(orQuery(q.text)))
      .replace(/\$3|\$4|\$5/g, 'NULL').replace(/\$6|\$7/g, 'NULL').replace('$8', '0').replace('$9', '50');
    const plan = (await c.query(`EXPLAIN (ANALYZE, BUFFERS) ${explainSql}`)).rows.map((r) => r['QUERY PLAN']);
    return { sample: ms.length, latency: stats(ms), meanRows: rows / ms.length, meanMatchedBeforeLimit: matched / mSample.length,
      readableByFirstAgent: readable.rows[0].n, exampleQuery: q.text, tsquery: orQuery(q.text), plan };
  } finally {
    c.release();
  }
}

// ---- the bench -------------------------------------------------------------------

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--(memories|agents|queries|partitions|batch)$/.exec(argv[i]);
    if (m) o[m[1]] = Number(argv[++i]);
  }
  return o;
}

export const recallArgs = parseArgs;

/**
 * Runs the recall benchmark in its own namespace and returns its results
 * (rows for the console table in `rows`). Removes the namespace's schema,
 * streams and keys at the end, also on failure.
 */
export async function runRecallBench(opts = {}) {
  const o = {
    memories: 1_000_000, agents: 100, queries: 1000, partitions: 8, batch: 5000, teams: undefined,
    teamShare: 0.10, fleetShare: 0.01, concurrency: 4, ftsSample: 200, log: (s) => console.log(s),
    ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined && !Number.isNaN(v))),
  };
  o.teams ??= Math.max(1, Math.round(o.agents / 10));
  if (o.memories % o.agents !== 0) throw new Error(`--memories (${o.memories}) must be a multiple of --agents (${o.agents})`);
  const log = o.log;
  const benchStart = performance.now();
  const url = process.env.DATABASE_URL ?? COMMON_DEFAULTS.databaseUrl;
  const stack = new TestStack({ namespace: uniqueNamespace('recall'), partitions: o.partitions });
  const extraPools = [];
  const extraClients = [];
  let gw;
  const onSignal = () => {
    gw?.child.kill('SIGKILL');
    stack.destroy().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await stack.connect();
    const schema = stack.names.pgSchema;
    log(`recall bench: ${o.memories.toLocaleString('en')} memories, ${o.agents} agents, ${o.teams} teams, ${o.queries} queries, namespace ${stack.namespace}`);
    const embedder = hashEmbedder(256);

    // 1. Schema (tiering's migrations), then the bulk load standing in for the projection.
    await migrate(stack.pool, schema, MIGRATIONS_DIR);
    // Two dedicated sessions (2 cores): to_tsvector of the generated tsv column runs in Postgres.
    const loadPool = await connectPostgres(url, schema, { max: 2, name: 'bench-recall-load' });
    extraPools.push(loadPool);
    const loaders = [await loadPool.connect(), await loadPool.connect()];
    extraClients.push(...loaders);
    const defs = await secondaryIndexes(stack.pool, schema);
    for (const d of defs) await stack.pool.query(`DROP INDEX ${quoteIdent(schema)}.${quoteIdent(d.indexname)}`);

    const rand = prng(0xa9e175);
    const profiles = Array.from({ length: o.agents }, (_, a) => agentProfile(a, rand));
    const teamOf = new Map(profiles.map((p, a) => [p.id, `team-${a % o.teams}`]));
    await stack.pool.query(
      `INSERT INTO agents (agent_id, name, team, strategy, registered_at, first_seen_at, last_event_at, state_seq)
       SELECT id, id, team, 'bench', now() - interval '90 days', now() - interval '90 days', now(), 1 FROM unnest($1::text[], $2::text[]) AS x(id, team)`,
      [profiles.map((p) => p.id), profiles.map((p) => teamOf.get(p.id))],
    );
    // Each session: no synchronous commit wait during the bulk load (a bench-side setting; the data is the same).
    for (const p of loaders) await p.query('SET synchronous_commit = off');
    log(`loading memories (batches of ${o.batch}, ${loaders.length} connections; secondary indexes dropped: ${defs.map((d) => d.indexname).join(', ')})`);
    const load = await loadMemories(loaders, o, profiles, teamOf, embedder, log);
    for (const p of loaders) await p.query('SET synchronous_commit = on');
    log(`  ${load.seconds.toFixed(1)} s (${Math.round(o.memories / load.seconds).toLocaleString('en')} rows/s; generate+embed ${load.generateAndEmbedSeconds.toFixed(1)} s of it in this process)`);
    log('rebuilding indexes');
    const idx = await rebuildIndexes(loaders, defs);
    log(`  ${idx.seconds.toFixed(1)} s ${JSON.stringify(Object.fromEntries(Object.entries(idx.perIndex).map(([k, v]) => [k, Math.round(v * 10) / 10])))}`);
    let t = performance.now();
    await stack.pool.query('VACUUM (ANALYZE) memories');
    await stack.pool.query('ANALYZE agents');
    const vacuumSeconds = secs(t);
    const size = (await stack.pool.query(
      `SELECT pg_table_size('memories') AS heap, pg_indexes_size('memories') AS idx,
              (SELECT pg_relation_size((quote_ident($1) || '.memories_fts')::regclass)) AS fts`, [schema])).rows[0];
    // Checkpoints: the projection has applied every event up to N; the events stream continues from N + 1,
    // so tiering projects the recalls the gateway records during the bench (and skips nothing).
    await stack.pool.query(
      `INSERT INTO projection_checkpoints (projection, partition, last_seq, ingress_seq)
       SELECT $1, p, $2, 0 FROM generate_series(0, $3 - 1) AS p`, [PROJECTION, o.memories, o.partitions]);
    await stack.jsm.streams.purge(stack.names.eventsStream, { seq: o.memories + 1 });
    log(`  vacuum+analyze ${vacuumSeconds.toFixed(1)} s; memories heap ${mb(size.heap)} MiB, indexes ${mb(size.idx)} MiB (GIN ${mb(size.fts)} MiB)`);

    // Queries: like the data, phrased differently, each from one agent.
    const qrand = prng(0x5eed);
    const qgen = textMaker(qrand);
    const mkQueries = (n) => Array.from({ length: n }, () => {
      const p = profiles[Math.floor(qrand() * profiles.length)];
      const team = teamOf.get(p.id);
      return { agentId: p.id, team, ownerKeys: readableOwnerKeys(p.id, [team]), text: qgen.query(p), kind: MEMORY_KINDS[Math.floor(qrand() * MEMORY_KINDS.length)] };
    });
    const queries = mkQueries(o.queries);
    const warmup = mkQueries(50);
    const concurrentQueries = mkQueries(o.queries);

    // 2. In process.
    log('in-process vector index (gateway VectorIndex + IndexSync)');
    const ann = await inProcess(url, stack.names, embedder, queries, o, log);

    // 3. End to end.
    log('starting tiering, ingest and the gateway');
    await stack.start('tiering', { LOG_LEVEL: 'info' });
    await stack.start('ingest', { LOG_LEVEL: 'info' });
    gw = await startGateway(stack, log);
    log(`  gateway ready after ${gw.readySeconds.toFixed(1)} s (index ${JSON.stringify({ memories: gw.indexLoad?.memories, ms: gw.indexLoad?.ms })}, rss ${gw.afterLoad?.vmRSSMiB} MiB)`);
    await httpPhase(gw, warmup, 1, false);
    const seq = await httpPhase(gw, queries, 1, true);
    log(`  sequential: p50 ${seq.latency.p50Ms.toFixed(1)} ms, p95 ${seq.latency.p95Ms.toFixed(1)} ms, p99 ${seq.latency.p99Ms.toFixed(1)} ms, ${seq.reqPerSec.toFixed(0)} req/s`);
    const conc = await httpPhase(gw, concurrentQueries, o.concurrency, false);
    log(`  concurrency ${o.concurrency}: p50 ${conc.latency.p50Ms.toFixed(1)} ms, p95 ${conc.latency.p95Ms.toFixed(1)} ms, p99 ${conc.latency.p99Ms.toFixed(1)} ms, ${conc.reqPerSec.toFixed(0)} req/s`);
    t = performance.now();
    await stack.caughtUp(600_000);
    const caughtUpSeconds = secs(t);
    const recalls = (await stack.pool.query('SELECT count(*)::int AS n FROM recalls')).rows[0].n;
    const sent = warmup.length + queries.length + concurrentQueries.length;
    if (recalls !== sent) throw new Error(`tiering projected ${recalls} recalls, the bench made ${sent}`);
    const gwMem = procStatus(gw.child.pid);

    // 4. What bounds it: the full-text query alone.
    log('reference: ranking every OR match (the full-text query recall used before the scan cap)');
    const fts = await fullTextAlone(stack.pool, queries, Math.min(o.ftsSample, queries.length));
    log(`  p50 ${fts.latency.p50Ms.toFixed(1)} ms, p95 ${fts.latency.p95Ms.toFixed(1)} ms; ~${Math.round(fts.meanMatchedBeforeLimit).toLocaleString('en')} of ${fts.readableByFirstAgent.toLocaleString('en')} readable rows match the OR query`);

    const result = {
      memories: o.memories, agents: o.agents, teams: o.teams, partitions: o.partitions, queries: o.queries, namespace: stack.namespace,
      note: 'memories bulk-loaded into the namespace schema (stands in for the tiering projection having applied memory_stored events); '
        + 'embeddings: hash-v1-256 of text+tags as tiering embeds them',
      data: { ...load, scopeShares: { team: o.teamShare, fleet: o.fleetShare }, indexRebuild: idx, vacuumAnalyzeSeconds: vacuumSeconds,
        heapMiB: mb(size.heap), indexesMiB: mb(size.idx), ginMiB: mb(size.fts) },
      inProcess: ann,
      gateway: { readySeconds: gw.readySeconds, indexLoad: gw.indexLoad && { memories: gw.indexLoad.memories, ms: gw.indexLoad.ms },
        rssAfterLoadMiB: gw.afterLoad?.vmRSSMiB, peakRssMiB: gwMem?.vmHWMMiB, rssEndMiB: gwMem?.vmRSSMiB },
      http: { sequential: seq, concurrent: conc, recallsProjected: recalls, caughtUpSeconds },
      fullText: fts,
      goal: { p95Ms: 50, recallAt10: 0.95 },
      seconds: secs(benchStart),
    };
    result.ratios = {
      annSpeedupVsExactP50: ann.top10.exact.p50Ms / ann.top10.ann.p50Ms,
      fullTextShareOfHttpP50: fts.latency.p50Ms / seq.latency.p50Ms,
      vectorShareOfHttpP50: ann.top50.p50Ms / seq.latency.p50Ms,
      httpP95VsGoal: seq.latency.p95Ms / 50,
      throughputConcurrentVsSequential: conc.reqPerSec / seq.reqPerSec,
    };
    const f1 = (x) => x.toFixed(1);
    const f3 = (x) => x.toFixed(3);
    const lat = (s, f) => `${f(s.p50Ms)} / ${f(s.p95Ms)} / ${f(s.p99Ms)} ms`;
    result.rows = [
      [`bulk load ${o.memories.toLocaleString('en')} memories (+ ${defs.length} index rebuilds)`, `${f1(load.seconds)} s + ${f1(idx.seconds)} s`, `${Math.round(o.memories / load.seconds).toLocaleString('en')} rows/s; vacuum+analyze ${f1(vacuumSeconds)} s`],
      ['index load (IndexSync.start, in process)', `${f1(ann.loadSeconds)} s`, `+${ann.rssDeltaMiB.toLocaleString('en')} MiB rss, ${ann.buckets} buckets`],
      ['ANN top-10 p50 / p95 / p99 (agent filter)', lat(ann.top10.ann, f3), `recall@10 ${ann.top10.recallAt10.toFixed(4)} vs exact`],
      ['exact top-10 p50 / p95 / p99', lat(ann.top10.exact, f3), `ANN ${f1(result.ratios.annSpeedupVsExactP50)}x faster (p50)`],
      ['ANN top-10, kind + importance >= 0.5', lat(ann.top10Filtered.ann, f3), `recall@10 ${ann.top10Filtered.recallAt10.toFixed(4)} vs exact (same filter)`],
      ['ANN top-50 (gateway candidate pool)', lat(ann.top50, f3), ''],
      ['gateway ready (index of all memories)', `${f1(gw.readySeconds)} s`, `rss ${gw.afterLoad?.vmRSSMiB} MiB after load, peak ${gwMem?.vmHWMMiB} MiB`],
      ['HTTP recall k=10, sequential p50 / p95 / p99', lat(seq.latency, f1), `${f1(seq.reqPerSec)} req/s; exact-vector top-1 in top-10 ${(seq.exactVectorTop1InTop10 * 100).toFixed(1)} %`],
      [`HTTP recall k=10, concurrency ${o.concurrency} p50 / p95 / p99`, lat(conc.latency, f1), `${f1(conc.reqPerSec)} req/s`],
      ['reference: OR-ranking every match p50 / p95 / p99', lat(fts.latency, f1), `${Math.round(fts.meanMatchedBeforeLimit).toLocaleString('en')} rows ranked per query`],
      ['p95 goal 50 ms: HTTP sequential p95 / goal', `${(result.ratios.httpP95VsGoal * 100).toFixed(0)} %`, `OR-ranking reference = ${(result.ratios.fullTextShareOfHttpP50 * 100).toFixed(0)} % of HTTP p50`],
      ['recall bench wall time', `${f1(result.seconds)} s`, ''],
    ];
    return result;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (gw && gw.child.exitCode === null) {
      gw.child.kill('SIGKILL');
      await new Promise((r) => (gw.child.exitCode !== null || gw.child.signalCode !== null ? r() : gw.child.once('exit', r)));
    }
    for (const c of extraClients) c.release();
    for (const p of extraPools) await p.end().catch(() => undefined);
    await stack.destroy();
  }
}

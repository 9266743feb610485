import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FarmbrainError } from '@farmbrain/contracts';
import { ConfigError } from '../errors.js';
import { createEmbedder, fromBytes, hashEmbedder, loadEmbedConfig, normalize, openAiEmbedder, toBytes } from './index.js';

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
const norm = (a: Float32Array) => Math.sqrt(dot(a, a));

async function sims(texts: string[], dims?: number): Promise<Float32Array[]> {
  return hashEmbedder(dims).embed(texts);
}

// ---- hash embedder ---------------------------------------------------------

test('embed - the hash embedder is deterministic and gives unit vectors', async () => {
  const e = hashEmbedder();
  assert.equal(e.model, 'farmbrain/hash-v1-256');
  assert.equal(e.dims, 256);
  const texts = ['BTC breakout above resistance on high volume', 'Ünïcode wörds, 日本語 and emoji 🚀 too', 'x'];
  const [a, b] = [await e.embed(texts), await hashEmbedder().embed(texts)];
  assert.deepEqual(a, b);
  for (const v of a) {
    assert.equal(v.length, 256);
    assert.ok(Math.abs(norm(v) - 1) < 1e-5, `norm ${norm(v)}`);
  }
});

test('embed - texts sharing words are closer than unrelated texts', async () => {
  const [a, b, c] = await sims([
    'BTC breakout above resistance on high volume',
    'btc broke out above resistance, volume high',
    'ETH funding rates negative, shorts crowded',
  ]);
  const related = dot(a!, b!);
  const unrelated = dot(a!, c!);
  assert.ok(related > 0.4, `related ${related}`);
  assert.ok(related > unrelated + 0.3, `related ${related} vs unrelated ${unrelated}`);
});

test('embed - morphological variants are closer than unrelated words', async () => {
  const [breakout, breakouts, funding, volatile, volatility, liquidation] = await sims([
    'breakout',
    'breakouts',
    'funding',
    'volatile',
    'volatility',
    'liquidation',
  ]);
  // A lone word is half unigram, half trigrams: variants share most of the trigrams only.
  assert.ok(dot(breakout!, breakouts!) > 0.25, `breakout/breakouts ${dot(breakout!, breakouts!)}`);
  assert.ok(dot(breakout!, breakouts!) > dot(breakout!, funding!) + 0.2);
  assert.ok(dot(volatile!, volatility!) > 0.25, `volatile/volatility ${dot(volatile!, volatility!)}`);
  assert.ok(dot(volatile!, volatility!) > dot(volatile!, liquidation!) + 0.2);
  const [market, marketVariant, other] = await sims(['market very volatile today', 'volatility in the market today', 'funding negative, shorts crowded']);
  assert.ok(dot(market!, marketVariant!) > dot(market!, other!) + 0.2);
});

test('embed - case and punctuation do not matter; stopwords alone embed to nothing', async () => {
  const [a, b, stop] = await sims(['BTC: long, 2x!', 'btc long 2x', 'the of and to']);
  assert.ok(dot(a!, b!) > 0.99);
  assert.ok(stop!.every((x) => x === 0));
});

test('embed - empty text gives the zero vector, not NaN', async () => {
  const [v, w] = await sims(['', '   ...  ']);
  for (const x of [v!, w!]) {
    assert.equal(x.length, 256);
    assert.ok(x.every((y) => y === 0));
  }
});

test('embed - the dims option is honoured and named in the model id', async () => {
  const e = hashEmbedder(64);
  assert.equal(e.model, 'farmbrain/hash-v1-64');
  assert.equal(e.dims, 64);
  const [v] = await e.embed(['eth perp short squeeze']);
  assert.equal(v!.length, 64);
  assert.throws(() => hashEmbedder(0), ConfigError);
});

test('embed - hash embedder throughput (reported, not asserted)', async () => {
  const words = 'btc eth sol breakout resistance support volume funding rates negative shorts crowded long squeeze liquidation trend reversal momentum rsi divergence'.split(' ');
  const texts = Array.from({ length: 20_000 }, (_, i) => {
    let s = `note ${i}:`;
    for (let k = 0; s.length < 100; k++) s += ` ${words[(i * 7 + k * 13) % words.length]}`;
    return s;
  });
  const e = hashEmbedder();
  await e.embed(texts.slice(0, 1000)); // warm up
  const t0 = process.hrtime.bigint();
  await e.embed(texts);
  const us = Number(process.hrtime.bigint() - t0) / 1000 / texts.length;
  const chars = texts.reduce((s, t) => s + t.length, 0) / texts.length;
  console.log(`hash embedder: ${us.toFixed(2)} µs per ${chars.toFixed(0)}-char text (${Math.round(1e6 / us).toLocaleString('en')} texts/s)`);
});

// ---- vector helpers --------------------------------------------------------

test('embed - normalize gives unit length and leaves the zero vector zero', () => {
  assert.deepEqual([...normalize([3, 4])], [0.6000000238418579, 0.800000011920929]);
  assert.deepEqual([...normalize([0, 0, 0])], [0, 0, 0]);
});

test('embed - toBytes/fromBytes round-trip as float32 little-endian, also from an unaligned buffer', () => {
  assert.deepEqual([...toBytes(Float32Array.of(1))], [0x00, 0x00, 0x80, 0x3f]);
  const v = Float32Array.from({ length: 33 }, (_, i) => Math.sin(i) * 1e3);
  const bytes = toBytes(v);
  assert.equal(bytes.length, 33 * 4);
  assert.deepEqual(fromBytes(bytes), v);
  const padded = Buffer.alloc(bytes.length + 3);
  bytes.copy(padded, 1);
  const unaligned = padded.subarray(1, 1 + bytes.length);
  assert.equal(unaligned.byteOffset % 4, 1);
  assert.deepEqual(fromBytes(unaligned), v);
  assert.throws(() => fromBytes(Buffer.alloc(7)), /multiple of 4 bytes/);
});

// ---- config ------------------------------------------------------------------

test('embed - loadEmbedConfig has defaults, falls back to OPENAI_API_KEY and rejects bad values', () => {
  const d = loadEmbedConfig({});
  assert.deepEqual(d, { url: '', model: 'text-embedding-3-small', apiKey: '', dims: 0, batchSize: 64, timeoutMs: 10_000, hashDims: 256 });
  assert.equal(createEmbedder(d).model, 'farmbrain/hash-v1-256');
  assert.equal(loadEmbedConfig({ OPENAI_API_KEY: 'k1' }).apiKey, 'k1');
  assert.equal(loadEmbedConfig({ OPENAI_API_KEY: 'k1', FB_EMBEDDINGS_API_KEY: 'k2' }).apiKey, 'k2');
  const c = loadEmbedConfig({ FB_EMBEDDINGS_URL: 'http://127.0.0.1:1/v1', FB_EMBEDDINGS_DIMS: '512' });
  assert.equal(createEmbedder(c).model, 'openai-compat/text-embedding-3-small@512');
  assert.throws(() => loadEmbedConfig({ FB_EMBEDDINGS_BATCH: 'lots' }), (e: unknown) => e instanceof ConfigError && /FB_EMBEDDINGS_BATCH='lots'/.test(e.message));
  assert.throws(() => loadEmbedConfig({ FB_EMBEDDINGS_DIMS: '-1' }), ConfigError);
  assert.throws(() => loadEmbedConfig({ FB_HASH_EMBEDDER_DIMS: '0' }), ConfigError);
  assert.throws(() => loadEmbedConfig({ FB_EMBEDDINGS_URL: 'localhost:8000' }), ConfigError);
});

// ---- OpenAI-compatible endpoint, against a real HTTP server ----------------

interface Seen {
  path: string;
  headers: IncomingHttpHeaders;
  body: { model: string; input: string[]; dimensions?: number; encoding_format: string };
}
type Reply = { status?: number; headers?: Record<string, string>; body: unknown };

/** A local HTTP server; `reply` answers each request (its number counts from 0). */
async function server(reply: (req: Seen, n: number) => Reply) {
  const seen: Seen[] = [];
  const srv = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s: Seen = { path: req.url ?? '', headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
      seen.push(s);
      const r = reply(s, seen.length - 1);
      res.writeHead(r.status ?? 200, { 'content-type': 'application/json', ...r.headers });
      res.end(typeof r.body === 'string' ? r.body : JSON.stringify(r.body));
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as AddressInfo).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise<void>((resolve) => srv.close(() => resolve())),
  };
}

/** A text 'tN' embeds to [N + 1, 1, 0]; data comes back in reverse order, as servers may do. */
const vectorOf = (t: string) => [Number(t.slice(1)) + 1, 1, 0];
const okReply = (s: Seen): Reply => ({
  body: { object: 'list', data: s.body.input.map((t, index) => ({ object: 'embedding', index, embedding: vectorOf(t) })).reverse() },
});

const rejectsUnavailable = (p: Promise<unknown>, message: RegExp) =>
  assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof FarmbrainError, String(e));
    assert.equal(e.code, 'EMBEDDINGS_UNAVAILABLE');
    assert.match(e.message, message);
    return true;
  });

test('embed - endpoint: batches by batchSize, keeps order, sends the key and dimensions', async () => {
  const s = await server(okReply);
  try {
    const e = openAiEmbedder({ url: `${s.origin}/v1`, model: 'm', apiKey: 'sk-test', dims: 3, batchSize: 2 });
    assert.equal(e.model, 'openai-compat/m@3');
    assert.equal(e.dims, 3);
    const texts = ['t0', 't1', 't2', 't3', 't4'];
    const out = await e.embed(texts);
    assert.deepEqual(out, texts.map((t) => normalize(vectorOf(t))));
    assert.deepEqual(s.seen.map((r) => r.body.input), [['t0', 't1'], ['t2', 't3'], ['t4']]);
    for (const r of s.seen) {
      assert.equal(r.path, '/v1/embeddings');
      assert.equal(r.headers.authorization, 'Bearer sk-test');
      assert.deepEqual(r.body, { model: 'm', input: r.body.input, dimensions: 3, encoding_format: 'float' });
    }
  } finally {
    await s.close();
  }
});

test('embed - endpoint: without dims or key, learns dims from the answer; blank texts are not sent', async () => {
  const s = await server(okReply);
  try {
    const e = openAiEmbedder({ url: `${s.origin}/v1/embeddings`, model: 'm' });
    assert.equal(e.model, 'openai-compat/m');
    assert.equal(e.dims, 0);
    const [a, blank, b] = await e.embed(['t1', '  ', 't2']);
    assert.equal(e.dims, 3);
    assert.deepEqual(a, normalize(vectorOf('t1')));
    assert.deepEqual(b, normalize(vectorOf('t2')));
    assert.deepEqual(blank, new Float32Array(3));
    assert.equal(s.seen.length, 1);
    assert.equal(s.seen[0]!.path, '/v1/embeddings');
    assert.deepEqual(s.seen[0]!.body.input, ['t1', 't2']);
    assert.equal('dimensions' in s.seen[0]!.body, false);
    assert.equal(s.seen[0]!.headers.authorization, undefined);
    // A bare origin gets /v1 added.
    await openAiEmbedder({ url: `${s.origin}/`, model: 'm' }).embed(['t0']);
    assert.equal(s.seen[1]!.path, '/v1/embeddings');
  } finally {
    await s.close();
  }
});

test('embed - endpoint: retries a 503, then succeeds', async () => {
  const s = await server((r, n) => (n === 0 ? { status: 503, body: { error: { message: 'warming up' } } } : okReply(r)));
  try {
    const out = await openAiEmbedder({ url: s.origin, model: 'm' }).embed(['t0', 't1']);
    assert.deepEqual(out, [normalize(vectorOf('t0')), normalize(vectorOf('t1'))]);
    assert.equal(s.seen.length, 2);
  } finally {
    await s.close();
  }
});

test('embed - endpoint: a 429 waits for Retry-After', async () => {
  const s = await server((r, n) => (n === 0 ? { status: 429, headers: { 'retry-after': '1' }, body: { error: { message: 'rate limited' } } } : okReply(r)));
  try {
    const t0 = Date.now();
    await openAiEmbedder({ url: s.origin, model: 'm' }).embed(['t0']);
    assert.ok(Date.now() - t0 >= 950, `retried after ${Date.now() - t0} ms`);
    assert.equal(s.seen.length, 2);
  } finally {
    await s.close();
  }
});

test('embed - endpoint: a 401 fails at once with the status, the body and what to check', async () => {
  const s = await server(() => ({ status: 401, body: { error: { message: 'Incorrect API key provided' } } }));
  try {
    const e = openAiEmbedder({ url: s.origin, model: 'm', apiKey: 'wrong' });
    await rejectsUnavailable(e.embed(['t0']), /HTTP 401.*Incorrect API key provided.*FB_EMBEDDINGS_API_KEY/);
    assert.equal(s.seen.length, 1);
  } finally {
    await s.close();
  }
});

test('embed - endpoint: a malformed answer fails with what is wrong', async () => {
  const answers: Reply[] = [
    { body: '<html>proxy login</html>' },
    { body: { data: [{ index: 0, embedding: [1, 0] }] } }, // one vector for two inputs
    { body: { data: [{ index: 0, embedding: [1, 0] }, { index: 1, embedding: [1, 0, 0] }] } },
    { body: { data: [{ index: 0, embedding: [1, 'x'] }, { index: 1, embedding: [1, 0] }] } },
    { body: { data: [{ index: 0, embedding: [1, 0] }, { index: 0, embedding: [0, 1] }] } },
  ];
  const s = await server((_r, n) => answers[n]!);
  try {
    const e = openAiEmbedder({ url: s.origin, model: 'm' });
    await rejectsUnavailable(e.embed(['t0', 't1']), /HTTP 200 .*not JSON.*proxy login/);
    await rejectsUnavailable(e.embed(['t0', 't1']), /1 items for 2 inputs/);
    await rejectsUnavailable(e.embed(['t0', 't1']), /data\[1\]\.embedding has 3 dimensions, data\[0\] has 2/);
    await rejectsUnavailable(e.embed(['t0', 't1']), /data\[0\]\.embedding is not a non-empty array of finite numbers/);
    await rejectsUnavailable(e.embed(['t0', 't1']), /data\[1\]\.index 0 is out of range or repeated/);
    assert.equal(s.seen.length, answers.length); // none retried
  } finally {
    await s.close();
  }
});

test('embed - endpoint: vectors of a size other than configured are refused', async () => {
  const s = await server(okReply); // ignores `dimensions`, always 3
  try {
    await rejectsUnavailable(openAiEmbedder({ url: s.origin, model: 'm', dims: 8 }).embed(['t0']), /3-dimensional vectors, but 8 are expected/);
  } finally {
    await s.close();
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../errors.js';
import { chatSummarizer, createSummarizer, loadSummaryConfig, SummaryRefusedError } from './chatSummarizer.js';

/** An OpenAI-compatible chat endpoint on a local port that answers from `reply` (status, body) per request. */
async function endpoint(reply: (n: number, body: Record<string, unknown>) => [number, unknown]) {
  const seen: Record<string, unknown>[] = [];
  const server = createServer((req, res) => {
    let data = '';
    req.on('data', (c: Buffer) => (data += c));
    req.on('end', () => {
      const body = JSON.parse(data) as Record<string, unknown>;
      seen.push({ ...body, path: req.url, auth: req.headers.authorization });
      const [status, out] = reply(seen.length, body);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(out));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, seen, close: () => new Promise((r) => server.close(r)) };
}

test('summarizer - asks the chat endpoint once with every text, retries a 503, and returns the message text', async () => {
  const ep = await endpoint((n) => (n === 1 ? [503, {}] : [200, { choices: [{ message: { content: '  Lost $79-$91 on BTC momentum longs stopped out.  ' } }] }]));
  try {
    const s = chatSummarizer({ url: ep.url, model: 'm1', apiKey: 'k', timeoutMs: 5000 });
    assert.equal(await s.summarize(['Lost $82', 'Lost $91']), 'Lost $79-$91 on BTC momentum longs stopped out.');
    assert.equal(ep.seen.length, 2);
    assert.equal(ep.seen[1]!.path, '/v1/chat/completions');
    assert.equal(ep.seen[1]!.auth, 'Bearer k');
    assert.match(JSON.stringify(ep.seen[1]!.messages), /1\. Lost \$82\\n2\. Lost \$91/);
  } finally {
    await ep.close();
  }
});

test('summarizer - a refusal (4xx) is not retried and says so; config without a model is refused', async () => {
  const ep = await endpoint(() => [400, { error: 'context too long' }]);
  try {
    await assert.rejects(chatSummarizer({ url: ep.url, model: 'm1', apiKey: '', timeoutMs: 5000 }).summarize(['x']), SummaryRefusedError);
    assert.equal(ep.seen.length, 1);
  } finally {
    await ep.close();
  }
  assert.throws(() => loadSummaryConfig({ FB_SUMMARY_URL: 'http://x/v1' }), ConfigError);
  assert.equal(createSummarizer(loadSummaryConfig({})), undefined, 'no endpoint: no summaries');
});

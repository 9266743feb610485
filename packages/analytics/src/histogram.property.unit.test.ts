import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { propertyRuns } from '@farmbrain/testing';
import { LATENCY_BINS, latencyBin, latencyHi, latencyLo, quantile } from './histogram.js';

const latency = fc.oneof(fc.double({ min: 0, max: 2_000_000, noNaN: true }), fc.integer({ min: 0, max: 5000 }), fc.constantFrom(1, 2, Math.SQRT2, 2 ** 0.5 * 2, 4096));

test('histogram - every latency falls in a bin whose edges hold it', () => {
  fc.assert(fc.property(latency, (ms) => {
    const b = latencyBin(ms);
    assert.ok(b >= 0 && b < LATENCY_BINS);
    assert.ok(latencyLo(b) <= ms && ms < latencyHi(b), `${ms} in bin ${b} [${latencyLo(b)}, ${latencyHi(b)})`);
  }), propertyRuns(2000));
});

test('histogram - a percentile read from the histogram lies within the edges of the bin of the true percentile', () => {
  fc.assert(fc.property(fc.array(latency, { minLength: 1, maxLength: 300 }), fc.constantFrom(0.5, 0.95, 0.99, 0.01, 1), (xs, q) => {
    const counts = new Array<number>(LATENCY_BINS).fill(0);
    for (const x of xs) counts[latencyBin(x)]! += 1;
    const sorted = [...xs].sort((a, b) => a - b);
    const truth = sorted[Math.max(1, Math.ceil(q * xs.length)) - 1]!;
    const b = latencyBin(truth);
    const got = quantile(counts, q)!;
    assert.ok(got >= latencyLo(b) && got <= (Number.isFinite(latencyHi(b)) ? latencyHi(b) : latencyLo(b)), `q${q}: ${got} vs true ${truth} (bin ${b})`);
  }), propertyRuns(500));
  assert.equal(quantile(new Array<number>(LATENCY_BINS).fill(0), 0.5), null);
});

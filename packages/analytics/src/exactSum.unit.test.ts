import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { propertyRuns } from '@farmbrain/testing';
import { ExactSum } from './exactSum.js';

const value = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e12, max: 1e12 }), fc.integer({ min: -1000, max: 1000 }).map((i) => i / 10), fc.constantFrom(1e-7, -2.5e-9, 1e21, 0.1, 0.2, -0));

test('exactSum - the sum does not depend on the order of addition, and equals the decimal sum', () => {
  fc.assert(fc.property(fc.array(value, { maxLength: 30 }), (xs) => {
    const a = new ExactSum();
    const b = new ExactSum();
    for (const x of xs) a.add(x);
    for (const x of [...xs].reverse()) b.add(x);
    assert.equal(a.toString(), b.toString());
    assert.ok(Math.abs(a.toNumber() - xs.reduce((s, x) => s + x, 0)) <= 1e-6 * Math.max(1, ...xs.map(Math.abs)));
  }), propertyRuns(500));
  assert.equal(new ExactSum().add(0.1).add(0.2).toString(), '0.3');
  assert.equal(new ExactSum().add(-1.5).add(1e-7).toString(), '-1.4999999');
  assert.equal(new ExactSum().toString(), '0');
});

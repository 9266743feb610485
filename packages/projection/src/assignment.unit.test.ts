import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { assignedTo, assignPartitions } from './assignment.js';

test('assignment - property: every partition has exactly one owner, shares differ by at most one, and every member computes the same map', () => {
  fc.assert(fc.property(fc.uniqueArray(fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/), { minLength: 1, maxLength: 9 }), fc.integer({ min: 1, max: 64 }), (members, partitions) => {
    const a = assignPartitions(members, partitions);
    const owners = new Map<number, string>();
    for (const [m, ps] of a) for (const p of ps) {
      assert.ok(!owners.has(p), `partition ${p} assigned twice`);
      owners.set(p, m);
    }
    assert.equal(owners.size, partitions);
    const sizes = [...a.values()].map((ps) => ps.length);
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `fair shares: ${sizes}`);
    // Order of the member list does not matter: every instance computes the same answer.
    assert.deepEqual(assignPartitions([...members].reverse(), partitions), a);
    for (const m of members) assert.deepEqual([...assignedTo(m, members, partitions)], a.get(m));
  }));
});

test('assignment - an instance not yet in the member list computes its share as if it were', () => {
  assert.deepEqual([...assignedTo('b', ['a'], 4)], [1, 3]);
  assert.deepEqual([...assignedTo('a', [], 3)], [0, 1, 2]);
});

import { NoRespondersError } from '@nats-io/transport-node';
import { names as makeNames } from '@farmbrain/contracts';

/**
 * True when a publish (or request) got "no responders": the server is
 * reachable but nothing took the message. For a JetStream publish that means no
 * stream captures the subject (or JetStream is off). nats.js v3 reports it as
 * `JetStreamNotEnabled` ("jetstream is not enabled") caused by a `RequestError`
 * caused by a `NoRespondersError`, so the cause chain is what is checked.
 */
export function isNoResponders(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; depth < 8 && e instanceof Error; depth++) {
    if (e instanceof NoRespondersError) return true;
    e = e.cause;
  }
  return false;
}

/** NATS subject matching: `*` is one token, a final `>` one or more. */
export function subjectCovers(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return i === f.length - 1 && s.length > i;
    if (i >= s.length) return false;
    if (f[i] !== '*' && f[i] !== s[i]) return false;
  }
  return f.length === s.length;
}

/**
 * The partition count a deployment's ingress stream was provisioned for, read
 * from its subjects: exactly `names(ns, n).ingressSubjects()` for some n.
 * undefined when the subjects are anything else (e.g. `<ns>.in.>` of an older
 * version, which captures every partition).
 */
export function partitionsOfSubjects(subjects: readonly string[], namespace: string): number | undefined {
  const n = subjects.length;
  if (n < 1 || n > 1024) return undefined;
  const expected = makeNames(namespace, n).ingressSubjects();
  const have = new Set(subjects);
  return have.size === n && expected.every((s) => have.has(s)) ? n : undefined;
}

import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header a webhook delivery is signed in. */
export const SIGNATURE_HEADER = 'Fb-Signature';

/**
 * The Fb-Signature value of a webhook body sent at `t` (unix seconds):
 * `t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. The timestamp is signed
 * with the body so a captured request cannot be replayed later (receivers
 * refuse an old `t`).
 */
export function signWebhook(secret: string, body: string, t: number): string {
  const ts = Math.floor(t);
  return `t=${ts},v1=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}`;
}

export type WebhookVerdict = { ok: true; t: number } | { ok: false; reason: 'malformed' | 'mismatch' | 'expired' };

/**
 * For receivers: checks a delivery's Fb-Signature against the raw body (the
 * bytes as received, before any JSON parsing) and the shared secret, in
 * constant time, and refuses a timestamp more than `toleranceSec` (default
 * 300) away from `now` (unix seconds). Any `v1=` entry may match (a sender
 * rotating secrets may send two).
 */
export function verifyWebhook(secret: string, body: string, header: string | undefined, o: { now?: number; toleranceSec?: number } = {}): WebhookVerdict {
  if (!header) return { ok: false, reason: 'malformed' };
  const parts = header.split(',').map((p) => p.trim().split('=') as [string, string | undefined]);
  const t = Number(parts.find(([k]) => k === 't')?.[1]);
  const sigs = parts.filter(([k, v]) => k === 'v1' && v && /^[0-9a-f]{64}$/.test(v)).map(([, v]) => Buffer.from(v!, 'hex'));
  if (!Number.isInteger(t) || sigs.length === 0) return { ok: false, reason: 'malformed' };
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  if (!sigs.some((s) => timingSafeEqual(s, expected))) return { ok: false, reason: 'mismatch' };
  const now = o.now ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - t) > (o.toleranceSec ?? 300)) return { ok: false, reason: 'expired' };
  return { ok: true, t };
}

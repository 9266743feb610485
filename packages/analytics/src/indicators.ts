import type { Counters } from './accumulate.js';
import type { Indicators, LearningVerdict } from './types.js';
import { decisionsOf, ratio } from './sums.js';

/** z of a two-sided 90 % interval. */
export const Z90 = 1.6448536269514722;
/** Scored decisions each half of the window needs before learning progress gives a verdict. */
export const MIN_LEARNING_SAMPLES = 30;
/** Brier score of always saying 0.5: calibration is measured against it. */
export const BRIER_BASELINE = 0.25;

const clip01 = (x: number) => Math.min(1, Math.max(0, x));

/** Wilson score interval of k successes in n trials (n > 0). */
export function wilson(k: number, n: number, z = Z90): { lo: number; hi: number } {
  const p = k / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { lo: Math.max(0, centre - half), hi: Math.min(1, centre + half) };
}

/**
 * Band of p2 − p1 (Newcombe's hybrid score interval, method 10): from the two Wilson intervals,
 * lo = d − √((p2 − l2)² + (u1 − p1)²), hi = d + √((u2 − p2)² + (p1 − l1)²).
 */
export function differenceBand(k1: number, n1: number, k2: number, n2: number, z = Z90): { lo: number; hi: number } {
  const p1 = k1 / n1;
  const p2 = k2 / n2;
  const w1 = wilson(k1, n1, z);
  const w2 = wilson(k2, n2, z);
  const d = p2 - p1;
  return { lo: d - Math.sqrt((p2 - w2.lo) ** 2 + (w1.hi - p1) ** 2), hi: d + Math.sqrt((w2.hi - p2) ** 2 + (p1 - w1.lo) ** 2) };
}

export function decisionQuality(c: Counters): Indicators['decisionQuality'] {
  const decisions = decisionsOf(c);
  const brier = ratio(c.brierSum, c.scored);
  const calibration = brier === null ? null : clip01(1 - brier / BRIER_BASELINE);
  const pnlEfficiency = c.pnlAbs > 0 ? (1 + c.pnl / c.pnlAbs) / 2 : null;
  const parts = [calibration, pnlEfficiency].filter((x): x is number => x !== null);
  return {
    score: parts.length > 0 ? parts.reduce((a, b) => a + b, 0) / parts.length : null,
    calibration, brier, scored: c.scored, decisions, pnl: c.pnl, pnlPerDecision: ratio(c.pnl, decisions), pnlEfficiency,
  };
}

/**
 * Compares the decisions scored in the first half of the window (`before`) with the second (`after`): the
 * change of win rate with its 90 % band. Improving only when the whole band is above 0, worsening when it is
 * below; a lucky streak on few samples gives a wide band, hence 'flat', and fewer than `minSamples` scored
 * decisions in either half gives 'insufficient'.
 */
export function learningProgress(before: Counters, after: Counters, halfMs: number, minSamples = MIN_LEARNING_SAMPLES): Indicators['learningProgress'] {
  const n1 = before.scored;
  const n2 = after.scored;
  const winRateBefore = ratio(before.scoredWins, n1);
  const winRateAfter = ratio(after.scoredWins, n2);
  const delta = winRateBefore !== null && winRateAfter !== null ? winRateAfter - winRateBefore : null;
  const band = n1 > 0 && n2 > 0 ? differenceBand(before.scoredWins, n1, after.scoredWins, n2) : null;
  let verdict: LearningVerdict = 'insufficient';
  if (band && n1 >= minSamples && n2 >= minSamples) verdict = band.lo > 0 ? 'improving' : band.hi < 0 ? 'worsening' : 'flat';
  return {
    verdict, winRateBefore, winRateAfter, delta, band,
    slopePerHour: delta === null || halfMs <= 0 ? null : delta / (halfMs / 3_600_000),
    brierBefore: ratio(before.brierSum, n1), brierAfter: ratio(after.brierSum, n2),
    samplesBefore: n1, samplesAfter: n2, minSamples,
  };
}

export function memoryEfficiency(c: Counters, tierBytes: number | null): Indicators['memoryEfficiency'] {
  return {
    hotHitRatio: ratio(c.hotHits, c.recallHits),
    recalls: c.recalls,
    recallHits: c.recallHits,
    usefulRecalls: c.usefulRecalls,
    usefulRecallRatio: ratio(c.usefulRecalls, c.recalls),
    tierBytes,
    bytesPerUsefulRecall: tierBytes === null ? null : ratio(tierBytes, c.usefulRecalls),
    citedWinShare: ratio(c.citedWins, c.citedScored),
    citedScored: c.citedScored,
  };
}

/** Confidence bins of the reliability curve: bin b holds [b/10, (b+1)/10), and confidence 1 falls in bin 9. */
export const CALIBRATION_BINS = 10;

export const calibrationBin = (confidence: number): number => Math.min(CALIBRATION_BINS - 1, Math.max(0, Math.floor(confidence * CALIBRATION_BINS)));

/** Brier score of one forecast: (confidence − outcome)², outcome 1 for a win, 0 otherwise. */
export const brierOf = (confidence: number, win: boolean): number => (confidence - (win ? 1 : 0)) ** 2;

/**
 * An exact sum of doubles, each taken as the decimal JS prints for it (the shortest that reads back to the same
 * double, which is also what Postgres stores for it in a numeric column). Sums of doubles depend on the order
 * of addition; this one does not, so a bucket's sum is the same however the log is cut into batches (a rebuild
 * then gives the very same rows).
 */
export class ExactSum {
  /** The sum is n · 10^(−scale). */
  private n = 0n;
  private scale = 0;

  /** Adds a double (as JS prints it), or a decimal string (another sum's toString()). */
  add(x: number | string): this {
    if (typeof x === 'number' && !Number.isFinite(x)) throw new RangeError(`cannot add ${x} to an exact sum`);
    const m = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/i.exec(String(x));
    if (!m) throw new RangeError(`'${String(x)}' is not a decimal number`);
    const frac = m[3] ?? '';
    let digits = BigInt(`${m[2]}${frac}`);
    if (m[1] === '-') digits = -digits;
    const exp = Number(m[4] ?? 0) - frac.length;
    if (exp >= 0) digits *= 10n ** BigInt(exp);
    const s = Math.max(0, -exp);
    if (s > this.scale) {
      this.n *= 10n ** BigInt(s - this.scale);
      this.scale = s;
    }
    this.n += digits * 10n ** BigInt(this.scale - s);
    return this;
  }

  /** Plain decimal notation (a numeric literal). */
  toString(): string {
    const neg = this.n < 0n;
    const abs = (neg ? -this.n : this.n).toString().padStart(this.scale + 1, '0');
    const int = abs.slice(0, abs.length - this.scale);
    const frac = this.scale > 0 ? abs.slice(abs.length - this.scale).replace(/0+$/, '') : '';
    return `${neg ? '-' : ''}${int}${frac ? `.${frac}` : ''}`;
  }

  /** The nearest double. */
  toNumber(): number {
    return Number(this.toString());
  }
}

/**
 * An object whose every property is read from `current()` when it is used
 * (methods bound to it): what the routes hold, so that when the live
 * projection version changes, every request after the swap reads the new one.
 */
export function following<T extends object>(current: () => T): T {
  return new Proxy({} as T, {
    get(_, key) {
      const target = current();
      const v: unknown = Reflect.get(target, key, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

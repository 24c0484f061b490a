/**
 * A store that is another store with some methods replaced: every other
 * call goes to the base store, bound to it. A proxy, so that a method added
 * to the store contract is forwarded as it is, with no list to keep.
 * @module
 */
import type { Store } from "./store.ts";

/** `base` with the methods (and `url`) of `overrides` in place of its own. */
export function storeWith(base: Store, overrides: Partial<Store>): Store {
  return new Proxy(base, {
    get(target, key) {
      if (Object.hasOwn(overrides, key)) {
        return overrides[key as keyof Store];
      }
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

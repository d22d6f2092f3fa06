/**
 * The LRU container of pools (urllib3's `RecentlyUsedContainer`), over
 * quick-lru. quick-lru evicts in bulk (it keeps up to twice `maxSize` items
 * and drops the older half at once); a pool manager must hold at most
 * `numPools` pools, so this counts live entries and asks quick-lru to evict
 * the oldest as soon as the count goes over.
 */
import QuickLRU from 'quick-lru';

export class RecentlyUsed<K, V> {
  readonly #lru: QuickLRU<K, V>;
  /** Counts an entry out and tells the owner: quick-lru's evictions and `add`'s own alike. */
  readonly #evicted: (key: K, value: V) => void;
  #count = 0;
  /** The most recently used entry: asking for it again (one busy origin) needs no reordering. */
  #last: { key: K; value: V } | undefined;

  constructor(maxSize: number, onEvict: (key: K, value: V) => void) {
    this.#evicted = (key, value) => {
      this.#count -= 1;
      if (this.#last?.key === key) this.#last = undefined;
      onEvict(key, value);
    };
    this.#lru = new QuickLRU<K, V>({ maxSize, onEviction: this.#evicted });
  }

  get size(): number {
    return this.#count;
  }

  /** The value, marked as most recently used. */
  get(key: K): V | undefined {
    const last = this.#last;
    if (last !== undefined && last.key === key) return last.value;
    if (!this.#lru.has(key)) return undefined;
    // quick-lru's get() reorders only keys in its old generation; a key still in
    // its young map keeps its insertion place. Re-inserting makes it the newest
    // in both cases (the young map's count is unchanged, so nothing is evicted).
    const value = this.#lru.peek(key) as V;
    this.#lru.delete(key);
    this.#lru.set(key, value);
    this.#last = { key, value };
    return value;
  }

  /** Without touching the order. */
  peek(key: K): V | undefined {
    return this.#lru.peek(key);
  }

  has(key: K): boolean {
    return this.#lru.has(key);
  }

  /** Adds a new key (never one that is present), evicting the least recently used beyond `maxSize`. */
  add(key: K, value: V): void {
    this.#count += 1;
    this.#lru.set(key, value);
    // Not quick-lru's evict(): it copies every entry into new maps on each call, and with more
    // origins than numPools that is every request. The oldest entry is the first one ascending.
    while (this.#count > this.#lru.maxSize) {
      const oldest = this.#lru.entriesAscending().next();
      if (oldest.done === true) break;
      this.#lru.delete(oldest.value[0]);
      this.#evicted(...oldest.value);
    }
    this.#last = { key, value };
  }

  /** Oldest first. */
  keys(): K[] {
    return [...this.#lru.entriesAscending()].map(([key]) => key);
  }

  /** Oldest first. */
  values(): V[] {
    return [...this.#lru.entriesAscending()].map(([, value]) => value);
  }

  /** Empties the container without calling `onEvict`; returns what it held. */
  drain(): V[] {
    const values = this.values();
    this.#lru.clear();
    this.#count = 0;
    this.#last = undefined;
    return values;
  }
}

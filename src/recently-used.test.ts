import { describe, expect, it } from 'vitest';
import { RecentlyUsed } from './recently-used.js';

function container(max: number) {
  const evicted: string[] = [];
  const lru = new RecentlyUsed<string, number>(max, (key) => evicted.push(key));
  return { lru, evicted };
}

describe('RecentlyUsed', () => {
  it('keeps at most maxSize entries and evicts the least recently added first', () => {
    const { lru, evicted } = container(10);
    for (let i = 1; i <= 15; i += 1) {
      lru.add(`k${i}`, i);
      expect(lru.size).toBeLessThanOrEqual(10);
    }
    expect(lru.size).toBe(10);
    expect(evicted).toEqual(['k1', 'k2', 'k3', 'k4', 'k5']);
    expect(lru.keys()).toEqual(['k6', 'k7', 'k8', 'k9', 'k10', 'k11', 'k12', 'k13', 'k14', 'k15']);
  });

  it('evicts one entry per addition beyond maxSize, never in bulk', () => {
    const { lru, evicted } = container(10);
    for (let i = 1; i <= 10; i += 1) lru.add(`k${i}`, i);
    expect(evicted).toEqual([]);
    lru.add('k11', 11);
    expect(evicted).toEqual(['k1']);
    lru.add('k12', 12);
    expect(evicted).toEqual(['k1', 'k2']);
    expect(lru.size).toBe(10);
  });

  it('protects an entry touched by get() (it becomes the most recently used)', () => {
    const { lru, evicted } = container(10);
    for (let i = 1; i <= 10; i += 1) lru.add(`k${i}`, i);
    expect(lru.get('k1')).toBe(1);
    lru.add('k11', 11);
    expect(evicted).toEqual(['k2']);
    expect(lru.has('k1')).toBe(true);
    expect(lru.keys().at(-2)).toBe('k1');
  });

  it('protects a touched entry even before quick-lru moved it to its old generation', () => {
    // Touch k1 while it still sits in quick-lru's young map (fewer than maxSize additions so far).
    const { lru, evicted } = container(10);
    lru.add('k1', 1);
    lru.add('k2', 2);
    expect(lru.get('k1')).toBe(1);
    for (let i = 3; i <= 11; i += 1) lru.add(`k${i}`, i);
    expect(evicted).toEqual(['k2']);
    expect(lru.has('k1')).toBe(true);
    // k1 was touched after k2 but before k3..k11, so it is now the oldest.
    expect(lru.keys().slice(0, 2)).toEqual(['k1', 'k3']);
  });

  it('orders keys strictly by last use over many generations', () => {
    const { lru, evicted } = container(4);
    const model: string[] = [];
    const expectedEvictions: string[] = [];
    // A deterministic mix of additions and touches, checked against a plain array model.
    let next = 0;
    for (let step = 0; step < 200; step += 1) {
      if (step % 3 === 2 && model.length > 0) {
        const key = model[(step * 7) % model.length] ?? '';
        expect(lru.get(key)).toBeDefined();
        model.splice(model.indexOf(key), 1);
        model.push(key);
      } else {
        const key = `k${next}`;
        next += 1;
        lru.add(key, next);
        model.push(key);
        if (model.length > 4) expectedEvictions.push(model.shift() ?? '');
      }
      expect(lru.keys()).toEqual(model);
      expect(lru.size).toBe(model.length);
      expect(lru.size).toBeLessThanOrEqual(4);
    }
    expect(evicted).toEqual(expectedEvictions);
  });

  it('peek() does not change the order', () => {
    const { lru, evicted } = container(2);
    lru.add('a', 1);
    lru.add('b', 2);
    expect(lru.peek('a')).toBe(1);
    lru.add('c', 3);
    expect(evicted).toEqual(['a']);
  });

  it('returns undefined for a missing key and works with maxSize 1', () => {
    const { lru, evicted } = container(1);
    expect(lru.get('nope')).toBeUndefined();
    lru.add('a', 1);
    lru.add('b', 2);
    expect(evicted).toEqual(['a']);
    expect(lru.size).toBe(1);
    expect(lru.keys()).toEqual(['b']);
  });

  it('drain() empties without evicting and returns the values oldest first', () => {
    const { lru, evicted } = container(3);
    lru.add('a', 1);
    lru.add('b', 2);
    lru.add('c', 3);
    lru.get('a');
    expect(lru.drain()).toEqual([2, 3, 1]);
    expect(lru.size).toBe(0);
    expect(lru.keys()).toEqual([]);
    expect(evicted).toEqual([]);
    lru.add('d', 4);
    expect(lru.size).toBe(1);
  });
});

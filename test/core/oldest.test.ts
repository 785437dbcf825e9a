import { OldestFirst } from '../../src/core/oldest';

/** A bounded LRU over a Map in use order, checked against the obvious one (a fresh iterator per eviction). */
function lru(capacity: number, evictWith: 'cursor' | 'fresh') {
  const map = new Map<string, number>();
  const oldest = new OldestFirst(map);
  const evicted: string[] = [];
  return {
    map,
    evicted,
    use(key: string, value: number) {
      map.delete(key);
      map.set(key, value);
      if (map.size <= capacity) return;
      if (evictWith === 'cursor') evicted.push(oldest.evict()![0]);
      else {
        const first = map.keys().next().value!;
        map.delete(first);
        evicted.push(first);
      }
    },
  };
}

describe('OldestFirst', () => {
  it('evicts in use order, as a fresh iterator per eviction does, across uses, deletes and rehashes', () => {
    let seed = 7;
    const random = (n: number) => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31), seed % n);
    const a = lru(50, 'cursor');
    const b = lru(50, 'fresh');
    for (let i = 0; i < 20_000; i++) {
      const key = `k${random(i % 1000 < 500 ? 80 : 5000)}`;
      if (random(20) === 0) {
        a.map.delete(key); // deleted from outside, as a resolved alert is
        b.map.delete(key);
      } else {
        a.use(key, i);
        b.use(key, i);
      }
    }
    expect(a.evicted.length).toBeGreaterThan(1000);
    expect(a.evicted).toEqual(b.evicted);
    expect([...a.map]).toEqual([...b.map]);
  });

  it('starts over once the map was emptied, and says so when it is empty', () => {
    const map = new Map([['a', 1]]);
    const oldest = new OldestFirst(map);
    expect(oldest.evict()).toEqual(['a', 1]);
    expect(oldest.evict()).toBeUndefined();
    map.set('b', 2);
    map.set('c', 3);
    expect(oldest.evict()).toEqual(['b', 2]);
    expect([...map.keys()]).toEqual(['c']);
  });
});

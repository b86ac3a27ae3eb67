/**
 * Bounds for in-memory caches (the services' and the verifier's): Maps kept oldest first
 * (insertion order; an LRU when a hit deletes and re-inserts its key).
 */

/**
 * Keeps `map` within `capacity` entries, deleting the oldest eighth at a
 * time through one iterator. V8 leaves a deleted entry as a hole at the
 * front of a Map until its table is rebuilt, and a new iterator walks over
 * every hole, so evicting one entry per insertion with `keys().next()` costs
 * O(holes) each time: measured 38 µs per insertion at 131,072 entries
 * against 0.3 µs this way, and half of the write path's main thread once
 * the tile cache's hash memo was full (profiled under load).
 */
export function evictOldest(map: Map<unknown, unknown>, capacity: number): void {
  evictOldestWeighed(map, { entries: capacity, bytes: Infinity }, 0, () => 0);
}

/**
 * {@link evictOldest} for values of different sizes: keeps `map` within
 * `within.entries` entries and its values within `within.bytes` bytes in
 * all, `held` being their bytes now and `bytesOf` a value's. Once over
 * either bound, deletes oldest first until both are at seven eighths or
 * less. Returns the bytes held after.
 */
export function evictOldestWeighed<V>(
  map: Map<unknown, V>,
  within: { entries: number; bytes: number },
  held: number,
  bytesOf: (value: V) => number,
): number {
  if (map.size <= within.entries && held <= within.bytes) return held;
  const entries = within.entries - (within.entries >> 3);
  const bytes = within.bytes * 0.875;
  const oldest = map.entries();
  while (map.size > entries || (held > bytes && map.size > 0)) {
    const [key, value] = oldest.next().value as [unknown, V];
    held -= bytesOf(value);
    map.delete(key);
  }
  return held;
}

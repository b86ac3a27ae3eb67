// C2SP tlog-tiles examples (test/vectors/tiles.json): tile paths and the
// tiles that make up trees of size 70,000 and 256.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MalformedError } from '../../ledger/errors.js';
import {
  ENTRIES_LEVEL,
  entryBundlesForSize,
  parseTilePath,
  tilePath,
  tilesForSize,
  type Tile,
} from '../../ledger/tile.js';

interface Vectors {
  paths: Array<{ level: number | 'entries'; index: number; width: number; want: string }>;
  treeSize70000: { want: string[] };
  treeSize256: { want: string[] };
}

const vectors = JSON.parse(
  readFileSync(join(import.meta.dirname, '../vectors/tiles.json'), 'utf8'),
) as Vectors;

describe('tile paths (C2SP tlog-tiles examples)', () => {
  it.each(vectors.paths)('$want', ({ level, index, width, want }) => {
    const tile: Tile = { level: level === 'entries' ? ENTRIES_LEVEL : level, index, width };
    expect(tilePath(tile)).toBe(want);
    expect(parseTilePath(want)).toEqual(tile);
  });

  it.each([
    ['/tile/0/005', 'leading slash'],
    ['tile/0/005/', 'trailing slash'],
    ['tile//0/005', 'extra slash'],
    ['tile/0/5', 'short group'],
    ['tile/0/0005', 'long group'],
    ['tile/0/x000/005', 'leading zero group'],
    ['tile/0/001/234', 'missing x'],
    ['tile/0/x001/x234', 'x on the last group'],
    ['tile/00/005', 'level with leading zero'],
    ['tile/64/005', 'level above 63'],
    ['tile/-1/005', 'negative level'],
    ['tile/data/005', 'Go sumdb data tiles'],
    ['tile/0/005.p/0', 'width 0'],
    ['tile/0/005.p/256', 'width 256'],
    ['tile/0/005.p/017', 'width with leading zero'],
    ['tile/0/005.p/', 'empty width'],
    ['tile/0/005.p', 'no width'],
    ['tile/8/0/005', 'Go sumdb height element'],
    ['tile/0/x009/x007/x199/x254/x740/993', 'index beyond safe integers'],
    ['tile/entries/005.p/256', 'bundle width 256'],
    ['tile/0/+05', 'sign'],
    ['tile/0/00a', 'hex'],
    ['', 'empty'],
  ])('rejects %s (%s)', (path) => {
    expect(() => parseTilePath(path)).toThrow(MalformedError);
  });

  it('writes indexes in 3-digit groups', () => {
    expect(tilePath({ level: 0, index: 0, width: 256 })).toBe('tile/0/000');
    expect(tilePath({ level: 0, index: 999, width: 256 })).toBe('tile/0/999');
    expect(tilePath({ level: 0, index: 1000, width: 256 })).toBe('tile/0/x001/000');
    expect(tilePath({ level: 63, index: Number.MAX_SAFE_INTEGER, width: 255 })).toBe(
      'tile/63/x009/x007/x199/x254/x740/991.p/255',
    );
    expect(parseTilePath('tile/63/x009/x007/x199/x254/x740/991.p/255')).toEqual({
      level: 63,
      index: Number.MAX_SAFE_INTEGER,
      width: 255,
    });
  });
});

describe('tiles of a tree', () => {
  it('size 70000: 273 full level-0 tiles, then the partial and upper tiles', () => {
    const paths = tilesForSize(70000).map(tilePath);
    const full0 = Array.from({ length: 273 }, (_, n) => tilePath({ level: 0, index: n, width: 256 }));
    expect(full0[0]).toBe('tile/0/000');
    expect(full0[272]).toBe('tile/0/272');
    expect(vectors.treeSize70000.want[0]).toMatch(/^273 full level-0 tiles/);
    expect(paths).toEqual([...full0, ...vectors.treeSize70000.want.slice(1)]);
  });

  it('size 256', () => {
    expect(tilesForSize(256).map(tilePath)).toEqual(vectors.treeSize256.want);
  });

  it('sizes 0, 1, 255, 65536', () => {
    expect(tilesForSize(0)).toEqual([]);
    expect(tilesForSize(1).map(tilePath)).toEqual(['tile/0/000.p/1']);
    expect(tilesForSize(255).map(tilePath)).toEqual(['tile/0/000.p/255']);
    const t = tilesForSize(65536).map(tilePath);
    expect(t).toHaveLength(256 + 1 + 1);
    expect(t.slice(-2)).toEqual(['tile/1/000', 'tile/2/000.p/1']);
  });

  it('new tiles between two sizes', () => {
    expect(tilesForSize(70000, 70000)).toEqual([]);
    // 69900 and 70000 have the same 273 level-0 hashes below level 1.
    expect(tilesForSize(70000, 69900).map(tilePath)).toEqual(['tile/0/273.p/112']);
    expect(tilesForSize(70000, 69800).map(tilePath)).toEqual([
      'tile/0/272',
      'tile/0/273.p/112',
      'tile/1/001.p/17',
    ]);
    expect(() => tilesForSize(1, 2)).toThrow(RangeError);
  });

  it('entry bundles', () => {
    const b = entryBundlesForSize(70000).map(tilePath);
    expect(b).toHaveLength(274);
    expect(b[0]).toBe('tile/entries/000');
    expect(b[273]).toBe('tile/entries/273.p/112');
    expect(entryBundlesForSize(512).map(tilePath)).toEqual(['tile/entries/000', 'tile/entries/001']);
    expect(entryBundlesForSize(0)).toEqual([]);
  });
});

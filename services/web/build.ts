/**
 * The web page's files (verifier/web), built for the browser: app.ts
 * bundled with esbuild into one ES module (the ledger and verifier code it
 * imports, @noble included; nothing of Node's), beside index.html and
 * style.css. `urna serve` and `urna mirror` serve them under /web/ with a
 * config.json made from their keys; `npm run build:web` writes them to a
 * directory for any static host (add a config.json there).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { PageConfig } from '../../verifier/web/config.js';

const SOURCE = fileURLToPath(new URL('../../verifier/web/', import.meta.url));

/** A file of the page: its name under /web/, media type and bytes. */
export interface WebFile {
  type: string;
  body: Uint8Array;
}

let built: Promise<Map<string, WebFile>> | null = null;

/** The page's files by name (built once per process). Throws esbuild's error if the page does not build. */
export function webFiles(): Promise<Map<string, WebFile>> {
  built ??= buildWeb();
  return built;
}

async function buildWeb(): Promise<Map<string, WebFile>> {
  const result = await build({
    entryPoints: [`${SOURCE}app.ts`],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const files = new Map<string, WebFile>();
  files.set('app.js', { type: 'text/javascript; charset=utf-8', body: result.outputFiles[0]!.contents });
  for (const [name, type] of [
    ['index.html', 'text/html; charset=utf-8'],
    ['style.css', 'text/css; charset=utf-8'],
  ] as const)
    files.set(name, { type, body: new Uint8Array(await readFile(`${SOURCE}${name}`)) });
  return files;
}

/** The page's config.json (verifier/web/config.ts says what each field is). */
export function webConfig(opts: PageConfig): WebFile {
  return {
    type: 'application/json; charset=utf-8',
    body: new TextEncoder().encode(JSON.stringify(opts, null, 2) + '\n'),
  };
}

/**
 * Writes the page's files into `dir` (made if missing) for a static host,
 * with a config.json when `config` is given; returns the names written.
 */
export async function writeWebFiles(dir: string, config?: PageConfig): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files = await webFiles();
  for (const [name, f] of files) await writeFile(join(dir, name), f.body);
  if (config) await writeFile(join(dir, 'config.json'), webConfig(config).body);
  return [...files.keys(), ...(config ? ['config.json'] : [])];
}

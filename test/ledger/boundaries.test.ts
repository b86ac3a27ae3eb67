/**
 * The architecture's import boundaries (docs/ARCHITECTURE.md): ledger/ is pure and
 * runs in a browser; verifier/ imports only ledger/, @noble/* and itself.
 * Checked twice: by reading every import, and by bundling for a browser with
 * esbuild, which fails on any Node built-in.
 */
import { build } from 'esbuild';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .map((f) => join(dir, f));
}

function imports(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return [
    ...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g),
    ...text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((m) => m[1]!);
}

const NODE_GLOBALS = /\b(Buffer|process|require|__dirname|__filename|setImmediate)\b[.(]/;

describe('import boundaries', () => {
  it('ledger/ imports only @noble/* and its own modules, and uses no Node globals', () => {
    const files = sources('ledger');
    expect(files.length).toBeGreaterThan(8);
    for (const f of files) {
      for (const spec of imports(f)) {
        expect(spec.startsWith('@noble/') || /^\.\/[\w-]+\.js$/.test(spec), `${f} imports ${spec}`).toBe(
          true,
        );
      }
      const code = readFileSync(join(ROOT, f), 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
      expect(NODE_GLOBALS.test(code), `${f} uses a Node global`).toBe(false);
    }
  });

  it('ledger/ says what went wrong, not how to answer it: no HTTP status in it', () => {
    for (const f of sources('ledger')) {
      const code = readFileSync(join(ROOT, f), 'utf8');
      expect(
        /\bHTTP\b|\bstatus\b\s*[:=]\s*[1-5]\d\d\b|\b[1-5]\d\d:\s*[A-Z]/.test(code),
        `${f} speaks HTTP`,
      ).toBe(false);
      expect(
        /\b(40[0-9]|41[0-9]|42[0-9]|50[0-9]),/.test(code.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '')),
        `${f} has a status table`,
      ).toBe(false);
    }
  });

  it('verifier/ imports only ledger/, @noble/* and itself', () => {
    for (const f of sources('verifier')) {
      for (const spec of imports(f)) {
        const ok =
          spec.startsWith('@noble/') ||
          (spec.startsWith('.') &&
            !relative(ROOT, join(ROOT, f, '..', spec)).match(/^(services|test|node_modules)\//));
        expect(ok, `${f} imports ${spec}`).toBe(true);
      }
    }
  });

  it('ledger/ and verifier/ bundle for a browser', async () => {
    const entryPoints = [join(ROOT, 'ledger/index.ts'), ...sources('verifier').map((f) => join(ROOT, f))];
    const result = await build({
      entryPoints,
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      outdir: '/tmp/urna-bundle',
      logLevel: 'silent',
    });
    expect(result.errors).toEqual([]);
    expect(result.outputFiles.length).toBe(entryPoints.length);
  });

  it('the check can fail: a Node import does not bundle for a browser', async () => {
    await expect(
      build({
        stdin: { contents: "import { readFileSync } from 'node:fs'; console.log(readFileSync);" },
        bundle: true,
        platform: 'browser',
        write: false,
        logLevel: 'silent',
      }),
    ).rejects.toThrow();
  });
});

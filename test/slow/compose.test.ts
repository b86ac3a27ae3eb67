/**
 * docker-compose.yml cannot run here (no Docker engine), so this runs what it
 * runs: every `node bin/urna.js ...` command of its services, with the same
 * arguments and environment, its data volume mapped to a temporary directory
 * and its listen address to a free loopback port.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/log.js';
import { startServer } from '../helpers/process.js';

const COMPOSE = readFileSync(fileURLToPath(new URL('../../docker-compose.yml', import.meta.url)), 'utf8');

/** The `urna serve` argument lists in the compose file's service commands. */
function serveCommands(): string[][] {
  return [...COMPOSE.matchAll(/node bin\/urna\.js serve ([^"\n]*)/g)].map((m) => m[1]!.trim().split(/\s+/));
}

/** The environment defaults written as ${NAME:-default}. */
function composeDefaults(): Record<string, string> {
  return Object.fromEntries([...COMPOSE.matchAll(/(\w+): \$\{\1:-([^}]*)\}/g)].map((m) => [m[1]!, m[2]!]));
}

describe('docker-compose.yml commands', () => {
  it('every urna serve command in the compose file starts and answers /healthz', async () => {
    const commands = serveCommands();
    expect(commands.length).toBeGreaterThan(0);
    for (const args of commands) {
      const { dir, cleanup } = await tempDir('urna-compose-');
      const mapped = args
        .map((a) => (a.startsWith('/data') ? dir + a.slice('/data'.length) : a))
        .map((a) => (/^0\.0\.0\.0:\d+$/.test(a) ? '127.0.0.1:0' : a));
      const listen = mapped.indexOf('--listen');
      if (listen >= 0) mapped.splice(listen, 2); // startServer picks the port
      const server = await startServer(mapped, composeDefaults());
      try {
        const res = await fetch(`${server.url}/healthz`);
        expect(res.status).toBe(200);
        expect(((await res.json()) as { origin: string }).origin).toBe(composeDefaults()['URNA_ORIGIN']);
      } finally {
        await server.stop();
        await cleanup();
      }
    }
  });
});

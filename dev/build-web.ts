/**
 * `npm run build:web [DIR]`: the web page's files (services/web/build.ts)
 * written to DIR (default dist/web), for a static host. Put a config.json
 * beside them: {"log": URL of the log or a mirror (relative to the page),
 * "logKey": its verifier key, "witnessPolicy": a C2SP tlog-policy's text}.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { webFiles } from '../services/web/build.js';

const dir = process.argv[2] ?? 'dist/web';
await mkdir(dir, { recursive: true });
const files = await webFiles();
for (const [name, f] of files) await writeFile(join(dir, name), f.body);
process.stdout.write(`build:web: wrote ${[...files.keys()].join(', ')} to ${dir}\n`);

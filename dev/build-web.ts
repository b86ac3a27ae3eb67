/**
 * `npm run build:web [DIR]`: the web page's files (services/web/build.ts)
 * written to DIR (default dist/web), for a static host. Put a config.json
 * beside them (its fields: verifier/web/config.ts).
 */
import { writeWebFiles } from '../services/web/build.js';

const dir = process.argv[2] ?? 'dist/web';
const names = await writeWebFiles(dir);
process.stdout.write(`build:web: wrote ${names.join(', ')} to ${dir}\n`);

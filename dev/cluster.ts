/**
 * `npm run cluster` (node --import tsx dev/cluster.ts): a local
 * development cluster — see dev/cluster-runner.ts and
 * `npm run cluster -- --help`.
 */
import { runCluster } from './cluster-runner.js';

runCluster(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`npm run cluster: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);

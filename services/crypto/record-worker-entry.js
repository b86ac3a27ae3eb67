// Worker entry of RecordPool: registers the TypeScript loader in this thread
// (loader hooks are per thread in Node 20), then runs record-worker.ts.
import { register } from 'tsx/esm/api';

register();
await import('./record-worker.ts');

/**
 * What the HTTP app is built from (AppOptions) and what each group of
 * routes is given (RouteOptions): in a module of their own, below both, so
 * that routes never import the app that registers them.
 */
import type { Registry } from '../metrics.js';
import type { LogNode } from '../node/log-node.js';
import type { LogStore } from '../storage/store.js';
import type { Logger } from '../log.js';
import type { CostBudget, HttpLimits } from './limits.js';
import type { Cosigned } from '../witness/collector.js';
import type { PageConfig } from '../../verifier/web/config.js';

export interface AppOptions {
  /** The node served: a sequencer, a standby or a mirror. */
  node: LogNode;
  store: LogStore;
  metrics: Registry;
  /** The process's logger (default: silent). */
  log?: Logger;
  /** Default: UNLIMITED (in-process tests). */
  limits?: HttpLimits;
  /**
   * The witnesses' cosignatures collected (`urna serve --witness-policy`):
   * GET /checkpoint serves the newest with those collected so far, GET
   * /receipt answers under the newest that makes the quorum.
   */
  cosignatures?: { newest(): Cosigned | null; latestQuorum(): Cosigned | null };
  /** Serve the web page under /web/ with this config (the log is the page's parent). */
  web?: Omit<PageConfig, 'log'>;
}

/** What every route plugin is given. */
export interface RouteOptions extends AppOptions {
  /** Proofs at tree sizes other than the latest, over all clients (see HttpLimits). */
  oldSizeProofs: CostBudget;
}

/**
 * The web page's `config.json`, beside its files: made by `urna serve` and
 * `urna mirror` from their keys and flags (services/web/build.ts), or
 * written by hand for a static host. URLs are relative to the page.
 */
export interface PageConfig {
  /** The tlog-tiles source: the log, a mirror, a static copy (`../` when the page is its /web/). */
  log: string;
  /** The log's verifier key (signed-note format). */
  logKey: string;
  /** The witness policy (C2SP tlog-policy text) checkpoints must satisfy. */
  witnessPolicy?: string;
  /** Where the counter's results are: its `latest.json` is under this URL. */
  results?: string;
  /** Monitors (`urna monitor --listen`) whose `GET /status` the log view shows, alarms proven in the page. */
  monitors?: string[];
  /** Seconds between live updates of the results, the log and the monitors (default 30). */
  refreshSeconds?: number;
}

/**
 * Test helper: real `nats-server` processes with JetStream on loopback — one
 * node, or a three-node cluster — each with its own temporary store
 * directory and configuration file.
 *
 * The process management lives in dev/nats-cluster.ts (shared with
 * `npm run cluster`); see there for how the binary is found ($NATS_SERVER,
 * $PATH, /usr/sbin/nats-server), the bounded waits, and how every started
 * process is killed when the test process exits, even if a test forgets to
 * call `stop()`. Tests should still call it (afterAll) to remove the store
 * directories.
 */
export {
  freePort,
  natsServerBinary,
  natsServerVersion,
  startNatsCluster,
  startNatsServer,
  supportsSyncAlways,
  type NatsCluster,
  type NatsClusterOptions,
  type NatsServer,
  type NatsServerOptions,
} from '../../dev/nats-cluster.js';

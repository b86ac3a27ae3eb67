/**
 * What can be wrong with a node's storage, as errors the node acts on by
 * class: corrupt data is never served, a store behind what the log key
 * signed is never served or signed over, and an unavailable store is retried
 * (reopened) until its cause is gone.
 */
import { UrnaError } from '../../ledger/errors.js';

/** Stored data that contradicts itself or the signed tree head: the log must not serve it. */
export class StorageCorruptError extends UrnaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('storage_corrupt', message, options);
  }
}

/**
 * The store holds fewer entries than a checkpoint the log key signed: it
 * lost entries that may have receipts (a truncated or rolled-back store, a
 * restored backup). Serving it would contradict those receipts, and
 * signing over it would fork the log.
 */
export class StoreBehindError extends StorageCorruptError {
  constructor(
    readonly storeSize: number,
    readonly signedSize: number,
    /** Where the signed checkpoint was found (the signer state file, the journal). */
    readonly where: string,
    message = `the store holds ${storeSize} entries, but the log key signed a checkpoint of size ${signedSize} (${where}): ` +
      'the store lost entries that may have receipts',
  ) {
    super(message);
  }
}

/**
 * The store cannot be read or written right now (disk full, out of file
 * descriptors, an I/O error): nothing was changed by the failed operation;
 * the node answers 503 with Retry-After and reopens the store until it works.
 */
export class StorageUnavailableError extends UrnaError {
  constructor(
    message: string,
    readonly retryAfterSeconds = 1,
    options?: { cause?: unknown },
  ) {
    super('storage_unavailable', message, options);
  }
}

/** Error codes of I/O that may work again later (a full disk, file descriptors, a flaky device). */
const TRANSIENT_ERRNO = new Set(['ENOSPC', 'EDQUOT', 'EMFILE', 'ENFILE', 'EIO', 'EAGAIN', 'EBUSY', 'ENOMEM']);

/** Whether `e` is an I/O failure that may go away (so retrying, or reopening the store, may work). */
export function isTransientIoError(e: unknown): boolean {
  if (e instanceof StorageUnavailableError) return true;
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' && (TRANSIENT_ERRNO.has(code) || code === 'LEVEL_IO_ERROR');
}

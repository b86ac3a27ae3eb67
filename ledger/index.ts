/**
 * Urna's ledger core: pure, synchronous, browser-safe. RFC 9162 Merkle trees,
 * C2SP tlog-tiles (and authenticated reading of them), signed-note,
 * tlog-checkpoint, tlog-cosignature and tlog-proof, canonical JSON (RFC
 * 8785), and the election records and rules.
 */
export * from './errors.js';
export * from './bytes.js';
export * from './hash.js';
export * from './ed25519.js';
export * from './merkle.js';
export * from './tile.js';
export * from './tile-auth.js';
export * from './appender.js';
export * from './note.js';
export * from './checkpoint.js';
export * from './cosignature.js';
export * from './receipt.js';
export * from './jcs.js';
export * from './record.js';
export * from './rules.js';
export * from './witness.js';
export * from './policy.js';
export * from './alarm.js';

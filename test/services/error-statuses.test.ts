/** The API's one code → status table (services/api/errors.ts): complete for every code the core raises, 500 for the rest. */
import { describe, expect, it } from 'vitest';
import { MalformedError, SignatureError, UrnaError } from '../../ledger/errors.js';
import { RECORD_ERROR_CODES, RecordError } from '../../ledger/record.js';
import { RULE_ERROR_CODES, RuleError } from '../../ledger/rules.js';
import { ERROR_CODES, HttpError, statusFor } from '../../services/api/errors.js';

describe('error statuses', () => {
  it('every rule code answers 403 (role), 404 (unknown), 409 (conflict) or 422', () => {
    for (const code of RULE_ERROR_CODES)
      expect([403, 404, 409, 422], code).toContain(statusFor(new RuleError(code, 'm')));
    expect(statusFor(new RuleError('wrong_role', 'm'))).toBe(403);
    expect(statusFor(new RuleError('unknown_election', 'm'))).toBe(404);
    expect(statusFor(new RuleError('already_voted', 'm'))).toBe(409);
  });

  it('every record code answers 400, 413 or 422', () => {
    for (const code of RECORD_ERROR_CODES)
      expect([400, 413, 422], code).toContain(statusFor(new RecordError(code, 'm')));
    expect(statusFor(new RecordError('too_large', 'm'))).toBe(413);
    expect(statusFor(new RecordError('bad_tree', 'm'))).toBe(422);
  });

  it("the core's plain errors, the API's own codes, an HttpError's own status; anything else is 500", () => {
    expect(statusFor(new MalformedError('m'))).toBe(400);
    expect(statusFor(new SignatureError('m'))).toBe(403);
    for (const [code, [status]] of Object.entries(ERROR_CODES))
      expect(statusFor(new UrnaError(code, 'm'))).toBe(status);
    expect(statusFor(new HttpError(418, 'teapot', 'm'))).toBe(418);
    expect(statusFor(new UrnaError('no_such_code', 'm'))).toBe(500);
    expect(statusFor(new Error('a bug'))).toBe(500);
  });
});

#!/usr/bin/env bash
# The project's test command (`npm test`): the quick suite, then the slow
# suite (real processes: crashes, storage faults, NATS, CLI). Prints the totals of both
# from vitest's JSON reports as a last line `N passed, N failed`.
set -uo pipefail
cd "$(dirname "$0")/.."

[ -d node_modules ] || npm ci --no-audit --no-fund || exit 1
bash test/setup-system.sh || exit 1

mkdir -p test-results
status=0
npx vitest run --project quick --reporter=default --reporter=json --outputFile.json=test-results/quick.json || status=1
npx vitest run --project slow --reporter=default --reporter=json --outputFile.json=test-results/slow.json || status=1

node -e '
const fs = require("node:fs");
let passed = 0, failed = 0;
for (const f of ["test-results/quick.json", "test-results/slow.json"]) {
  if (!fs.existsSync(f)) { console.error(`missing report ${f}`); failed += 1; continue; }
  const r = JSON.parse(fs.readFileSync(f, "utf8"));
  passed += r.numPassedTests; failed += r.numFailedTests;
  // A file that failed with no failed test (it did not load, or a hook threw) counts once.
  for (const file of r.testResults ?? [])
    if (file.status === "failed" && !file.assertionResults.some((a) => a.status === "failed")) failed += 1;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
' || status=1
exit $status

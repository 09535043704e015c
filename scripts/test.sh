#!/usr/bin/env bash
# The whole test suite: type check, unit tests (no root), integration tests
# (root: real Redis, network namespaces, kubectl). Run through `npm test`.
# Unit test files share nothing (no root, no fixed paths or ports), so two run
# at a time; integration files share the host's namespaces, ports and CPU, so
# they run one at a time.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== tsc --noEmit"
npx tsc --noEmit
shopt -s nullglob
unit=(test/unit/*.test.ts)
integration=(test/integration/*.test.ts)
echo "== node --test (unit)"
node --import tsx --test --test-concurrency=2 --test-timeout=300000 "${unit[@]}"
echo "== node --test (integration)"
exec node --import tsx --test --test-concurrency=1 --test-timeout=300000 "${integration[@]}"

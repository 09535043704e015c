#!/usr/bin/env bash
# The whole test suite: type check, unit tests (no root), integration tests
# (root: real Redis, network namespaces, kubectl). Run through `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== tsc --noEmit"
npx tsc --noEmit
echo "== node --test"
shopt -s nullglob
files=(test/unit/*.test.ts test/integration/*.test.ts)
exec node --import tsx --test --test-concurrency=1 --test-timeout=300000 "${files[@]}"

#!/bin/sh
# ctest openai_client: installs the pinned openai npm client (package-lock.json) into WORK with npm ci,
# then runs client.test.mjs against `pad serve`. Skips (exit 77) only when npm cannot install.
# Usage: run.sh WORK PAD_BIN MODELS_DIR
set -e
src=$(cd "$(dirname "$0")" && pwd)
work=$1
mkdir -p "$work"
cp "$src/package.json" "$src/package-lock.json" "$src/client.test.mjs" "$work/"
cd "$work"
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  echo "SKIPPED: node/npm are not installed"; exit 77
fi
if ! npm ci --no-audit --no-fund >npm.log 2>&1; then
  cat npm.log
  echo "SKIPPED: npm cannot install the openai client (npm ci failed, log above)"; exit 77
fi
PAD_BIN=$2 PAD_MODELS=$3 exec node --test --test-concurrency=1 client.test.mjs

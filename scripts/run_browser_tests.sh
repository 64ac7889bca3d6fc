#!/usr/bin/env bash
# The dashboard's real-browser test: Debian's headless Chromium driven by playwright-core
# (tests/browser, pinned by its package-lock.json) against a `cascade serve` the test starts on
# a bundle built here from the embedded dataset. Screenshots go to build/browser-artifacts/.
#
#   bash scripts/run_browser_tests.sh              # after scripts/build.sh release
#   CASCADE_BROWSER_BUNDLE=/path/to/bundle bash scripts/run_browser_tests.sh   # reuse a bundle
#
# Idempotent: installs chromium (and Node.js when missing) with apt and the npm package with
# `npm ci` only when they are not there yet.
set -euo pipefail
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
cd "$(dirname "$0")/.."
START=$(date +%s)

BIN="${CASCADE_BIN:-build/release/cascade}"
[ -x "$BIN" ] || { echo "[browser] $BIN is missing: run scripts/build.sh release first" >&2; exit 1; }

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "[browser] installing: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# node_modules/.package-lock.json is npm's record of what is installed: equal to the lockfile's
# package list means `npm ci` has nothing to do.
if ! node -e '
  const want = require("./tests/browser/package-lock.json").packages;
  const have = require("./tests/browser/node_modules/.package-lock.json").packages;
  for (const k of Object.keys(want)) if (k && (!have[k] || have[k].version !== want[k].version)) process.exit(1);
' 2>/dev/null; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi

BUNDLE="${CASCADE_BROWSER_BUNDLE:-}"
if [ -z "$BUNDLE" ]; then
  # A small funnel that still has every stage the pages show, DIN (attention) included.
  BUNDLE=build/browser-bundle
  B0=$(date +%s)
  "$BIN" bundle --data data/ml-latest-small --dataset ml-latest --threads "${CASCADE_THREADS:-2}" \
    --funnel 'popularity+ials > norm(pool=60,quota=100) > gbdt@30 > din(epochs=1)@20 > mmr(diversity=0.2,vectors=ials)' \
    --report funnel=bench/results/ml-latest-small-funnel.json,quality=bench/results/ml-100k-quality.json \
    --out "$BUNDLE" mlruns=build/browser-mlruns >build/browser-bundle.log 2>&1 ||
    { tail -20 build/browser-bundle.log >&2; exit 1; }
  echo "[browser] bundle built in $(( $(date +%s) - B0 )) s"
fi

rm -rf build/browser-artifacts
CASCADE_BIN="$BIN" CASCADE_BUNDLE="$BUNDLE" ARTIFACTS_DIR="$PWD/build/browser-artifacts" \
  node --test tests/browser/dashboard.test.mjs
echo "[browser] passed in $(( $(date +%s) - START )) s; screenshots in build/browser-artifacts/"

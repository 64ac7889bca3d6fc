#!/usr/bin/env bash
# Installs the Debian 12 packages Cascade builds and runs with.
# Idempotent and non-interactive: packages already present are skipped, so a
# second run costs a dpkg query and nothing else.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libeigen3-dev libopenblas-dev
  libyaml-cpp-dev libcli11-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libxxhash-dev libzip-dev libcpp-httplib-dev libhiredis-dev
  # boost::container::small_vector (per-channel values of a fused candidate, stored inline).
  libboost-dev
  libtorch-dev libfaiss-dev libxgboost-dev xgboost
  libgtest-dev libgmock-dev libbenchmark-dev
  libjs-chart.js
  # Training across processes (src/dist, scripts/run_mpi_tests.sh).
  libopenmpi-dev openmpi-bin
  redis-server wrk curl
  # Serving replicas behind a load balancer (scripts/serve_cluster.sh); socat for its runtime socket by hand.
  haproxy socat
  gnuplot-nox
  # libFuzzer targets (fuzz/, scripts/run_fuzz.sh).
  clang-14 libclang-rt-14-dev
  python3
  # The Python module (python/, setup.py) and its tests: Debian's interpreter with these.
  python3-dev pybind11-dev python3-pybind11 python3-numpy python3-pandas python3-scipy
  python3-pytest python3-setuptools python3-wheel python3-pip python3-venv
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "[deps] all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "[deps] installing: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "[deps] done"

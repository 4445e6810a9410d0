#!/usr/bin/env bash
# Installs everything structflow needs to build, test and benchmark on Debian 12, as root.
# Idempotent: quiet when all is present; runs `apt-get update` only when something is missing.
# npm test tools (DuckDB, the OpenAI SDK) go into tools/node/ inside the project.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libcurl4-openssl-dev libvips-dev libturbojpeg0-dev libjpeg62-turbo-dev libpng-dev libwebp-dev
  libsimdjson-dev libsqlite3-dev libboost1.81-dev libcli11-dev libfmt-dev nlohmann-json3-dev
  libvalijson-dev json-schema-test-suite libre2-dev libtomlplusplus-dev
  libxxhash-dev libzstd-dev libsnappy-dev liblz4-dev libbrotli-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-14 libclang-rt-14-dev  # libFuzzer for tools/fuzz/run_libfuzzer.sh
  python3 python3-pil python3-httpx python3-aiohttp
  # the Python package (python/): built with pybind11, tested with pytest, against Debian's pandas
  python3-dev pybind11-dev python3-pybind11 python3-pandas python3-numpy python3-pytest python3-tqdm
  python3-pydantic python3-venv
  python3-dask python3-distributed  # structflow.dask (python/structflow/dask.py)
  time bc curl  # bench/run_peers.sh: /usr/bin/time, ratios, the simulator's /metrics
  nodejs npm
  chromium  # tests/e2e/report_browser.sh opens `structflow report` pages headless
)

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Node may come from elsewhere (a newer build on PATH); do not fight it.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  filtered=()
  for p in "${missing[@]}"; do [ "$p" = nodejs ] || [ "$p" = npm ] || filtered+=("$p"); done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${#missing[@]} Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm test tools, pinned, in a project-local folder.
NODE_DIR=tools/node
if [ ! -f "$NODE_DIR/node_modules/.installed-ok" ] || [ "$NODE_DIR/package.json" -nt "$NODE_DIR/node_modules/.installed-ok" ]; then
  echo "install-deps: installing npm test tools into $NODE_DIR"
  (cd "$NODE_DIR" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
  touch "$NODE_DIR/node_modules/.installed-ok"
fi

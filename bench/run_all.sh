#!/usr/bin/env bash
# Every benchmark under bench/, one after another (called by `make bench`). Builds nothing: the
# binaries come from BUILD_DIR (make bench builds them first). See bench/README.md.
#   bash bench/run_all.sh [BUILD_DIR]          (default build/release)
# PARQUET_MB=256 sizes the Parquet file (the full 1024 MB run is slow on 2 cores).
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build/release}"
failed=()
step() {
  echo
  echo "=================== $*"
  "$@" || { echo "!!! failed (exit $?): $*"; failed+=("$1 ${2:-}"); }
}
have() { [[ -x "$build/bench/$1" ]] || { echo "skip: $build/bench/$1 not built"; return 1; }; }

have client/client_bench && step "$build/bench/client/client_bench"
have sim/sim_bench && step "$build/bench/sim/sim_bench" --requests 20000
have sim/plan_chat_bench && step "$build/bench/sim/plan_chat_bench"
have prepare/prepare_bench && step bash "$root/bench/prepare/run.sh" "$build"
have parquet/parquet_bench && step bash "$root/bench/parquet/run.sh" "$build" \
  /tmp/structflow-parquet-bench-${PARQUET_MB:-256} "${PARQUET_MB:-256}"
step bash "$root/bench/run_peers.sh" "$build"
if compgen -G "$build/python/structflow/_structflow*.so" >/dev/null; then
  step bash "$root/bench/python/run.sh" "$build"
else
  echo "skip: $build/python/structflow/_structflow*.so not built"
fi

echo
if ((${#failed[@]})); then
  echo "run_all.sh: ${#failed[@]} benchmark(s) failed: ${failed[*]}"
  exit 1
fi
echo "run_all.sh: every benchmark ran; the peer table is in ${RESULTS:-bench/RESULTS.md}"

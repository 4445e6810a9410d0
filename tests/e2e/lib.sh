# Shared helpers for the end-to-end tests: they run the real `structflow` binary against
# `structflow sim` on 127.0.0.1 and check the files it writes. Sourced by each test script.
# Usage in a test: STRUCTFLOW=path/to/structflow; source lib.sh; start_sim [sim flags...]
set -euo pipefail

: "${STRUCTFLOW:?set STRUCTFLOW to the structflow binary}"
PY=/usr/bin/python3
WORK=$(mktemp -d "${TMPDIR:-/tmp}/structflow-e2e.XXXXXX")
SIM_PIDS=()

cleanup() {
  for pid in "${SIM_PIDS[@]+"${SIM_PIDS[@]}"}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${SIM_PIDS[@]+"${SIM_PIDS[@]}"}"; do wait "$pid" 2>/dev/null || true; done
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# start_sim [flags...]: starts `structflow sim` on a free port; sets SIM_URL and SIM_PID.
start_sim() {
  local out="$WORK/sim.$RANDOM.out"
  "$STRUCTFLOW" sim --port 0 "$@" >"$out" 2>"$out.err" &
  SIM_PID=$!
  SIM_PIDS+=("$SIM_PID")
  for _ in $(seq 1 200); do
    if grep -q "^listening on " "$out" 2>/dev/null; then
      SIM_URL=$(sed -n 's/^listening on //p' "$out" | head -1)
      return 0
    fi
    kill -0 "$SIM_PID" 2>/dev/null || { cat "$out.err" >&2; fail "the simulator exited at start"; }
    sleep 0.05
  done
  fail "the simulator did not print its address"
}

# sim_metric NAME: the value of a Prometheus metric line from the simulator (summed over labels).
sim_metric() {
  curl -s "${SIM_URL%/v1}/metrics" | awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $2 } END { printf "%d\n", s }'
}

# jsonl_rows FILE: number of lines.
jsonl_rows() { wc -l <"$1" | tr -d ' '; }

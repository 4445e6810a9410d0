#!/usr/bin/env bash
# Adaptive concurrency against a small and a big server (issue 14, "Done when"):
#  1. a 4-slot llama.cpp-like simulator (`--api llama.cpp` when the simulator has it, else the
#     vLLM one with 4 slots), per-token latency model: `structflow run` adaptive against every
#     fixed --concurrency in FIXED; target: adaptive >= 95% of the best fixed setting's rows/s,
#     with p99 latency <= 2x that setting's;
#  2. a 256-slot vLLM-like simulator with the realistic image model of run_peers.sh: the share of
#     the 256 slots busy while rows remain to send (measured as run_peers.sh does), to compare
#     with bench/RESULTS.md (99.8% on 5,000 image rows; here IMAGE_ROWS, shorter).
# Usage: bash bench/concurrency/run.sh [BUILD_DIR]   (needs BUILD_DIR/src/cli/structflow,
# /usr/bin/python3 with Pillow, curl). Knobs: SMALL_ROWS, IMAGE_ROWS, FIXED, WORK, SKIP_SMALL=1,
# SKIP_BIG=1, BIG_WORKLOADS ("image text"), TEXT_ROWS.
# Prints a markdown table on stdout; the figures go into bench/RESULTS.md by hand.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build/release}"
sf="$build/src/cli/structflow"
[[ -x "$sf" ]] || { echo "run.sh: $sf not found; build the structflow target first" >&2; exit 1; }
py=/usr/bin/python3
SMALL_ROWS=${SMALL_ROWS:-600}
TEXT_ROWS=${TEXT_ROWS:-6000}  # text rows on the 256-slot model
IMAGE_ROWS=${IMAGE_ROWS:-1500}
FIXED=${FIXED:-"2 4 8 16 64"}
WORK=${WORK:-/tmp/structflow-concurrency-bench}
mkdir -p "$WORK"

api=()
# (the help into a variable first: grep -q closing the pipe early fails it under pipefail)
sim_help=$("$sf" sim --help 2>&1 || true)
if [[ $sim_help == *llama.cpp* ]]; then api=(--api llama.cpp --metrics); fi
# 4 slots, ~12 answer tokens at 10 ms each plus the prompt: ~0.15 s per request, ~26 requests/s.
SMALL_SIM=(--max-num-seqs 4 --prefill-ms-per-1k 20 --decode-ms-per-token 10
  --decode-batch-slowdown 1 "${api[@]}")
GPU_SIM=(--max-num-seqs 256 --prefill-ms-per-1k 4000 --decode-ms-per-token 15
  --decode-batch-slowdown 5 --tokens-per-image 576)

IMAGES=$(( (IMAGE_ROWS * 2434 + 7461) / 7462 ))
"$py" "$root/bench/peers/gen_data.py" "$WORK" "$(( SMALL_ROWS > TEXT_ROWS ? SMALL_ROWS : TEXT_ROWS ))" \
  "$IMAGE_ROWS" "$IMAGES" >/dev/null

sim_pid=""
sampler_pid=""
stop_sampler() {
  if [[ -n "$sampler_pid" ]]; then kill "$sampler_pid" 2>/dev/null || true; wait "$sampler_pid" 2>/dev/null || true; fi
  sampler_pid=""
}
stop_sim() {
  stop_sampler
  if [[ -n "$sim_pid" ]]; then kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; fi
  sim_pid=""
}
trap stop_sim EXIT
start_sim() {
  local log="$WORK/sim.log"
  : >"$log"
  "$sf" sim --port 0 --seed 1 "$@" >"$log" 2>&1 &
  sim_pid=$!
  for _ in $(seq 100); do grep -q '^listening on ' "$log" && break; sleep 0.1; done
  endpoint=$(sed -n 's/^listening on //p' "$log")
  [[ -n "$endpoint" ]] || { echo "run.sh: the simulator did not start:" >&2; cat "$log" >&2; exit 1; }
  metrics="${endpoint%/v1}/metrics"
}
# Running/waiting/received every 0.25 s, whichever family's gauge names the simulator uses.
start_sampler() {
  : >"$WORK/running.txt"
  ( while :; do
      curl -fsS "$metrics" 2>/dev/null | awk '
        $1 ~ /^(vllm:num_requests_running|llamacpp:requests_processing|sglang:num_running_reqs)/ {r = $2}
        $1 ~ /^(vllm:num_requests_waiting|llamacpp:requests_deferred|sglang:num_queue_reqs)/ {w = $2}
        $1 == "structflow_sim_chat_requests_total" {t = $2}
        END {if (t != "") print r + 0, w + 0, t + 0}' >>"$WORK/running.txt"
      sleep 0.25
    done ) &
  sampler_pid=$!
}

# run NAME ROWS INPUT SCHEMA [structflow run options...]: one job; prints "rows_per_s p99 max_waiting"
run_job() {
  local name=$1 rows=$2 in=$3 schema=$4
  shift 4
  local out="$WORK/out-$name.jsonl"
  rm -f "$out" "$out".checkpoint* "$out".stats.json
  start_sampler
  "$sf" run "$in" --out "$out" --endpoint "$endpoint" --prompt '{text}' --schema "$schema" \
    --max-tokens 64 --progress off "$@" >"$WORK/log-$name.txt" 2>&1 || true
  stop_sampler
  "$py" - "$out.stats.json" "$WORK/running.txt" "$rows" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
ok = s["rows"]["succeeded"]
waits = [float(l.split()[1]) for l in open(sys.argv[2]) if l.strip()]
print(f'{s["rows_per_s"]:.2f} {s["latency_s"]["p99"]:.3f} {max(waits) if waits else 0:.0f} {ok}')
EOF
}

if [[ "${SKIP_SMALL:-0}" != 1 ]]; then
echo "| server | setting | rows | rows/s | p99 latency s | most waiting at the server | ok rows |"
echo "|---|---|---|---|---|---|---|"
small_name="4-slot ${api[*]:-vllm --max-num-seqs 4}"
for c in adaptive $FIXED; do
  start_sim "${SMALL_SIM[@]}"
  opts=()
  label="adaptive (default)"
  [[ $c == adaptive ]] || { opts=(--concurrency "$c"); label="--concurrency $c"; }
  read -r rps p99 wait ok < <(run_job "small-$c" "$SMALL_ROWS" "$WORK/text.jsonl" "$WORK/text_schema.json" --limit "$SMALL_ROWS" "${opts[@]}")
  echo "| $small_name | $label | $SMALL_ROWS | $rps | $p99 | $wait | $ok |"
  stop_sim
done
fi

[[ "${SKIP_BIG:-0}" == 1 ]] && exit 0
echo
echo "| server | setting | rows | rows/s | p99 latency s | sim GPU busy (whole run) | busy while sending | ok rows |"
echo "|---|---|---|---|---|---|---|---|"
# Adaptive, then --concurrency 256 (= the slots) as the reference a loaded machine is judged by:
# when the client cannot prepare images fast enough, neither fills the batch. The text workload
# on the same model costs the client little, so it shows the controller rather than the machine.
for w in ${BIG_WORKLOADS:-image text}; do
for c in adaptive 256; do
  start_sim "${GPU_SIM[@]}"
  opts=()
  label="adaptive (default)"
  [[ $c == adaptive ]] || { opts=(--concurrency "$c"); label="--concurrency $c"; }
  rows=$IMAGE_ROWS
  if [[ $w == image ]]; then
    opts+=(--image image --image-max-side 768 --image-quality 85)
  else
    rows=$TEXT_ROWS
  fi
  b0=$(curl -fsS "$metrics" | awk '$1 == "structflow_sim_busy_slot_seconds_total" {print $2}')
  t0=$(date +%s.%N)
  read -r rps p99 wait ok < <(run_job "big-$w-$c" "$rows" "$WORK/$w.jsonl" "$WORK/${w}_schema.json" \
    "${opts[@]}")
  t1=$(date +%s.%N)
  b1=$(curl -fsS "$metrics" | awk '$1 == "structflow_sim_busy_slot_seconds_total" {print $2}')
  busy_sending=$(awk -v m=256 -v n="$rows" '
    $1 > 0 {s = 1}
    s && !e {k++; sum += ($1 > m ? m : $1)}
    $3 >= n {e = 1}
    END {printf "%.1f%%", k ? 100 * sum / (k * m) : 0}' "$WORK/running.txt")
  busy_whole=$(echo "100 * ($b1 - $b0) / (256 * ($t1 - $t0))" | bc -l | xargs printf '%.1f%%')
  stop_sim
  echo "| 256-slot vLLM-like, realistic model, $w rows | $label | $rows | $rps | $p99 | $busy_whole | $busy_sending | $ok |"
done
done

#!/usr/bin/env bash
# structflow against the clients users would otherwise write, in ONE run on this machine: the
# same job (structured outputs over a dataset) against `structflow sim`, each contender one after
# another, a fresh simulator for each. Writes bench/RESULTS.md. Builds nothing.
#   bash bench/run_peers.sh [BUILD_DIR]          (default build/release)
# Knobs (environment): TEXT_ROWS=100000 IMAGE_ROWS=5000 PEER_TEXT_ROWS=20000 PY_IMAGE_ROWS=1000
#   NODE_IMAGE_ROWS=2500 CONCURRENCY=256 RESULTS=bench/RESULTS.md MAX_NUM_SEQS=256 WORK=/tmp/structflow-peers-bench
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build/release}"
sf="$build/src/cli/structflow"
[[ -x "$sf" ]] || { echo "run_peers.sh: $sf not found; build the structflow target first" >&2; exit 1; }
py=/usr/bin/python3  # Debian's python3 sees python3-httpx, python3-aiohttp, python3-pil
"$py" -c 'import httpx, aiohttp, PIL' 2>/dev/null ||
  { echo "run_peers.sh: $py cannot import httpx/aiohttp/PIL; run scripts/install-deps.sh" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "run_peers.sh: /usr/bin/time missing; apt-get install time" >&2; exit 1; }
export NODE_PATH="$root/tools/node/node_modules"
[[ -d "$NODE_PATH/openai" ]] || { echo "run_peers.sh: $NODE_PATH/openai missing; run scripts/install-deps.sh" >&2; exit 1; }

TEXT_ROWS=${TEXT_ROWS:-100000}
IMAGE_ROWS=${IMAGE_ROWS:-5000}
PEER_TEXT_ROWS=${PEER_TEXT_ROWS:-20000}   # Python and Node on the text workload: a fixed fraction
PY_IMAGE_ROWS=${PY_IMAGE_ROWS:-1000}      # Python on the image workloads: a fixed fraction
NODE_IMAGE_ROWS=${NODE_IMAGE_ROWS:-2500}  # Node on the image workloads: a fixed fraction
CONCURRENCY=${CONCURRENCY:-256}
MAX_NUM_SEQS=${MAX_NUM_SEQS:-256}
WORK=${WORK:-/tmp/structflow-peers-bench}
RESULTS=${RESULTS:-$root/bench/RESULTS.md}  # where the table goes
# The image workload's latency model (realistic): continuous batching at ~3.6 s per request with
# a full batch, so the simulated GPU serves ~70 image requests/s (~45k prompt tokens/s, a 7B VLM on
# one H100-class GPU): can the client keep it full?
GPU_SIM=(--max-num-seqs "$MAX_NUM_SEQS" --prefill-ms-per-1k 4000 --decode-ms-per-token 15
  --decode-batch-slowdown 5 --tokens-per-image 576)
# The client-bound image workload: the simulator's default costs (~0.15-0.25 s per request, 256
# slots serve ~1,000+ image requests/s, far above a real GPU): how fast can each client go?
FAST_SIM=(--max-num-seqs "$MAX_NUM_SEQS" --prefill-ms-per-1k 20 --decode-ms-per-token 10
  --decode-batch-slowdown 1 --tokens-per-image 576)
TEXT_SIM=(--max-num-seqs "$MAX_NUM_SEQS" --latency-ms 0)
peers="$root/bench/peers"
cmdline="bash bench/run_peers.sh $*"
started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

mkdir -p "$WORK"
rm -f "$WORK"/stats-*.json  # this run's only
echo "== inputs in $WORK (images are drawn once and kept)"
# As many distinct images as AI2D has per question (2,434 diagrams for 7,462 questions).
IMAGES=$(( (IMAGE_ROWS * 2434 + 7461) / 7462 ))
"$py" "$peers/gen_data.py" "$WORK" "$TEXT_ROWS" "$IMAGE_ROWS" "$IMAGES"
raw="$WORK/raw.tsv"
printf 'workload\tcontender\tref\trows_total\trows_run\twall_s\tuser_s\tsys_s\trss_kb\tbusy_delta\tmax_num_seqs\tvalid\tlatency\tbusy_sending\n' >"$raw"

sim_pid=""
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
  [[ -n "$endpoint" ]] || { echo "run_peers.sh: the simulator did not start:" >&2; cat "$log" >&2; exit 1; }
  metrics="${endpoint%/v1}/metrics"
}
# Samples the simulator every 0.25 s into $WORK/running.txt while a contender runs: requests
# running (in batch slots), waiting, and chat requests received so far.
sampler_pid=""
start_sampler() {
  : >"$WORK/running.txt"
  ( while :; do
      curl -fsS "$metrics" 2>/dev/null | awk '
        $1 ~ /^vllm:num_requests_running/ {r = $2}
        $1 ~ /^vllm:num_requests_waiting/ {w = $2}
        $1 == "structflow_sim_chat_requests_total" {t = $2}
        END {if (t != "") print r + 0, w + 0, t + 0}' >>"$WORK/running.txt"
      sleep 0.25
    done ) &
  sampler_pid=$!
}
stop_sampler() {
  if [[ -n "$sampler_pid" ]]; then kill "$sampler_pid" 2>/dev/null || true; wait "$sampler_pid" 2>/dev/null || true; fi
  sampler_pid=""
}
busy() { curl -fsS "$metrics" | awk '$1 == "structflow_sim_busy_slot_seconds_total" {print $2}'; }

# measure WORKLOAD CONTENDER REF ROWS_TOTAL ROWS_RUN SCHEMA OUT LATENCY -- COMMAND...
measure() {
  local workload=$1 contender=$2 ref=$3 total=$4 run=$5 schema=$6 out=$7 latency=$8
  shift 9
  rm -f "$out" "$out".checkpoint* "$out".stats.json
  local b0 b1 t
  b0=$(busy)
  echo "== $workload / $contender ($run rows)"
  start_sampler
  /usr/bin/time -o "$WORK/time.txt" -f '%e %U %S %M' "$@" || echo "   (exit code $?)"
  stop_sampler
  b1=$(busy)
  # Busy while rows remained to send: mean share of batch slots taken, over the samples from the
  # first one with a request running to the first one by which the simulator had received a
  # request for every row (after that no client can add work: the last batch drains).
  local full
  full=$(awk -v m="$MAX_NUM_SEQS" -v n="$run" '
    $1 > 0 {s = 1}
    s && !e {k++; sum += ($1 > m ? m : $1)}
    $3 >= n {e = 1}
    END {printf "%.4f", k ? sum / (k * m) : 0}' "$WORK/running.txt")
  read -r -a t <"$WORK/time.txt"
  local valid
  valid=$("$py" "$peers/check_output.py" "$out" "$run" "$schema")
  echo "   wall ${t[0]} s, cpu ${t[1]}+${t[2]} s, rss ${t[3]} KB, valid rows $valid/$run, busy while sending $full"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$workload" "$contender" "$ref" \
    "$total" "$run" "${t[0]}" "${t[1]}" "${t[2]}" "${t[3]}" "$(echo "$b1 - $b0" | bc -l)" \
    "$MAX_NUM_SEQS" "$valid" "$latency" "$full" >>"$raw"
}

# contenders WORKLOAD INPUT SCHEMA ROWS PEER_ROWS PY_ROWS LATENCY SIM_ARGS...
contenders() {
  local w=$1 in=$2 schema=$3 rows=$4 peer_rows=$5 py_rows=$6 latency=$7
  shift 7
  local sfimg=()
  local node_rows=$peer_rows
  if [[ $w == image* ]]; then node_rows=$NODE_IMAGE_ROWS; fi
  if [[ $w == image* ]]; then sfimg=(--image image --image-max-side 768 --image-quality 85); fi
  local out="$WORK/out-$w"
  start_sim "$@"
  measure "$w" "structflow run (adaptive, default)" 1 "$rows" "$rows" "$schema" "$out-sf.jsonl" "$latency" -- \
    "$sf" run "$in" --out "$out-sf.jsonl" --endpoint "$endpoint" --prompt '{text}' \
    --schema "$schema" --max-tokens 64 "${sfimg[@]}" --progress log
  cp "$out-sf.jsonl.stats.json" "$WORK/stats-$w-adaptive.json" 2>/dev/null || true
  # The second structflow row: text at a fixed concurrency; images with the prepared-image cache
  # off (every row's image decoded, resized and encoded anew, as the Python clients do).
  local variant=(--concurrency "$CONCURRENCY") vname="--concurrency $CONCURRENCY" vtag="c$CONCURRENCY"
  if [[ $w == image* ]]; then variant=(--image-cache-mb 0) vname="--image-cache-mb 0" vtag="nocache"; fi
  stop_sim; start_sim "$@"
  measure "$w" "structflow run $vname" 0 "$rows" "$rows" "$schema" "$out-sf2.jsonl" "$latency" -- \
    "$sf" run "$in" --out "$out-sf2.jsonl" --endpoint "$endpoint" --prompt '{text}' \
    --schema "$schema" --max-tokens 64 "${sfimg[@]}" --progress log "${variant[@]}"
  cp "$out-sf2.jsonl.stats.json" "$WORK/stats-$w-$vtag.json" 2>/dev/null || true
  for client in httpx aiohttp; do
    stop_sim; start_sim "$@"
    measure "$w" "Python asyncio + $client" 0 "$rows" "$py_rows" "$schema" "$out-$client.jsonl" "$latency" -- \
      "$py" "$peers/py_client.py" "$client" "$endpoint" sim-vlm "$in" "$schema" "$out-$client.jsonl" \
      "$CONCURRENCY" "$py_rows"
  done
  stop_sim; start_sim "$@"
  measure "$w" "Node openai SDK $(node -p "require('$NODE_PATH/openai/package.json').version")" 0 \
    "$rows" "$node_rows" "$schema" "$out-node.jsonl" "$latency" -- \
    node "$peers/node_client.mjs" "$endpoint" sim-vlm "$in" "$schema" "$out-node.jsonl" \
    "$CONCURRENCY" "$node_rows"
  stop_sim
}

t0=$(date +%s)
contenders text "$WORK/text.jsonl" "$WORK/text_schema.json" "$TEXT_ROWS" "$PEER_TEXT_ROWS" \
  "$PEER_TEXT_ROWS" 0 "${TEXT_SIM[@]}"
contenders image "$WORK/image.jsonl" "$WORK/image_schema.json" "$IMAGE_ROWS" "$IMAGE_ROWS" \
  "$PY_IMAGE_ROWS" model "${GPU_SIM[@]}"
contenders image-client-bound "$WORK/image.jsonl" "$WORK/image_schema.json" "$IMAGE_ROWS" "$IMAGE_ROWS" \
  "$PY_IMAGE_ROWS" model "${FAST_SIM[@]}"
elapsed=$(( $(date +%s) - t0 ))

table=$("$py" "$peers/summarize.py" "$raw")
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
ram=$(awk '/MemTotal/ {printf "%.1f GB", $2 / 1048576}' /proc/meminfo)
{
  echo "# structflow against the clients users would otherwise write"
  echo
  echo "Written by \`bench/run_peers.sh\` (see bench/README.md). One run, every contender one after"
  echo "another against a fresh \`structflow sim\` on the same machine."
  echo
  echo "- command: \`$cmdline\` (structflow: \`$sf\`)"
  echo "- date: $started; the whole run took ${elapsed} s"
  echo "- machine: $(nproc) cores ($cpu), $ram RAM; load average before the run: $load_before."
  echo "  The machine is shared with other jobs and noisy: wall times and busy fractions move"
  echo "  between runs; CPU seconds per row are the steadier figure. The simulator runs on the"
  echo "  same 2 cores as the client (its CPU is not counted as client CPU)."
  echo "- text workload: $TEXT_ROWS rows, schema \`{sentiment: enum of 3, score: integer 1-5}\`,"
  echo "  simulator \`${TEXT_SIM[*]}\` (zero latency: only the client's own cost)."
  echo "- image workload: $IMAGE_ROWS rows on $IMAGES distinct 1600x1200 photo-like JPEGs (gradients +"
  echo "  noise, 0.5-0.8 MB) by path, the questions about one image adjacent, as in AI2D (7,462"
  echo "  questions on 2,434 diagrams: ~3 per image); same schema plus \`answer: enum A-D\`;"
  echo "  simulator \`${GPU_SIM[*]}\`"
  echo "  (a realistic latency model: continuous batching, ~3.6 s per request at a full batch, so the"
  echo "  simulated GPU serves ~70 image requests/s, ~45k prompt tokens/s, about a 7B VLM on one"
  echo "  H100-class GPU). Can the client keep it full?"
  echo "- image-client-bound workload: the same rows, simulator \`${FAST_SIM[*]}\`"
  echo "  (the simulator's default costs: ~0.15-0.25 s per request, so 256 slots serve ~1,000+ image"
  echo "  requests/s, far more than a real GPU and than any client prepares on 2 cores): how fast"
  echo "  can each client go?"
  echo "- structflow rows: \`structflow run IN.jsonl --prompt '{text}' --schema S --max-tokens 64\`"
  echo "  (+ \`--image image --image-max-side 768 --image-quality 85\` for images), once in its"
  echo "  default adaptive mode (the reference of the ratios), then text with \`--concurrency $CONCURRENCY\`"
  echo "  and images with \`--image-cache-mb 0\` (the prepared-image cache off: every row's image"
  echo "  decoded, resized and encoded anew, as the Python clients do; the default prepares each"
  echo "  distinct image once)."
  echo "- peers, all at concurrency $CONCURRENCY (= --max-num-seqs): \`bench/peers/py_client.py\`"
  echo "  (asyncio.Semaphore + gather, Pillow in a thread pool: open, RGB, thumbnail 768, JPEG q=85,"
  echo "  base64 data URL; json.loads + field checks; JSONL out) with httpx and with aiohttp, run by"
  echo "  /usr/bin/python3 ($("$py" -c 'import sys, httpx, aiohttp, PIL; print(f"Python {sys.version.split()[0]}, httpx {httpx.__version__}, aiohttp {aiohttp.__version__}, Pillow {PIL.__version__}")'));"
  echo "  \`bench/peers/node_client.mjs\` (official openai SDK, $CONCURRENCY workers, Node $(node --version))."
  echo "  **Node sends the original image bytes (no resize: Node has no Pillow), which favours Node's"
  echo "  CPU figures** (but it sends ~8x more bytes per request; the simulator counts a fixed 576"
  echo "  tokens per image, a real server with resolution-dependent image tokens would also do more work)."
  echo "- Python and Node run a fixed fraction of the text rows ($PEER_TEXT_ROWS of $TEXT_ROWS),"
  echo "  Python $PY_IMAGE_ROWS and Node $NODE_IMAGE_ROWS of $IMAGE_ROWS image rows, to keep the run under 15 minutes; per-row"
  echo "  figures (rows/s, CPU per 1k rows) are measured on the rows actually run, nothing is extrapolated."
  echo
  echo "Figures: wall time and CPU (user+sys) and peak RSS of the client process tree from"
  echo "\`/usr/bin/time\`; sim GPU busy = delta(structflow_sim_busy_slot_seconds_total) / (max-num-seqs x wall)"
  echo "over the client's whole wall time (start-up, ramp and the drain of the last batch included);"
  echo "busy while sending = mean share of the $MAX_NUM_SEQS slots taken in 0.25 s samples of"
  echo "\`vllm:num_requests_running\`, from the first request running until the simulator has"
  echo "received a request for every row (what a client controls: after that the last batch drains"
  echo "whoever the client is);"
  echo "rows lost/failed = rows run minus output rows that have the right id once, no error and an answer"
  echo "fitting the schema (\`bench/peers/check_output.py\`). Ratios: client CPU per row of the contender"
  echo "divided by structflow's (adaptive); structflow's rows/s divided by the contender's."
  echo
  echo "$table"
  echo
  for f in "$WORK"/stats-*.json; do
    [[ -f $f ]] || continue
    echo "- \`$(basename "$f")\`: \`$(head -c 600 "$f")\`"
  done
} >"$RESULTS"
echo
cat "$RESULTS"

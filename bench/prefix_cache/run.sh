#!/usr/bin/env bash
# Simulated GPU time per answered question, text first vs image first, on one replica and on two
# with and without affinity, beside the Python peers (issue 22), on the
# AI2D-like image workload against `structflow sim` with the realistic latency model of
# bench/run_peers.sh and prefix caching on (as on vLLM). Writes its section of bench/RESULTS.md.
#   bash bench/prefix_cache/run.sh [BUILD_DIR]          (default build/release)
# Knobs (environment): ROWS=1500 (questions; ~3 per image as in AI2D) WORK=/tmp/structflow-prefix-bench
#   RESULTS=bench/RESULTS.md API=vllm-0.12 (or sglang) PEERS="aiohttp httpx" (Python peers to run;
#   empty: none) SECTION_ONLY=1 (measure nothing: write the section again from WORK's last run)
# What it reads: the simulator's structflow_sim_gpu_busy_seconds_total (each request's modelled
# service time over --max-num-seqs: prefill of the prompt tokens the prefix cache did not hold,
# plus decode) and its prefix-cache counters, before and after each run; the answered rows are
# counted in the output file.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build/release}"
sf="$build/src/cli/structflow"
[[ -x "$sf" ]] || { echo "prefix_cache/run.sh: $sf not found; build the structflow target first" >&2; exit 1; }
py=/usr/bin/python3  # Debian's python3 sees Pillow (the image generator needs it)
"$py" -c 'import PIL' 2>/dev/null || { echo "prefix_cache/run.sh: $py cannot import PIL; run scripts/install-deps.sh" >&2; exit 1; }

ROWS=${ROWS:-1500}
WORK=${WORK:-/tmp/structflow-prefix-bench}
RESULTS=${RESULTS:-$root/bench/RESULTS.md}
API=${API:-vllm-0.12}
# The realistic model of bench/run_peers.sh: ~3.6 s per request at a full 256-slot batch, ~45k
# prompt tokens/s: about a 7B VLM on one H100-class GPU. Prefix caching is on by default.
GPU_SIM=(--api "$API" --max-num-seqs 256 --prefill-ms-per-1k 4000 --decode-ms-per-token 15
  --decode-batch-slowdown 5 --tokens-per-image 576 --enable-prompt-tokens-details --enable-metrics)
# As many distinct images as AI2D has per question (2,434 diagrams for 7,462 questions); the
# questions about one image are adjacent, as in AI2D's files.
IMAGES=$(( (ROWS * 2434 + 7461) / 7462 ))
cmdline="bash bench/prefix_cache/run.sh $*"
started=$(date -u '+%Y-%m-%d %H:%M UTC')

mkdir -p "$WORK"
raw="$WORK/raw.tsv"
if [[ -n "${SECTION_ONLY:-}" ]]; then
  [[ -s "$raw" ]] || { echo "prefix_cache/run.sh: SECTION_ONLY needs $raw from an earlier run" >&2; exit 1; }
  started=$(cat "$WORK/started.txt")
else
echo "$started" >"$WORK/started.txt"
echo "== inputs in $WORK ($ROWS questions on $IMAGES images; images are drawn once and kept)"
"$py" "$root/bench/peers/gen_data.py" "$WORK" 0 "$ROWS" "$IMAGES"
# The same rows shuffled (a dataset not grouped by image): what the reorder window is for.
"$py" -c '
import random, sys
lines = open(sys.argv[1]).readlines()
random.Random(7).shuffle(lines)
open(sys.argv[2], "w").writelines(lines)' "$WORK/image.jsonl" "$WORK/image-shuffled.jsonl"

sim_pids=()
stop_sims() {
  for pid in "${sim_pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  sim_pids=()
}
trap stop_sims EXIT
# start_sims N -- sim flags: N simulators with the same flags (replicas of one model); sets
# endpoints (one --endpoint flag each) and metrics_urls.
start_sims() {
  local n=$1
  shift
  endpoints=()
  metrics_urls=()
  for i in $(seq "$n"); do
    local log="$WORK/sim$i.log"
    : >"$log"
    "$sf" sim --port 0 --seed "$i" "$@" >"$log" 2>&1 &
    sim_pids+=($!)
    for _ in $(seq 100); do grep -q '^listening on ' "$log" && break; sleep 0.1; done
    local endpoint
    endpoint=$(sed -n 's/^listening on //p' "$log")
    [[ -n "$endpoint" ]] || { echo "prefix_cache/run.sh: the simulator did not start:" >&2; cat "$log" >&2; exit 1; }
    endpoints+=(--endpoint "$endpoint")
    metrics_urls+=("${endpoint%/v1}/metrics")
  done
}
# metric NAME: summed over every running simulator (and over its labels).
metric() {
  local total=0 v
  for url in "${metrics_urls[@]}"; do
    v=$(curl -fsS "$url" | awk -v n="$1" '$1 == n || index($1, n "{") == 1 {s += $2} END {printf "%.6f", s}')
    total=$(echo "$total + $v" | bc -l)
  done
  printf '%.6f' "$total"
}
# chat_requests: what each simulator received, "a/b" (shows where the rows went).
chat_requests() {
  local out="" v
  for url in "${metrics_urls[@]}"; do
    v=$(curl -fsS "$url" | awk '$1 == "structflow_sim_chat_requests_total" {printf "%d", $2}')
    out="${out:+$out/}$v"
  done
  echo "$out"
}

printf 'label\tposition\tcache\treplicas\trows\tanswered\twall_s\tgpu_s\tprompt_tokens\tcached_tokens\tper_replica\n' >"$raw"
# measure LABEL POSITION CACHE(on|off) REPLICAS CLIENT [extra structflow run flags...]
# INPUT (environment): the input file in $WORK (image.jsonl: questions on one image adjacent).
# CLIENT: sf (structflow, --choice A,B,C,D), sf-schema (structflow with the peers' schema),
# py-aiohttp / py-httpx (bench/peers/py_client.py at concurrency 256, as in run_peers.sh).
measure() {
  local label=$1 position=$2 cache=$3 replicas=$4 client=$5
  shift 5
  local flags=("${GPU_SIM[@]}")
  [[ "$cache" == off ]] && flags+=(--no-prefix-caching)
  start_sims "$replicas" "${flags[@]}"
  local out="$WORK/out-$(echo "$label" | tr -c 'a-zA-Z0-9\n' '_').jsonl"
  rm -f "$out" "$out".checkpoint* "$out".stats.json
  local prefix=vllm
  [[ "$API" == sglang ]] && prefix=sglang
  local hits=vllm:prefix_cache_hits_total
  [[ "$prefix" == sglang ]] && hits=sglang:cached_tokens_total
  local g0 p0 h0 g1 p1 h1 t0 t1
  g0=$(metric structflow_sim_gpu_busy_seconds_total)
  p0=$(metric "$prefix:prompt_tokens_total")
  h0=$(metric "$hits")
  echo "== $label: $client, --image-position $position, prefix caching $cache, $replicas replica(s)"
  t0=$(date +%s.%N)
  case "$client" in
    sf)
      "$sf" run "$WORK/${INPUT:-image.jsonl}" --out "$out" "${endpoints[@]}" --prompt '{text}' \
        --image image --image-max-side 768 --choice A,B,C,D --max-tokens 4 --image-position "$position" \
        --progress off "$@" || echo "   (exit code $?)" ;;
    sf-schema)
      "$sf" run "$WORK/${INPUT:-image.jsonl}" --out "$out" "${endpoints[@]}" --prompt '{text}' \
        --image image --image-max-side 768 --schema "$WORK/image_schema.json" --max-tokens 64 \
        --image-position "$position" --progress off "$@" || echo "   (exit code $?)" ;;
    py-*)
      "$py" "$root/bench/peers/py_client.py" "${client#py-}" "${endpoints[1]}" sim-vlm "$WORK/image.jsonl" \
        "$WORK/image_schema.json" "$out" 256 "$ROWS" || echo "   (exit code $?)" ;;
  esac
  t1=$(date +%s.%N)
  g1=$(metric structflow_sim_gpu_busy_seconds_total)
  p1=$(metric "$prefix:prompt_tokens_total")
  h1=$(metric "$hits")
  local per_replica
  per_replica=$(chat_requests)
  stop_sims
  local answered
  if [[ "$client" == sf ]]; then
    answered=$("$py" -c '
import json, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    n += r.get("error") is None and r.get("output") in ("A", "B", "C", "D")
print(n)' "$out")
  else
    answered=$("$py" "$root/bench/peers/check_output.py" "$out" "$ROWS" "$WORK/image_schema.json")
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$position" "$cache" "$replicas" "$ROWS" "$answered" \
    "$(echo "$t1 - $t0" | bc -l)" "$(echo "$g1 - $g0" | bc -l)" "$(echo "$p1 - $p0" | bc -l)" \
    "$(echo "$h1 - $h0" | bc -l)" "$per_replica" >>"$raw"
  echo "   answered $answered/$ROWS, GPU $(echo "$g1 - $g0" | bc -l) s, cached $(echo "$h1 - $h0" | bc -l) of $(echo "$p1 - $p0" | bc -l) prompt tokens, requests per replica $per_replica"
}

measure "text first (what most scripts send)" last on 1 sf
measure "image first (structflow's default)" first on 1 sf
measure "image first, prefix caching off (control)" first off 1 sf
# Two replicas: least-outstanding alone spreads the ~3 questions on one image over both, and
# each replica computes the image; affinity keeps them on one.
measure "image first, 2 replicas, no affinity (--no-image-affinity)" first on 2 sf --no-image-affinity
measure "image first, 2 replicas, affinity (default)" first on 2 sf
measure "text first, 2 replicas (--image-position last)" last on 2 sf
# Shuffled rows: the ~3 questions on one image ~500 rows apart on average; the simulator's KV
# capacity (262,144 tokens, ~400 images' worth, less what running requests hold) evicts many
# images before their next question unless the reorder window brings the questions together.
INPUT=image-shuffled.jsonl measure "image first, shuffled input, --reorder-window 0 (input order)" first on 1 sf --reorder-window 0
INPUT=image-shuffled.jsonl measure "image first, shuffled input, reorder window (default 1024 rows)" first on 1 sf
# The Python peers of bench/run_peers.sh on the same rows, with their own schema (3 fields, a
# longer answer than one letter) and structflow with that schema for a like-for-like row.
for peer in ${PEERS:-aiohttp httpx}; do
  measure "Python asyncio + $peer (bench/peers/py_client.py, its schema)" first on 1 "py-$peer"
done
measure "structflow with the peers' schema" first on 1 sf-schema
fi  # SECTION_ONLY

section=$("$py" - "$raw" "$cmdline" "$started" "$API" "$ROWS" "$IMAGES" "${GPU_SIM[*]}" <<'PYEOF'
import csv, sys
raw, cmdline, started, api, rows, images, sim = sys.argv[1:8]
lines = list(csv.DictReader(open(raw), delimiter="\t"))
def per(r):
    return float(r["gpu_s"]) / max(1, int(r["answered"]))
base = per(lines[0])
out = []
out.append("# GPU time per answer: image first and prefix caching (issue 22)")
out.append("")
out.append("Written by `bench/prefix_cache/run.sh` (see bench/README.md).")
out.append("")
out.append(f"- command: `{cmdline}`; date: {started}")
out.append(f"- workload: {rows} multiple-choice questions on {images} distinct 1600x1200 JPEGs by path "
           "(bench/peers/gen_data.py), the questions about one image adjacent (but in the shuffled rows), "
           "~3 per image as in AI2D; `structflow run --prompt '{text}' --image image --image-max-side 768 --choice "
           "A,B,C,D --max-tokens 4 --image-position first|last`")
out.append(f"- server: `structflow sim {sim}` (the realistic model of run_peers.sh, "
           f"`--api {api}`, prefix caching on as on the real server unless said); with 2 replicas, "
           "two such simulators and `--endpoint A --endpoint B`, GPU s summed over both")
out.append("- Python peers: `bench/peers/py_client.py` (asyncio, concurrency 256; it puts the image "
           "first too, `content.insert(0, image)`) with its JSON schema `{sentiment, score, answer}` "
           "and max_tokens 64: a longer answer than one letter, so compare them with the "
           "`structflow with the peers' schema` row")
out.append("- GPU s: the simulator's `structflow_sim_gpu_busy_seconds_total` (each request's modelled "
           "service time over --max-num-seqs: prefill of the prompt tokens not found in the prefix "
           "cache, plus decode), per answered question")
out.append("")
out.append("| run | prefix cache | replicas | answered | wall s | GPU s | GPU ms / answer | vs text first | cached / prompt tokens | requests per replica |")
out.append("|---|---|---|---|---|---|---|---|---|---|")
for r in lines:
    p = per(r)
    pt, ct = float(r["prompt_tokens"]), float(r["cached_tokens"])
    share = f"{ct:.0f} / {pt:.0f} ({100 * ct / pt:.0f}%)" if pt else "-"
    out.append(f"| {r['label']} | {r['cache']} | {r['replicas']} | {r['answered']}/{r['rows']} | {float(r['wall_s']):.1f} | "
               f"{float(r['gpu_s']):.2f} | {1000 * p:.2f} | {100 * (p / base - 1):+.0f}% | {share} | {r['per_replica']} |")
def find(prefix):
    return next((r for r in lines if r["label"].startswith(prefix)), None)
def ms(r):
    return 1000 * per(r)
out.append("")
tf, aff, noaff = find("text first (what"), find("image first, 2 replicas, affinity"), find("image first, 2 replicas, no affinity")
sh0, sh1 = find("image first, shuffled input, --reorder-window 0"), find("image first, shuffled input, reorder window")
if tf and aff and noaff:
    out.append(f"Target (issue 22): at least 50% less GPU time per answer than text first. Image first with "
               f"affinity over 2 replicas: {ms(aff):.2f} ms against {ms(tf):.2f} ms text first "
               f"({100 * (per(aff) / per(tf) - 1):+.0f}%); without affinity the 2 replicas each compute most "
               f"images ({ms(noaff):.2f} ms, {100 * (per(noaff) / per(tf) - 1):+.0f}%): affinity saves "
               f"{100 * (1 - per(aff) / per(noaff)):.0f}% of that.")
peer, sfs = find("Python asyncio + aiohttp"), find("structflow with the peers")
if peer and sfs:
    out.append(f"Python peer (aiohttp) against structflow on its schema: {ms(peer):.2f} against {ms(sfs):.2f} ms per "
               f"answer, the same share cached (both put the image first). The difference is decode, "
               f"which the simulator slows with the batch it runs in (--decode-batch-slowdown): Python "
               f"prepares images too slowly to fill the batch ({float(peer['wall_s']):.0f} s against "
               f"{float(sfs['wall_s']):.0f} s of wall time), so its short batches decode cheaply while "
               f"the GPU idles; GPU s charge each request's own service time and not the idle slots.")
if sh0 and sh1:
    out.append(f"Shuffled rows: {ms(sh0):.2f} ms per answer in input order, {ms(sh1):.2f} ms with the reorder "
               f"window ({100 * (per(sh1) / per(sh0) - 1):+.0f}%).")
print("\n".join(out))
PYEOF
)
echo
echo "$section"
# Replace this benchmark's section of RESULTS.md (from its heading to the next top-level one).
"$py" - "$RESULTS" "$section" <<'PYEOF'
import sys
path, section = sys.argv[1], sys.argv[2]
head = "# GPU time per answer: image first and prefix caching (issue 22)"
try:
    text = open(path).read()
except FileNotFoundError:
    text = ""
lines = text.split("\n")
if head in lines:
    i = lines.index(head)
    # To the next heading of any level: the section has none of its own.
    j = next((k for k in range(i + 1, len(lines)) if lines[k].startswith("#")), len(lines))
    lines[i:j] = section.split("\n") + [""]
    text = "\n".join(lines)
else:
    text = text.rstrip("\n") + "\n\n" + section + "\n"
open(path, "w").write(text)
PYEOF
echo "== wrote $RESULTS"

#!/usr/bin/env bash
# Simulated GPU time per answered question, text first vs image first (issue 22), on the
# AI2D-like image workload against `structflow sim` with the realistic latency model of
# bench/run_peers.sh and prefix caching on (as on vLLM). Writes its section of bench/RESULTS.md.
#   bash bench/prefix_cache/run.sh [BUILD_DIR]          (default build/release)
# Knobs (environment): ROWS=1500 (questions; ~3 per image as in AI2D) WORK=/tmp/structflow-prefix-bench
#   RESULTS=bench/RESULTS.md API=vllm-0.12 (or sglang)
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
echo "== inputs in $WORK ($ROWS questions on $IMAGES images; images are drawn once and kept)"
"$py" "$root/bench/peers/gen_data.py" "$WORK" 0 "$ROWS" "$IMAGES"

sim_pid=""
stop_sim() {
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
  [[ -n "$endpoint" ]] || { echo "prefix_cache/run.sh: the simulator did not start:" >&2; cat "$log" >&2; exit 1; }
  metrics="${endpoint%/v1}/metrics"
}
metric() { curl -fsS "$metrics" | awk -v n="$1" '$1 == n || index($1, n "{") == 1 {s += $2} END {printf "%.6f", s}'; }

raw="$WORK/raw.tsv"
printf 'label\tposition\tcache\trows\tanswered\twall_s\tgpu_s\tprompt_tokens\tcached_tokens\n' >"$raw"
# measure LABEL POSITION CACHE(on|off) -- extra sim flags
measure() {
  local label=$1 position=$2 cache=$3
  shift 3
  local flags=("${GPU_SIM[@]}")
  [[ "$cache" == off ]] && flags+=(--no-prefix-caching)
  start_sim "${flags[@]}"
  local out="$WORK/out-$position-$cache.jsonl"
  rm -f "$out" "$out".checkpoint* "$out".stats.json
  local prefix=vllm
  [[ "$API" == sglang ]] && prefix=sglang
  local g0 p0 h0 g1 p1 h1 t0 t1
  g0=$(metric structflow_sim_gpu_busy_seconds_total)
  p0=$(metric "$prefix:prompt_tokens_total")
  if [[ "$prefix" == vllm ]]; then h0=$(metric vllm:prefix_cache_hits_total); else h0=$(metric sglang:cached_tokens_total); fi
  echo "== $label: --image-position $position, prefix caching $cache"
  t0=$(date +%s.%N)
  "$sf" run "$WORK/image.jsonl" --out "$out" --endpoint "$endpoint" --prompt '{text}' \
    --image image --image-max-side 768 --choice A,B,C,D --max-tokens 4 --image-position "$position" \
    --progress off || echo "   (exit code $?)"
  t1=$(date +%s.%N)
  g1=$(metric structflow_sim_gpu_busy_seconds_total)
  p1=$(metric "$prefix:prompt_tokens_total")
  if [[ "$prefix" == vllm ]]; then h1=$(metric vllm:prefix_cache_hits_total); else h1=$(metric sglang:cached_tokens_total); fi
  stop_sim
  local answered
  answered=$("$py" -c '
import json, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    n += r.get("error") is None and r.get("output") in ("A", "B", "C", "D")
print(n)' "$out")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$position" "$cache" "$ROWS" "$answered" \
    "$(echo "$t1 - $t0" | bc -l)" "$(echo "$g1 - $g0" | bc -l)" "$(echo "$p1 - $p0" | bc -l)" \
    "$(echo "$h1 - $h0" | bc -l)" >>"$raw"
  echo "   answered $answered/$ROWS, GPU $(echo "$g1 - $g0" | bc -l) s, cached $(echo "$h1 - $h0" | bc -l) of $(echo "$p1 - $p0" | bc -l) prompt tokens"
}

measure "text first (what most scripts send)" last on
measure "image first (structflow's default)" first on
measure "image first, prefix caching off (control)" first off

# ---------------------------------------------------------------------------------------------
# SLOT: image first with affinity across 2 replicas (issue 22, "prefix-aware dispatch").
# Needs the engine to send rows that share an image to the same endpoint (affinity by image
# hash), which the engine-as-a-library work brings; until then this row is not measured. When it
# lands: start two simulators with "${GPU_SIM[@]}", run with --endpoint A --endpoint B, sum
# structflow_sim_gpu_busy_seconds_total over both, and add a row with label
# "image first, affinity, 2 replicas". Without affinity, least-outstanding dispatch spreads the
# ~3 questions on one image over both replicas and each computes the image once.
# ---------------------------------------------------------------------------------------------

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
           "(bench/peers/gen_data.py), the questions about one image adjacent, ~3 per image as in "
           "AI2D; `structflow run --prompt '{text}' --image image --image-max-side 768 --choice "
           "A,B,C,D --max-tokens 4 --image-position first|last`")
out.append(f"- server: one `structflow sim {sim}` (the realistic model of run_peers.sh, "
           f"`--api {api}`, prefix caching on as on the real server unless said)")
out.append("- GPU s: the simulator's `structflow_sim_gpu_busy_seconds_total` (each request's modelled "
           "service time over --max-num-seqs: prefill of the prompt tokens not found in the prefix "
           "cache, plus decode), per answered question")
out.append("")
out.append("| order | prefix cache | answered | wall s | GPU s | GPU ms / answer | vs text first | cached / prompt tokens |")
out.append("|---|---|---|---|---|---|---|---|")
for r in lines:
    p = per(r)
    pt, ct = float(r["prompt_tokens"]), float(r["cached_tokens"])
    share = f"{ct:.0f} / {pt:.0f} ({100 * ct / pt:.0f}%)" if pt else "-"
    out.append(f"| {r['label']} | {r['cache']} | {r['answered']}/{r['rows']} | {float(r['wall_s']):.1f} | "
               f"{float(r['gpu_s']):.2f} | {1000 * p:.2f} | {100 * (p / base - 1):+.0f}% | {share} |")
out.append("| image first, affinity, 2 replicas | on | not measured yet: needs the engine's affinity dispatch (slot in run.sh) | | | | | |")
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
    j = next((k for k in range(i + 1, len(lines)) if lines[k].startswith("# ")), len(lines))
    lines[i:j] = section.split("\n") + [""]
    text = "\n".join(lines)
else:
    text = text.rstrip("\n") + "\n\n" + section + "\n"
open(path, "w").write(text)
PYEOF
echo "== wrote $RESULTS"

#!/usr/bin/env bash
# structflow.dask on a distributed.LocalCluster (processes, 1 thread each) with 1 and with 2
# workers against the plain CLI on the same rows (issue 20): run_peers.sh's client-bound image
# workload (AI2D-like rows, ~3 questions per 1600x1200 JPEG, resized to 768 and re-encoded by the
# client; the simulator's default costs, so the client, not the simulated GPU, is the limit).
# Each contender against a fresh `structflow sim` (a separate process). Builds nothing.
#   bash bench/dask/run.sh [BUILD_DIR]        (default build/release)
# Knobs: ROWS=3000 PARTS=8 WORK=/tmp/structflow-dask-bench (images are drawn once and kept)
# Figures: "job" is the wall time of the job alone (the CLI's elapsed_s; for Dask, compute() of
# the lazy frame on a cluster already started: reading the files on the workers, the engine
# per worker, gathering the results); "process" is the whole command (/usr/bin/time: for Dask
# the interpreter, imports, cluster start and stop), CPU the user+sys seconds of the process tree.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="$(cd "${1:-$root/build/release}" && pwd)"
SF="$build/src/cli/structflow"
[[ -x "$SF" ]] || { echo "bench/dask/run.sh: $SF not found; build the structflow and _structflow targets" >&2; exit 1; }
py=/usr/bin/python3  # Debian's python3 with python3-dask, python3-distributed, python3-pil
"$py" -c 'import dask, distributed, PIL' 2>/dev/null ||
  { echo "bench/dask/run.sh: $py cannot import dask/distributed/PIL; run scripts/install-deps.sh" >&2; exit 1; }
ROWS=${ROWS:-3000}
PARTS=${PARTS:-8}
WORK=${WORK:-/tmp/structflow-dask-bench}
# run_peers.sh's FAST_SIM: the client-bound image workload.
SIM=(--max-num-seqs 256 --prefill-ms-per-1k 20 --decode-ms-per-token 10 --decode-batch-slowdown 1
  --tokens-per-image 576)
mkdir -p "$WORK"
cmdline="bash bench/dask/run.sh $*"
started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

sim_pid=""
stop_sim() { if [[ -n "$sim_pid" ]]; then kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; fi; sim_pid=""; }
trap stop_sim EXIT
start_sim() {
  stop_sim
  : >"$WORK/sim.log"
  "$SF" sim --port 0 --seed 1 "${SIM[@]}" >"$WORK/sim.log" 2>&1 &
  sim_pid=$!
  for _ in $(seq 100); do
    url=$(sed -n 's/^listening on //p' "$WORK/sim.log")
    [[ -n "$url" ]] && return 0
    sleep 0.1
  done
  echo "bench/dask/run.sh: the simulator did not start:" >&2; cat "$WORK/sim.log" >&2; exit 1
}

echo "== inputs in $WORK"
images=$(( (ROWS * 2434 + 7461) / 7462 ))
"$py" "$root/bench/peers/gen_data.py" "$WORK" 0 "$ROWS" "$images"
# The same rows as PARTS contiguous JSONL files (Dask reads one per partition, on the worker).
rm -rf "$WORK/parts" && mkdir -p "$WORK/parts"
split -d -a 2 -n "l/$PARTS" --additional-suffix=.jsonl "$WORK/image.jsonl" "$WORK/parts/part-"
schema="$WORK/image_schema.json"
results="$WORK/results.tsv"
: >"$results"

echo "== CLI: structflow run on $ROWS rows"
start_sim
rm -f "$WORK"/cli-out.jsonl*
/usr/bin/time -f "%e %U %S" -o "$WORK/time.txt" "$SF" run "$WORK/image.jsonl" --out "$WORK/cli-out.jsonl" \
  --endpoint "$url" --prompt '{text}' --schema "$schema" --max-tokens 64 \
  --image image --image-max-side 768 --image-quality 85 --progress off >/dev/null 2>"$WORK/cli.log"
read -r wall user sys <"$WORK/time.txt"
job=$("$py" -c "import json,sys; print(json.load(open(sys.argv[1]))['elapsed_s'])" "$WORK/cli-out.jsonl.stats.json")
rows=$("$py" -c "import json,sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l).get('error') is None))" "$WORK/cli-out.jsonl")
printf 'structflow run (CLI, one process)\t%s\t%s\t%s\t%s\t-\n' "$rows" "$job" "$wall" "$(echo "$user + $sys" | bc -l)" >>"$results"

for workers in 1 2; do
  echo "== Dask: structflow.dask.run on $PARTS files, LocalCluster with $workers worker(s)"
  start_sim
  /usr/bin/time -f "%e %U %S" -o "$WORK/time.txt" env PYTHONPATH="$build/python" "$py" \
    "$root/bench/dask/dask_job.py" "$WORK/parts/*.jsonl" "$url" "$schema" "$workers" \
    >"$WORK/dask.txt" 2>"$WORK/dask-$workers.log"
  read -r wall user sys <"$WORK/time.txt"
  read -r rows job start <"$WORK/dask.txt"
  printf 'structflow.dask.run, %s worker process(es)\t%s\t%s\t%s\t%s\t%s\n' "$workers" "$rows" "$job" "$wall" "$(echo "$user + $sys" | bc -l)" "$start" >>"$results"
done
stop_sim

"$py" - "$results" "$cmdline" "$started" "$load_before" "$(nproc)" "$ROWS" "$PARTS" "${SIM[*]}" <<'PYEOF'
import sys
path, cmd, started, load, cores, rows, parts, sim = sys.argv[1:]
lines = [l.rstrip("\n").split("\t") for l in open(path)]
cli_job = float(lines[0][2])
print(f"- command: `{cmd}`; {started}; {cores} cores, load average before: {load}")
print(f"- {rows} rows (client-bound image workload, simulator `{sim}`); Dask: {parts} JSONL files, one partition each")
print()
print("| contender | rows ok | job s | job rows/s | job time vs CLI | process s | CPU s | cluster start s |")
print("|---|---|---|---|---|---|---|---|")
for name, ok, job, wall, cpu, start in lines:
    job, wall, cpu = float(job), float(wall), float(cpu)
    print(f"| {name} | {ok} | {job:.1f} | {int(ok) / job:.0f} | {job / cli_job:.2f}x | {wall:.1f} | {cpu:.1f} | {start if start == '-' else f'{float(start):.1f}'} |")
PYEOF

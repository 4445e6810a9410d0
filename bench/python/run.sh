#!/usr/bin/env bash
# structflow.run from a pandas DataFrame against the CLI on the same rows from a JSONL file, in
# one run (issue 19): a ROWS-row text job (choice constraint, --dialect vllm) against one
# `structflow sim --latency-ms 0` (a separate process, fresh for each contender), rows/s and the
# contender's peak RSS (/usr/bin/time %M).
#   bash bench/python/run.sh [BUILD_DIR]        (default build/release)
# Knobs: ROWS=100000 WORK=/tmp/structflow-python-bench
# Figures for the Python side: "job" is the engine's elapsed time (df.attrs), "call" the whole
# structflow.run() call (converting the DataFrame in and the results back included), "process"
# the interpreter from start to exit (imports, reading the JSONL into pandas).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="$(cd "${1:-$root/build/release}" && pwd)"
SF="$build/src/cli/structflow"
ROWS=${ROWS:-100000}
WORK=${WORK:-/tmp/structflow-python-bench}
py=/usr/bin/python3
mkdir -p "$WORK"
sim_pid=""
stop_sim() { if [[ -n "$sim_pid" ]]; then kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; fi; sim_pid=""; }
trap stop_sim EXIT
start_sim() {
  stop_sim
  : >"$WORK/sim.log"
  "$SF" sim --port 0 --seed 1 --max-num-seqs 256 --latency-ms 0 >"$WORK/sim.log" 2>&1 &
  sim_pid=$!
  for _ in $(seq 100); do
    url=$(grep -o 'http://127.0.0.1:[0-9]*/v1' "$WORK/sim.log" | head -1 || true)
    [[ -n "$url" ]] && return 0
    sleep 0.1
  done
  echo "simulator did not start" >&2; exit 1
}

"$py" - "$WORK/rows.jsonl" "$ROWS" <<'PYEOF'
import json, os, sys
path, n = sys.argv[1], int(sys.argv[2])
if not (os.path.exists(path) and sum(1 for _ in open(path)) == n):
    with open(path, "w") as f:
        for i in range(n):
            f.write(json.dumps({"id": i, "text": f"customer review number {i}: the parcel came on time"}) + "\n")
PYEOF

echo "== CLI: structflow run on $ROWS rows from JSONL"
start_sim
rm -f "$WORK"/cli-out.jsonl*
/usr/bin/time -f "%e %M" -o "$WORK/cli-time.txt" "$SF" run "$WORK/rows.jsonl" --out "$WORK/cli-out.jsonl" \
  --prompt 'Sentiment of: {text}' --choice positive,negative,neutral --dialect vllm --progress off \
  --endpoint "$url" >/dev/null 2>"$WORK/cli.log"
read -r cli_wall cli_rss <"$WORK/cli-time.txt"
cli_job=$("$py" -c "import json,sys; print(json.load(open(sys.argv[1]))['elapsed_s'])" "$WORK/cli-out.jsonl.stats.json")
cli_rows=$(wc -l <"$WORK/cli-out.jsonl")

echo "== Python: structflow.run on the same rows as a pandas DataFrame"
start_sim
/usr/bin/time -f "%e %M" -o "$WORK/py-time.txt" env PYTHONPATH="$build/python" "$py" - "$WORK/rows.jsonl" "$url" \
  >"$WORK/py.txt" <<'PYEOF'
import sys, time
import pandas as pd
import structflow
df = pd.read_json(sys.argv[1], lines=True)
t = time.monotonic()
out = structflow.run(df, prompt="Sentiment of: {text}", choices=["positive", "negative", "neutral"],
                     dialect="vllm", endpoint=sys.argv[2], progress=False)
call = time.monotonic() - t
assert len(out) == len(df) and out["error"].isna().all(), out["error"].dropna().head()
print(len(out), out.attrs["structflow"]["elapsed_s"], call)
PYEOF
read -r py_wall py_rss <"$WORK/py-time.txt"
read -r py_rows py_job py_call <"$WORK/py.txt"

echo "== Python baseline: the same process without the job (imports, read_json)"
/usr/bin/time -f "%e %M" -o "$WORK/base-time.txt" env PYTHONPATH="$build/python" "$py" -c \
  "import sys, pandas as pd, structflow; df = pd.read_json(sys.argv[1], lines=True)" "$WORK/rows.jsonl"
read -r base_wall base_rss <"$WORK/base-time.txt"

"$py" - "$cli_rows" "$cli_job" "$cli_wall" "$cli_rss" "$py_rows" "$py_job" "$py_call" "$py_wall" "$py_rss" "$base_wall" "$base_rss" <<'PYEOF'
import sys
cr, cj, cw, cm, pr, pj, pc, pw, pm, bw, bm = sys.argv[1:]
bw, bm = float(bw), int(bm) / 1024
cr, pr = int(cr), int(pr)
cj, cw, pj, pc, pw = map(float, (cj, cw, pj, pc, pw))
cm, pm = int(cm) / 1024, int(pm) / 1024
print(f"{'contender':<34}{'rows':>8}{'job rows/s':>12}{'call rows/s':>13}{'process rows/s':>16}{'peak RSS MB':>13}")
print(f"{'CLI (JSONL file -> JSONL file)':<34}{cr:>8}{cr / cj:>12.0f}{'-':>13}{cr / cw:>16.0f}{cm:>13.0f}")
print(f"{'Python (DataFrame -> DataFrame)':<34}{pr:>8}{pr / pj:>12.0f}{pr / pc:>13.0f}{pr / pw:>16.0f}{pm:>13.0f}")
print(f"{'Python baseline (no job)':<34}{'-':>8}{'-':>12}{'-':>13}{'-':>16}{bm:>13.0f}   ({bw:.1f} s)")
PYEOF

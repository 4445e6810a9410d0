#!/usr/bin/env bash
# The cost of --confidence (issue 21): request and response bytes and client CPU per row, with it
# off, on (answer) and full, for a choice job and a schema job, in one run against one
# `structflow sim` (vLLM format, zero latency: only the client's own cost shows; the simulator
# shares the machine but its CPU is not counted). Bytes come from the job's stats file (what the
# client sent and received), CPU is the client process's user + system time (/usr/bin/time).
# Each output is checked first: every row answered, with a confidence exactly when asked.
# Usage: bash bench/confidence/run.sh [BUILD_DIR]   Knobs: ROWS (default 20000), WORK.
# Prints a markdown table on stdout; the figures go into bench/RESULTS.md by hand.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build/release}"
sf="$build/src/cli/structflow"
[[ -x "$sf" ]] || { echo "run.sh: $sf not found; build the structflow target first" >&2; exit 1; }
py=/usr/bin/python3
ROWS=${ROWS:-20000}
WORK=${WORK:-/tmp/structflow-confidence-bench}
rm -rf "$WORK" && mkdir -p "$WORK"

"$py" - "$WORK" "$ROWS" <<'PYEOF'
import json, sys
work, rows = sys.argv[1], int(sys.argv[2])
with open(f"{work}/in.jsonl", "w") as f:
    for i in range(rows):
        f.write(json.dumps({"id": i, "text": f"Customer review {i}: the parcel came late but the "
                                               "support team sorted it out within a day."}) + "\n")
json.dump({"type": "object",
           "properties": {"sentiment": {"enum": ["positive", "negative", "neutral"]},
                          "urgent": {"type": "boolean"},
                          "score": {"type": "integer", "minimum": 1, "maximum": 5}},
           "required": ["sentiment", "urgent", "score"], "additionalProperties": False},
          open(f"{work}/schema.json", "w"))
PYEOF

"$sf" sim --port 0 --seed 1 --latency-ms 0 --max-num-seqs 256 >"$WORK/sim.log" 2>&1 &
sim_pid=$!
trap 'kill $sim_pid 2>/dev/null || true; wait $sim_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q '^listening on ' "$WORK/sim.log" && break; sleep 0.1; done
endpoint=$(sed -n 's/^listening on //p' "$WORK/sim.log")
[[ -n "$endpoint" ]] || { echo "run.sh: the simulator did not start" >&2; exit 1; }

echo "rows: $ROWS per job; $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| job | --confidence | request B/row | response B/row | client CPU ms/row | wall s |"
echo "|---|---|---|---|---|---|"
for job in choice schema; do
  if [[ $job == choice ]]; then constraint=(--choice positive,negative,neutral,mixed)
  else constraint=(--schema "$WORK/schema.json"); fi
  for mode in off answer full; do
    out="$WORK/$job-$mode.jsonl"
    conf=()
    [[ $mode != off ]] && conf=("--confidence=$mode")
    /usr/bin/time -f "%U %S %e" -o "$WORK/time" "$sf" run "$WORK/in.jsonl" --out "$out" \
      --endpoint "$endpoint" --prompt '{text}' "${constraint[@]}" "${conf[@]}" \
      --concurrency 256 --progress off >/dev/null 2>"$WORK/err" || { cat "$WORK/err" >&2; exit 1; }
    "$py" - "$out.stats.json" "$WORK/time" "$job" "$mode" "$ROWS" "$out" <<'PYEOF'
import json, sys
stats = json.load(open(sys.argv[1]))
user, system, wall = map(float, open(sys.argv[2]).read().split()[-3:])
rows = int(sys.argv[5])
assert stats["rows"]["succeeded"] == rows, stats["rows"]
# Right before fast: every row has its confidence (or none, without --confidence).
for line in open(sys.argv[6]):
    r = json.loads(line)
    assert (r.get("confidence") is not None) == (sys.argv[4] != "off"), r
    assert ("confidence_distribution" in r) == (sys.argv[4] == "full"), r
print(f"| {sys.argv[3]} | {sys.argv[4]} | {stats['bytes']['sent'] / rows:.0f} | "
      f"{stats['bytes']['received'] / rows:.0f} | {1000 * (user + system) / rows:.3f} | {wall:.1f} |")
PYEOF
  done
done

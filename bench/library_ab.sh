#!/usr/bin/env bash
# A/B of two structflow binaries in ONE run on this machine (issue 15, the engine as a library):
#  1. resume memory: a 1,000,000-row text job whose checkpoint already holds 999,000 rows (made
#     once with --limit 999000, then copied back before each contender): peak RSS of the resume;
#  2. client CPU per row on run_peers.sh's text workload (schema {sentiment, score},
#     --max-tokens 64, the simulator at --latency-ms 0, adaptive concurrency), A and B
#     alternated ROUNDS times, a fresh simulator for each run.
#   bash bench/library_ab.sh BEFORE_BINARY AFTER_BINARY
# Knobs: ROWS=1000000 DONE=999000 TEXT_ROWS=100000 ROUNDS=2 WORK=/tmp/structflow-library-ab
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
A=$1
B=$2
ROWS=${ROWS:-1000000}
DONE=${DONE:-999000}
TEXT_ROWS=${TEXT_ROWS:-100000}
ROUNDS=${ROUNDS:-2}
WORK=${WORK:-/tmp/structflow-library-ab}
py=/usr/bin/python3
mkdir -p "$WORK"
sim_pid=""
stop_sim() { if [[ -n "$sim_pid" ]]; then kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; fi; sim_pid=""; }
trap stop_sim EXIT
start_sim() {
  stop_sim
  "$B" sim --port 0 --seed 1 --max-num-seqs 256 --latency-ms 0 >"$WORK/sim.log" 2>&1 &
  sim_pid=$!
  for _ in $(seq 100); do
    url=$(grep -o 'http://127.0.0.1:[0-9]*/v1' "$WORK/sim.log" | head -1 || true)
    [[ -n "$url" ]] && return 0
    sleep 0.1
  done
  echo "simulator did not start" >&2; exit 1
}

echo "== 1. resume of $ROWS rows with $DONE in the checkpoint"
"$py" - "$WORK/big.jsonl" "$ROWS" <<'PYEOF'
import json, os, sys
path, n = sys.argv[1], int(sys.argv[2])
if not (os.path.exists(path) and sum(1 for _ in open(path)) == n):
    with open(path, "w") as f:
        for i in range(n):
            f.write(json.dumps({"id": i, "text": f"customer review number {i}: the parcel came on time"}) + "\n")
PYEOF
job=("$WORK/big.jsonl" --out "$WORK/big-out.jsonl" --prompt 'Sentiment of: {text}'
  --choice positive,negative,neutral --dialect vllm --progress off)
# Each binary resumes a checkpoint it wrote itself (a newer one also reads an older one's, but
# not the other way round), made once per binary and kept in $WORK.
done_checkpoint() { echo "$WORK/done-$(sha1sum "$1" | cut -c1-12).checkpoint"; }
for bin in "$A" "$B"; do
  if [[ ! -f "$(done_checkpoint "$bin")" ]]; then
    start_sim
    rm -f "$WORK"/big-out.jsonl*
    "$bin" run "${job[@]}" --endpoint "$url" --limit "$DONE" >/dev/null
    cp "$WORK/big-out.jsonl.checkpoint" "$(done_checkpoint "$bin")"
  fi
done
for bin in "$A" "$B"; do
  start_sim
  rm -f "$WORK"/big-out.jsonl*
  cp "$(done_checkpoint "$bin")" "$WORK/big-out.jsonl.checkpoint"
  /usr/bin/time -f "%e %U %S %M" -o "$WORK/time.txt" "$bin" run "${job[@]}" --endpoint "$url" >/dev/null
  read -r wall user sys rss <"$WORK/time.txt"
  resumed=$("$py" -c "import json; s=json.load(open('$WORK/big-out.jsonl.stats.json')); print(s['rows']['resumed_from_checkpoint'], s['rows']['sent_this_run'])")
  echo "resume  $bin: peak RSS $((rss / 1024)) MB, wall ${wall} s, user ${user} s, sys ${sys} s (resumed, sent: $resumed)"
done

echo "== 2. text workload, $TEXT_ROWS rows, client CPU per row (A/B x $ROUNDS)"
"$py" "$root/bench/peers/gen_data.py" "$WORK" "$TEXT_ROWS" 0 0 >/dev/null
for round in $(seq "$ROUNDS"); do
  for bin in "$A" "$B"; do
    start_sim
    rm -f "$WORK"/text-out.jsonl*
    /usr/bin/time -f "%e %U %S %M" -o "$WORK/time.txt" "$bin" run "$WORK/text.jsonl" \
      --out "$WORK/text-out.jsonl" --endpoint "$url" --prompt '{text}' \
      --schema "$WORK/text_schema.json" --max-tokens 64 --progress off >/dev/null
    read -r wall user sys rss <"$WORK/time.txt"
    rows=$(wc -l <"$WORK/text-out.jsonl")
    [[ "$rows" == "$TEXT_ROWS" ]] || { echo "$bin wrote $rows rows, expected $TEXT_ROWS" >&2; exit 1; }
    "$py" -c "
u, s, w, n = $user, $sys, $wall, $rows
print(f'text  round $round  $bin: {(u + s) / n * 1e6:.1f} us CPU/row (user {u:.2f} s, sys {s:.2f} s), {n / w:.0f} rows/s, peak RSS {$rss // 1024} MB')"
  done
done
stop_sim

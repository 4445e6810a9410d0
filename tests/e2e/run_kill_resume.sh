#!/usr/bin/env bash
# kill -9 at random moments, then resume: every row comes out exactly once and succeeded, and the
# simulator saw at most the requests in flight at each kill sent twice.
# Usage: run_kill_resume.sh STRUCTFLOW [ROWS] [KILLS]
STRUCTFLOW=$1
ROWS=${2:-5000}
KILLS=${3:-3}
source "$(dirname "$0")/lib.sh"

CONC=64
start_sim --latency-ms 200 --max-num-seqs 256 --seed 5
$PY - "$WORK/in.jsonl" "$ROWS" <<'PYEOF'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write(json.dumps({"n": i, "text": f"item number {i}"}) + "\n")
PYEOF
# `exec` so that, started with &, $! is the structflow process itself and kill -9 reaches it.
run() {
  exec "$STRUCTFLOW" run "$WORK/in.jsonl" --out "$WORK/out.jsonl" --endpoint "$SIM_URL" --prompt 'Classify: {text}' \
    --choice red,green,blue --concurrency $CONC --progress off --log-level warn "$@"
}
# Each run does at most one probe request (the dialect is remembered in the checkpoint after).
kills_done=0
for k in $(seq 1 "$KILLS"); do
  run & pid=$!
  # A random moment: between 0.5 and 2.5 s in (the whole job takes about 16 s).
  sleep "$($PY -c "import random; print(round(random.uniform(0.5, 2.5), 2))")"
  kill -9 "$pid" 2>/dev/null && kills_done=$((kills_done + 1))
  wait "$pid" 2>/dev/null || true
  [ ! -e "$WORK/out.jsonl" ] || fail "an output file appeared before the job finished"
done
(run) || fail "the resumed run failed"
sent=$(sim_metric structflow_sim_chat_requests_total)
$PY - "$WORK/out.jsonl" "$ROWS" "$sent" "$kills_done" "$CONC" <<'PYEOF'
import json, sys
path, rows, sent, kills, conc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
out = [json.loads(l) for l in open(path)]
assert [r["n"] for r in out] == list(range(rows)), "rows missing, duplicated or out of order"
assert all(r["error"] is None and r["output"] in ("red", "green", "blue") for r in out), "a row failed"
# In flight at a kill: up to `conc` requests sent and unanswered, plus answers received but not
# yet made durable: the writer commits when its queue runs dry and at least every 100 ms, so up to
# 100 ms of answers (64 in flight / 0.2 s = 320 rows/s: 32) plus the fsync under way. The first
# run also sends the two dialect probes; later runs take the dialect from the checkpoint.
window = 48
probes = 2
limit = rows + kills * (conc + window) + probes
print(f"{rows} rows, {kills} kills: the simulator saw {sent} chat requests (at most {limit} allowed)")
assert sent <= limit, f"{sent - rows - probes} requests were sent twice, more than {kills} x {conc} in flight"
PYEOF
echo "run_kill_resume: ok"

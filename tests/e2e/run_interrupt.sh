#!/usr/bin/env bash
# Ctrl-C: stop sending, let in-flight requests finish, keep them, print how to resume, exit 130;
# the same command then finishes the job, and nothing that finished was sent twice.
STRUCTFLOW=$1
source "$(dirname "$0")/lib.sh"

ROWS=3000
start_sim --latency-ms 200 --max-num-seqs 256 --seed 9
$PY - "$WORK/in.jsonl" "$ROWS" <<'PYEOF'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write(json.dumps({"n": i, "text": f"row {i}"}) + "\n")
PYEOF
args=("$WORK/in.jsonl" --out "$WORK/out.jsonl" --endpoint "$SIM_URL" --prompt 'Label: {text}' --choice x,y
  --concurrency 32 --progress off)
"$STRUCTFLOW" run "${args[@]}" 2>"$WORK/first.err" &
pid=$!
sleep 1.5
# SIGTERM takes the same path as Ctrl-C (a background job of a script has SIGINT ignored).
kill -TERM "$pid"
start=$SECONDS
set +e
wait "$pid"
code=$?
set -e
[ "$code" = 130 ] || { cat "$WORK/first.err"; fail "exit code $code after Ctrl-C, expected 130"; }
[ $((SECONDS - start)) -le 5 ] || fail "took $((SECONDS - start)) s to stop"
grep -q "run the same command again" "$WORK/first.err" || { cat "$WORK/first.err"; fail "no resume hint"; }
[ ! -e "$WORK/out.jsonl" ] || fail "an incomplete output was published"
"$STRUCTFLOW" run "${args[@]}" 2>"$WORK/second.err" || { cat "$WORK/second.err"; fail "resume failed"; }
sent=$(sim_metric structflow_sim_chat_requests_total)
$PY - "$WORK/out.jsonl" "$ROWS" "$sent" <<'PYEOF'
import json, sys
out = [json.loads(l) for l in open(sys.argv[1])]
rows, sent = int(sys.argv[2]), int(sys.argv[3])
assert [r["n"] for r in out] == list(range(rows)), "rows missing, duplicated or out of order"
assert all(r["error"] is None for r in out)
# In-flight requests were allowed to finish and were kept: only the two dialect probes are extra.
print(f"{rows} rows, {sent} chat requests")
assert sent <= rows + 2, f"{sent - rows - 2} requests sent twice after a graceful stop"
PYEOF
echo "run_interrupt: ok"

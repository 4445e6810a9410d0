#!/usr/bin/env bash
# The job under faults of its own: a checkpoint that cannot be written (disk full) stops sending
# at once and keeps what finished; a 200 with a garbage body gets --max-attempts tries and is
# sent again on resume; a truncated answer's attempts count the re-ask; temporary output files
# left by a killed run are removed by the next one.
STRUCTFLOW=$1
source "$(dirname "$0")/lib.sh"

$PY - "$WORK/in.jsonl" <<'PYEOF'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(40000):
        f.write(json.dumps({"n": i, "text": f"review {i}: fine"}) + "\n")
PYEOF
head -n 20 "$WORK/in.jsonl" >"$WORK/small.jsonl"
run() {  # run OUT INPUT extra-args... (--dialect vllm: no probe requests in the counts)
  local out=$1 input=$2
  shift 2
  "$STRUCTFLOW" run "$input" --out "$WORK/$out" --endpoint "$SIM_URL" --prompt 'Sentiment: {text}' \
    --choice positive,negative --dialect vllm --progress off "$@"
}

# 1. Disk full: the checkpoint may not grow past ~1 MB (ulimit -f counts 1 KiB blocks in bash;
# SIGXFSZ ignored, so writes fail with EFBIG as on a full disk).
start_sim --latency-ms 5 --max-num-seqs 512
set +e
(trap '' XFSZ; ulimit -f 1024; run full.jsonl "$WORK/in.jsonl" --concurrency 256 2>"$WORK/full.err")
code=$?
set -e
[ "$code" = 1 ] || { cat "$WORK/full.err"; fail "disk full: exit code $code, expected 1"; }
grep -q "checkpoint" "$WORK/full.err" || { cat "$WORK/full.err"; fail "disk full: the message does not name the checkpoint"; }
sent=$(sim_metric structflow_sim_chat_requests_total)
saved=$($PY -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from rows').fetchone()[0])" "$WORK/full.jsonl.checkpoint")
echo "disk full: $saved rows saved, $sent requests sent of 40000"
[ "$saved" -gt 0 ] || fail "disk full: nothing was kept"
# Sending stops within about a second: at ~256 in flight and 5 ms a request that is well under
# 40,000 (before the fix the job sent every row).
[ "$sent" -lt $((saved + 20000)) ] || fail "disk full: $sent requests sent for $saved rows saved"
# The same command with room to write finishes the job, sending only what is missing.
before=$sent
run full.jsonl "$WORK/in.jsonl" --concurrency 256 2>"$WORK/full2.err" || { cat "$WORK/full2.err"; fail "resume after disk full failed"; }
resent=$(( $(sim_metric structflow_sim_chat_requests_total) - before ))
[ "$(jsonl_rows "$WORK/full.jsonl")" = 40000 ] || fail "resume after disk full: rows missing"
[ "$resent" -le $((40000 - saved)) ] || fail "resume after disk full re-sent saved rows ($resent)"

# 2. A 200 with a garbage body: --max-attempts tries, then sent again on resume.
start_sim --latency-ms 1 --faults garbage:1
set +e
run garbage.jsonl "$WORK/small.jsonl" --max-attempts 4 --no-fail-fast 2>"$WORK/garbage.err"
code=$?
set -e
[ "$code" = 3 ] || { cat "$WORK/garbage.err"; fail "garbage: exit code $code, expected 3"; }
[ "$(sim_metric structflow_sim_chat_requests_total)" = 80 ] || fail "garbage: $(sim_metric structflow_sim_chat_requests_total) requests for 20 rows at 4 attempts"
$PY - "$WORK/garbage.jsonl" <<'PYEOF'
import json, sys
for r in map(json.loads, open(sys.argv[1])):
    assert r["error"]["kind"] == "invalid_response" and r["error"]["attempts"] == 4, r
PYEOF
start_sim --latency-ms 1
run garbage.jsonl "$WORK/small.jsonl" --max-attempts 4 2>"$WORK/garbage2.err" || { cat "$WORK/garbage2.err"; fail "garbage: the resume did not succeed"; }
[ "$(sim_metric structflow_sim_chat_requests_total)" = 20 ] || fail "garbage: the resume sent $(sim_metric structflow_sim_chat_requests_total) requests, not the 20 failed rows"

# 3. Truncated answers: the re-ask with doubled max_tokens is counted.
start_sim --latency-ms 1 --faults length:1
set +e
run cut.jsonl "$WORK/small.jsonl" --no-fail-fast 2>"$WORK/cut.err"
set -e
$PY - "$WORK/cut.jsonl" <<'PYEOF'
import json, sys
for r in map(json.loads, open(sys.argv[1])):
    assert r["error"]["kind"] == "truncated" and r["error"]["attempts"] == 2, r
PYEOF

# 4. A temporary output file of a killed run (its PID gone) is removed by the next run; one of a
# running process is kept.
(exit 0) & dead=$!
wait "$dead"
echo partial >"$WORK/tidy.jsonl.tmp-$dead"
echo partial >"$WORK/tidy.jsonl.tmp-$$"
start_sim --latency-ms 1
run tidy.jsonl "$WORK/small.jsonl" 2>"$WORK/tidy.err" || { cat "$WORK/tidy.err"; fail "tidy run failed"; }
[ ! -e "$WORK/tidy.jsonl.tmp-$dead" ] || fail "the temporary file of a dead run is still there"
[ -e "$WORK/tidy.jsonl.tmp-$$" ] || fail "the temporary file of a live process was removed"
echo "run_job_faults: ok"

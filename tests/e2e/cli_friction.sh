#!/usr/bin/env bash
# What a new user hits first (issue 16): a mistyped command names the one meant; a second run
# with the same --out while the first still runs is refused instead of sending every row twice;
# a missing output folder says to create it.
STRUCTFLOW=$1
source "$(dirname "$0")/lib.sh"

set +e
"$STRUCTFLOW" rn in.jsonl 2>"$WORK/typo.err"
code=$?
set -e
[ "$code" = 2 ] || fail "mistyped command: exit code $code, expected 2"
grep -q "did you mean 'run'" "$WORK/typo.err" || { cat "$WORK/typo.err"; fail "no suggestion for 'rn'"; }

$PY - "$WORK" <<'PYEOF'
import json, sys
with open(f"{sys.argv[1]}/in.jsonl", "w") as f:
    for i in range(400):
        f.write(json.dumps({"text": f"t{i}"}) + "\n")
PYEOF

# One slow job holds the checkpoint; a second one with the same --out must stop at once.
start_sim --latency-ms 200 --model m
"$STRUCTFLOW" run "$WORK/in.jsonl" --out "$WORK/out.jsonl" --endpoint "$SIM_URL" \
  --prompt '{text}' --choice yes,no --concurrency 4 --progress off 2>"$WORK/first.err" &
first=$!
for _ in $(seq 1 100); do
  [ -e "$WORK/out.jsonl.checkpoint" ] && break
  sleep 0.05
done
[ -e "$WORK/out.jsonl.checkpoint" ] || fail "the first run made no checkpoint"
sleep 0.3
set +e
timeout 30 "$STRUCTFLOW" run "$WORK/in.jsonl" --out "$WORK/out.jsonl" --endpoint "$SIM_URL" \
  --prompt '{text}' --choice yes,no --progress off 2>"$WORK/second.err"
code=$?
set -e
[ "$code" = 1 ] || { cat "$WORK/second.err"; fail "second run: exit code $code, expected 1"; }
grep -q "in use by another structflow run" "$WORK/second.err" ||
  { cat "$WORK/second.err"; fail "second run: the message does not say the checkpoint is in use"; }
kill -INT "$first"
wait "$first" || true

set +e
"$STRUCTFLOW" run "$WORK/in.jsonl" --out "$WORK/no/such/dir/out.jsonl" --endpoint "$SIM_URL" \
  --prompt '{text}' --choice yes,no --progress off 2>"$WORK/nodir.err"
code=$?
set -e
[ "$code" = 1 ] || { cat "$WORK/nodir.err"; fail "missing folder: exit code $code, expected 1"; }
grep -q "mkdir -p" "$WORK/nodir.err" || { cat "$WORK/nodir.err"; fail "missing folder: no mkdir hint"; }
echo "cli_friction: ok"

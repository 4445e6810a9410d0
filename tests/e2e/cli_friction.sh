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
# A Pydantic set[str] field (uniqueItems) runs: the server gets the rest of the schema and the
# answer is checked here; --schema-strict refuses it instead.
cat >"$WORK/tags.json" <<'JSON'
{"title": "Tags", "type": "object", "required": ["tags"],
 "properties": {"tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": true}}}
JSON
head -20 "$WORK/in.jsonl" >"$WORK/in20.jsonl"
start_sim --latency-ms 1 --model m
"$STRUCTFLOW" run "$WORK/in20.jsonl" --out "$WORK/tags.jsonl" --endpoint "$SIM_URL" \
  --prompt '{text}' --schema "$WORK/tags.json" --progress off 2>"$WORK/tags.err" ||
  { cat "$WORK/tags.err"; fail "a schema with uniqueItems did not run"; }
grep -q "checked on each answer here" "$WORK/tags.err" ||
  { cat "$WORK/tags.err"; fail "uniqueItems was not said to be checked here"; }
$PY - "$WORK/tags.jsonl" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 20, len(rows)
for r in rows:
    if r["error"] is None:
        tags = r["output"]["tags"]
        assert len(tags) == len(set(tags)), r
PYEOF
set +e
"$STRUCTFLOW" run "$WORK/in20.jsonl" --out "$WORK/tags_strict.jsonl" --endpoint "$SIM_URL" \
  --prompt '{text}' --schema "$WORK/tags.json" --schema-strict --progress off 2>"$WORK/strict.err"
code=$?
set -e
[ "$code" = 1 ] || { cat "$WORK/strict.err"; fail "--schema-strict: exit code $code, expected 1"; }
grep -q "uniqueItems" "$WORK/strict.err" || { cat "$WORK/strict.err"; fail "--schema-strict: no keyword named"; }
# The output is checked before anything is sent: .json is refused with the .jsonl fix, and the
# server sees no chat request.
before=$(sim_metric structflow_sim_chat_requests_total)
set +e
"$STRUCTFLOW" run "$WORK/in20.jsonl" --out "$WORK/res.json" --endpoint "$SIM_URL" \
  --prompt '{text}' --choice yes,no --progress off 2>"$WORK/json.err"
code=$?
set -e
[ "$code" = 1 ] || { cat "$WORK/json.err"; fail "--out res.json: exit code $code, expected 1"; }
grep -q "res.jsonl" "$WORK/json.err" || { cat "$WORK/json.err"; fail "--out res.json: no .jsonl fix"; }
[ "$(sim_metric structflow_sim_chat_requests_total)" = "$before" ] || fail "--out res.json: requests were sent"

# CSV pass-through keeps ZIP codes; a header-only CSV warns; --bad-lines skips a broken line.
printf 'zip,text\n01234,a\n00042,b\n' >"$WORK/zip.csv"
"$STRUCTFLOW" run "$WORK/zip.csv" --out "$WORK/zip.jsonl" --endpoint "$SIM_URL" --prompt '{text}' \
  --choice yes,no --progress off --schema-override zip=string 2>/dev/null
grep -q '"zip":"01234"' "$WORK/zip.jsonl" || { cat "$WORK/zip.jsonl"; fail "run changed the ZIP code"; }
printf 'zip,text\n' >"$WORK/header.csv"
"$STRUCTFLOW" run "$WORK/header.csv" --out "$WORK/header.jsonl" --endpoint "$SIM_URL" \
  --prompt '{text}' --choice yes,no --progress off 2>"$WORK/header.err"
grep -q "has no rows" "$WORK/header.err" || { cat "$WORK/header.err"; fail "header-only CSV: no warning"; }
printf '{"text":"a"}\n{broken\n{"text":"c"}\n' >"$WORK/broken.jsonl"
"$STRUCTFLOW" run "$WORK/broken.jsonl" --out "$WORK/broken_out.jsonl" --endpoint "$SIM_URL" \
  --prompt '{text}' --choice yes,no --progress off --bad-lines "$WORK/bad.jsonl" 2>"$WORK/broken.err"
[ "$(jsonl_rows "$WORK/broken_out.jsonl")" = 2 ] || fail "--bad-lines: expected 2 output rows"
grep -q "skipped 1 malformed line" "$WORK/broken.err" || { cat "$WORK/broken.err"; fail "--bad-lines: not said"; }

# Failures are shown by kind with an example at the end; --retry-failed=KIND re-sends only those.
start_sim --latency-ms 1 --model m --faults 500:1
set +e
"$STRUCTFLOW" run "$WORK/in20.jsonl" --out "$WORK/fails.jsonl" --endpoint "$SIM_URL" \
  --prompt '{text}' --choice yes,no --dialect openai --progress off --max-attempts 1 \
  --no-fail-fast 2>"$WORK/fails.err"
code=$?
set -e
[ "$code" = 3 ] || { cat "$WORK/fails.err"; fail "failing rows: exit code $code, expected 3"; }
grep -q "http_status: 20 rows this run, e.g. row .*HTTP 500" "$WORK/fails.err" ||
  { cat "$WORK/fails.err"; fail "no failure summary by kind"; }
grep -q -- "--retry-failed=KIND" "$WORK/fails.err" || { cat "$WORK/fails.err"; fail "no --retry-failed hint"; }
# --row-id NAME: the numbers error messages cite, as a first column; a clash is refused.
start_sim --latency-ms 1 --model m
"$STRUCTFLOW" run "$WORK/zip.csv" --out "$WORK/rid.jsonl" --endpoint "$SIM_URL" --prompt '{text}' \
  --choice yes,no --progress off --row-id rid 2>/dev/null
head -1 "$WORK/rid.jsonl" | grep -q '^{"rid":0,' || { cat "$WORK/rid.jsonl"; fail "--row-id: no first column"; }
set +e
"$STRUCTFLOW" run "$WORK/zip.csv" --out "$WORK/rid2.jsonl" --endpoint "$SIM_URL" --prompt '{text}' \
  --choice yes,no --progress off --row-id zip 2>"$WORK/rid.err"
code=$?
set -e
[ "$code" = 1 ] && grep -q "already has a column 'zip'" "$WORK/rid.err" ||
  { cat "$WORK/rid.err"; fail "--row-id zip: not refused"; }
# A column the prompt uses that is null in some rows is said once, with the count.
printf '{"text":"a","ctx":"x"}\n{"text":"b","ctx":null}\n{"text":"c"}\n' >"$WORK/nulls.jsonl"
"$STRUCTFLOW" run "$WORK/nulls.jsonl" --out "$WORK/nulls_out.jsonl" --endpoint "$SIM_URL" \
  --prompt '{text} {ctx}' --choice yes,no --progress off 2>"$WORK/nulls.err"
[ "$(grep -c 'was null in 2 of 3 rows' "$WORK/nulls.err")" = 1 ] ||
  { cat "$WORK/nulls.err"; fail "null prompt column: not said once with the count"; }
echo "cli_friction: ok"

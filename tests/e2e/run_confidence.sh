#!/usr/bin/env bash
# End to end: `run --confidence[=full]` against `structflow sim`: the confidence columns in
# JSONL and CSV for a choice and a schema, a resume that turns --confidence on (rows re-sent), a
# server without log-probabilities (Ollama: null and one warning, no row errors), and the refusals.
STRUCTFLOW=$1
source "$(dirname "$0")/lib.sh"

start_sim --seed 7 --latency-ms 2
$PY - "$WORK" <<'PYEOF'
import json, sys
with open(f"{sys.argv[1]}/in.jsonl", "w") as f:
    for i in range(30):
        f.write(json.dumps({"id": i, "text": f"review {i}"}) + "\n")
PYEOF

check_choice() {  # FILE FORMAT: every row's confidence is its value's share of the distribution
  $PY - "$1" "$2" <<'PYEOF'
import csv, json, math, sys
path, fmt = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(path)] if fmt == "jsonl" else list(csv.DictReader(open(path)))
assert len(rows) == 30, len(rows)
for r in rows:
    dist = r["confidence_distribution"]
    if fmt == "csv":
        dist = json.loads(dist)  # nested values are JSON text in CSV
    conf = float(r["confidence"])
    assert [d["value"] for d in dist] == ["positive", "negative", "neutral"], dist
    assert abs(sum(d["p"] for d in dist) - 1) < 1e-9, dist
    chosen = [d["p"] for d in dist if d["value"] == r["output"]]
    assert len(chosen) == 1 and abs(chosen[0] - conf) < 1e-12, (r, dist)
    assert 0 < conf <= 1
print("ok")
PYEOF
}

"$STRUCTFLOW" run "$WORK/in.jsonl" --out "$WORK/c.jsonl" --endpoint "$SIM_URL" --prompt '{text}' \
  --choice positive,negative,neutral --confidence=full --progress off 2>"$WORK/c.err" ||
  { cat "$WORK/c.err"; fail "the choice job with --confidence=full failed"; }
check_choice "$WORK/c.jsonl" jsonl >/dev/null || fail "choice confidences (JSONL) are wrong"
"$STRUCTFLOW" run "$WORK/in.jsonl" --out "$WORK/c.csv" --endpoint "$SIM_URL" --prompt '{text}' \
  --choice positive,negative,neutral --confidence=full --progress off 2>/dev/null ||
  fail "the CSV choice job failed"
check_choice "$WORK/c.csv" csv >/dev/null || fail "choice confidences (CSV) are wrong"

# A schema: one number per enum and boolean field, nested objects as nested structs.
cat >"$WORK/s.json" <<'JSON'
{"type": "object",
 "properties": {"tone": {"enum": ["calm", "angry"]}, "spam": {"type": "boolean"},
                "topic": {"type": "string"}},
 "required": ["tone", "spam", "topic"]}
JSON
"$STRUCTFLOW" run "$WORK/in.jsonl" --out "$WORK/s.jsonl" --endpoint "$SIM_URL" --prompt '{text}' \
  --schema "$WORK/s.json" --confidence --progress off 2>/dev/null || fail "the schema job failed"
$PY - "$WORK/s.jsonl" <<'PYEOF' || fail "schema confidences are wrong"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 30
for r in rows:
    c = r["confidence"]
    assert set(c) == {"tone", "spam"}, c
    assert all(0 < v <= 1 for v in c.values()), c
    assert "confidence_distribution" not in r
PYEOF

# A resume that turns --confidence on sends the rows again (their answers had no log-probabilities).
"$STRUCTFLOW" run "$WORK/in.jsonl" --out "$WORK/r.jsonl" --endpoint "$SIM_URL" --prompt '{text}' \
  --choice yes,no --progress off 2>/dev/null || fail "the plain job failed"
before=$(sim_metric structflow_sim_chat_requests_total)
"$STRUCTFLOW" run "$WORK/in.jsonl" --out "$WORK/r.jsonl" --endpoint "$SIM_URL" --prompt '{text}' \
  --choice yes,no --confidence --progress off 2>/dev/null || fail "the resumed job failed"
after=$(sim_metric structflow_sim_chat_requests_total)
[ $((after - before)) = 30 ] || fail "turning --confidence on re-sent $((after - before)) rows, not 30"
$PY -c "
import json, sys
rows = [json.loads(l) for l in open('$WORK/r.jsonl')]
assert all(r['confidence'] is not None for r in rows), rows[0]
" || fail "the resumed rows have no confidence"

# Ollama's OpenAI layer (as simulated) returns no log-probabilities: null, one warning, exit 0.
start_sim --api ollama --seed 7 --latency-ms 2
"$STRUCTFLOW" run "$WORK/in.jsonl" --out "$WORK/o.jsonl" --endpoint "$SIM_URL" --prompt '{text}' \
  --choice yes,no --confidence --progress off 2>"$WORK/o.err" ||
  { cat "$WORK/o.err"; fail "the Ollama job failed"; }
[ "$(grep -c -- '--confidence' "$WORK/o.err")" = 1 ] || { cat "$WORK/o.err"; fail "expected one --confidence warning"; }
grep -q "Ollama" "$WORK/o.err" || fail "the warning does not say what Ollama does"
$PY -c "
import json
rows = [json.loads(l) for l in open('$WORK/o.jsonl')]
assert len(rows) == 30 and all(r['confidence'] is None and r['error'] is None for r in rows), rows[0]
" || fail "Ollama rows must have a null confidence and no error"

# Refusals name the fix.
set +e
"$STRUCTFLOW" run "$WORK/in.jsonl" --out "$WORK/x.jsonl" --endpoint "$SIM_URL" --prompt '{text}' \
  --choice yes,no --confidence=maybe 2>"$WORK/x.err"
code=$?
set -e
[ "$code" != 0 ] && grep -q "use off, answer" "$WORK/x.err" || { cat "$WORK/x.err"; fail "--confidence=maybe was not refused clearly"; }
set +e
"$STRUCTFLOW" run "$WORK/in.jsonl" --out "$WORK/x.jsonl" --endpoint "$SIM_URL" --prompt '{text}' \
  --regex '[a-z]+' --confidence 2>"$WORK/x.err"
code=$?
set -e
[ "$code" != 0 ] && grep -q "drop --confidence" "$WORK/x.err" || { cat "$WORK/x.err"; fail "--regex --confidence was not refused clearly"; }
echo "run_confidence: ok"

#!/usr/bin/env bash
# `structflow eval` and `structflow report` on hand-written results that carry a confidence
# column (issue 21): the calibration figures match the ones worked out by hand below, in JSONL,
# CSV and Parquet; --min-confidence counts abstentions; a schema job's confidence.FIELD is taken
# for --pred output.FIELD; a confidence outside [0, 1] names the row and the column.
#
# Ten scored rows with a confidence (R right, W wrong), plus a failed row, a row without a key and
# a scored row whose confidence is null (none of these three in the calibration):
#   0.95 R, 0.95 R, 0.85 R, 0.85 W, 0.75 R, 0.65 W, 0.55 R, 0.55 W, 0.35 W, 1.0 R
# 10 bins: [0.3,0.4) 1 row acc 0 (gap .35); [0.5,0.6) 2 rows acc .5 (gap .05); [0.6,0.7) 1 row
# acc 0 (gap .65); [0.7,0.8) 1 row acc 1 (gap .25); [0.8,0.9) 2 rows acc .5 (gap .35);
# [0.9,1.0] 3 rows conf 2.9/3 acc 1 (gap .1/3).
# ECE = (.35 + 2*.05 + .65 + .25 + 2*.35 + 3*.1/3) / 10 = 0.215; Brier = 1.8625 / 10 = 0.18625.
# Accuracy at coverage: 50% -> 5 rows, 4 right (0.8); 80% -> 8 rows cutting the 0.55 pair, 5.5
# right (0.6875); 100% -> 0.6. --min-confidence 0.8: 5 answered (4 right), 5 abstained.
STRUCTFLOW=$1
source "$(dirname "$0")/lib.sh"

$PY - "$WORK" <<'PYEOF'
import json, sys
w = sys.argv[1]
rows = [(0.95, 1), (0.95, 1), (0.85, 1), (0.85, 0), (0.75, 1), (0.65, 0), (0.55, 1), (0.55, 0),
        (0.35, 0), (1.0, 1)]
with open(f"{w}/choice.jsonl", "w") as f:
    for i, (c, r) in enumerate(rows):
        f.write(json.dumps({"id": i, "key": "Answer: A", "output": "A" if r else "B",
                            "confidence": c, "error": None}) + "\n")
    f.write(json.dumps({"id": 10, "key": "Answer: B", "output": None, "confidence": None,
                        "error": {"kind": "timeout", "message": "no answer", "http_status": 0,
                                  "attempts": 3}}) + "\n")
    f.write(json.dumps({"id": 11, "key": None, "output": "A", "confidence": 0.9,
                        "error": None}) + "\n")
    f.write(json.dumps({"id": 12, "key": "Answer: C", "output": "c", "confidence": None,
                        "error": None}) + "\n")
# The same rows as a schema job: the answer's confidence under confidence.answer, another
# field's beside it (which must not be taken).
with open(f"{w}/schema.jsonl", "w") as f:
    for i, (c, r) in enumerate(rows):
        f.write(json.dumps({"key": "A", "output": {"answer": "A" if r else "B", "sure": True},
                            "confidence": {"answer": c, "sure": 0.5}, "error": None}) + "\n")
with open(f"{w}/bad.jsonl", "w") as f:
    for i, c in enumerate([0.5, 0.9, 0.1, 1.2]):
        f.write(json.dumps({"key": "A", "output": "A", "confidence": c}) + "\n")
with open(f"{w}/plain.jsonl", "w") as f:
    f.write(json.dumps({"key": "A", "output": "A"}) + "\n")
PYEOF

# check_json FILE PREFIX: the hand-computed figures, under PREFIX (a list of keys) in FILE.
check_json() {
  $PY - "$1" "$2" <<'PYEOF' || fail "eval --json on $1 does not carry the hand-computed calibration"
import json, sys
doc = json.load(open(sys.argv[1]))
for k in json.loads(sys.argv[2]):
    doc = doc[k]
c = doc["calibration"]
def near(a, b, what):
    assert abs(a - b) < 1e-9, f"{what}: {a}, expected {b}"
assert c["rows"] == 10 and c["correct"] == 6, c
near(c["ece"], 0.215, "ECE")
near(c["brier"], 0.18625, "Brier")
near(c["mean_confidence"], 0.745, "mean confidence")
assert [b["rows"] for b in c["bins"]] == [0, 0, 0, 1, 0, 2, 1, 1, 2, 3], c["bins"]
assert c["bins"][0]["accuracy"] is None  # an empty bin has no accuracy
cov = {round(p["coverage"], 2): p for p in c["coverage"]}
near(cov[0.5]["accuracy"], 0.8, "accuracy at 50%")
near(cov[0.8]["accuracy"], 0.6875, "accuracy at 80%")
assert cov[0.8]["rows"] == 8 and cov[0.8]["tied"] == 2, cov[0.8]
near(cov[1.0]["accuracy"], 0.6, "accuracy at 100%")
assert len(c["curve"]) == 100
PYEOF
}

SF="$STRUCTFLOW"
# 1. JSONL, text and JSON.
"$SF" eval "$WORK/choice.jsonl" >"$WORK/text.out" || fail "eval on choice.jsonl failed"
grep -q "expected calibration error (ECE) 21.5%" "$WORK/text.out" || { cat "$WORK/text.out"; fail "no ECE line"; }
grep -q "1 more with a null confidence" "$WORK/text.out" || fail "the null-confidence row is not counted apart"
grep -qE "80%  +8 rows  confidence >= 0.550  accuracy 68.8%  \(2 rows tied at the cut\)" "$WORK/text.out" ||
  { cat "$WORK/text.out"; fail "no accuracy at 80% coverage"; }
"$SF" eval "$WORK/choice.jsonl" --json >"$WORK/choice.json" || fail "eval --json failed"
check_json "$WORK/choice.json" '[]'

# 2. --min-confidence: abstentions, and the main accuracy line says what it includes.
"$SF" eval "$WORK/choice.jsonl" --min-confidence 0.8 >"$WORK/min.out" || fail "eval --min-confidence failed"
grep -q "the 5 below --min-confidence 0.8 included" "$WORK/min.out" || { cat "$WORK/min.out"; fail "the accuracy line does not say it includes abstentions"; }
grep -q "5 rows answered (coverage 50.0%), accuracy 80.0%" "$WORK/min.out" || { cat "$WORK/min.out"; fail "no answered-rows line"; }
"$SF" eval "$WORK/choice.jsonl" --min-confidence 0.8 --json >"$WORK/min.json"
$PY -c "
import json; m = json.load(open('$WORK/min.json'))['calibration']['min_confidence']
assert (m['answered'], m['answered_correct'], m['abstained'], m['abstained_correct']) == (5, 4, 5, 2), m
assert abs(m['coverage'] - 0.5) < 1e-12 and abs(m['accuracy'] - 0.8) < 1e-12, m
" || fail "--min-confidence figures are wrong"

# 3. The same rows in CSV and Parquet give the same figures.
"$SF" convert "$WORK/choice.jsonl" "$WORK/choice.csv" >/dev/null
"$SF" convert "$WORK/choice.jsonl" "$WORK/choice.parquet" >/dev/null
for f in choice.csv choice.parquet; do
  "$SF" eval "$WORK/$f" --json >"$WORK/$f.json" || fail "eval on $f failed"
  check_json "$WORK/$f.json" '[]'
done

# 4. A schema job: --pred output.answer takes confidence.answer; --confidence overrides.
"$SF" eval "$WORK/schema.jsonl" --pred output.answer --json >"$WORK/schema.json" || fail "eval on the schema job failed"
check_json "$WORK/schema.json" '[]'
$PY -c "import json; assert json.load(open('$WORK/schema.json'))['calibration']['column'] == 'confidence.answer'" ||
  fail "the schema job's calibration is not of confidence.answer"
"$SF" eval "$WORK/schema.jsonl" --pred output.answer --confidence confidence.sure --json >"$WORK/sure.json"
$PY -c "
import json; c = json.load(open('$WORK/sure.json'))['calibration']
assert c['column'] == 'confidence.sure' and abs(c['mean_confidence'] - 0.5) < 1e-12, c
" || fail "--confidence did not pick the named field"

# 5. Two files: each file's calibration.
"$SF" eval "$WORK/choice.jsonl" "$WORK/choice.parquet" --json >"$WORK/two.json" || fail "eval of two files failed"
check_json "$WORK/two.json" '["first"]'
check_json "$WORK/two.json" '["second"]'
"$SF" eval "$WORK/choice.jsonl" "$WORK/choice.parquet" --labels jsonl,parquet >"$WORK/two.out"
[ "$(grep -c "expected calibration error (ECE) 21.5%" "$WORK/two.out")" = 2 ] ||
  { cat "$WORK/two.out"; fail "the comparison does not show both files' calibration"; }

# 6. Mistakes: a confidence outside [0, 1]; --min-confidence without a confidence column.
if "$SF" eval "$WORK/bad.jsonl" 2>"$WORK/bad.err"; then fail "a confidence of 1.2 was accepted"; fi
grep -q "row 3 (counting from 0), column confidence: confidence 1.2 is not a probability in \[0, 1\]" "$WORK/bad.err" ||
  { cat "$WORK/bad.err"; fail "the error does not name the row and column"; }
if "$SF" eval "$WORK/plain.jsonl" --min-confidence 0.5 2>"$WORK/plain.err"; then fail "--min-confidence without a confidence column was accepted"; fi
grep -q "run --confidence" "$WORK/plain.err" || { cat "$WORK/plain.err"; fail "the error does not say how to get a confidence column"; }
"$SF" eval "$WORK/plain.jsonl" >"$WORK/plain.out" || fail "eval without a confidence column failed"
grep -q calibration "$WORK/plain.out" && fail "calibration shown without a confidence column"

# 7. The report shows the same calibration (Chromium holds every figure against eval --json in
#    report_browser.sh).
"$SF" report "$WORK/choice.jsonl" --key key --min-confidence 0.8 -o "$WORK/r.html" >/dev/null 2>&1 || fail "report failed"
grep -q '<section id="calibration">' "$WORK/r.html" || fail "the report has no calibration section"
grep -q 'data-format="pct">21.5%<' "$WORK/r.html" || fail "the report does not show the ECE"
echo "ok: eval and report calibration match the hand-computed figures"

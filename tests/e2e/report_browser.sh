#!/usr/bin/env bash
# `structflow report` in a real browser: Debian's headless Chromium opens the pages from disk and
# tests/e2e/check_report.py holds what it rendered against `structflow eval --json` on the same
# files (figures, gallery images decoded, no console message). Three pages: the demo's two runs
# (with and without the image: four-way table, McNemar, gallery), one run with injected faults
# (errors section) and one run whose results carry a confidence column (calibration section). A
# screenshot of each goes to ARTIFACT_DIR.
# Usage: report_browser.sh STRUCTFLOW ARTIFACT_DIR
STRUCTFLOW=$1
ARTIFACTS=$2
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
mkdir -p "$ARTIFACTS"

CHROMIUM=$(command -v chromium || true)
[ -n "$CHROMIUM" ] || fail "chromium is not installed: run scripts/install-deps.sh"
# As root Chromium needs --no-sandbox; no GPU, no dbus, no terminal needed (CI=true works).
CHROME_FLAGS=(--headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run
  --user-data-dir="$WORK/chromium-profile" --enable-logging=stderr --v=0)

# render PAGE NAME: the rendered DOM in $WORK/NAME.dom, Chromium's log in $WORK/NAME.log, a
# screenshot in $ARTIFACTS/NAME.png.
render() {
  local page=$1 name=$2
  # The page's script records when its thumbnails have decoded (data-images-decoded). Image
  # decoding runs off the main thread and is not always inside the virtual time budget on a
  # loaded machine, so a dump taken before it is tried again with a longer budget; the checker
  # still fails a page whose script never finishes.
  local budget
  for budget in 10000 30000 90000; do
    timeout 180 "$CHROMIUM" "${CHROME_FLAGS[@]}" --virtual-time-budget=$budget --dump-dom \
      "file://$page" >"$WORK/$name.dom" 2>"$WORK/$name.log" || {
      cat "$WORK/$name.log" >&2
      fail "chromium could not render $page"
    }
    # The attribute on <body>, not the script's own text that sets it.
    grep -q 'data-images-decoded="' "$WORK/$name.dom" && break
    echo "render $name: the page had not recorded its image decoding after ${budget} ms of virtual time; again"
  done
  timeout 120 "$CHROMIUM" "${CHROME_FLAGS[@]}" --window-size=1280,2400 \
    --screenshot="$ARTIFACTS/$name.png" "file://$page" >/dev/null 2>>"$WORK/$name.shot.log" || {
    cat "$WORK/$name.shot.log" >&2
    fail "chromium could not take a screenshot of $page"
  }
  # Console messages during the screenshot count too.
  grep ":CONSOLE" "$WORK/$name.shot.log" >>"$WORK/$name.log" || true
  [ -s "$ARTIFACTS/$name.png" ] || fail "no screenshot $ARTIFACTS/$name.png"
  $PY -c "from PIL import Image; im = Image.open('$ARTIFACTS/$name.png'); assert im.size == (1280, 2400), im.size"
}

# The checker itself must see a console error: a page that logs one fails it.
cat >"$WORK/canary.html" <<'EOF'
<!DOCTYPE html><html><body><p>canary</p><script>console.error("canary error");</script></body></html>
EOF
echo '{}' >"$WORK/empty.json"
timeout 120 "$CHROMIUM" "${CHROME_FLAGS[@]}" --virtual-time-budget=2000 --dump-dom \
  "file://$WORK/canary.html" >"$WORK/canary.dom" 2>"$WORK/canary.log" || fail "chromium failed on the canary"
if $PY "$HERE/check_report.py" "$WORK/canary.dom" "$WORK/empty.json" "$WORK/canary.log" 2>/dev/null; then
  fail "check_report.py passed a page that logs a console error"
fi

# 1. Two runs of the same rows: the demo (with and without the image).
"$STRUCTFLOW" demo --images 40 --out-dir "$WORK/demo" >"$WORK/demo.out" 2>&1 || {
  cat "$WORK/demo.out" >&2
  fail "structflow demo failed"
}
grep -q "report.html" "$WORK/demo.out" || fail "the demo did not print its report's path"
[ -s "$WORK/demo/report.html" ] || fail "the demo wrote no report"
A="$WORK/demo/with_image.parquet"
B="$WORK/demo/without_image.parquet"
"$STRUCTFLOW" report "$A" "$B" --key key --by texts.source --labels 'with image,without image' \
  -o "$WORK/two.html" || fail "structflow report (two runs) failed"
"$STRUCTFLOW" eval "$A" "$B" --key key --by texts.source --json >"$WORK/two.json" ||
  fail "structflow eval --json (two runs) failed"
grep -qE 'src="https?:|href="https?:' "$WORK/two.html" && fail "the page refers to the network"
render "$WORK/two.html" two
$PY "$HERE/check_report.py" "$WORK/two.dom" "$WORK/two.json" "$WORK/two.log" --two --min-images 1 ||
  fail "the two-run page does not match eval --json (kept: $WORK)"

# 2. One run with failed rows: a server that sends garbage bodies and cut answers.
start_sim --faults garbage:0.1,length:0.05,500:0.05 --seed 5
"$STRUCTFLOW" run "$WORK/demo/diagrams.parquet" --out "$WORK/faulty.parquet" --endpoint "$SIM_URL" \
  --explode images --explode texts --image images --keep-binary --prompt '{texts.user}' \
  --choice A,B,C,D --extract 'key=texts.assistant:Answer: ([A-D])' --max-tokens 8 \
  --max-output-retries 0 --max-attempts 1 --no-fail-fast --progress off >/dev/null 2>"$WORK/faulty.err" && fail "expected failed rows (exit 3)"
[ -s "$WORK/faulty.parquet" ] || { cat "$WORK/faulty.err" >&2; fail "the faulty run wrote no output"; }
"$STRUCTFLOW" report "$WORK/faulty.parquet" --key key --by texts.source -o "$WORK/one.html" ||
  fail "structflow report (one run) failed"
"$STRUCTFLOW" eval "$WORK/faulty.parquet" --key key --by texts.source --json >"$WORK/one.json" ||
  fail "structflow eval --json (one run) failed"
$PY -c "import json,sys; e=json.load(open('$WORK/one.json'))['errors']; sys.exit(0 if e else 1)" ||
  fail "the faulty run has no failed rows to show"
grep -q -- "--retry-failed" "$WORK/one.html" || fail "the errors section has no re-send command"
grep -q "structflow run $WORK/demo/diagrams.parquet" "$WORK/one.html" ||
  fail "the errors section does not show the recorded run command"
render "$WORK/one.html" one
$PY "$HERE/check_report.py" "$WORK/one.dom" "$WORK/one.json" "$WORK/one.log" --min-images 1 ||
  fail "the one-run page does not match eval --json (kept: $WORK)"
# 3. One run whose results carry a confidence column: the calibration section's figures (ECE,
#    Brier, reliability bins, accuracy at coverage, abstentions) against eval --json.
$PY - "$WORK" <<'PYEOF'
import json, random, sys
rng = random.Random(21)
with open(f"{sys.argv[1]}/conf.jsonl", "w") as f:
    for i in range(200):
        c = round(rng.uniform(0.25, 1.0), 3)
        right = rng.random() < c * 0.9  # somewhat overconfident
        f.write(json.dumps({"key": "A", "output": "A" if right else "B",
                            "confidence": None if i % 50 == 7 else c, "error": None}) + "\n")
PYEOF
"$STRUCTFLOW" report "$WORK/conf.jsonl" --key key --min-confidence 0.7 -o "$WORK/conf.html" \
  >/dev/null 2>&1 || fail "structflow report (confidence) failed"
"$STRUCTFLOW" eval "$WORK/conf.jsonl" --key key --min-confidence 0.7 --json >"$WORK/conf.json" ||
  fail "structflow eval --json (confidence) failed"
grep -q '<section id="calibration">' "$WORK/conf.html" || fail "no calibration section"
render "$WORK/conf.html" calibration
$PY "$HERE/check_report.py" "$WORK/calibration.dom" "$WORK/conf.json" "$WORK/calibration.log" ||
  fail "the calibration page does not match eval --json (kept: $WORK)"
echo "ok: reports render in Chromium and match eval --json; screenshots in $ARTIFACTS"

#!/usr/bin/env bash
# `structflow report` at 10,000 rows: the demo's two runs (with and without the image) grown to
# about 10,000 questions, then the report's build time, its file size, and how long headless
# Chromium takes to render it (launch to screenshot, minus the same for an empty page, best of
# three each). Checks first that the page holds eval's accuracy and that the gallery says it is
# sampled.
# Usage: bash bench/report/run.sh [BUILD_DIR] [WORK_DIR] [IMAGES]
set -euo pipefail
BUILD=${1:-build/release}
WORK=${2:-/tmp/structflow-report-bench}
IMAGES=${3:-6000}  # about 10,000 questions
SF=$(cd "$BUILD" && pwd)/src/cli/structflow
mkdir -p "$WORK"
CHROME=(chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run
  --user-data-dir="$WORK/profile" --window-size=1280,2400)

if [ ! -s "$WORK/demo/without_image.parquet" ] || [ "$(cat "$WORK/images" 2>/dev/null)" != "$IMAGES" ]; then
  "$SF" demo --images "$IMAGES" --max-num-seqs 256 --out-dir "$WORK/demo" >"$WORK/demo.log" 2>&1
  echo "$IMAGES" >"$WORK/images"
fi
A="$WORK/demo/with_image.parquet"
B="$WORK/demo/without_image.parquet"
ROWS=$("$SF" eval "$A" --key key --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["rows"])')

start=$(date +%s.%N)
"$SF" report "$A" "$B" --key key --by texts.source --labels 'with image,without image' \
  -o "$WORK/report.html" 2>"$WORK/report.err" >/dev/null
build_s=$(echo "$(date +%s.%N) - $start" | bc)
bytes=$(stat -c %s "$WORK/report.html")

# Correct before timed: the page shows eval's accuracy and says the gallery is a sample.
acc=$("$SF" eval "$A" "$B" --key key --json | /usr/bin/python3 -c \
  'import json,sys; print("%.1f%%" % (100 * json.load(sys.stdin)["first"]["accuracy"]))')
grep -q "data-figure=\"\[&quot;first&quot;,&quot;accuracy&quot;\]\" data-format=\"pct\">$acc<" "$WORK/report.html" ||
  { echo "the page does not show eval's accuracy $acc" >&2; exit 1; }
grep -q "Showing a sample of" "$WORK/report.html" || { echo "the gallery does not say it is sampled" >&2; exit 1; }

echo '<!DOCTYPE html><html><body><p>empty</p></body></html>' >"$WORK/empty.html"
best() {  # best() PAGE: the fastest of three launch-to-screenshot wall times, in seconds
  local b=999
  for _ in 1 2 3; do
    local s e
    s=$(date +%s.%N)
    "${CHROME[@]}" --screenshot="$WORK/shot.png" "file://$1" >/dev/null 2>&1
    e=$(echo "$(date +%s.%N) - $s" | bc)
    b=$(echo "if ($e < $b) $e else $b" | bc)
  done
  echo "$b"
}
empty_s=$(best "$WORK/empty.html")
page_s=$(best "$WORK/report.html")
render_s=$(echo "$page_s - $empty_s" | bc)
cp "$WORK/shot.png" "$WORK/report-10k.png"
# The page's own timings in Chromium: DOMContentLoaded and load (ms since navigation start).
"${CHROME[@]}" --dump-dom "file://$WORK/report.html" 2>/dev/null >"$WORK/report.dom"
dcl_ms=$(grep -o 'data-dom-content-loaded-ms="[0-9]*"' "$WORK/report.dom" | grep -o '[0-9]*')
load_ms=$(grep -o 'data-load-ms="[0-9]*"' "$WORK/report.dom" | grep -o '[0-9]*')
printf 'rows per run %s; report built in %.2f s; %.2f MB; Chromium launch-to-screenshot %.2f s (empty page %.2f s): render %.2f s; in the page: DOMContentLoaded %s ms, load %s ms\n' \
  "$ROWS" "$build_s" "$(echo "$bytes / 1000000" | bc -l)" "$page_s" "$empty_s" "$render_s" "${dcl_ms:-?}" "${load_ms:-?}"

#!/usr/bin/env bash
# What a new user hits with their own inputs and setup (issue 16): `make install` puts the
# binary where the README says; `inspect --full` shows a failed row's whole error message; a CSV
# ZIP column passes through `run` unchanged; an empty JSONL says it has no rows; a header-only
# CSV is warned about; malformed JSONL lines can be skipped into a file.
# Usage: input_friction.sh STRUCTFLOW BUILD_DIR
STRUCTFLOW=$1
BUILD_DIR=$2
source "$(dirname "$0")/lib.sh"

# make install is `cmake --install` with the prefix given (default /usr/local): the binary lands
# in PREFIX/bin and runs from there.
cmake --install "$BUILD_DIR" --prefix "$WORK/prefix" >"$WORK/install.log" ||
  { cat "$WORK/install.log"; fail "cmake --install failed"; }
[ -x "$WORK/prefix/bin/structflow" ] || { cat "$WORK/install.log"; fail "no PREFIX/bin/structflow"; }
"$WORK/prefix/bin/structflow" --version | grep -q '^structflow ' || fail "the installed binary does not run"

# inspect cuts long strings and lists to fit a screen; --full prints them whole (an error message
# of 300 characters, a list of 30 items).
$PY - "$WORK" <<'PYEOF'
import json, sys
msg = "server said: " + "x" * 280 + " THE END"
with open(f"{sys.argv[1]}/failed.jsonl", "w") as f:
    f.write(json.dumps({"output": None, "tags": list(range(30)),
                        "error": {"kind": "http_status", "message": msg}}) + "\n")
PYEOF
"$STRUCTFLOW" inspect "$WORK/failed.jsonl" >"$WORK/short.txt"
grep -q "THE END" "$WORK/short.txt" && fail "inspect without --full did not cut the long message"
grep -q "more)" "$WORK/short.txt" || fail "inspect without --full did not cut the long list"
"$STRUCTFLOW" inspect "$WORK/failed.jsonl" --full >"$WORK/full.txt"
$PY - "$WORK/full.txt" <<'PYEOF'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
row = json.loads(lines[-1])
assert row["error"]["message"].endswith(" THE END"), row
assert len(row["error"]["message"]) == len("server said: ") + 280 + len(" THE END"), row
assert row["tags"] == list(range(30)), row
PYEOF
# A ZIP code column ("01234") passes through `run` as it came in, not as the number 1234.
printf 'zip,city\n01234,Agawam\n00501,Holtsville\n90210,Beverly Hills\n' >"$WORK/zips.csv"
start_sim --latency-ms 1 --model m
"$STRUCTFLOW" run "$WORK/zips.csv" --out "$WORK/zips.jsonl" --endpoint "$SIM_URL" \
  --prompt 'Where is {city}?' --choice east,west --progress off 2>"$WORK/zips.err" ||
  { cat "$WORK/zips.err"; fail "the ZIP job failed"; }
$PY - "$WORK/zips.jsonl" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["zip"] for r in rows] == ["01234", "00501", "90210"], rows
PYEOF

# --choice 'east, west' (a space after the comma) asks for "west", not " west".
"$STRUCTFLOW" run "$WORK/zips.csv" --out "$WORK/spaced.jsonl" --endpoint "$SIM_URL" \
  --prompt 'Where is {city}?' --choice 'east, west' --progress off 2>"$WORK/spaced.err" ||
  { cat "$WORK/spaced.err"; fail "the spaced --choice job failed"; }
$PY - "$WORK/spaced.jsonl" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 3 and all(r["output"] in ("east", "west") for r in rows), rows
PYEOF

# An empty JSONL input says so (not "column does not exist; the columns are: (none)").
: >"$WORK/empty.jsonl"
set +e
"$STRUCTFLOW" run "$WORK/empty.jsonl" --out "$WORK/empty_out.jsonl" --endpoint "$SIM_URL" \
  --prompt '{question}' --choice A,B --progress off 2>"$WORK/empty.err"
code=$?
set -e
[ "$code" = 1 ] || { cat "$WORK/empty.err"; fail "empty JSONL: exit code $code, expected 1"; }
grep -q "the input has no rows" "$WORK/empty.err" || { cat "$WORK/empty.err"; fail "empty JSONL: no 'no rows'"; }
grep -q "(none)" "$WORK/empty.err" && { cat "$WORK/empty.err"; fail "empty JSONL: still '(none)'"; }

# A header-only CSV is converted (to an empty file) with a warning.
printf 'zip,city\n' >"$WORK/header_only.csv"
"$STRUCTFLOW" convert "$WORK/header_only.csv" "$WORK/header_only.jsonl" 2>"$WORK/hdr.err" ||
  { cat "$WORK/hdr.err"; fail "header-only convert failed"; }
grep -q "has no rows" "$WORK/hdr.err" || { cat "$WORK/hdr.err"; fail "header-only CSV: no warning"; }

# Malformed JSONL lines (a line cut short, a bare value) stop a read with their line number, or
# with --bad-lines are skipped into a file that names each.
printf '{"q":"a"}\n{"q":\n"just text"\n{"q":"b"}\n' >"$WORK/broken.jsonl"
set +e
"$STRUCTFLOW" convert "$WORK/broken.jsonl" "$WORK/fixed.jsonl" 2>"$WORK/broken.err"
code=$?
set -e
[ "$code" = 1 ] || fail "malformed JSONL without --bad-lines: exit code $code, expected 1"
grep -q "broken.jsonl:2:" "$WORK/broken.err" || { cat "$WORK/broken.err"; fail "no line number"; }
"$STRUCTFLOW" convert "$WORK/broken.jsonl" "$WORK/fixed.jsonl" --bad-lines "$WORK/bad.jsonl" \
  2>"$WORK/skip.err" || { cat "$WORK/skip.err"; fail "--bad-lines convert failed"; }
grep -q "skipped 2 malformed lines" "$WORK/skip.err" || { cat "$WORK/skip.err"; fail "no skip count"; }
$PY - "$WORK/fixed.jsonl" "$WORK/bad.jsonl" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert rows == [{"q": "a"}, {"q": "b"}], rows
bad = [json.loads(l) for l in open(sys.argv[2])]
assert [(b["line"], b["text"]) for b in bad] == [(2, '{"q":'), (3, '"just text"')], bad
PYEOF
# Image URLs: a server that cannot fetch them (the simulator has no network) stops the job with
# --fetch-images as the fix; with --fetch-images each distinct URL is downloaded once, however
# many rows use it (20 pictures asked about twice: 20 downloads, not 40).
mkdir -p "$WORK/www"
$PY - "$WORK" <<'PYEOF'
import json, sys
from PIL import Image
work = sys.argv[1]
for i in range(20):
    Image.new("RGB", (32 + i, 24), (10 * i, 100, 200)).save(f"{work}/www/img{i}.png")
PYEOF
(cd "$WORK/www" && exec $PY -u -m http.server 0 --bind 127.0.0.1 >"$WORK/www.out" 2>"$WORK/www.log") &
WWW_PID=$!
SIM_PIDS+=("$WWW_PID")
for _ in $(seq 1 100); do grep -q "port" "$WORK/www.out" 2>/dev/null && break; sleep 0.05; done
WWW_PORT=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$WORK/www.out" | head -1)
[ -n "$WWW_PORT" ] || fail "the image server did not start"
$PY - "$WORK" "$WWW_PORT" <<'PYEOF'
import json, sys
work, port = sys.argv[1], sys.argv[2]
with open(f"{work}/urls.jsonl", "w") as f:
    for hint in ("", "Look closely. "):
        for i in range(20):
            f.write(json.dumps({"url": f"http://127.0.0.1:{port}/img{i}.png",
                                "q": f"{hint}What colour is picture {i}?"}) + "\n")
PYEOF
set +e
"$STRUCTFLOW" run "$WORK/urls.jsonl" --out "$WORK/urls_out.jsonl" --endpoint "$SIM_URL" \
  --image url --prompt '{q}' --choice red,blue --progress off 2>"$WORK/nofetch.err"
code=$?
set -e
[ "$code" = 1 ] || { cat "$WORK/nofetch.err"; fail "URLs the server cannot fetch: exit $code, expected 1"; }
grep -q -- "--fetch-images" "$WORK/nofetch.err" || { cat "$WORK/nofetch.err"; fail "no --fetch-images hint"; }
: >"$WORK/www.log"
"$STRUCTFLOW" run "$WORK/urls.jsonl" --out "$WORK/fetched.jsonl" --endpoint "$SIM_URL" \
  --image url --prompt '{q}' --choice red,blue --fetch-images --progress off 2>"$WORK/fetch.err" ||
  { cat "$WORK/fetch.err"; fail "--fetch-images run failed"; }
[ "$(jsonl_rows "$WORK/fetched.jsonl")" = 40 ] || fail "--fetch-images: not 40 rows out"
downloads=$(grep -c '"GET /img' "$WORK/www.log" || true)
[ "$downloads" = 20 ] || { cat "$WORK/www.log"; fail "20 distinct URLs were downloaded $downloads times"; }
# Ollama takes images only inline: its jobs download image URLs here without being asked.
start_sim --api ollama --latency-ms 1 --model m
: >"$WORK/www.log"
"$STRUCTFLOW" run "$WORK/urls.jsonl" --out "$WORK/ollama.jsonl" --endpoint "$SIM_URL" \
  --image url --prompt '{q}' --choice red,blue --progress off 2>"$WORK/ollama.err" ||
  { cat "$WORK/ollama.err"; fail "Ollama with image URLs failed"; }
[ "$(jsonl_rows "$WORK/ollama.jsonl")" = 40 ] || fail "Ollama: not 40 rows out"
grep -q "downloaded here" "$WORK/ollama.err" || { cat "$WORK/ollama.err"; fail "Ollama: not said"; }
[ "$(grep -c '"GET /img' "$WORK/www.log" || true)" = 20 ] || fail "Ollama: not 20 downloads"
echo "input_friction: ok"

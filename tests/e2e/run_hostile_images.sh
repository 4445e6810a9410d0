#!/usr/bin/env bash
# Rows that point at hostile things: /dev/zero, a FIFO nobody writes, a file over
# --image-max-bytes, files outside --image-root (through `..`, a symbolic link and file://), a
# text file, and, with --fetch-images, a host that accepts connections and never answers. The job
# must finish quickly, with a row error for each of them and an answer for every other row; no
# byte of a file that is not an image may reach the output; a second Ctrl-C-free stop is not
# needed because nothing blocks.
STRUCTFLOW=$1
source "$(dirname "$0")/lib.sh"

mkdir -p "$WORK/imgs"
mkfifo "$WORK/imgs/pipe.png"
printf 'root:x:0:0:root:/root:/bin/bash\n' >"$WORK/secret.txt"
cp "$WORK/secret.txt" "$WORK/imgs/notes.png"
ln -s "$WORK/secret.txt" "$WORK/imgs/link.png"
cp "$(dirname "$0")/../../tools/fuzz/regress/image/gif-canvas-bomb" "$WORK/imgs/bomb.gif"
# A silent host: the kernel completes connections from the backlog; nobody ever answers.
$PY - "$WORK" <<'PYEOF' &
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64)
open(sys.argv[1] + "/silent.port", "w").write(str(s.getsockname()[1]))
time.sleep(600)
PYEOF
SIM_PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$WORK/silent.port" ] && break; sleep 0.05; done
silent="http://127.0.0.1:$(cat "$WORK/silent.port")"
$PY - "$WORK" "$silent" <<'PYEOF'
import json, sys
from PIL import Image
work, silent = sys.argv[1], sys.argv[2]
Image.new("RGB", (64, 48), (200, 30, 30)).save(f"{work}/imgs/red.png")
Image.new("RGB", (400, 300), (10, 90, 30)).save(f"{work}/imgs/big.png", compress_level=0)
bad = {
    50: "/dev/zero",
    60: "imgs/pipe.png",
    70: "imgs/big.png",
    80: "imgs/notes.png",
    90: "imgs/bomb.gif",
}
with open(f"{work}/in.jsonl", "w") as f:
    for i in range(200):
        f.write(json.dumps({"text": f"t{i}", "pic": bad.get(i, "imgs/red.png")}) + "\n")
confined = {50: "../secret.txt", 60: "link.png", 70: f"file://{work}/secret.txt", 80: "/dev/zero"}
with open(f"{work}/imgs/in.jsonl", "w") as f:
    for i in range(200):
        f.write(json.dumps({"text": f"t{i}", "pic": confined.get(i, "red.png")}) + "\n")
with open(f"{work}/urls.jsonl", "w") as f:
    for i in range(200):
        pic = f"{silent}/img{i}.png" if i in (20, 21, 22, 23) else "imgs/red.png"
        f.write(json.dumps({"text": f"t{i}", "pic": pic}) + "\n")
PYEOF

start_sim --latency-ms 1 --model vlm-a

run_job() {  # run_job NAME INPUT extra-args...: expects exit code 3 within 60 s
  local name=$1 input=$2
  shift 2
  local start=$SECONDS
  set +e
  timeout 60 "$STRUCTFLOW" run "$input" --out "$WORK/$name.jsonl" --progress off \
    --endpoint "$SIM_URL" --prompt '{text}' --image pic --choice A,B "$@" 2>"$WORK/$name.err"
  local code=$?
  set -e
  local took=$((SECONDS - start))
  [ "$code" = 3 ] || { cat "$WORK/$name.err"; fail "$name: exit code $code, expected 3 (some rows failed)"; }
  echo "$name: finished in ${took}s"
}

# expect_errors NAME ROW=TEXT...: those rows failed with image_error saying TEXT; the others succeeded.
expect_errors() {
  local name=$1
  shift
  $PY - "$WORK/$name.jsonl" "$@" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
want = dict(a.split("=", 1) for a in sys.argv[2:])
assert len(rows) == 200, len(rows)
for i, r in enumerate(rows):
    e = r.get("error")
    if str(i) in want:
        assert e and e["kind"] == "image_error", (i, r)
        assert want[str(i)] in e["message"], (i, e["message"], want[str(i)])
    else:
        assert not e and r["output"] in ("A", "B"), (i, r)
text = open(sys.argv[1]).read()
assert "root:x" not in text and "/bin/bash" not in text, "a file's content leaked into the output"
PYEOF
}

run_job plain "$WORK/in.jsonl" --image-max-bytes 100000
expect_errors plain 50="'/dev/zero' is a character device" 60="is a FIFO (named pipe)" \
  70="more than the 100000 allowed" 80="looks like text" \
  90="'imgs/bomb.gif': gif image of 51220x7710 (395 megapixels) is too large to decode"

run_job confined "$WORK/imgs/in.jsonl" --image-root "$WORK/imgs"
expect_errors confined 50="lies outside --image-root" 60="lies outside --image-root" \
  70="lies outside --image-root" 80="lies outside --image-root"

start=$SECONDS
run_job urls "$WORK/urls.jsonl" --fetch-images --fetch-timeout 2
expect_errors urls 20="--fetch-timeout" 21="--fetch-timeout" 22="--fetch-timeout" 23="--fetch-timeout"
[ $((SECONDS - start)) -le 20 ] || fail "four silent image URLs held the job for $((SECONDS - start))s"

# Ctrl-C while workers wait on silent hosts: the fetches stop, the job exits 130 promptly, and
# the rows whose fetch was cut are not recorded as failed (a resume sends them).
set +e
"$STRUCTFLOW" run "$WORK/urls.jsonl" --out "$WORK/stop.jsonl" --progress off --endpoint "$SIM_URL" \
  --prompt '{text}' --image pic --choice A,B --fetch-images --fetch-timeout 300 --workers 2 \
  2>"$WORK/stop.err" &
pid=$!
for _ in $(seq 1 200); do
  [ -e "$WORK/stop.jsonl.checkpoint" ] && break
  sleep 0.05
done
sleep 1
start=$SECONDS
kill -INT "$pid"
wait "$pid"
code=$?
set -e
[ "$code" = 130 ] || { cat "$WORK/stop.err"; fail "stop: exit code $code, expected 130"; }
[ $((SECONDS - start)) -le 10 ] || fail "stop: SIGINT took $((SECONDS - start))s while fetches waited"
# Terminal escape sequences in a broken input line are escaped in the message, never printed.
printf '{"text": "a", "pic": "imgs/red.png"}\n{"text": \033[2J\033]0;owned\007\n' >"$WORK/esc.jsonl"
set +e
"$STRUCTFLOW" run "$WORK/esc.jsonl" --out "$WORK/esc.out.jsonl" --progress off --endpoint "$SIM_URL" \
  --prompt '{text}' --choice A,B 2>"$WORK/esc.err"
code=$?
set -e
[ "$code" = 1 ] || { cat "$WORK/esc.err"; fail "escapes: exit code $code, expected 1"; }
grep -q 'invalid JSON' "$WORK/esc.err" || { cat "$WORK/esc.err"; fail "escapes: no parse error"; }
grep -qF '\x1b[2J' "$WORK/esc.err" || { cat -v "$WORK/esc.err"; fail "escapes: the escape is not shown escaped"; }
if tr -d '\n' <"$WORK/esc.err" | LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]'; then
  cat -v "$WORK/esc.err"
  fail "escapes: a control character reached stderr"
fi
echo "run_hostile_images: ok"

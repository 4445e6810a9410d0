#!/usr/bin/env bash
# A clearly broken job stops within seconds with one error and what to change, instead of
# failing every row: an unknown model, images sent to a text-only model, a server that ignores
# the constraint, and no server at all.
STRUCTFLOW=$1
source "$(dirname "$0")/lib.sh"

$PY - "$WORK" <<'PYEOF'
import json, sys
from PIL import Image
work = sys.argv[1]
Image.new("RGB", (64, 48), (200, 30, 30)).save(f"{work}/red.png")
with open(f"{work}/in.jsonl", "w") as f:
    for i in range(2000):
        f.write(json.dumps({"n": i, "text": f"t{i}", "pic": "red.png"}) + "\n")
PYEOF
expect_fail() {  # expect_fail NAME WANTED_TEXT run-args...
  local name=$1 want=$2
  shift 2
  local start=$SECONDS
  set +e
  timeout 60 "$STRUCTFLOW" run "$WORK/in.jsonl" --out "$WORK/$name.jsonl" --progress off "$@" 2>"$WORK/$name.err"
  local code=$?
  set -e
  local took=$((SECONDS - start))
  [ "$code" = 1 ] || { cat "$WORK/$name.err"; fail "$name: exit code $code, expected 1"; }
  grep -q -- "$want" "$WORK/$name.err" || { cat "$WORK/$name.err"; fail "$name: the message does not say '$want'"; }
  [ "$took" -le 15 ] || fail "$name: took ${took}s"
  [ ! -e "$WORK/$name.jsonl" ] || fail "$name: wrote an output"
  echo "$name: stopped in ${took}s: $(grep -m1 -i 'fix\|pass\|start' "$WORK/$name.err")"
}

start_sim --latency-ms 1 --model vlm-a
expect_fail unknown_model "--model" --endpoint "$SIM_URL" --model no-such-model --prompt '{text}'

start_sim --latency-ms 1 --model text-only --no-image-support
expect_fail text_only "vision model" --endpoint "$SIM_URL" --prompt '{text}' --image pic

start_sim --latency-ms 1 --api openai
expect_fail ignored_schema "dialect" --endpoint "$SIM_URL" --prompt '{text}' --choice yes,no --dialect vllm-legacy \
  --max-output-retries 0

port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
expect_fail no_server "start the server" --endpoint "http://127.0.0.1:$port/v1" --model m --prompt '{text}' --max-attempts 1
echo "run_fail_fast: ok"

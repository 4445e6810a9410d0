#!/usr/bin/env bash
# Every simulated server family (`structflow sim --api ...`, each imitating the server's own
# source at a given version) against `structflow run` with `--dialect auto` and no other flag:
# choice, a schema with enums, integers, strings and patterns, an unanchored regex and answers
# with free whitespace must end with every row fitting its constraint; images to a text-only
# model, context overflow, an unknown model and a hung server must stop within seconds with the
# fix that family needs, having spent no more than a few requests per row on the deterministic
# error (the simulator's own chat-request counter, which every family serves, says how many were
# sent).
# Usage: run_families.sh STRUCTFLOW [FAMILY...] (default: every family below).
STRUCTFLOW=$1
shift
source "$(dirname "$0")/lib.sh"

FAMILIES=("$@")
if [ ${#FAMILIES[@]} -eq 0 ]; then
  # Every family the simulator offers: its --api choices, as `structflow sim --help` lists them.
  read -r -a FAMILIES <<<"$("$STRUCTFLOW" sim --help | sed -n 's/.*--api TEXT:{\([^}]*\)}.*/\1/p' | tr ',' ' ')"
  [ ${#FAMILIES[@]} -ge 3 ] || fail "could not read the simulator's --api families from its --help"
fi
ROWS=24

$PY - "$WORK" "$ROWS" <<'PYEOF'
import json, sys
from PIL import Image
work, rows = sys.argv[1], int(sys.argv[2])
Image.new("RGB", (64, 48), (30, 160, 30)).save(f"{work}/green.png")
with open(f"{work}/in.jsonl", "w") as f:
    for i in range(rows):
        f.write(json.dumps({"n": i, "text": f"Item {i}: is it good?", "pic": "green.png"}) + "\n")
with open(f"{work}/long.jsonl", "w") as f:
    for i in range(rows):
        f.write(json.dumps({"n": i, "text": "word " * 400}) + "\n")
PYEOF
cat >"$WORK/item.schema.json" <<'JSON'
{"type": "object",
 "properties": {"label": {"type": "string", "enum": ["good", "bad", "unsure"]},
                "score": {"type": "integer", "minimum": 0, "maximum": 10},
                "note": {"type": "string", "maxLength": 30},
                "sku": {"type": "string", "pattern": "[A-Z]{3}-[0-9]{2}"},
                "code": {"type": "string", "pattern": "^x[0-9]+$"}},
 "required": ["label", "score", "note", "sku", "code"], "additionalProperties": false}
JSON

# requests_sent: chat requests the simulator received so far, from its own counter endpoint
# (GET /structflow-sim/metrics, served by every family: the real servers publish no such count,
# or only behind a flag), so every family is held to its bound of requests per row.
requests_sent() {
  local n
  n=$(curl -fsS "${SIM_URL%/v1}/structflow-sim/metrics" |
    awk '$1 == "structflow_sim_chat_requests_total" { print $2; found = 1 } END { if (!found) exit 1 }') ||
    fail "the simulator at $SIM_URL does not count its requests at /structflow-sim/metrics"
  echo "$n"
}

# expect_rows FAMILY NAME CHECK run-args...: the job succeeds and every row passes CHECK (a
# Python expression over `v`, the row's answer).
expect_rows() {
  local family=$1 name=$2 check=$3
  shift 3
  local out="$WORK/$family.$name.jsonl" start=$SECONDS
  set +e
  timeout 60 "$STRUCTFLOW" run "$WORK/${INPUT:-in.jsonl}" --out "$out" --endpoint "$SIM_URL" --progress off \
    --prompt '{text}' "$@" >/dev/null 2>"$out.err"
  local code=$?
  set -e
  [ "$code" = 0 ] || { cat "$out.err"; fail "$family $name: exit code $code"; }
  $PY - "$out" "$ROWS" "$check" <<'PYEOF' || { cat "$out.err"; fail "$family $name: rows do not fit"; }
import json, re, sys
path, rows, check = sys.argv[1], int(sys.argv[2]), sys.argv[3]
got = [json.loads(l) for l in open(path)]
assert len(got) == rows, f"{len(got)} rows, expected {rows}"
for r in got:
    assert r["error"] is None, r["error"]
    v = r["output"]
    assert eval(check), f"row {r['n']}: {v!r} does not fit {check}"
PYEOF
  echo "  $family $name: $ROWS rows fit in $((SECONDS - start)) s (dialect $(grep -o '"dialect": *"[^"]*"' "$out.stats.json" | cut -d'"' -f4))"
}

# expect_stop FAMILY NAME WANTED MAX_REQUESTS input run-args...: exit 1 within 20 s, the message
# says WANTED, and at most MAX_REQUESTS chat requests reached the server.
expect_stop() {
  local family=$1 name=$2 want=$3 max_requests=$4 input=$5
  shift 5
  local out="$WORK/$family.$name.jsonl" start=$SECONDS before
  before=$(requests_sent)
  set +e
  timeout 60 "$STRUCTFLOW" run "$WORK/$input" --out "$out" --endpoint "$SIM_URL" --progress off \
    --prompt '{text}' "$@" >/dev/null 2>"$out.err"
  local code=$?
  set -e
  local took=$((SECONDS - start)) after sent
  after=$(requests_sent)
  sent=$((after - before))
  [ "$code" = 1 ] || { cat "$out.err"; fail "$family $name: exit code $code, expected 1"; }
  grep -q -- "$want" "$out.err" || { cat "$out.err"; fail "$family $name: the message does not say '$want'"; }
  [ "$took" -le 20 ] || { cat "$out.err"; fail "$family $name: took ${took} s"; }
  [ "$sent" -le "$max_requests" ] || { cat "$out.err"; fail "$family $name: $sent requests for $ROWS rows (at most $max_requests)"; }
  echo "  $family $name: stopped in ${took} s after $sent requests: $(grep -m1 -o 'Fix: .*\|fix: .*' "$out.err" | cut -c1-110)"
}

image_fix() {  # the words of the fix each family needs for images on a text-only model
  case $1 in
    llama*) echo "--mmproj" ;;
    ollama*) echo "vision model" ;;
    *) echo "vision model" ;;
  esac
}
context_fix() {
  case $1 in
    llama*) echo "ctx-size" ;;
    sglang*) echo "context-length" ;;
    ollama*) echo "num_ctx" ;;
    *) echo "max-model-len" ;;
  esac
}

tested=0
for family in "${FAMILIES[@]}"; do
  # Each family as its server starts by default (llama.cpp without --metrics, SGLang without
  # --enable-metrics): the request counter is the simulator's own, not in /metrics.
  echo "$family:"
  # A hung server (the probe waits out its 15 s budget) runs beside the other cases.
  start_sim --api "$family" --latency-ms 1 --model sim-model --seed 7 --faults hang:1
  hung_pid=$SIM_PID
  expect_stop "$family" hung_server "no answer" 4 in.jsonl --choice yes,no >"$WORK/$family.hung.log" 2>&1 &
  hung_job=$!

  start_sim --api "$family" --latency-ms 1 --model sim-model --seed 7
  expect_rows "$family" choice 'v in ("yes", "no")' --choice yes,no
  expect_rows "$family" schema \
    'v["label"] in ("good","bad","unsure") and 0 <= v["score"] <= 10 and len(v["note"]) <= 30 and re.search("[A-Z]{3}-[0-9]{2}", v["sku"]) and re.fullmatch("x[0-9]+", v["code"])' \
    --schema "$WORK/item.schema.json" --max-tokens 300
  expect_rows "$family" regex 're.fullmatch("R-[0-9]{3}", v)' --regex 'R-[0-9]{3}'
  expect_stop "$family" unknown_model "sim-model" 0 in.jsonl --model sim-modle --choice yes,no
  kill "$SIM_PID"

  # Free whitespace wherever the JSON grammar allows it, so small max_tokens cut answers.
  # (grep reads the whole help: `grep -q` would end the pipe early and, under pipefail, fail it.)
  if "$STRUCTFLOW" sim --help | grep -c -- --json-whitespace >/dev/null; then
    start_sim --api "$family" --latency-ms 1 --model sim-model --seed 7 --json-whitespace 0.3
    expect_rows "$family" whitespace_choice 'v in ("yes", "no")' --choice yes,no
    expect_rows "$family" whitespace_schema 'v["label"] in ("good","bad","unsure")' \
      --schema "$WORK/item.schema.json" --max-tokens 400
    kill "$SIM_PID"
  fi

  start_sim --api "$family" --latency-ms 1 --model sim-model --seed 7 --no-image-support
  # One probe request, then nothing: at most a few requests, never a retry per row.
  expect_stop "$family" image_text_only "$(image_fix "$family")" 6 in.jsonl --image pic --choice yes,no
  # Without a constraint nothing is probed, so the rows themselves meet the refusal: the
  # fail-fast window (16 rows) plus what was in flight, but never a retry per row (that would be
  # 5 requests a row): at most 2 per row, whatever the machine's load.
  expect_stop "$family" image_no_constraint "$(image_fix "$family")" $((2 * ROWS)) in.jsonl --image pic
  kill "$SIM_PID"

  start_sim --api "$family" --latency-ms 1 --model sim-model --seed 7 --max-model-len 400
  case $family in
    # Ollama truncates a long prompt to num_ctx instead of refusing it: the rows just work.
    ollama*) INPUT=long.jsonl expect_rows "$family" context_overflow 'v in ("yes", "no")' --choice yes,no ;;
    *) expect_stop "$family" context_overflow "$(context_fix "$family")" $((2 * ROWS)) long.jsonl --choice yes,no ;;
  esac
  kill "$SIM_PID"

  # A fixed --concurrency above what llama-server's HTTP threads hold (each bound to a kept-alive
  # connection): the rows still finish, and run says so before row 1, with the fix.
  case $family in
    llama*)
      start_sim --api "$family" --latency-ms 1 --model sim-model --seed 7 --parallel 4 --keep-alive-s 0.5
      expect_rows "$family" concurrency_above_threads 'v in ("yes", "no")' --choice yes,no --concurrency 16
      grep -q -- "Fix: --concurrency 5 " "$WORK/$family.concurrency_above_threads.jsonl.err" ||
        { cat "$WORK/$family.concurrency_above_threads.jsonl.err"; fail "$family: no warning for --concurrency 16 on 4 slots"; }
      kill "$SIM_PID"
      ;;
  esac

  wait "$hung_job" || { cat "$WORK/$family.hung.log"; fail "$family hung_server"; }
  cat "$WORK/$family.hung.log"
  kill "$hung_pid"
  tested=$((tested + 1))
done
[ "$tested" -gt 0 ] || fail "no family tested"
echo "run_families: ok ($tested families)"

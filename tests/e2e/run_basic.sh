#!/usr/bin/env bash
# End to end: a JSONL input with image paths and a JSON Schema, and the demo's Parquet input
# with --explode/--extract and a choice, through `structflow run` against `structflow sim`.
# Checks exact row counts and order, typed outputs, the error column and the stats file.
STRUCTFLOW=$1
source "$(dirname "$0")/lib.sh"

start_sim --latency-ms 5 --max-num-seqs 32 --seed 3

# A folder of images and a JSONL that points at them with relative paths.
"$STRUCTFLOW" demo --dataset-only --images 12 --out-dir "$WORK/demo" >/dev/null
"$STRUCTFLOW" convert "$WORK/demo/diagrams.parquet" "$WORK/diagrams.jsonl" >/dev/null
mkdir -p "$WORK/imgs"
$PY - "$WORK" <<'PYEOF'
import base64, json, sys
work = sys.argv[1]
rows = [json.loads(l) for l in open(f"{work}/diagrams.jsonl")]
with open(f"{work}/items.jsonl", "w") as out:
    for i, r in enumerate(rows):
        img = r["images"][0]
        name = f"imgs/{i:03}.png"
        open(f"{work}/{name}", "wb").write(base64.b64decode(img["bytes"]))
        out.write(json.dumps({"item": i, "picture": name, "question": r["texts"][0]["user"]}) + "\n")
    # One row whose image is broken: it must fail alone, with image_error.
    open(f"{work}/imgs/broken.png", "wb").write(b"\x89PNG\r\n\x1a\n not really")
    out.write(json.dumps({"item": len(rows), "picture": "imgs/broken.png", "question": "What is this?"}) + "\n")
PYEOF
cat >"$WORK/answer.schema.json" <<'JSON'
{"type": "object",
 "properties": {"letter": {"type": "string", "enum": ["A", "B", "C", "D"]},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                "reasons": {"type": "array", "items": {"type": "string", "maxLength": 40}, "maxItems": 3}},
 "required": ["letter", "confidence", "reasons"], "additionalProperties": false}
JSON
set +e
"$STRUCTFLOW" run "$WORK/items.jsonl" --out "$WORK/answers.jsonl" --endpoint "$SIM_URL" \
  --image picture --prompt '{question}' --schema "$WORK/answer.schema.json" --max-tokens 200 --progress log
code=$?
set -e
[ "$code" = 3 ] || fail "expected exit 3 (one broken image), got $code"
$PY - "$WORK" <<'PYEOF'
import json, sys
work = sys.argv[1]
rows = [json.loads(l) for l in open(f"{work}/answers.jsonl")]
assert len(rows) == 13, len(rows)
assert [r["item"] for r in rows] == list(range(13)), "rows out of order"
for r in rows[:12]:
    assert r["error"] is None, r["error"]
    o = r["output"]
    assert o["letter"] in "ABCD" and 0 <= o["confidence"] <= 1 and isinstance(o["reasons"], list), o
bad = rows[12]
assert bad["output"] is None and bad["error"]["kind"] == "image_error", bad
assert "row 12" in bad["error"]["message"], bad["error"]["message"]
stats = json.load(open(f"{work}/answers.jsonl.stats.json"))
assert stats["rows"]["succeeded"] == 12 and stats["rows"]["failed"] == 1, stats
print("jsonl + schema: ok")
PYEOF

# The demo's Parquet (AI2D layout) with explode, extract and a choice, to Parquet.
"$STRUCTFLOW" run "$WORK/demo/diagrams.parquet" --out "$WORK/mc.parquet" --endpoint "$SIM_URL" \
  --explode images --explode texts --image images --prompt '{texts.user}' --choice A,B,C,D \
  --extract 'key=texts.assistant:Answer: ([A-D])' --progress off
"$STRUCTFLOW" convert "$WORK/mc.parquet" "$WORK/mc.jsonl" >/dev/null
"$STRUCTFLOW" convert "$WORK/demo/diagrams.parquet" "$WORK/in.jsonl" >/dev/null
$PY - "$WORK" <<'PYEOF'
import json, sys
work = sys.argv[1]
src = [json.loads(l) for l in open(f"{work}/in.jsonl")]
expected = [(r["id"], t["user"]) for r in src for t in r["texts"]]
rows = [json.loads(l) for l in open(f"{work}/mc.jsonl")]
assert [(r["id"], r["texts"]["user"]) for r in rows] == expected, "rows missing, duplicated or out of order"
for r in rows:
    assert r["error"] is None and r["output"] in ("A", "B", "C", "D"), r
    assert r["key"] == r["texts"]["assistant"][-1], r
    # Image bytes are left out unless --keep-binary; their paths stay, to trace the row back.
    imgs = r["images"] if isinstance(r["images"], list) else [r["images"]]
    assert imgs and all(set(i) == {"path"} and i["path"].endswith(".png") for i in imgs), r["images"]
# Rows that share an image (several questions per diagram) prepare it once.
stats = json.load(open(f"{work}/mc.parquet.stats.json"))
distinct = len({i["bytes"] for r in src for i in r["images"]})
assert distinct < len(rows), (distinct, len(rows))
assert stats["images"] == {"prepared": distinct, "reused": len(rows) - distinct}, stats["images"]
print("parquet + explode + choice: ok, %d rows, %d images prepared" % (len(rows), distinct))
PYEOF

# Dry run: prints the first request with the image abbreviated and sends nothing.
before=$(sim_metric structflow_sim_chat_requests_total)
"$STRUCTFLOW" run "$WORK/items.jsonl" --out "$WORK/dry.jsonl" --endpoint "$SIM_URL" --model sim-vlm \
  --image picture --prompt '{question}' --choice A,B,C,D --dry-run >"$WORK/dry.txt"
grep -q 'data:image/png;base64,' "$WORK/dry.txt" || fail "dry run does not show the image"
grep -q '"choice"' "$WORK/dry.txt" || fail "dry run does not show the constraint"
# The image comes before the question by default (a server's prefix cache then reuses it for
# every question about it); --image-position last puts the question first.
grep -q '"content":\[{"type":"image_url"' "$WORK/dry.txt" || fail "dry run: the image is not first"
"$STRUCTFLOW" run "$WORK/items.jsonl" --out "$WORK/dry.jsonl" --endpoint "$SIM_URL" --model sim-vlm \
  --image picture --prompt '{question}' --choice A,B,C,D --image-position last --dry-run >"$WORK/dry_last.txt"
grep -q '"content":\[{"type":"text"' "$WORK/dry_last.txt" || fail "dry run: --image-position last did not put the text first"
if "$STRUCTFLOW" run "$WORK/items.jsonl" --out "$WORK/dry.jsonl" --endpoint "$SIM_URL" --model sim-vlm \
  --image picture --prompt '{question}' --image-position middle --dry-run 2>"$WORK/pos.err"; then
  fail "--image-position middle was accepted"
fi
grep -q 'image-position' "$WORK/pos.err" || fail "a bad --image-position is not named: $(cat "$WORK/pos.err")"
[ ! -e "$WORK/dry.jsonl" ] || fail "dry run wrote an output"
after=$(sim_metric structflow_sim_chat_requests_total)
[ "$before" = "$after" ] || fail "dry run sent $((after - before)) requests"
# A config file holds the same settings as the flags; flags win.
cat >"$WORK/job.toml" <<'TOML'
prompt = "From the config: {question}"
choice = ["A", "B"]
max_tokens = 7
TOML
"$STRUCTFLOW" run "$WORK/items.jsonl" --out "$WORK/cfg.jsonl" --endpoint "$SIM_URL" --config "$WORK/job.toml" \
  --max-tokens 9 --dry-run >"$WORK/cfg.txt"
grep -q '"From the config: ' "$WORK/cfg.txt" || fail "the config's prompt was not used"
grep -q '"max_tokens":9' "$WORK/cfg.txt" || fail "the flag did not win over the config"
grep -q '"choice":\["A","B"\]' "$WORK/cfg.txt" || fail "the config's choice was not used"
echo 'nonsense = 1' >"$WORK/bad.toml"
if "$STRUCTFLOW" run "$WORK/items.jsonl" --out "$WORK/cfg.jsonl" --config "$WORK/bad.toml" --dry-run 2>"$WORK/bad.err"; then
  fail "an unknown config setting was accepted"
fi
grep -q "unknown setting 'nonsense'" "$WORK/bad.err" || fail "the config error does not name the setting"
echo "run_basic: ok"

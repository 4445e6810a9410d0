#!/usr/bin/env bash
# Faults: 429, 500, resets, hangs, garbage and truncated answers over many rows. Every row comes
# out exactly once; rows that failed carry their reason.
# Usage: run_faults.sh STRUCTFLOW [ROWS]
STRUCTFLOW=$1
ROWS=${2:-10000}
source "$(dirname "$0")/lib.sh"

start_sim --latency-ms 2 --max-num-seqs 256 --seed 11 \
  --faults 429:0.1,500:0.05,reset:0.02,hang:0.01,garbage:0.02,length:0.02
$PY - "$WORK/in.jsonl" "$ROWS" <<'PYEOF'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write(json.dumps({"n": i, "text": f"review {i}: fine"}) + "\n")
PYEOF
set +e
"$STRUCTFLOW" run "$WORK/in.jsonl" --out "$WORK/out.jsonl" --endpoint "$SIM_URL" --prompt 'Sentiment of: {text}' \
  --choice positive,negative,neutral --stall-timeout 2 --request-timeout 10 --progress log --no-fail-fast
code=$?
set -e
[ "$code" = 0 ] || [ "$code" = 3 ] || fail "exit code $code"
$PY - "$WORK/out.jsonl" "$ROWS" "$code" <<'PYEOF'
import collections, json, sys
path, rows, code = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = [json.loads(l) for l in open(path)]
assert [r["n"] for r in out] == list(range(rows)), "rows missing, duplicated or out of order"
kinds = collections.Counter()
for r in out:
    if r["error"] is None:
        assert r["output"] in ("positive", "negative", "neutral"), r
    else:
        assert r["output"] is None and r["error"]["kind"] and r["error"]["message"], r
        kinds[r["error"]["kind"]] += 1
assert (code == 3) == (sum(kinds.values()) > 0)
print(f"{rows} rows exactly once; failed: {dict(kinds)}")
PYEOF
echo "run_faults: ok"

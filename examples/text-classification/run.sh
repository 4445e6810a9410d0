#!/usr/bin/env bash
# Text rows into an enum schema, and into a plain choice.
set -euo pipefail
SF=${STRUCTFLOW:-structflow}
ENDPOINT=${ENDPOINT:-http://127.0.0.1:8000/v1}
OUT=${OUT:-.}
HERE=$(cd "$(dirname "$0")" && pwd)
cat >"$OUT/reviews.jsonl" <<'JSONL'
{"id": 1, "text": "Arrived two weeks late and the box was crushed."}
{"id": 2, "text": "Works exactly as described, great value."}
{"id": 3, "text": "I was charged twice, please refund one payment."}
{"id": 4, "text": "Support answered within minutes and fixed it."}
{"id": 5, "text": "It's fine. Nothing special."}
JSONL
MODEL_FLAG=()
[ -n "${MODEL:-}" ] && MODEL_FLAG=(--model "$MODEL")
"$SF" run "$OUT/reviews.jsonl" --out "$OUT/reviews_labelled.parquet" --endpoint "$ENDPOINT" \
  "${MODEL_FLAG[@]+"${MODEL_FLAG[@]}"}" --system 'You label customer reviews.' --prompt 'Review: {text}' \
  --schema "$HERE/../schemas/classification.json" --max-tokens 200
"$SF" run "$OUT/reviews.jsonl" --out "$OUT/sentiment.jsonl" --endpoint "$ENDPOINT" \
  "${MODEL_FLAG[@]+"${MODEL_FLAG[@]}"}" --prompt 'Sentiment of: {text}' --choice positive,neutral,negative \
  --max-tokens 4
"$SF" inspect "$OUT/reviews_labelled.parquet" --rows 5

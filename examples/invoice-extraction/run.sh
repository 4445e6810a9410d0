#!/usr/bin/env bash
# A folder of images to a nested invoice schema.
set -euo pipefail
SF=${STRUCTFLOW:-structflow}
ENDPOINT=${ENDPOINT:-http://127.0.0.1:8000/v1}
OUT=${OUT:-.}
HERE=$(cd "$(dirname "$0")" && pwd)
RECEIPTS=${RECEIPTS:-}
if [ -z "$RECEIPTS" ]; then
  # No receipts here: a few generated images stand in for them.
  "$SF" demo --dataset-only --images 6 --out-dir "$OUT/demo" >/dev/null
  "$SF" convert "$OUT/demo/diagrams.parquet" "$OUT/demo/diagrams.jsonl" >/dev/null
  RECEIPTS="$OUT/receipts"
  mkdir -p "$RECEIPTS"
  i=0
  while IFS= read -r line; do
    printf '%s' "$line" | sed 's/.*"bytes":"\([^"]*\)".*/\1/' | base64 -d >"$RECEIPTS/receipt_$i.png"
    i=$((i + 1))
  done <"$OUT/demo/diagrams.jsonl"
fi
MODEL_FLAG=()
[ -n "${MODEL:-}" ] && MODEL_FLAG=(--model "$MODEL")
"$SF" run "$RECEIPTS" --out "$OUT/invoices.parquet" --endpoint "$ENDPOINT" "${MODEL_FLAG[@]+"${MODEL_FLAG[@]}"}" \
  --image image --image-max-side 1536 \
  --system 'You read invoices. Answer with JSON only.' \
  --prompt 'Extract the invoice in this image ({path}).' \
  --schema "$HERE/../schemas/invoice.json" --max-tokens 1024
"$SF" inspect "$OUT/invoices.parquet" --rows 2

#!/usr/bin/env bash
# AI2D multiple choice with and without the image, then the four-way table.
set -euo pipefail
SF=${STRUCTFLOW:-structflow}
ENDPOINT=${ENDPOINT:-http://127.0.0.1:8000/v1}
OUT=${OUT:-.}
if [ -z "${DATA:-}" ]; then
  # No AI2D here: the demo's generated diagrams have the same layout.
  "$SF" demo --dataset-only --images 40 --out-dir "$OUT/data" >/dev/null
  DATA="$OUT/data/diagrams.parquet"
fi
MODEL_FLAG=()
[ -n "${MODEL:-}" ] && MODEL_FLAG=(--model "$MODEL")
common=(--endpoint "$ENDPOINT" "${MODEL_FLAG[@]+"${MODEL_FLAG[@]}"}" --explode images --explode texts
  --prompt '{texts.user}' --choice A,B,C,D --max-tokens 4 --extract 'key=texts.assistant:Answer: ([A-D])')
"$SF" run "$DATA" --out "$OUT/ai2d_image.parquet" --image images "${common[@]}"
"$SF" run "$DATA" --out "$OUT/ai2d_text.parquet" "${common[@]}"
"$SF" eval "$OUT/ai2d_image.parquet" "$OUT/ai2d_text.parquet" --pred output --key key \
  --labels 'with image,without image'

#!/usr/bin/env bash
# One job over several replicas: ENDPOINTS is a space-separated list of base URLs.
set -euo pipefail
SF=${STRUCTFLOW:-structflow}
ENDPOINTS=${ENDPOINTS:-http://127.0.0.1:8000/v1 http://127.0.0.1:8001/v1}
OUT=${OUT:-.}
if [ -z "${DATA:-}" ]; then
  "$SF" demo --dataset-only --images 60 --out-dir "$OUT/data" >/dev/null
  DATA="$OUT/data/diagrams.parquet"
fi
flags=()
for e in $ENDPOINTS; do flags+=(--endpoint "$e"); done
[ -n "${MODEL:-}" ] && flags+=(--model "$MODEL")
"$SF" run "$DATA" --out "$OUT/ai2d_image.parquet" "${flags[@]}" \
  --explode images --explode texts --image images \
  --prompt '{texts.user}' --choice A,B,C,D --max-tokens 4 \
  --extract 'key=texts.assistant:Answer: ([A-D])'

#!/usr/bin/env bash
# Structured records generated from seed rows of a CSV.
set -euo pipefail
SF=${STRUCTFLOW:-structflow}
ENDPOINT=${ENDPOINT:-http://127.0.0.1:8000/v1}
OUT=${OUT:-.}
HERE=$(cd "$(dirname "$0")" && pwd)
cat >"$OUT/seeds.csv" <<'CSV'
category,price_eur
kitchen,25
garden,120
"books, used",8
toys,40
CSV
MODEL_FLAG=()
[ -n "${MODEL:-}" ] && MODEL_FLAG=(--model "$MODEL")
"$SF" run "$OUT/seeds.csv" --out "$OUT/products.parquet" --endpoint "$ENDPOINT" "${MODEL_FLAG[@]+"${MODEL_FLAG[@]}"}" \
  --system 'You write realistic product listings for a test catalogue.' \
  --prompt 'Write one listing for a {category} product priced around {price_eur} EUR.' \
  --schema "$HERE/../schemas/product_listing.json" --temperature 0.8 --seed 1234 --max-tokens 600 --keep-raw
"$SF" inspect "$OUT/products.parquet" --rows 2

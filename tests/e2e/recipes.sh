#!/usr/bin/env bash
# Runs every recipe in examples/ against `structflow sim`, exactly as a user would run it
# against a real server (ENDPOINT points at the simulator instead).
STRUCTFLOW=$1
EXAMPLES=$2
source "$(dirname "$0")/lib.sh"
export STRUCTFLOW

start_sim --latency-ms 5 --seed 2
one=$SIM_URL
for recipe in ai2d-vllm invoice-extraction text-classification synthetic-data; do
  mkdir -p "$WORK/$recipe"
  ENDPOINT=$one OUT="$WORK/$recipe" bash "$EXAMPLES/$recipe/run.sh" >"$WORK/$recipe.log" 2>&1 ||
    { cat "$WORK/$recipe.log"; fail "recipe $recipe"; }
  echo "recipe $recipe: ok"
done
grep -q "four-way table" "$WORK/ai2d-vllm.log" || fail "ai2d recipe printed no four-way table"

start_sim --latency-ms 5 --seed 3
two=$SIM_URL
mkdir -p "$WORK/multi-replica"
ENDPOINTS="$one $two" OUT="$WORK/multi-replica" bash "$EXAMPLES/multi-replica/run.sh" >"$WORK/multi.log" 2>&1 ||
  { cat "$WORK/multi.log"; fail "recipe multi-replica"; }
echo "recipe multi-replica: ok"
echo "recipes: ok"

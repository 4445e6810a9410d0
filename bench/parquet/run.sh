#!/usr/bin/env bash
# Parquet read benchmark: structflow against DuckDB on the same ~1 GB file, in the same run.
#   bash bench/parquet/run.sh [BUILD_DIR] [WORK_DIR] [MB]
# Writes WORK_DIR/images.parquet (an image column of incompressible 100-300 KB blobs plus three
# text columns, written by structflow's writer with zstd) unless it exists, then reads it with
# structflow (parquet_bench) and DuckDB (node, 1 thread), twice each, interleaved, with the page
# cache warm. Each line reports rows, sum of image bytes (the two must agree: correctness first),
# wall seconds, MB/s of file bytes, and peak RSS; /usr/bin/time adds CPU seconds.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build/release}"
work="${2:-/tmp/structflow-parquet-bench}"
mb="${3:-1024}"
bench="$build/bench/parquet/parquet_bench"
export NODE_PATH="$root/tools/node/node_modules"
[[ -x "$bench" ]] || { echo "build parquet_bench first: cmake --build $build --target parquet_bench" >&2; exit 1; }
mkdir -p "$work"
file="$work/images.parquet"
if [[ ! -f "$file" ]]; then
  echo "writing $file ($mb MB of images)"
  /usr/bin/time -f "write: %e s wall, %U s user, %S s sys" "$bench" write "$file" --mb "$mb"
fi
ls -l "$file"
cat "$file" > /dev/null  # warm the page cache for both readers
run() { /usr/bin/time -f "   cpu: %U s user + %S s sys, max RSS %M KB" "$@"; }
for i in 1 2; do
  echo "--- round $i: all columns"
  run "$bench" read "$file"
  run node "$root/bench/parquet/duckdb_read.mjs" "$file" all
done
echo "--- text columns only (projection: the image column is never read)"
run "$bench" read "$file" --columns caption,source,split
run node "$root/bench/parquet/duckdb_read.mjs" "$file" text

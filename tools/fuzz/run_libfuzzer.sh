#!/usr/bin/env bash
# Coverage-guided fuzzing of the Parquet reader with libFuzzer (clang-14, from
# scripts/install-deps.sh), independent of the project's GCC build:
#   bash tools/fuzz/run_libfuzzer.sh [SECONDS] [OUT_DIR]
# Builds tools/fuzz/parquet_fuzz.cpp with the Parquet, table and common sources under
# -fsanitize=fuzzer,address,undefined, then fuzzes from src/io/parquet/testdata/{corpus,regress}.
# A crash leaves its input in OUT_DIR/crash-*: fix it and keep the input in testdata/regress/.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
seconds="${1:-60}"
out="${2:-/tmp/structflow-parquet-libfuzzer}"
cxx="$(command -v clang++-14 || command -v clang++)"
mkdir -p "$out/corpus"
srcs=()
for f in "$root"/src/io/parquet/*.cpp "$root"/src/table/*.cpp "$root"/src/common/*.cpp; do
  [[ "$f" == *_test.cpp ]] || srcs+=("$f")
done
if [[ ! -x "$out/parquet_libfuzzer" ]] || [[ -n "$(find "$root/src/io/parquet" "$root/tools/fuzz" -newer "$out/parquet_libfuzzer" -name '*.[ch]*' | head -1)" ]]; then
  echo "building $out/parquet_libfuzzer with $cxx"
  "$cxx" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -fno-omit-frame-pointer -DFMT_SHARED -I"$root/src" "$root/tools/fuzz/parquet_fuzz.cpp" "${srcs[@]}" \
    -o "$out/parquet_libfuzzer" -lfmt -lzstd -lsnappy -llz4 -lbrotlidec -lbrotlienc -lz -pthread
fi
exec "$out/parquet_libfuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
  -artifact_prefix="$out/" "$out/corpus" "$root/src/io/parquet/testdata/corpus" \
  "$root/src/io/parquet/testdata/regress"

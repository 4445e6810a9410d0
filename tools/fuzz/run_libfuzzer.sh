#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer (clang-14, from scripts/install-deps.sh), independent of
# the project's GCC build:
#   bash tools/fuzz/run_libfuzzer.sh [TARGET] [SECONDS] [OUT_DIR]
# TARGET: parquet (default), jsonl, csv, schema, chat_completion or image. Builds the target from
# tools/fuzz/<target>_fuzz.cpp and the sources it reads, under -fsanitize=fuzzer,address,undefined
# (objects are kept in OUT_DIR/obj and rebuilt when a source or header changes), then fuzzes for
# SECONDS from the seed corpus (tools/fuzz/corpus/<target>/, and testdata/{corpus,regress} for
# Parquet) and the regression inputs (tools/fuzz/regress/<target>/). The last line of the log
# (OUT_DIR/<target>.log) says how many inputs ran.
# A crash leaves its input in OUT_DIR/<target>/crash-*: fix it, keep the input in
# tools/fuzz/regress/<target>/ (every run replays it) and add a unit test beside the code that
# reproduces it (e.g. ConstraintSchemaErrors.ANumberThatOverflowsIsAnErrorNotACrash).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
target="${1:-parquet}"
seconds="${2:-60}"
out="${3:-/tmp/structflow-libfuzzer}"
cxx="$(command -v clang++-14 || command -v clang++)"
launcher=""
command -v ccache >/dev/null && launcher=ccache

flags=(-std=c++20 -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
  -fno-omit-frame-pointer -DFMT_SHARED -DSIMDJSON_THREADS_ENABLED=1 -I"$root/src" -I"$root/tools/fuzz")
libs=(-lfmt)
dirs=(src/common src/table)
extra_srcs=()
main="$root/tools/fuzz/${target}_fuzz.cpp"
corpus=("$root/tools/fuzz/corpus/$target")
case "$target" in
  parquet)
    dirs+=(src/io/parquet)
    extra_srcs=(src/io/files.cpp)  # the sink's temp-file cleanup
    libs+=(-lzstd -lsnappy -llz4 -lbrotlidec -lbrotlienc -lz)
    corpus=("$root/src/io/parquet/testdata/corpus" "$root/src/io/parquet/testdata/regress") ;;
  jsonl | csv)
    dirs+=(src/io src/io/parquet)
    main="$root/tools/fuzz/text_reader_fuzz.cpp"
    [ "$target" = csv ] && flags+=(-DSTRUCTFLOW_FUZZ_CSV=1)
    libs+=(-lsimdjson -lzstd -lsnappy -llz4 -lbrotlidec -lbrotlienc -lz) ;;
  schema)
    dirs+=(src/schema)
    flags+=(-DVALIJSON_USE_EXCEPTIONS=1)
    libs+=(-lsimdjson -lre2) ;;
  chat_completion)
    dirs=(src/common)
    extra_srcs=(src/schema/chat_completion.cpp)
    libs+=(-lsimdjson) ;;
  image)
    dirs+=(src/image)
    flags+=($(pkg-config --cflags vips-cpp libturbojpeg libcurl libxxhash))
    libs+=($(pkg-config --libs vips-cpp libturbojpeg libcurl libxxhash)) ;;
  *) echo "unknown target '$target'" >&2; exit 2 ;;
esac
[ -d "$root/tools/fuzz/regress/$target" ] && corpus+=("$root/tools/fuzz/regress/$target")
mkdir -p "$out/obj" "$out/$target/corpus"

# Objects: one per source, rebuilt when it or any header under src/ is newer.
newest_header="$(find "$root/src" "$root/tools/fuzz" -name '*.h' -printf '%T@\n' | sort -n | tail -1)"
objs=()
compile() {  # compile SRC OBJ [extra flags]
  local src=$1 obj=$2
  shift 2
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] ||
     [ "$(stat -c %Y "$obj")" -lt "${newest_header%.*}" ]; then
    mkdir -p "$(dirname "$obj")"
    $launcher "$cxx" "${flags[@]}" "$@" -c "$src" -o "$obj"
  fi
}
for d in "${dirs[@]}"; do
  for f in "$root/$d"/*.cpp; do
    case "$f" in *_test.cpp) continue ;; esac
    obj="$out/obj/${f#"$root"/}.o"
    compile "$f" "$obj"
    objs+=("$obj")
  done
done
for f in "${extra_srcs[@]+"${extra_srcs[@]}"}"; do
  obj="$out/obj/$f.o"
  compile "$root/$f" "$obj"
  objs+=("$obj")
done
main_obj="$out/obj/$target-main.o"
compile "$main" "$main_obj"
bin="$out/${target}_libfuzzer"
echo "linking $bin"
"$cxx" -fsanitize=fuzzer,address,undefined "$main_obj" "${objs[@]}" -o "$bin" "${libs[@]}" -pthread

existing=()
for c in "${corpus[@]}"; do [ -d "$c" ] && existing+=("$c"); done
# -rss_limit_mb: an input that makes a reader allocate gigabytes is a bug too.
set +e
"$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$out/$target/" "$out/$target/corpus" "${existing[@]}" 2>&1 |
  tee "$out/$target.log" | grep -E "^#[0-9]+ +(DONE|INITED)|stat::|ERROR|SUMMARY|Test unit written"
code=${PIPESTATUS[0]}
set -e
exit "$code"

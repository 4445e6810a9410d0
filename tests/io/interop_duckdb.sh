#!/usr/bin/env bash
# Interop with DuckDB (under Node): structflow writes JSONL and CSV that DuckDB reads back with the
# same values, and reads the JSONL and CSV that DuckDB writes.
# Usage: interop_duckdb.sh STRUCTFLOW WORKDIR NODE_MODULES
set -euo pipefail
SF=$1
WORK=$2
export NODE_PATH=$3
HERE=$(cd "$(dirname "$0")" && pwd)
rm -rf "$WORK"
mkdir -p "$WORK/photos"
cd "$WORK"
cat > in.jsonl <<'EOF'
{"id":1,"text":"hello, \"world\"\nsecond line","score":0.5,"flag":true,"tags":["a","b"],"user":{"name":"Zoë","age":30}}
{"id":2,"text":"","score":2,"flag":false,"tags":[],"user":{"name":"bob","age":null}}
{"id":3,"text":null,"score":null,"flag":null,"tags":null,"user":null}
EOF
printf 'PNG-a' > photos/a.png
printf 'JPG-b' > photos/b.jpg
"$SF" convert in.jsonl out.jsonl > /dev/null
"$SF" convert in.jsonl out.csv > /dev/null
"$SF" convert photos photos.jsonl > /dev/null
"$SF" convert photos photos.csv > /dev/null
node "$HERE/duckdb_interop.cjs" "$WORK"

# The other way: DuckDB writes JSONL and CSV, structflow reads them with the same values.
node "$HERE/duckdb_write.cjs" "$WORK"
"$SF" convert duck.jsonl from_duck_jsonl.jsonl > /dev/null
"$SF" convert duck.csv from_duck_csv.jsonl > /dev/null
cat > from_duck_jsonl.expected <<'EOF'
{"id":1,"text":"plain","score":0.5,"flag":true,"tags":["a","b"],"user":{"name":"Zoë","age":30}}
{"id":2,"text":"comma, \"quote\"\nnewline","score":-2.25,"flag":false,"tags":[],"user":{"name":"bob","age":null}}
{"id":3,"text":null,"score":null,"flag":null,"tags":null,"user":null}
EOF
cat > from_duck_csv.expected <<'EOF'
{"id":1,"text":"plain","score":0.5,"flag":true}
{"id":2,"text":"comma, \"quote\"\nnewline","score":-2.25,"flag":false}
{"id":3,"text":null,"score":null,"flag":null}
EOF
diff -u from_duck_jsonl.expected from_duck_jsonl.jsonl
diff -u from_duck_csv.expected from_duck_csv.jsonl
echo "duckdb interop: structflow reads DuckDB's JSONL and CSV with the same values"

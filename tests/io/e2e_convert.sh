#!/usr/bin/env bash
# End-to-end: the structflow binary's `inspect` and `convert` on small generated files, checking
# the output byte for byte. Usage: e2e_convert.sh STRUCTFLOW WORKDIR HAVE_PARQUET(0|1)
set -euo pipefail
SF=$1
WORK=$2
HAVE_PARQUET=${3:-0}
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"

fail() { echo "FAIL: $*" >&2; exit 1; }
check() {  # check NAME EXPECTED_FILE ACTUAL_FILE
  if ! diff -u "$2" "$3"; then fail "$1: output differs (expected $2, got $3)"; fi
}

cat > in.jsonl <<'EOF'
{"id":1,"text":"hello, \"world\"\nsecond line","score":0.5,"flag":true,"tags":["a","b"],"user":{"name":"Zoë","age":30}}
{"id":2,"text":"","score":2,"flag":false,"tags":[],"user":{"name":"bob","age":null}}
{"id":3,"text":null,"score":null,"flag":null,"tags":null,"user":null}
EOF

# inspect: schema, row count, first rows.
"$SF" inspect in.jsonl --rows 2 > inspect.out
cat > inspect.expected <<'EOF'
input: in.jsonl (jsonl)
schema:
  id: int64
  text: string
  score: double
  flag: bool
  tags: list<string>
  user: struct<name: string, age: int64>
rows: 3
first 2 rows:
{"id":1,"text":"hello, \"world\"\nsecond line","score":0.5,"flag":true,"tags":["a","b"],"user":{"name":"Zoë","age":30}}
{"id":2,"text":"","score":2.0,"flag":false,"tags":[],"user":{"name":"bob","age":null}}
EOF
check inspect inspect.expected inspect.out

# JSONL -> CSV: RFC 4180 quoting, nested values as JSON text, null as an empty field.
"$SF" convert in.jsonl out.csv > convert1.out
echo "wrote 3 rows to out.csv (csv)" > convert1.expected
check convert-jsonl-csv-stdout convert1.expected convert1.out
cat > out.csv.expected <<'EOF'
id,text,score,flag,tags,user
1,"hello, ""world""
second line",0.5,true,"[""a"",""b""]","{""name"":""Zoë"",""age"":30}"
2,"",2.0,false,[],"{""name"":""bob"",""age"":null}"
3,,,,,
EOF
check out.csv out.csv.expected out.csv

# CSV -> JSONL: the same values back (nested ones as their JSON text).
"$SF" convert out.csv back.jsonl > convert2.out
echo "wrote 3 rows to back.jsonl (jsonl)" > convert2.expected
check convert-csv-jsonl-stdout convert2.expected convert2.out
cat > back.jsonl.expected <<'EOF'
{"id":1,"text":"hello, \"world\"\nsecond line","score":0.5,"flag":true,"tags":"[\"a\",\"b\"]","user":"{\"name\":\"Zoë\",\"age\":30}"}
{"id":2,"text":"","score":2.0,"flag":false,"tags":"[]","user":"{\"name\":\"bob\",\"age\":null}"}
{"id":3,"text":null,"score":null,"flag":null,"tags":null,"user":null}
EOF
check back.jsonl back.jsonl.expected back.jsonl

# JSONL -> JSONL with --limit and --columns.
"$SF" convert in.jsonl head.jsonl --limit 2 --columns user,id > convert3.out
echo "wrote 2 rows to head.jsonl (jsonl)" > convert3.expected
check convert-limit-stdout convert3.expected convert3.out
cat > head.jsonl.expected <<'EOF'
{"user":{"name":"Zoë","age":30},"id":1}
{"user":{"name":"bob","age":null},"id":2}
EOF
check head.jsonl head.jsonl.expected head.jsonl

# Parquet round trip, once Parquet is built.
if [ "$HAVE_PARQUET" = 1 ]; then
  "$SF" convert in.jsonl mid.parquet > /dev/null
  "$SF" convert mid.parquet rt.jsonl > /dev/null
  "$SF" convert in.jsonl canon.jsonl > /dev/null
  check parquet-roundtrip canon.jsonl rt.jsonl
  "$SF" inspect mid.parquet --rows 0 > pq.out
  grep -qx "rows: 3" pq.out || fail "inspect mid.parquet: no 'rows: 3' in $(cat pq.out)"
else
  if "$SF" convert in.jsonl mid.parquet 2> pq.err; then fail "parquet output should fail until built"; fi
  grep -q "Parquet support is not built yet" pq.err || fail "unexpected parquet error: $(cat pq.err)"
fi

# An image folder with a sidecar: abbreviated binaries, counted rows.
mkdir -p photos/sub
printf '\x89PNG\r\n\x1a\nrest-of-a-png' > photos/b.png
printf 'GIF89a' > photos/sub/a.gif
printf 'file_name,caption\nb.png,"a cat, sleeping"\n' > photos/metadata.csv
"$SF" inspect photos > photos.out
cat > photos.expected <<'EOF'
input: photos (image folder)
schema:
  path: string not null
  image: binary
  caption: string
rows: 2
first 2 rows:
{"path":"b.png","image":"<21 bytes, png>","caption":"a cat, sleeping"}
{"path":"sub/a.gif","image":"<6 bytes, gif>","caption":null}
EOF
check inspect-photos photos.expected photos.out
if [ "$HAVE_PARQUET" = 1 ]; then
  # Image bytes survive Parquet: folder -> Parquet -> JSONL equals folder -> JSONL.
  "$SF" convert photos photos.parquet > /dev/null
  "$SF" convert photos.parquet photos_rt.jsonl > /dev/null
  "$SF" convert photos photos_direct.jsonl > /dev/null
  check photos-parquet-roundtrip photos_direct.jsonl photos_rt.jsonl
fi

# Errors: exit 1 with the input named and the fix.
set +e
"$SF" convert missing.jsonl x.csv 2> err1; rc=$?
set -e
[ $rc = 1 ] || fail "missing input: exit $rc, want 1"
grep -q "input 'missing.jsonl' does not exist" err1 || fail "missing input message: $(cat err1)"
set +e
"$SF" inspect 'nothing/*.jsonl' 2> err2; rc=$?
set -e
[ $rc = 1 ] || fail "empty glob: exit $rc, want 1"
grep -q "no file matches 'nothing/\*.jsonl'" err2 || fail "empty glob message: $(cat err2)"
printf '{"a":1}\n{"a":\n' > bad.jsonl
set +e
"$SF" convert bad.jsonl bad.csv 2> err3; rc=$?
set -e
[ $rc = 1 ] || fail "bad line: exit $rc, want 1"
grep -q "bad.jsonl:2: invalid JSON" err3 || fail "bad line message: $(cat err3)"
[ ! -e bad.csv ] || fail "a failed convert left bad.csv behind"
ls bad.csv.tmp-* 2>/dev/null && fail "a failed convert left its temporary file"
echo "e2e io: all checks passed"

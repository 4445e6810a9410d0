#!/usr/bin/env bash
# Soak: streams a 1,000,000-line JSONL file (about 150 MB) through `convert` to CSV and back, and
# checks that peak RSS stays far below the file size (memory is bounded by a batch, not the file).
# Usage: soak_stream.sh STRUCTFLOW WORKDIR [LINES] [MAX_RSS_MB]
set -euo pipefail
SF=$1
WORK=$2
LINES=${3:-1000000}
MAX_RSS_MB=${4:-64}
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
awk -v n="$LINES" 'BEGIN {
  for (i = 0; i < n; i++)
    printf("{\"id\":%d,\"text\":\"row %d: the quick brown fox jumps over the lazy dog\",\"score\":%d.25,\"tags\":[\"a\",\"b%d\"],\"meta\":{\"ok\":%s,\"n\":%d}}\n", i, i, i % 100, i % 7, (i % 2 ? "true" : "false"), i % 13)
}' > big.jsonl
bytes=$(stat -c %s big.jsonl)
t0=$(date +%s.%N)
/usr/bin/time -f "%M" -o rss1 "$SF" convert big.jsonl big.csv > out1
t1=$(date +%s.%N)
/usr/bin/time -f "%M" -o rss2 "$SF" convert big.csv back.jsonl > out2
t2=$(date +%s.%N)
grep -qx "wrote $LINES rows to big.csv (csv)" out1 || { echo "FAIL: $(cat out1)"; exit 1; }
grep -qx "wrote $LINES rows to back.jsonl (jsonl)" out2 || { echo "FAIL: $(cat out2)"; exit 1; }
[ "$(wc -l < back.jsonl)" = "$LINES" ] || { echo "FAIL: back.jsonl has $(wc -l < back.jsonl) lines"; exit 1; }
rss1=$(( $(tail -1 rss1) / 1024 ))
rss2=$(( $(tail -1 rss2) / 1024 ))
echo "jsonl->csv: $(( bytes / 1048576 )) MB in $(echo "$t1 - $t0" | bc) s, peak RSS ${rss1} MB"
echo "csv->jsonl: $(( $(stat -c %s big.csv) / 1048576 )) MB in $(echo "$t2 - $t1" | bc) s, peak RSS ${rss2} MB"
[ "$rss1" -le "$MAX_RSS_MB" ] || { echo "FAIL: jsonl->csv peak RSS ${rss1} MB > ${MAX_RSS_MB} MB"; exit 1; }
[ "$rss2" -le "$MAX_RSS_MB" ] || { echo "FAIL: csv->jsonl peak RSS ${rss2} MB > ${MAX_RSS_MB} MB"; exit 1; }
rm -f big.jsonl big.csv back.jsonl
echo "soak io: bounded memory confirmed"

#!/usr/bin/env bash
# Memory stays flat whatever the input size: a text-only job of many rows (1,000,000 by default)
# at --latency-ms 0 must keep the peak RSS of `structflow run` under a bound (300 MB default).
# Prints rows/s and the peak RSS. Usage: run_memory.sh STRUCTFLOW [ROWS] [MAX_RSS_MB]
STRUCTFLOW=$1
ROWS=${2:-1000000}
MAX_MB=${3:-300}
source "$(dirname "$0")/lib.sh"

start_sim --latency-ms 0 --max-num-seqs 512 --seed 1
$PY - "$WORK/in.jsonl" "$ROWS" <<'PYEOF'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write(json.dumps({"id": i, "text": f"customer review number {i}: the parcel came on time"}) + "\n")
PYEOF
# Run under a wrapper that reports the child's peak RSS (ru_maxrss of the finished child).
$PY - "$STRUCTFLOW" "$WORK" "$SIM_URL" "$ROWS" "$MAX_MB" <<'PYEOF'
import json, resource, subprocess, sys, time
sf, work, url, rows, max_mb = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
start = time.time()
code = subprocess.call([sf, "run", f"{work}/in.jsonl", "--out", f"{work}/out.jsonl", "--endpoint", url,
                        "--prompt", "Sentiment of: {text}", "--choice", "positive,negative,neutral",
                        "--progress", "log"])
wall = time.time() - start
peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
assert code == 0, f"exit code {code}"
n = sum(1 for _ in open(f"{work}/out.jsonl"))
assert n == rows, f"{n} output rows for {rows} input rows"
stats = json.load(open(f"{work}/out.jsonl.stats.json"))
print(f"{rows} rows in {wall:.1f} s ({rows / wall:.0f} rows/s end to end, {stats['rows_per_s']:.0f} rows/s "
      f"request pass); peak RSS {peak_mb:.0f} MB (bound {max_mb} MB)")
assert peak_mb < max_mb, f"peak RSS {peak_mb:.0f} MB over {max_mb} MB"
PYEOF
echo "run_memory: ok"

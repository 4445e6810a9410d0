#!/usr/bin/python3
"""Turns run_peers.sh's raw measurements (TSV) into the markdown table of bench/RESULTS.md.
Usage: summarize.py RAW.tsv"""
import csv
import sys

rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
print("| workload | contender | rows run (of) | wall s | rows/s | client CPU s / 1k rows "
      "| peak RSS MB | sim GPU busy | busy while sending | rows lost/failed | CPU/row vs structflow "
      "| structflow throughput / this |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
ref = {}
for r in rows:
    wall = float(r["wall_s"])
    run = int(r["rows_run"])
    r["rps"] = run / wall if wall > 0 else 0.0
    r["cpu_k"] = (float(r["user_s"]) + float(r["sys_s"])) / run * 1000
    if r["ref"] == "1":
        ref[r["workload"]] = r
for r in rows:
    base = ref.get(r["workload"])
    busy = "n/a (0 ms latency)" if r["latency"] == "0" else \
        f"{100 * float(r['busy_delta']) / (int(r['max_num_seqs']) * float(r['wall_s'])):.1f}%"
    full = "n/a" if r["latency"] == "0" else f"{100 * float(r['busy_sending']):.1f}%"
    lost = int(r["rows_run"]) - int(r["valid"])
    if base is None or base is r:
        cpu_ratio = tput_ratio = "1.00 (reference)" if base is r else "-"
    else:
        cpu_ratio = f"{r['cpu_k'] / base['cpu_k']:.1f}x"
        tput_ratio = f"{base['rps'] / r['rps']:.2f}x"
    print(f"| {r['workload']} | {r['contender']} | {r['rows_run']} ({r['rows_total']}) "
          f"| {float(r['wall_s']):.1f} | {r['rps']:.0f} | {r['cpu_k']:.3f} "
          f"| {int(r['rss_kb']) / 1024:.0f} | {busy} | {full} | {lost} | {cpu_ratio} | {tput_ratio} |")

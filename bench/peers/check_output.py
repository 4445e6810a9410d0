#!/usr/bin/python3
"""Counts the valid rows of one contender's JSONL output: ids 0..ROWS-1 each exactly once, no
error, and an answer that fits SCHEMA (required fields, enums, integer bounds). Prints the count.
Usage: check_output.py OUT.jsonl ROWS SCHEMA.json"""
import json
import sys

path, rows, schema_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(schema_path) as f:
    schema = json.load(f)
seen = set()
valid = 0
try:
    f = open(path)
except OSError:
    print(0)
    sys.exit(0)
for line in f:
    r = json.loads(line)
    rid, out = r.get("id"), r.get("output")
    if not isinstance(rid, int) or not 0 <= rid < rows or rid in seen:
        continue
    seen.add(rid)
    if r.get("error") is not None or not isinstance(out, dict):
        continue
    good = all(k in out for k in schema["required"])
    for name, spec in schema["properties"].items():
        v = out.get(name)
        if "enum" in spec and v not in spec["enum"]:
            good = False
        if spec.get("type") == "integer" and not (
                isinstance(v, int) and spec["minimum"] <= v <= spec["maximum"]):
            good = False
    valid += good
print(valid)

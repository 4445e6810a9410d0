#!/usr/bin/env bash
# What a new user hits with their own inputs and setup (issue 16): `make install` puts the
# binary where the README says; `inspect --full` shows a failed row's whole error message.
# Usage: input_friction.sh STRUCTFLOW BUILD_DIR
STRUCTFLOW=$1
BUILD_DIR=$2
source "$(dirname "$0")/lib.sh"

# make install is `cmake --install` with the prefix given (default /usr/local): the binary lands
# in PREFIX/bin and runs from there.
cmake --install "$BUILD_DIR" --prefix "$WORK/prefix" >"$WORK/install.log" ||
  { cat "$WORK/install.log"; fail "cmake --install failed"; }
[ -x "$WORK/prefix/bin/structflow" ] || { cat "$WORK/install.log"; fail "no PREFIX/bin/structflow"; }
"$WORK/prefix/bin/structflow" --version | grep -q '^structflow ' || fail "the installed binary does not run"

# inspect cuts long strings and lists to fit a screen; --full prints them whole (an error message
# of 300 characters, a list of 30 items).
$PY - "$WORK" <<'PYEOF'
import json, sys
msg = "server said: " + "x" * 280 + " THE END"
with open(f"{sys.argv[1]}/failed.jsonl", "w") as f:
    f.write(json.dumps({"output": None, "tags": list(range(30)),
                        "error": {"kind": "http_status", "message": msg}}) + "\n")
PYEOF
"$STRUCTFLOW" inspect "$WORK/failed.jsonl" >"$WORK/short.txt"
grep -q "THE END" "$WORK/short.txt" && fail "inspect without --full did not cut the long message"
grep -q "more)" "$WORK/short.txt" || fail "inspect without --full did not cut the long list"
"$STRUCTFLOW" inspect "$WORK/failed.jsonl" --full >"$WORK/full.txt"
$PY - "$WORK/full.txt" <<'PYEOF'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
row = json.loads(lines[-1])
assert row["error"]["message"].endswith(" THE END"), row
assert len(row["error"]["message"]) == len("server said: ") + 280 + len(" THE END"), row
assert row["tags"] == list(range(30)), row
PYEOF
echo "input_friction: ok"

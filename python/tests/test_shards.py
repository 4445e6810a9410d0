"""Job arrays: `structflow run --shard K/N` on N machines gives every row exactly once, and the
README's recipe puts the shard outputs back together in input order."""

import json
import os
import subprocess

import pandas as pd
import pytest

STRUCTFLOW = os.environ.get("STRUCTFLOW_BIN")


def merge_shards(frames):
    """The README's recipe: the shards' --row-id column puts them back in input order."""
    return pd.concat(frames).sort_values("row", kind="stable").set_index("row")


@pytest.mark.skipif(not STRUCTFLOW, reason="STRUCTFLOW_BIN (the CLI) not given")
@pytest.mark.parametrize("n", [1, 3, 4])
def test_n_shards_give_every_row_once_and_merge_in_input_order(sim, tmp_path, n):
    rows = 103  # not a multiple of 3 or 4: the last shards are one row shorter
    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps({"id": i, "q": f"question {i}"}) + "\n"
                            for i in range(rows)))
    frames = []
    for k in range(n):
        out = tmp_path / f"shard-{k}.jsonl"
        # What a job array runs: K from $SLURM_ARRAY_TASK_ID or $JOB_COMPLETION_INDEX.
        subprocess.run([STRUCTFLOW, "run", str(data), "--prompt", "{q}", "--choice", "A,B",
                        "--endpoint", sim.url, "--shard", f"{k}/{n}", "--row-id", "row",
                        "--out", str(out)],
                       check=True, capture_output=True, env={**os.environ, "NO_COLOR": "1"})
        frames.append(pd.read_json(out, lines=True))
    assert sum(len(f) for f in frames) == rows
    merged = merge_shards(frames)
    assert list(merged["id"]) == list(range(rows))  # every row once, in input order
    assert list(merged.index) == list(range(rows))
    # A shard is the rows whose id % N == K.
    assert all((f["row"] % n == k).all() for k, f in enumerate(frames))
    assert merged["error"].isna().all() and set(merged["output"]) <= {"A", "B"}

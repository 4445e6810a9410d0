"""AI2D-style multiple choice over a Dask DataFrame: one structflow job per partition, run by Dask
(the threaded scheduler, or a distributed cluster with WORKERS=N). Usage:
    python3 dask_ai2d.py [ROWS]        (default 2000 rows, 8 partitions)
ENDPOINT=http://HOST:PORT/v1 (comma-separated replicas) for your servers, else two built-in
simulator replicas answer. Run it twice: the second run resumes from ckpt/ and sends nothing."""
import os, sys
from contextlib import ExitStack

import dask.dataframe as dd
import pandas as pd

import structflow
import structflow.dask

rows = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
questions = pd.DataFrame({
    "question": [f"Which label points at part {i % 17} of diagram {i}?" for i in range(rows)],
    "options": ["A: stem B: leaf C: root D: flower"] * rows})
ddf = dd.from_pandas(questions, npartitions=8, sort=False)

if __name__ == "__main__":  # distributed's worker processes import this file
    with ExitStack() as stack:
        if os.environ.get("ENDPOINT"):
            endpoints = os.environ["ENDPOINT"].split(",")
        else:
            endpoints = [stack.enter_context(structflow.Sim(latency_ms=5)).url for _ in range(2)]
        if os.environ.get("WORKERS"):
            from distributed import Client, LocalCluster
            cluster = stack.enter_context(LocalCluster(
                n_workers=int(os.environ["WORKERS"]), threads_per_worker=1, processes=True,
                dashboard_address=None))
            stack.enter_context(Client(cluster))
        out = structflow.dask.run(
            ddf, prompt="{question}\n{options}\nAnswer with the letter.",
            choices=["A", "B", "C", "D"], max_tokens=4, endpoint=endpoints,
            model=os.environ.get("MODEL"), checkpoint_dir="ckpt/dask_ai2d")
        answers = out.compute()
    print(answers["output"].value_counts().to_string())
    print(f"{len(answers)} rows, {answers['error'].notna().sum()} failed; "
          "checkpoints in ckpt/dask_ai2d/ (delete it to start over)")

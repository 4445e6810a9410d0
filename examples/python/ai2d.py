"""AI2D multiple choice with and without the image, scored: structflow's canonical workload.
Usage: python3 ai2d.py [DATA]   (DATA: AI2D Parquet files, e.g. 'data/ai2d/*.parquet'; default:
the demo's diagrams from `make run`). ENDPOINT=http://HOST:PORT/v1 for your server, else the
built-in simulator answers."""
import os, sys
from contextlib import nullcontext

import structflow

data = sys.argv[1] if len(sys.argv) > 1 else "out/demo/diagrams.parquet"
job = dict(prompt="{texts.user}", choices=["A", "B", "C", "D"], max_tokens=4, explode=["images", "texts"],
           extract={"key": "texts.assistant:Answer: ([A-D])"}, model=os.environ.get("MODEL"))
with nullcontext() if os.environ.get("ENDPOINT") else structflow.Sim() as sim:
    endpoint = os.environ.get("ENDPOINT") or sim.url
    with_image = structflow.run(data, images="images", endpoint=endpoint, **job)
    without = structflow.run(data, endpoint=endpoint, **job)
print(structflow.eval(with_image, without, labels=["with image", "without image"]))

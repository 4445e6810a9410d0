"""bench/dask/run.sh's Dask contender (a file: distributed's worker processes import the main
module). Usage: dask_job.py GLOB ENDPOINT SCHEMA WORKERS; prints rows, job seconds, cluster start
seconds."""
import sys
import time

from distributed import Client, LocalCluster

import structflow.dask

if __name__ == "__main__":
    files, url, schema, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    t = time.monotonic()
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        start = time.monotonic() - t
        out = structflow.dask.run(files, prompt="{text}", schema=schema, max_tokens=64,
                                  images=["image"], image_max_side=768, image_quality=85,
                                  endpoint=url)
        t = time.monotonic()
        got = client.compute(out).result()
        job = time.monotonic() - t
    assert got["error"].isna().all(), got["error"].dropna().head()
    print(len(got), job, start)

"""structflow.dask: the same job as structflow.run over a Dask DataFrame, one task per partition.

    import dask.dataframe as dd, structflow.dask
    ddf = dd.from_pandas(questions, npartitions=8)
    out = structflow.dask.run(ddf, prompt="{question}", choices=["A", "B", "C", "D"],
                              endpoint=["http://gpu1:8000/v1", "http://gpu2:8000/v1"],
                              checkpoint_dir="ckpt/")
    out.compute()            # or out.to_parquet(...): lazy until then

Each partition is one structflow job run by process_partition on whichever worker Dask picks:
- every partition a worker process runs shares that process's engine (one client, one adaptive
  controller per process; controllers in different processes meet only in the servers' queues,
  as several CLI runs do);
- with checkpoint_dir, partition i keeps its finished rows in checkpoint_dir/part-<i>.sqlite, so
  a task Dask runs again (a worker died) or the whole job submitted again sends only the rows not
  finished yet (the engine also checks each row's fingerprint: a row whose prompt or data
  changed is sent again);
- only the results come back from the engine and are joined to the partition, so input columns
  are not copied through C++; the partition keeps its index and row order.

process_partition(pdf, spec) is the per-partition function on its own, for other engines (Ray
Data's map_batches, Spark's mapInPandas): see the README.
"""

import json
import os

import pandas as pd

from ._errors import InputError
from ._run import _flatten, _schema_text, run as _run_frame

_STRING_CONSTRAINTS = ("choices", "regex")


def _checked_spec(spec):
    spec = dict(spec)
    for key in ("explode", "extract"):
        if spec.get(key):
            raise InputError(
                f"structflow.dask: {key}= changes the number of rows, so results cannot be joined "
                "back to a partition; run structflow.run on the files instead, or explode the "
                "Dask DataFrame before the job", stage="input")
    for key in ("checkpoint", "progress", "shared_engine"):
        if key in spec:
            raise TypeError(f"structflow.dask: {key}= is set per partition; give checkpoint_dir= "
                            "for checkpoints")
    if "prompt" not in spec:
        raise TypeError("structflow.dask.run() needs prompt=")
    return spec


def result_meta(input_meta, spec):
    """The empty frame with the columns and dtypes process_partition returns for `input_meta`
    (what Dask needs as meta= before any partition ran)."""
    out_col = spec.get("output_column", "output")
    frame = input_meta.iloc[:0].copy()
    frame[out_col] = pd.Series([], index=frame.index, dtype=object)
    if spec.get("keep_raw"):
        frame[out_col + "_raw"] = pd.Series([], index=frame.index, dtype=object)
    frame["error"] = pd.Series([], index=frame.index, dtype=object)
    if spec.get("schema") is None:
        frame[out_col] = frame[out_col].astype("string")
    elif spec.get("flatten") and not spec.get("as_models"):
        frame = _flatten(frame, out_col, _schema_text(spec["schema"])[0])
    return frame


def process_partition(pdf, spec, partition_index=None, checkpoint_dir=None):
    """Runs the job `spec` (structflow.run's keyword arguments as a dict) over the pandas frame
    `pdf` on this process's shared engine and returns `pdf` with the output and error columns.
    With checkpoint_dir and partition_index, finished rows are kept in
    checkpoint_dir/part-<partition_index>.sqlite and not sent again by a later call."""
    spec = _checked_spec(spec)
    if len(pdf) == 0:
        return result_meta(pdf, spec)
    checkpoint = None
    if checkpoint_dir is not None:
        if partition_index is None:
            raise TypeError("process_partition: checkpoint_dir= needs partition_index= (which "
                            "partition this is, stable between runs)")
        os.makedirs(checkpoint_dir, exist_ok=True)
        checkpoint = os.path.join(os.fspath(checkpoint_dir),
                                  f"part-{int(partition_index):05d}.sqlite")
    frame = _run_frame(pdf, checkpoint=checkpoint, progress=False, shared_engine=True, **spec)
    frame.attrs = {}  # the report stays on the worker; Dask concatenates frames without it
    return frame


def _partition_task(pdf, index, spec_json, spec_extra, checkpoint_dir):
    spec = {**json.loads(spec_json), **spec_extra}
    return process_partition(pdf, spec, index, checkpoint_dir)


def run(ddf, *, checkpoint_dir=None, npartitions=None, **spec):
    """structflow.run over a Dask DataFrame (or a pandas frame split into `npartitions`):
    returns a lazy Dask DataFrame with the same columns and dtypes structflow.run gives. The
    arguments are structflow.run's (prompt=, schema=, choices=, endpoint=, ...); checkpoint_dir=
    keeps one checkpoint per partition there so a re-run resends nothing that finished."""
    import dask.dataframe as dd

    if isinstance(ddf, pd.DataFrame):
        ddf = dd.from_pandas(ddf, npartitions=npartitions or 1, sort=False)
    elif not isinstance(ddf, dd.DataFrame):
        raise InputError(f"structflow.dask.run: data of type {type(ddf).__name__}: give a Dask "
                         "DataFrame (dd.read_parquet(...), dd.from_pandas(...)) or a pandas "
                         "DataFrame with npartitions=", stage="input")
    spec = _checked_spec(spec)
    meta = result_meta(ddf._meta, spec)
    # JSON-able arguments travel as text (a stable task token); a Pydantic schema class travels
    # as itself (pickled by Dask).
    extra = {k: spec.pop(k) for k in list(spec) if k == "schema" and isinstance(spec[k], type)}
    spec_json = json.dumps(spec, sort_keys=True, default=os.fspath)
    if checkpoint_dir is not None:
        checkpoint_dir = os.path.abspath(os.fspath(checkpoint_dir))
    # One delayed task per partition with its index given outright (map_partitions'
    # partition_info= arrives wrapped on distributed's in-process workers in Dask 2022.12).
    from dask import delayed

    task = delayed(_partition_task, pure=True)
    parts = [task(part, i, spec_json, extra, checkpoint_dir)
             for i, part in enumerate(ddf.to_delayed())]
    return dd.from_delayed(parts, meta=meta, divisions=ddf.divisions, verify_meta=False)


__all__ = ["run", "process_partition", "result_meta"]

"""structflow.dask: the same job as structflow.run over a Dask DataFrame or over files, one task per
partition.

    import dask.dataframe as dd, structflow.dask
    ddf = dd.from_pandas(questions, npartitions=8)         # or "questions/*.parquet"
    out = structflow.dask.run(ddf, prompt="{question}", choices=["A", "B", "C", "D"],
                              endpoint=["http://gpu1:8000/v1", "http://gpu2:8000/v1"],
                              checkpoint_dir="ckpt/")
    out.compute()            # or out.to_parquet(...): lazy until then

Each partition is one structflow job run by process_partition on whichever worker Dask picks:
- every partition a worker process runs shares that process's engine (one client, one adaptive
  controller per process; controllers in different processes meet only in the servers' queues,
  as several CLI runs do);
- with checkpoint_dir, a partition keeps its finished rows in one SQLite checkpoint there whose
  name is a hash of the job's settings the answers depend on and of the partition's content
  (checkpoint_path), so a task Dask runs again (a worker died) or the whole job submitted again
  sends only the rows not finished yet, whichever partition number the rows have this time (the
  engine also checks each row's fingerprint: a row whose prompt or data changed is sent again);
- a Dask DataFrame's partitions: only the results come back from the engine and are joined to
  the partition, so input columns are not copied through C++; the partition keeps its index and
  row order;
- paths (.parquet/.jsonl/.csv files, globs): each file is one partition, read on the worker by
  structflow's own reader (as structflow.run(path) and the CLI read it).

process_partition(pdf, spec) is the per-partition function on its own, for other engines (Ray
Data's map_batches, Spark's mapInPandas): see the README.
"""

import glob
import hashlib
import json
import os

import pandas as pd

from . import _structflow as _native
from ._errors import InputError
from ._run import _flatten, _schema_text, run as _run_frame

# The arguments the engine fingerprints each row with (docs/architecture.md, "Checkpoint and
# resume"): the answers depend on them. A checkpoint's name hashes these and the partition's
# content; endpoints, concurrency, timeouts, max_tokens and the output's shape are left out (the
# engine itself decides what max_tokens changes).
_ANSWER_KEYS = ("prompt", "system", "model", "schema", "choices", "regex", "images",
                "temperature", "seed", "image_max_side", "image_max_pixels", "image_format",
                "image_quality", "fetch_images", "image_position", "schema_strict")


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


def _is_path(data):
    return isinstance(data, (str, os.PathLike))


def _job_key(spec):
    answer = {k: spec[k] for k in _ANSWER_KEYS if spec.get(k) is not None}
    if "schema" in answer:
        answer["schema"] = json.loads(_schema_text(answer["schema"])[0])
    text = json.dumps(answer, sort_keys=True, default=os.fspath)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _column_hash(series):
    try:
        return pd.util.hash_pandas_object(series, index=False).values
    except TypeError:  # unhashable cells (dicts, lists): their JSON text
        text = series.map(lambda v: json.dumps(v, sort_keys=True, default=repr))
        return pd.util.hash_pandas_object(text, index=False).values


def _content_key(data):
    h = hashlib.blake2b(digest_size=8)
    if _is_path(data):
        path = os.path.abspath(os.fspath(data))
        st = os.stat(path)
        h.update(json.dumps(["file", path, st.st_size, st.st_mtime_ns]).encode())
        return h.hexdigest()
    h.update(json.dumps([[str(c), str(t)] for c, t in data.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(data.index).values.tobytes())
    for c in data.columns:
        h.update(_column_hash(data[c]).tobytes())
    return h.hexdigest()


def checkpoint_path(data, spec, checkpoint_dir):
    """Where process_partition keeps the checkpoint of `data` (a pandas frame, or a file path)
    for the job `spec`: checkpoint_dir/part-<job>-<content>.sqlite, where <job> hashes the
    settings the answers depend on (prompt, system, model, constraint, images, temperature, seed,
    image options) and <content> hashes a frame's column names, dtypes, index and values
    (pandas.util.hash_pandas_object; dicts and lists by their JSON text) or a file's absolute
    path, size and modification time."""
    return os.path.join(os.fspath(checkpoint_dir),
                        f"part-{_job_key(spec)}-{_content_key(data)}.sqlite")


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


# structflow's reader's column types (Input.schema) as pandas dtypes: integers and booleans as
# pandas' nullable dtypes, so every file's partition has the same dtypes whether it has nulls.
def _dtype(type_text):
    if type_text.startswith(("int", "uint")):
        return "Int64"
    if type_text in ("double", "float", "float64", "float32"):
        return "float64"
    if type_text == "bool":
        return "boolean"
    return object


def _file_meta(path):
    """The empty input frame of `path` as structflow's reader types it (a Parquet footer, or the
    first 1,000 lines of a JSONL or CSV file, read here)."""
    native = _native.input_from_files([os.fspath(path)])
    lines = native.schema.splitlines()
    columns = {}
    for name, line in zip(native.columns, lines):
        columns[name] = pd.Series([], dtype=_dtype(line[len(name) + 2:]))
    return pd.DataFrame(columns)


def process_partition(data, spec, checkpoint_dir=None):
    """Runs the job `spec` (structflow.run's keyword arguments as a dict) over `data` (a pandas
    frame, or the path of one .parquet/.jsonl/.csv file) on this process's shared engine and
    returns it with the output and error columns (a frame keeps its index; a file's rows are
    numbered from 0). With checkpoint_dir, finished rows are kept in checkpoint_path(data, spec,
    checkpoint_dir) and not sent again by a later call on the same rows or file."""
    spec = _checked_spec(spec)
    if not _is_path(data) and len(data) == 0:
        return result_meta(data, spec)
    checkpoint = None
    if checkpoint_dir is not None:
        os.makedirs(checkpoint_dir, exist_ok=True)
        checkpoint = checkpoint_path(data, spec, checkpoint_dir)
    source = [os.fspath(data)] if _is_path(data) else data
    frame = _run_frame(source, checkpoint=checkpoint, progress=False, shared_engine=True, **spec)
    frame.attrs = {}  # the report stays on the worker; Dask concatenates frames without it
    return frame


def _spec_of(spec_json, spec_extra):
    return {**json.loads(spec_json), **spec_extra}


def _partition_task(pdf, spec_json, spec_extra, checkpoint_dir):
    return process_partition(pdf, _spec_of(spec_json, spec_extra), checkpoint_dir)


def _file_task(path, spec_json, spec_extra, checkpoint_dir, meta):
    frame = process_partition(path, _spec_of(spec_json, spec_extra), checkpoint_dir)
    if list(frame.columns) != list(meta.columns):
        raise InputError(
            f"structflow.dask: '{path}' has the columns {list(frame.columns)[:-1]} but the first "
            f"file has {list(meta.columns)[:-1]}: give files of one schema (or one run each)",
            stage="input")
    return frame.astype(meta.dtypes.to_dict())


def _expand(paths):
    if _is_path(paths):
        paths = [paths]
    files = []
    for p in paths:
        p = os.fspath(p)
        matches = sorted(glob.glob(p))
        if not matches:
            raise InputError(f"structflow.dask.run: no file matches '{p}': check the path or glob "
                             f"(relative paths are read from {os.getcwd()})", stage="input")
        files += [os.path.abspath(m) for m in matches]
    return files


def run(data, *, checkpoint_dir=None, npartitions=None, **spec):
    """structflow.run over a Dask DataFrame (each partition a task), a pandas frame split into
    `npartitions`, or paths (a list of .parquet/.jsonl/.csv files or globs: each file a task, read
    on the worker): returns a lazy Dask DataFrame with the same columns and dtypes structflow.run
    gives (for files: integer and boolean columns as Int64/boolean, each file's rows numbered
    from 0). The arguments are structflow.run's (prompt=, schema=, choices=, endpoint=, ...);
    checkpoint_dir= keeps one checkpoint per partition there, named by the job's settings and
    the partition's content (checkpoint_path), so a re-run resends nothing that finished."""
    import dask.dataframe as dd
    from dask import delayed

    spec = _checked_spec(spec)
    files = None
    if isinstance(data, pd.DataFrame):
        data = dd.from_pandas(data, npartitions=npartitions or 1, sort=False)
    elif _is_path(data) or (isinstance(data, (list, tuple)) and data
                            and all(_is_path(p) for p in data)):
        files = _expand(data)
    elif not isinstance(data, dd.DataFrame):
        raise InputError(f"structflow.dask.run: data of type {type(data).__name__}: give a Dask "
                         "DataFrame (dd.read_parquet(...), dd.from_pandas(...)), a pandas "
                         "DataFrame with npartitions=, or paths/globs of .parquet/.jsonl/.csv "
                         "files", stage="input")
    # JSON-able arguments travel as text (a stable task token); a Pydantic schema class travels
    # as itself (pickled by Dask).
    extra = {k: spec.pop(k) for k in list(spec) if k == "schema" and isinstance(spec[k], type)}
    meta = result_meta(_file_meta(files[0]) if files else data._meta, {**spec, **extra})
    spec_json = json.dumps(spec, sort_keys=True, default=os.fspath)
    if checkpoint_dir is not None:
        checkpoint_dir = os.path.abspath(os.fspath(checkpoint_dir))
    if files:
        task = delayed(_file_task, pure=True)
        parts = [task(f, spec_json, extra, checkpoint_dir, meta) for f in files]
        return dd.from_delayed(parts, meta=meta, verify_meta=False)
    # One delayed task per partition (map_partitions' partition_info= arrives wrapped on
    # distributed's in-process workers in Dask 2022.12).
    task = delayed(_partition_task, pure=True)
    parts = [task(part, spec_json, extra, checkpoint_dir) for part in data.to_delayed()]
    return dd.from_delayed(parts, meta=meta, divisions=data.divisions, verify_meta=False)


__all__ = ["run", "process_partition", "result_meta", "checkpoint_path"]

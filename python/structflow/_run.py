"""structflow.run / structflow.start: a job over a DataFrame (or files), typed results back."""

import glob
import io
import json
import os
import sys
import threading

import pandas as pd

from . import _structflow as _native
from ._errors import InputError, JobError, SchemaError, Stopped

_DEFAULT_ENDPOINT = "http://127.0.0.1:8000/v1"

# Engine (client) settings accepted as keyword arguments, with the CLI's defaults.
_ENGINE_DEFAULTS = {
    "max_attempts": 5,
    "request_timeout_s": 300.0,
    "stall_timeout_s": 60.0,
    "connect_timeout_s": 10.0,
    "workers": 0,
    "image_cache_mb": 64,
}

# JobSpec fields (include/structflow/job_spec.h) accepted as keyword arguments as they are.
_SPEC_PASSTHROUGH = {
    "schema_strict", "dialect", "max_output_retries", "retry_truncated", "keep_raw",
    "keep_binary", "limit", "shard_index", "shard_count", "seed", "image_max_side",
    "image_max_pixels", "image_format", "image_quality", "fetch_images", "fail_fast",
}

# The in-memory row stores of interrupted calls without checkpoint=, by call, so the same call
# resumes (rows whose prompt or data changed are sent again: the engine checks each row's
# fingerprint).
_interrupted = {}
_interrupted_lock = threading.Lock()


# Engines kept for the life of the process, by their options, for jobs started with
# shared_engine=True (structflow.process_partition: every partition a Dask worker process runs
# shares one client and one adaptive controller, as the issue asks).
_engines = {}
_engines_lock = threading.Lock()


def _shared_engine(engine_options):
    key = json.dumps(engine_options, sort_keys=True)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _native.engine(engine_options)
            _engines[key] = engine
        return engine


# ---------------------------------------------------------------------------------------------
# Arguments


def _schema_text(schema):
    """(JSON text, origin named in messages, Pydantic class or None)."""
    if isinstance(schema, type):
        if hasattr(schema, "model_json_schema"):  # Pydantic v2
            return json.dumps(schema.model_json_schema()), f"the Pydantic model {schema.__name__}", schema
        if hasattr(schema, "schema") and hasattr(schema, "parse_obj"):  # Pydantic v1
            return json.dumps(schema.schema()), f"the Pydantic model {schema.__name__}", schema
        raise SchemaError(
            f"schema={schema.__name__}: a class that is not a Pydantic model; give a Pydantic "
            "model class, a JSON Schema dict, JSON text or a path to a .json file", stage="schema")
    if isinstance(schema, dict):
        return json.dumps(schema), "the schema given to structflow", None
    if isinstance(schema, (str, os.PathLike)):
        text = os.fspath(schema)
        if text.lstrip().startswith("{"):
            return text, "the schema given to structflow", None
        try:
            with open(text, encoding="utf-8") as f:
                return f.read(), text, None
        except OSError as e:
            raise SchemaError(f"cannot read the schema file '{text}': {e.strerror}; check the path",
                              stage="schema") from None
    raise SchemaError(
        f"schema= of type {type(schema).__name__}: give a Pydantic model class, a JSON Schema "
        "dict, JSON text or a path to a .json file", stage="schema")


def _as_list(value):
    if value is None:
        return []
    if isinstance(value, (str, os.PathLike)):
        return [os.fspath(value)]
    return [os.fspath(v) if isinstance(v, os.PathLike) else v for v in value]


def _is_pil(value):
    mod = type(value).__module__
    return mod.startswith("PIL.") and hasattr(value, "save") and hasattr(value, "mode")


def _image_value(value):
    """PIL images become PNG bytes (JPEG bytes when they were read from a JPEG), paths strings;
    dicts and lists are walked."""
    if _is_pil(value):
        buf = io.BytesIO()
        fmt = "JPEG" if getattr(value, "format", None) == "JPEG" else "PNG"
        value.save(buf, format=fmt)
        return buf.getvalue()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, dict):
        return {k: _image_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_image_value(v) for v in value]
    return value


def _column_values(series, is_image):
    kind = series.dtype.kind
    if kind in "iub" and not pd.api.types.is_extension_array_dtype(series.dtype):
        return series.tolist()
    if kind == "f" and not pd.api.types.is_extension_array_dtype(series.dtype):
        return series.tolist()  # NaN is a missing value
    if kind in "mM":
        return series.astype(str).where(series.notna(), None).tolist()
    values = series.astype(object).where(series.notna(), None).tolist()
    if is_image:
        values = [_image_value(v) for v in values]
    else:
        values = [os.fspath(v) if isinstance(v, os.PathLike) else v for v in values]
    return values


def _head(path):
    """The top-level column of a column path like "images[0].bytes"."""
    for i, ch in enumerate(path):
        if ch in ".[":
            return path[:i]
    return path


def _to_frame(data):
    """(DataFrame or None, list of files or None)."""
    if isinstance(data, pd.DataFrame):
        return data, None
    if isinstance(data, (str, os.PathLike)):
        return None, [os.fspath(data)]
    if isinstance(data, dict):
        return pd.DataFrame(data), None
    if isinstance(data, (list, tuple)):
        if not data:
            raise InputError("data is an empty list: give rows (dicts), a DataFrame or paths",
                             stage="input")
        if all(isinstance(d, (str, os.PathLike)) for d in data):
            return None, [os.fspath(d) for d in data]
        if all(isinstance(d, dict) for d in data):
            return pd.DataFrame.from_records(list(data)), None
    if hasattr(data, "to_pandas"):  # pyarrow tables, Daft/Polars frames
        return data.to_pandas(), None
    raise InputError(
        f"data of type {type(data).__name__}: give a pandas DataFrame, a list of dicts, a dict "
        "of lists, or paths/globs of .parquet/.jsonl/.csv files or image folders", stage="input")


def _files_exist(files):
    for f in files:
        if not glob.glob(f) and not os.path.exists(f):
            raise InputError(f"no file matches '{f}': check the path or glob (relative paths are "
                             f"read from {os.getcwd()})", stage="input")


# ---------------------------------------------------------------------------------------------
# Output


def _json_type(prop, defs):
    """The scalar JSON type of a schema property ("integer", ...), or None for anything else."""
    if not isinstance(prop, dict):
        return None
    if "$ref" in prop:
        ref = prop["$ref"].split("/")[-1]
        return _json_type(defs.get(ref, {}), defs)
    t = prop.get("type")
    if isinstance(t, list):
        t = [x for x in t if x != "null"]
        t = t[0] if len(t) == 1 else None
    if t is None:
        for key in ("anyOf", "oneOf"):
            options = [o for o in prop.get(key, []) if o.get("type") != "null"]
            if len(options) == 1:
                return _json_type(options[0], defs)
        if "enum" in prop and all(isinstance(v, str) for v in prop["enum"]):
            return "string"
    return t


_DTYPES = {"integer": "Int64", "number": "Float64", "boolean": "boolean", "string": "string"}


def _flatten(frame, column, schema_json):
    schema = json.loads(schema_json)
    defs = {**schema.get("definitions", {}), **schema.get("$defs", {})}
    props = schema.get("properties", {})
    values = frame[column].tolist()
    at = frame.columns.get_loc(column)
    frame = frame.drop(columns=[column])
    for k, (name, prop) in enumerate(props.items()):
        cells = [None if v is None else v.get(name) for v in values]
        dtype = _DTYPES.get(_json_type(prop, defs))
        if dtype is not None:
            try:
                data = pd.array(cells, dtype=dtype)
            except (TypeError, ValueError):
                data = pd.Series(cells, dtype=object, index=frame.index)
        else:
            data = pd.Series(cells, dtype=object, index=frame.index)
        label = name if name not in frame.columns else f"{column}.{name}"
        frame.insert(at + k, label, pd.Series(data, index=frame.index))
    return frame


def _models(values, model):
    build = getattr(model, "model_validate", None) or model.parse_obj
    return [None if v is None else build({k: x for k, x in v.items() if x is not None})
            for v in values]


# ---------------------------------------------------------------------------------------------
# Progress


class _Bar:
    """tqdm (terminals and notebooks) when installed, else a plain line on stderr."""

    def __init__(self, enabled):
        self.enabled = enabled
        self.tqdm = None
        self.last = 0
        if not enabled:
            return
        try:
            from tqdm.auto import tqdm
            self.tqdm = tqdm(total=None, unit="row", desc="structflow", dynamic_ncols=True)
        except ImportError:
            pass

    def update(self, p):
        if not self.enabled:
            return
        done = p["done"] + p["resumed"]
        if self.tqdm is not None:
            if p["total"] >= 0 and self.tqdm.total is None:
                self.tqdm.total = p["total"] + p["resumed"]
                self.tqdm.refresh()
            self.tqdm.set_postfix(failed=p["failed"], in_flight=p["in_flight"], refresh=False)
            self.tqdm.update(done - self.last)
            self.last = done
        else:
            sys.stderr.write("\r\033[K" + p["line"])
            sys.stderr.flush()

    def close(self):
        if not self.enabled:
            return
        if self.tqdm is not None:
            self.tqdm.close()
        else:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def _progress_wanted(progress):
    if progress is not None:
        return bool(progress)
    if "ipykernel" in sys.modules:
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


# ---------------------------------------------------------------------------------------------
# The job


class Job:
    """A running job (from structflow.start). ``progress`` gives live figures, ``stop()`` asks
    it to stop, ``result()`` waits and returns the DataFrame."""

    def __init__(self, native, ctx):
        self._native = native
        self._ctx = ctx
        self._frame = None

    @property
    def progress(self):
        """Live figures: total, resumed, done, succeeded, failed, in_flight, elapsed_s, line."""
        return self._native.progress()

    def stop(self, abandon=False):
        """Stops sending new rows; requests in flight finish and are kept (abandon=True cancels
        them). Returns at once; result() then raises Stopped."""
        self._native.stop(abandon)

    def done(self):
        return self._native.wait_for(0)

    def result(self, progress=None):
        """Waits for the job and returns its DataFrame. Ctrl-C (in the main thread) stops the
        job: the first drains requests in flight, a second abandons them; finished rows are
        kept and KeyboardInterrupt is raised; the same call resumes."""
        if self._frame is not None:
            return self._frame
        ctx = self._ctx
        bar = _Bar(_progress_wanted(ctx["progress"] if progress is None else progress))
        try:
            try:
                while not self._native.wait_for(0.2):
                    bar.update(self._native.progress())
            except KeyboardInterrupt:
                self._native.stop(False)
                sys.stderr.write("\nstructflow: stopping: no new requests; waiting for those in "
                                 "flight (Ctrl-C again abandons them)\n")
                try:
                    while not self._native.wait_for(0.2):
                        pass
                except KeyboardInterrupt:
                    self._native.stop(True)
                    while not self._native.wait_for(0.2):
                        pass
                report, _ = self._native.result()
                self._remember()
                raise KeyboardInterrupt(
                    f"structflow: interrupted after {report['sent_this_run']} rows "
                    f"({report['sent_this_run'] + report['resumed']} kept in "
                    f"{self._where()}); run the same call again to resume") from None
            bar.update(self._native.progress())
        finally:
            bar.close()
        try:
            report, columns = self._native.result()
        except JobError:
            self._ctx.pop("store", None)
            raise
        if not report["complete"]:
            self._remember()
            raise Stopped(
                f"the job stopped after {report['sent_this_run']} rows "
                f"({report['sent_this_run'] + report['resumed']} kept in {self._where()}); run the "
                "same call again to resume", report)
        ctx.pop("store", None)
        with _interrupted_lock:
            _interrupted.pop(ctx["resume_key"], None)
        self._frame = _assemble(ctx, report, columns)
        return self._frame

    def _where(self):
        cp = self._ctx["checkpoint"]
        return cp if cp else "memory, for the same call in this process"

    def _remember(self):
        store = self._ctx.pop("store", None)  # a checkpoint is closed with its last reference
        if not self._ctx["checkpoint"]:
            with _interrupted_lock:
                _interrupted[self._ctx["resume_key"]] = store


def _assemble(ctx, report, columns):
    out_col = ctx["output_column"]
    # The result columns after the output, in the engine's order: raw, then the confidences.
    extra = ([out_col + "_raw"] if ctx["keep_raw"] else []) + {
        "off": [], "answer": ["confidence"],
        "full": ["confidence", "confidence_distribution"]}[ctx["confidence"]]
    if columns is None:  # no rows: the sink received no batch
        columns = {"row_id": [], out_col: [], "error": []}
        for name in extra:
            columns[name] = []
    if ctx["frame"] is not None and ctx["results_only"]:
        frame = ctx["frame"].copy()
        n = len(frame)
        outputs, errors = [None] * n, [None] * n
        extras = {name: [None] * n for name in extra}
        for k, row_id in enumerate(columns["row_id"]):
            outputs[row_id] = columns[out_col][k]
            errors[row_id] = columns["error"][k]
            for name, values in extras.items():
                values[row_id] = columns[name][k]
        frame[out_col] = pd.Series(outputs, index=frame.index, dtype=object)
        for name, values in extras.items():
            frame[name] = pd.Series(values, index=frame.index, dtype=object)
        frame["error"] = pd.Series(errors, index=frame.index, dtype=object)
    else:
        frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in columns.items()})
        frame = frame.infer_objects()
    if ctx["constraint"] in ("choice", "regex", "none"):
        frame[out_col] = frame[out_col].astype("string")
    elif ctx["model"] is not None and ctx["as_models"]:
        frame[out_col] = pd.Series(_models(frame[out_col].tolist(), ctx["model"]),
                                   index=frame.index, dtype=object)
    elif ctx["flatten"]:
        frame = _flatten(frame, out_col, ctx["schema_json"])
    if ctx["confidence"] != "off" and ctx["constraint"] == "choice":
        frame["confidence"] = frame["confidence"].astype("Float64")
    frame.attrs["structflow"] = report
    return frame


def _confidence_mode(confidence):
    """confidence= as the engine's mode: None/False "off", True "answer", or the mode named."""
    if confidence is None or confidence is False:
        return "off"
    if confidence is True:
        return "answer"
    if confidence in ("off", "answer", "full"):
        return confidence
    raise TypeError(f"confidence={confidence!r}: give True (a confidence column), \"full\" (also "
                    "confidence_distribution) or False")


def start(data, *, prompt, schema=None, choices=None, regex=None, images=(), system=None,
          endpoint=None, model=None, api_key=None, concurrency=None, max_tokens=None,
          temperature=None, explode=(), extract=None, checkpoint=None, progress=None,
          flatten=False, as_models=False, output_column="output", shared_engine=False,
          confidence=None, **options):
    """Starts a job and returns a Job at once (see structflow.run for the arguments).
    shared_engine=True runs it on this process's engine for these engine options (made on first
    use, kept until the process ends) instead of a new one."""
    frame, files = _to_frame(data)
    images = _as_list(images)
    explode = _as_list(explode)
    if isinstance(extract, dict):  # {"key": "texts.assistant:Answer: ([A-D])"}
        extract = [f"{k}={v}" for k, v in extract.items()]
    extract = _as_list(extract)

    kinds = sum(x is not None for x in (schema, choices, regex))
    if kinds > 1:
        raise SchemaError("give one of schema=, choices= or regex=, not several", stage="schema")
    spec = {"prompt": prompt, "images": images, "explode": explode, "extract": extract,
            "output_column": output_column}
    if system is not None:
        spec["system"] = system
    if model is not None:
        spec["model"] = model
    if max_tokens is not None:
        spec["max_tokens"] = int(max_tokens)
    if temperature is not None:
        spec["temperature"] = float(temperature)
    confidence_mode = _confidence_mode(confidence)
    spec["confidence"] = confidence_mode
    schema_json, pyd = None, None
    if schema is not None:
        schema_json, origin, pyd = _schema_text(schema)
        spec.update(constraint="json_schema", json_schema=schema_json, schema_origin=origin)
        constraint = "json_schema"
    elif choices is not None:
        if isinstance(choices, str):
            choices = [c.strip() for c in choices.split(",")]
        spec.update(constraint="choice", choices=[str(c) for c in choices])
        constraint = "choice"
    elif regex is not None:
        spec.update(constraint="regex", regex=regex)
        constraint = "regex"
    else:
        constraint = "none"
    engine = dict(_ENGINE_DEFAULTS)
    for key, value in options.items():
        if key in _SPEC_PASSTHROUGH:
            spec[key] = value
        elif key in _ENGINE_DEFAULTS:
            engine[key] = value
        else:
            raise TypeError(f"structflow.run() got an unknown argument '{key}'")
    if "image_format" in spec and spec["image_format"] == "jpg":
        spec["image_format"] = "jpeg"
    if endpoint is None:
        endpoint = os.environ.get("OPENAI_BASE_URL") or _DEFAULT_ENDPOINT
    engine["endpoints"] = _as_list(endpoint)
    engine["api_key"] = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
    engine["concurrency"] = int(concurrency or 0)
    engine["has_images"] = bool(images)

    results_only = frame is not None and not explode and not extract
    if frame is not None:
        image_heads = {_head(p) for p in images}
        names = [str(c) for c in frame.columns]
        if len(set(names)) != len(names):
            raise InputError("the DataFrame has two columns of one name: rename them",
                             stage="input")
        values = [_column_values(frame[c], str(c) in image_heads) for c in frame.columns]
        native_input = _native.input_from_columns(names, values, os.getcwd())
    else:
        _files_exist(files)
        native_input = _native.input_from_files(files)

    spec_json = json.dumps(spec)
    resume_key = json.dumps([spec_json, engine["endpoints"], files])
    if checkpoint:
        store = _native.sqlite_store(os.fspath(checkpoint), "python")
    else:
        with _interrupted_lock:
            store = _interrupted.get(resume_key) or _native.memory_store()
    if as_models and pyd is None:
        raise SchemaError("as_models=True needs schema= to be a Pydantic model class",
                          stage="schema")
    shared = _shared_engine(engine) if shared_engine else None
    native = _native.start(native_input, spec_json, engine, store, results_only, shared)
    ctx = {"frame": frame, "results_only": results_only, "output_column": output_column,
           "keep_raw": bool(spec.get("keep_raw")), "constraint": constraint,
           "confidence": confidence_mode,
           "schema_json": schema_json, "model": pyd, "as_models": as_models, "flatten": flatten,
           "progress": progress, "checkpoint": os.fspath(checkpoint) if checkpoint else None,
           "store": store, "resume_key": resume_key}
    return Job(native, ctx)


def run(data, *, prompt, schema=None, choices=None, regex=None, images=(), system=None,
        endpoint=None, model=None, api_key=None, concurrency=None, max_tokens=None,
        temperature=None, explode=(), extract=None, checkpoint=None, progress=None,
        flatten=False, as_models=False, output_column="output", confidence=None, **options):
    """Runs a model over every row of ``data`` and returns a pandas DataFrame: the input columns,
    ``output`` (a dict per row for a schema, a string for choices, a regex or no constraint) and
    ``error`` (None, or {kind, message, http_status, attempts}). confidence=True adds
    ``confidence``: the chosen value's probability from the server's log-probabilities,
    renormalised over the allowed values (a float for choices; a dict with one per enum and
    boolean field for a schema; None where the server returns none); confidence="full" also
    ``confidence_distribution`` (every allowed value with its probability). See the README for every
    argument; other keyword arguments are the CLI's flags with underscores (seed, dialect,
    image_max_side, keep_raw, fail_fast, max_attempts, request_timeout_s, ...)."""
    job = start(data, prompt=prompt, schema=schema, choices=choices, regex=regex, images=images,
                system=system, endpoint=endpoint, model=model, api_key=api_key,
                concurrency=concurrency, max_tokens=max_tokens, temperature=temperature,
                explode=explode, extract=extract, checkpoint=checkpoint, progress=progress,
                flatten=flatten, as_models=as_models, output_column=output_column,
                confidence=confidence, **options)
    return job.result()


__all__ = ["run", "start", "Job", "JobError"]

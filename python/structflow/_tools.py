"""The rest of the CLI from Python: the simulator, doctor and eval."""

import json
import math
import os

from . import _structflow as _native
from ._errors import InputError


class Sim:
    """The built-in OpenAI-compatible vLLM simulator, in this process, on a free 127.0.0.1 port.

        with structflow.Sim(latency_ms=0) as sim:
            df = structflow.run(rows, prompt="...", choices=["A", "B"], endpoint=sim.url)

    Options are `structflow sim`'s flags with underscores: models (a list; default
    ["sim-vlm"]), api ("vllm-0.12", "vllm-0.10", "openai"), latency_ms (>= 0: fixed service time;
    default: the batching model), max_num_seqs, faults ("429:0.1,reset:0.02"), seed,
    image_support, max_model_len, threads."""

    def __init__(self, **options):
        if "model" in options:
            options["models"] = [options.pop("model")]
        self._server = _native.Sim(options)

    @property
    def url(self):
        """The base URL to pass as endpoint=, "http://127.0.0.1:PORT/v1"."""
        return self._server.url

    @property
    def port(self):
        return self._server.port

    def metrics(self):
        return self._server.metrics()

    def stop(self):
        self._server.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


class DoctorLine:
    def __init__(self, name, verdict, text, formatted):
        self.name, self.verdict, self.text, self._formatted = name, verdict, text, formatted

    def __str__(self):
        return self._formatted

    def __repr__(self):
        return f"DoctorLine({self.name!r}, {self.verdict!r}, {self.text!r})"


class DoctorReport:
    """What `structflow doctor` prints: ``lines`` (name, verdict "ok"/"warn"/"fail", text) and
    ``ok`` (no check failed: a job can run). ``str(report)`` is the CLI's text."""

    def __init__(self, d):
        self.lines = [DoctorLine(*line) for line in d["lines"]]
        self.ok = d["ok"]
        self.dialects_honoured = d["dialects_honoured"]
        self.images_accepted = d["images_accepted"]
        self.image_limit = d["image_limit"]
        self.max_model_len = d["max_model_len"]
        self.suggested_concurrency = d["suggested_concurrency"]

    def __bool__(self):
        return self.ok

    def __str__(self):
        return "\n".join(str(line) for line in self.lines)

    def __repr__(self):
        return f"<DoctorReport ok={self.ok}>\n{self}"


def doctor(endpoint=None, *, model=None, api_key=None, load_test=True):
    """Checks a server before a long job (as `structflow doctor`) and returns a DoctorReport."""
    if endpoint is None:
        endpoint = os.environ.get("OPENAI_BASE_URL", "")
    return DoctorReport(_native.doctor(endpoint, model or "", api_key or "", "",
                                       os.environ.get("OPENAI_API_KEY", ""), bool(load_test)))


def _lookup(value, path):
    for part in path.split("."):
        if value is None:
            return None
        if isinstance(value, dict):
            value = value.get(part)
        else:
            value = getattr(value, part, None)
    return value


def _missing(v):
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is getattr(
        __import__("pandas"), "NA", object())


def _text(v):
    if isinstance(v, str):
        return v
    if hasattr(v, "model_dump"):
        v = v.model_dump()
    elif hasattr(v, "dict") and hasattr(v, "parse_obj"):
        v = v.dict()
    return json.dumps(v, separators=(",", ":"))


def _outcomes(results, pred, key, error):
    if isinstance(results, (str, os.PathLike)):
        return os.fspath(results), _native.read_outcomes(os.fspath(results), pred, key, error)
    frame = results
    head, _, rest = pred.partition(".")
    khead, _, krest = key.partition(".")
    for col in (head, khead):
        if col not in frame.columns:
            raise InputError(f"eval: the results have no column '{col}'; they have: "
                             f"{', '.join(map(str, frame.columns))}", stage="input")
    rows = []
    errs = frame[error].tolist() if error and error in frame.columns else [None] * len(frame)
    preds = frame[head].tolist()
    keys = frame[khead].tolist()
    for p, k, e in zip(preds, keys, errs):
        p = _lookup(p, rest) if rest else p
        k = _lookup(k, krest) if krest else k
        failed = not _missing(e)
        has_key = not _missing(k)
        rows.append((failed, has_key, "" if _missing(p) else _text(p),
                     _text(k) if has_key else ""))
    return "DataFrame", rows


class Figures(dict):
    """The figures of `structflow eval --json` as a dict; ``str()`` gives `eval`'s text report."""

    def __init__(self, json_text, text):
        super().__init__(json.loads(json_text))
        self.text = text

    def __str__(self):
        return self.text


def eval(results, other=None, *, pred="output", key="key", error="error", labels=None):
    """Scores results against their answer key (as `structflow eval --json`) and returns its
    figures as a dict: accuracy with a 95% interval, per-class counts, the confusion table; with
    ``other`` (the same rows run another way, say without the image) both scores and the
    four-way table. ``results``/``other``: DataFrames from structflow.run or results files.
    ``print(figures)`` shows the CLI's text report."""
    name_a, rows_a = _outcomes(results, pred, key, error)
    if labels:
        name_a = labels[0]
    if other is None:
        return Figures(*_native.score(name_a, rows_a))
    name_b, rows_b = _outcomes(other, pred, key, error)
    if labels:
        name_b = labels[1]
    return Figures(*_native.compare(name_a, rows_a, name_b, rows_b))

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


def _outcomes(results, pred, key, error, by, normalize):
    if isinstance(results, (str, os.PathLike)):
        path = os.fspath(results)
        return path, _native.read_outcomes(path, pred, key, error, by or "", normalize)
    frame = results
    paths = [pred, key] + ([by] if by else [])
    for col in (p.partition(".")[0] for p in paths):
        if col not in frame.columns:
            raise InputError(f"eval: the results have no column '{col}'; they have: "
                             f"{', '.join(map(str, frame.columns))}", stage="input")

    def cells(path):
        head, _, rest = path.partition(".")
        values = frame[head].tolist()
        return [_lookup(v, rest) for v in values] if rest else values

    norm = _native.normalize_answer if normalize else (lambda t: t)
    errs = frame[error].tolist() if error and error in frame.columns else [None] * len(frame)
    groups = cells(by) if by else [None] * len(frame)
    rows = []
    for p, k, e, g in zip(cells(pred), cells(key), errs, groups):
        failed = not _missing(e)
        has_key = not _missing(k)
        kind = message = ""
        if failed:
            kind = str(e.get("kind", "error")) if isinstance(e, dict) else "error"
            message = str(e.get("message", "")) if isinstance(e, dict) else str(e)
        rows.append((failed, has_key, "" if _missing(p) else norm(_text(p)),
                     norm(_text(k)) if has_key else "", "" if _missing(g) else _text(g),
                     kind, message))
    return "DataFrame", rows


class Figures(dict):
    """The figures of `structflow eval --json` as a dict; ``str()`` gives `eval`'s text report."""

    def __init__(self, json_text, text):
        super().__init__(json.loads(json_text))
        self.text = text

    def __str__(self):
        return self.text


def eval(results, other=None, *, pred="output", key="key", error="error", by=None,
         normalize=True, labels=None):
    """Scores results against their answer key (as `structflow eval --json`) and returns its
    figures as a dict: accuracy with a 95% interval, per-class counts, the confusion table; with
    ``other`` (the same rows run another way, say without the image) both scores and the
    four-way table. ``results``/``other``: DataFrames from structflow.run or results files.
    ``by``: a column path to break the score down by; ``normalize=False`` compares keys and
    predictions as they are (`eval --no-normalize`). ``print(figures)`` shows the CLI's text
    report."""
    name_a, rows_a = _outcomes(results, pred, key, error, by, normalize)
    if labels:
        name_a = labels[0]
    if other is None:
        return Figures(*_native.score(name_a, rows_a, by or "", normalize))
    name_b, rows_b = _outcomes(other, pred, key, error, by, normalize)
    if labels:
        name_b = labels[1]
    return Figures(*_native.compare(name_a, rows_a, name_b, rows_b, by or "", normalize))

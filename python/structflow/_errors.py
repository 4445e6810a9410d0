"""The exceptions of a job that cannot run. Per-row failures are never raised: they are values in
the result's ``error`` column."""


class JobError(Exception):
    """A job that cannot run. ``str(e)`` is the diagnosis and the fix, as the CLI prints them.

    Attributes: ``message`` (that text), ``code`` (the engine's status code, e.g. "unavailable"),
    and for a job stopped because its first rows all failed the same way: ``kind`` (the row
    error kind, e.g. "connect", "http_status"), ``http_status``, ``rows`` and ``advice`` (the fix
    on its own)."""

    def __init__(self, message, *, code="", stage="", kind=None, http_status=0, rows=0, advice=""):
        super().__init__(message)
        self.message = message
        self.code = code
        self.stage = stage
        self.kind = kind
        self.http_status = http_status
        self.rows = rows
        self.advice = advice


class ServerError(JobError):
    """The server cannot serve the job: unreachable, no such model, refusing every request."""


class SchemaError(JobError):
    """The schema, choices or regex cannot be used (malformed, or unsupported keywords)."""


class InputError(JobError):
    """The data cannot be read or does not fit the job (a column the prompt names is missing, a
    value of a type structflow cannot send, an unreadable file)."""


class Stopped(JobError):
    """The job was stopped (Job.stop()) before every row was done; finished rows are kept in its
    checkpoint (or in memory for the same call) and the same call resumes. ``report`` holds the
    job's figures."""

    def __init__(self, message, report):
        super().__init__(message, code="cancelled", stage="run")
        self.report = report


_SERVER_KINDS = {"connect", "timeout", "http_status", "reset", "invalid_response"}
_INPUT_KINDS = {"image_error", "template_error"}


def from_status(stage, code, message, detail):
    """The exception for an engine Status (called by the extension)."""
    if detail is not None:
        kind = detail["kind"]
        cls = ServerError if kind in _SERVER_KINDS else InputError if kind in _INPUT_KINDS else JobError
        return cls(message, code=code, stage=stage, kind=kind, http_status=detail["http_status"],
                   rows=detail["rows"], advice=detail["advice"])
    if stage == "input":
        cls = InputError
    elif stage == "schema":
        cls = SchemaError
    elif stage == "server":
        cls = ServerError
    elif code in ("io_error", "corrupt", "not_found", "invalid_argument"):
        cls = InputError
    elif code == "unavailable":
        cls = ServerError
    else:
        cls = JobError
    return cls(message, code=code, stage=stage)

"""structflow: structured-output inference over datasets, from Python and pandas.

    import structflow
    df = structflow.run(questions, prompt="{question}", choices=["A", "B", "C", "D"],
                        endpoint="http://127.0.0.1:8000/v1")

run() returns a DataFrame: the input columns, `output` and `error`. start() returns a Job
(.progress, .stop(), .result()). Sim, doctor and eval are the CLI's `sim`, `doctor` and `eval`.
"""

from ._errors import InputError, JobError, SchemaError, ServerError, Stopped
from ._run import Job, run, start
from ._tools import DoctorReport, Sim, doctor, eval
from ._structflow import set_log_level

# The engine's info lines (the dialect found, the concurrency mode) are for the CLI's log; from
# Python only warnings and errors show unless set_log_level("info") (or STRUCTFLOW_LOG=info).
set_log_level(__import__("os").environ.get("STRUCTFLOW_LOG", "warn"))

__all__ = ["run", "start", "Job", "JobError", "ServerError", "SchemaError", "InputError",
           "Stopped", "Sim", "doctor", "DoctorReport", "eval", "set_log_level"]

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

__all__ = ["run", "start", "Job", "JobError", "ServerError", "SchemaError", "InputError",
           "Stopped", "Sim", "doctor", "DoctorReport", "eval"]

"""Job handles: stop and resume through checkpoint=, Ctrl-C, errors that stop a job, threads."""

import os
import signal
import threading
import time

import pandas as pd
import pytest

import structflow

ROWS = pd.DataFrame({"q": [f"question {i}" for i in range(400)]})
CHOICES = ["A", "B", "C", "D"]


def _wait_for_rows(job, n, timeout=30):
    deadline = time.monotonic() + timeout
    while job.progress["done"] < n:
        assert time.monotonic() < deadline, job.progress
        time.sleep(0.01)


def test_stop_then_resume_through_checkpoint(slow_sim, tmp_path):
    cp = tmp_path / "job.checkpoint"
    job = structflow.start(ROWS, prompt="{q}", choices=CHOICES, endpoint=slow_sim.url,
                           checkpoint=cp, concurrency=4)
    _wait_for_rows(job, 40)
    job.stop()
    with pytest.raises(structflow.Stopped, match="run the same call again") as stopped:
        job.result()
    kept = stopped.value.report["sent_this_run"]
    assert 40 <= kept < len(ROWS)
    assert cp.exists()

    df = structflow.run(ROWS, prompt="{q}", choices=CHOICES, endpoint=slow_sim.url,
                        checkpoint=cp, concurrency=4)
    report = df.attrs["structflow"]
    assert report["resumed"] == kept
    assert report["sent_this_run"] == len(ROWS) - kept
    assert df["error"].isna().all() and set(df["output"]) <= set(CHOICES)
    assert list(df["q"]) == list(ROWS["q"])


def test_progress_is_live(slow_sim):
    job = structflow.start(ROWS.head(100), prompt="{q}", choices=CHOICES, endpoint=slow_sim.url,
                           concurrency=4)
    _wait_for_rows(job, 1)
    p = job.progress
    assert p["total"] == 100 and 0 < p["done"] <= 100 and "rows" in p["line"]
    df = job.result()
    assert len(df) == 100 and job.progress["done"] == 100


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                    reason="signals reach the main thread only")
def test_ctrl_c_drains_and_raises_keyboard_interrupt_then_the_same_call_resumes(slow_sim,
                                                                                 tmp_path):
    cp = tmp_path / "interrupted.checkpoint"
    call = dict(prompt="{q}", choices=CHOICES, endpoint=slow_sim.url, checkpoint=cp,
                concurrency=4)
    job = structflow.start(ROWS, **call)

    def press_ctrl_c():
        _wait_for_rows(job, 40)
        os.kill(os.getpid(), signal.SIGINT)

    presser = threading.Thread(target=press_ctrl_c)
    presser.start()
    with pytest.raises(KeyboardInterrupt, match="run the same call again"):
        job.result()
    presser.join()
    p = job.progress
    # Drained: nothing left in flight, every request sent was recorded.
    assert p["in_flight"] == 0
    assert 40 <= p["done"] < len(ROWS)
    assert p["succeeded"] == p["done"]

    df = structflow.run(ROWS, **call)
    report = df.attrs["structflow"]
    assert report["resumed"] == p["done"]
    assert report["sent_this_run"] == len(ROWS) - p["done"]
    assert df["error"].isna().all() and len(df) == len(ROWS)


def test_ctrl_c_without_checkpoint_resumes_in_the_same_process(slow_sim):
    rows = ROWS.assign(q=ROWS["q"] + " (memory)")
    call = dict(prompt="{q}", choices=CHOICES, endpoint=slow_sim.url, concurrency=4)
    job = structflow.start(rows, **call)
    timer = threading.Thread(target=lambda: (_wait_for_rows(job, 20),
                                             os.kill(os.getpid(), signal.SIGINT)))
    timer.start()
    with pytest.raises(KeyboardInterrupt, match="memory"):
        job.result()
    timer.join()
    done = job.progress["done"]
    df = structflow.run(rows, **call)
    assert df.attrs["structflow"]["resumed"] == done


def test_dead_server_raises_server_error_with_the_fix(dead_endpoint):
    with pytest.raises(structflow.ServerError, match="is the server running and the URL right"):
        structflow.run(ROWS.head(3), prompt="{q}", choices=CHOICES, endpoint=dead_endpoint)
    # With the model named too: the server is checked before row 1, with the CLI's fix.
    with pytest.raises(structflow.ServerError) as e:
        structflow.run(ROWS.head(40), prompt="{q}", choices=CHOICES, endpoint=dead_endpoint,
                       model="m", max_attempts=1, connect_timeout_s=1)
    assert dead_endpoint in str(e.value)
    assert "start the server, or point --endpoint at it" in str(e.value)


def test_unknown_model_raises_server_error_naming_the_served_models(sim):
    with pytest.raises(structflow.ServerError) as e:
        structflow.run(ROWS.head(40), prompt="{q}", choices=CHOICES, endpoint=sim.url,
                       model="no-such-model")
    assert "the server does not serve model 'no-such-model'" in str(e.value)
    assert "pass --model with one it serves (sim-vlm)" in str(e.value)


@pytest.mark.parametrize("schema, says", [
    ({"type": "object", "properties": {"x": {"type": "frob"}}}, "unknown type 'frob'"),
    ("{not json", "not valid JSON"),
])
def test_bad_schema_raises_schema_error_with_the_fix(sim, schema, says):
    with pytest.raises(structflow.SchemaError, match=says) as e:
        structflow.run(ROWS.head(3), prompt="{q}", schema=schema, endpoint=sim.url)
    assert "the schema given to structflow" in str(e.value)


def test_a_prompt_naming_a_missing_column_raises_input_error(sim):
    with pytest.raises(structflow.InputError, match="column 'nope' does not exist; the columns are: q"):
        structflow.run(ROWS.head(3), prompt="{nope}", choices=CHOICES, endpoint=sim.url)


def test_a_job_whose_first_rows_all_fail_raises_with_the_fix():
    with structflow.Sim(latency_ms=0, faults="500:1.0") as failing:
        with pytest.raises(structflow.ServerError) as e:
            structflow.run(ROWS.head(40), prompt="{q}", choices=CHOICES, endpoint=failing.url,
                           max_attempts=1, dialect="vllm")
    assert e.value.kind == "http_status" and e.value.http_status == 500 and e.value.rows > 0
    assert "all failed the same way" in str(e.value) and e.value.advice in str(e.value)


def test_row_failures_stay_values(sim):
    with structflow.Sim(latency_ms=0, faults="500:1.0") as failing:
        df = structflow.run(ROWS.head(5), prompt="{q}", choices=CHOICES, endpoint=failing.url,
                            max_attempts=1, fail_fast=False)
    assert df["output"].isna().all()
    for err in df["error"]:
        assert err["kind"] == "http_status" and err["http_status"] == 500
        assert err["attempts"] == 1 and err["message"]


def test_two_jobs_from_two_threads_at_once(slow_sim, sim):
    results, errors = {}, []

    def job(name, endpoint, rows):
        try:
            results[name] = structflow.run(rows, prompt="{q}", choices=CHOICES,
                                           endpoint=endpoint, concurrency=4)
        except Exception as e:  # noqa: BLE001: reported below
            errors.append(e)

    a = ROWS.head(200).assign(q=lambda d: d["q"] + " a")
    b = ROWS.head(300).assign(q=lambda d: d["q"] + " b")
    threads = [threading.Thread(target=job, args=("a", slow_sim.url, a)),
               threading.Thread(target=job, args=("b", sim.url, b))]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert list(results["a"]["q"]) == list(a["q"]) and list(results["b"]["q"]) == list(b["q"])
    for df in results.values():
        assert df["error"].isna().all() and set(df["output"]) <= set(CHOICES)
    # The slow job (200 rows, 4 slots, 20 ms) takes about 1 s; both ran while the GIL was free.
    assert time.monotonic() - started < 60

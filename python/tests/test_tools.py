"""Sim, doctor and eval from Python, against what the CLI gives for the same things."""

import json
import os
import subprocess

import pandas as pd
import pytest

import structflow

STRUCTFLOW = os.environ.get("STRUCTFLOW_BIN")


def test_sim_serves_on_a_free_port():
    with structflow.Sim(latency_ms=0, models=["m1"]) as a, structflow.Sim(latency_ms=0) as b:
        assert a.url.startswith("http://127.0.0.1:") and a.url.endswith("/v1")
        assert a.port != b.port
        df = structflow.run({"q": ["x"]}, prompt="{q}", choices=["A"], endpoint=a.url)
        assert df["output"].iloc[0] == "A"
        assert df.attrs["structflow"]["model"] == "m1"
        assert a.metrics()["chat_requests"] >= 1


def test_doctor_on_a_working_server(sim):
    report = structflow.doctor(sim.url, load_test=False)
    assert report.ok and bool(report)
    names = [line.name for line in report.lines]
    assert "server" in names and "models" in names
    assert all(line.verdict in ("ok", "warn") for line in report.lines)
    assert "vllm" in report.dialects_honoured
    assert "sim-vlm" in str(report)


def test_doctor_on_a_dead_server_says_so(dead_endpoint):
    report = structflow.doctor(dead_endpoint, load_test=False)
    assert not report.ok
    assert report.lines[0].verdict == "fail"
    assert dead_endpoint in report.lines[0].text


def _results():
    return pd.DataFrame({
        "output": ["A", "B", "Answer: a", "C", None],
        "grade": [1, 1, 2, 2, 2],
        "key": ["A", "A", "A", "C", "B"],
        "error": [None, None, None, None, {"kind": "timeout", "message": "slow",
                                             "http_status": None, "attempts": 5}],
    })


def test_eval_scores_a_dataframe():
    figures = structflow.eval(_results())
    assert figures["rows"] == 5 and figures["failed"] == 1
    assert figures["scored"] == 4 and figures["correct"] == 3
    assert figures["accuracy"] == pytest.approx(0.75)
    low, high = figures["ci95"]
    assert low < 0.75 < high


def test_eval_compares_two_runs():
    a = _results()
    b = a.assign(output=["B", "A", "A", "C", "B"], error=[None] * 5)
    figures = structflow.eval(a, b, labels=["with image", "without"])
    text = json.dumps(figures)
    assert "with image" in text and "without" in text


@pytest.mark.skipif(not STRUCTFLOW, reason="STRUCTFLOW_BIN (the CLI) not given")
def test_eval_gives_the_figures_of_eval_json(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in _results().to_dict("records")))
    for by in (None, "grade"):
        flags = ["--by", by] if by else []
        cli = json.loads(subprocess.run([STRUCTFLOW, "eval", str(path), "--json", *flags],
                                        check=True, capture_output=True, text=True).stdout)
        assert structflow.eval(str(path), by=by) == cli
        mine = structflow.eval(_results(), by=by)
        cli.pop("file"), mine.pop("file")
        assert mine == cli


def test_eval_normalises_answers_unless_told_not_to():
    assert structflow.eval(_results())["correct"] == 3
    assert structflow.eval(_results(), normalize=False)["correct"] == 2


@pytest.mark.skipif(not STRUCTFLOW, reason="STRUCTFLOW_BIN (the CLI) not given")
def test_run_gives_what_the_cli_writes(sim, tmp_path):
    rows = [{"q": f"question {i}"} for i in range(30)]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    subprocess.run([STRUCTFLOW, "run", str(path), "--out", str(out), "--prompt", "{q}",
                    "--choice", "A,B,C", "--seed", "1", "--endpoint", sim.url, "--progress",
                    "off"], check=True, capture_output=True)
    cli = [json.loads(line) for line in out.read_text().splitlines()]
    df = structflow.run(rows, prompt="{q}", choices=["A", "B", "C"], seed=1, endpoint=sim.url)
    assert list(df["output"]) == [r["output"] for r in cli]

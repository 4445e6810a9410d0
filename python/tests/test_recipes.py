"""The recipes in examples/python/ run as the README says (against the in-process simulator)."""

import os
import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples" / "python"
STRUCTFLOW = os.environ.get("STRUCTFLOW_BIN")


def _run(script, cwd, *args):
    env = dict(os.environ)
    env.pop("ENDPOINT", None)
    return subprocess.run([sys.executable, str(EXAMPLES / script), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=240, check=True).stdout


@pytest.mark.skipif(not STRUCTFLOW, reason="STRUCTFLOW_BIN (the CLI, for the demo data) not given")
def test_ai2d_with_and_without_the_image(tmp_path):
    # What `make run` leaves in out/demo/: the demo's diagrams in the AI2D layout.
    subprocess.run([STRUCTFLOW, "demo", "--dataset-only", "--images", "20", "--out-dir",
                    str(tmp_path / "out" / "demo")], check=True, capture_output=True)
    out = _run("ai2d.py", tmp_path)
    assert "with image" in out and "without image" in out and "four-way table" in out


def test_classify_dataframe(tmp_path):
    out = _run("classify_dataframe.py", tmp_path)
    assert "kettle" in out and ("positive" in out or "negative" in out or "neutral" in out)


def test_extract_pydantic(tmp_path):
    out = _run("extract_pydantic.py", tmp_path)
    assert "Float64" in out and "Int64" in out and "vendor=" in out
    assert (tmp_path / "invoices.checkpoint").exists()

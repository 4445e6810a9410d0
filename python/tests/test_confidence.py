"""structflow.run(confidence=...): the confidence columns from the simulator's log-probabilities."""

import math

import pandas as pd
import pytest

import structflow

ROWS = pd.DataFrame({"text": [f"review {i}" for i in range(40)]}, index=[f"r{i}" for i in range(40)])
LABELS = ["positive", "negative", "neutral"]


def test_choice_confidence_is_the_chosen_values_share(sim):
    df = structflow.run(ROWS, prompt="{text}", choices=LABELS, endpoint=sim.url,
                        confidence="full")
    assert list(df.columns) == ["text", "output", "confidence", "confidence_distribution", "error"]
    assert str(df["confidence"].dtype) == "Float64"
    assert df["error"].isna().all()
    for out, conf, dist in zip(df["output"], df["confidence"], df["confidence_distribution"]):
        assert [d["value"] for d in dist] == LABELS
        assert math.isclose(sum(d["p"] for d in dist), 1.0, abs_tol=1e-9)
        assert math.isclose(conf, next(d["p"] for d in dist if d["value"] == out), abs_tol=1e-12)
        assert 0 < conf <= 1
    # The simulator draws each row's distribution anew: the confidences differ between rows.
    assert df["confidence"].nunique() > 30


def test_schema_confidence_has_one_number_per_enum_and_boolean_field(sim):
    schema = {"type": "object",
              "properties": {"tone": {"enum": ["calm", "angry"]}, "spam": {"type": "boolean"},
                             "topic": {"type": "string"}},
              "required": ["tone", "spam", "topic"]}
    df = structflow.run(ROWS.head(10), prompt="{text}", schema=schema, endpoint=sim.url,
                        confidence=True)
    assert "confidence_distribution" not in df.columns
    for c in df["confidence"]:
        assert set(c) == {"tone", "spam"}
        assert all(0 < v <= 1 for v in c.values())


def test_a_server_without_logprobs_gives_missing_confidences():
    with structflow.Sim(latency_ms=0, api="ollama") as ollama:
        df = structflow.run(ROWS.head(8), prompt="{text}", choices=["yes", "no"],
                            endpoint=ollama.url, confidence=True)
    assert df["confidence"].isna().all()
    assert df["error"].isna().all()


def test_a_bad_confidence_value_is_refused(sim):
    with pytest.raises(TypeError, match="confidence="):
        structflow.run(ROWS.head(2), prompt="{text}", choices=["a", "b"], endpoint=sim.url,
                       confidence="maybe")

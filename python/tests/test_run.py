"""structflow.run: DataFrame in, typed DataFrame out, for each constraint kind and input shape."""

import json

import pandas as pd
import pytest

import structflow

QUESTIONS = pd.DataFrame(
    {"question": [f"question {i}" for i in range(40)], "n": range(40)},
    index=[f"r{i}" for i in range(40)])


def test_choices_give_a_string_column_of_the_choices(sim):
    df = structflow.run(QUESTIONS, prompt="{question} ({n})", choices=["A", "B", "C", "D"],
                        endpoint=sim.url)
    assert list(df.index) == list(QUESTIONS.index)
    assert list(df.columns) == ["question", "n", "output", "error"]
    assert str(df["output"].dtype) == "string"
    assert set(df["output"]) <= {"A", "B", "C", "D"}
    assert df["error"].isna().all()
    assert df["n"].dtype == "int64"
    assert df.attrs["structflow"]["succeeded"] == 40


def test_regex_answers_match(sim):
    df = structflow.run(QUESTIONS, prompt="{question}", regex="[0-9]{3}-[a-z]{2}",
                        endpoint=sim.url)
    assert str(df["output"].dtype) == "string"
    assert df["output"].str.fullmatch("[0-9]{3}-[a-z]{2}").all()


def test_unconstrained_answers_are_strings(sim):
    df = structflow.run(QUESTIONS.head(5), prompt="{question}", endpoint=sim.url)
    assert str(df["output"].dtype) == "string"
    assert (df["output"].str.len() > 0).all()


SCHEMA = {
    "type": "object",
    "properties": {
        "count": {"type": "integer"},
        "score": {"type": "number"},
        "ok": {"type": "boolean"},
        "label": {"type": "string", "enum": ["cat", "dog"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "where": {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]},
    },
    "required": ["count", "score", "ok", "label", "tags", "where"],
}


def test_schema_gives_dicts(sim):
    df = structflow.run(QUESTIONS, prompt="{question}", schema=SCHEMA, endpoint=sim.url)
    assert df["error"].isna().all()
    for out in df["output"]:
        assert isinstance(out["count"], int) and isinstance(out["ok"], bool)
        assert out["label"] in ("cat", "dog")
        assert isinstance(out["where"]["x"], int)


@pytest.mark.parametrize("form", ["dict", "text", "path"])
def test_schema_flatten_gives_typed_nullable_columns(sim, tmp_path, form):
    schema = {"dict": SCHEMA, "text": json.dumps(SCHEMA), "path": tmp_path / "s.json"}[form]
    (tmp_path / "s.json").write_text(json.dumps(SCHEMA))
    df = structflow.run(QUESTIONS, prompt="{question}", schema=schema, endpoint=sim.url,
                        flatten=True)
    assert "output" not in df.columns
    assert str(df["count"].dtype) == "Int64"
    assert str(df["score"].dtype) == "Float64"
    assert str(df["ok"].dtype) == "boolean"
    assert str(df["label"].dtype) == "string"
    assert df["tags"].dtype == object and all(isinstance(t, list) for t in df["tags"])
    assert all(isinstance(w, dict) for w in df["where"])


def test_optional_fields_are_missing_values(sim):
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    df = structflow.run(QUESTIONS, prompt="{question}", schema=schema, endpoint=sim.url,
                        flatten=True, seed=3)
    assert str(df["a"].dtype) == "Int64"
    # The simulator leaves optional fields out now and then: they come back as <NA>.
    assert df["a"].isna().any() and df["a"].notna().any()


def test_list_of_dicts_and_dict_of_lists(sim):
    rows = [{"q": "one", "meta": {"lang": "en"}}, {"q": "two", "meta": {"lang": "fr"}}]
    df = structflow.run(rows, prompt="{q} in {meta.lang}", choices=["yes", "no"],
                        endpoint=sim.url)
    assert list(df["q"]) == ["one", "two"] and df["error"].isna().all()
    df = structflow.run({"q": ["one", "two", "three"]}, prompt="{q}", choices=["yes", "no"],
                        endpoint=sim.url)
    assert len(df) == 3 and df["error"].isna().all()


def test_files_in(sim, tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps({"q": f"q{i}"}) + "\n" for i in range(7)))
    df = structflow.run(str(path), prompt="{q}", choices=["A", "B"], endpoint=sim.url)
    assert list(df["q"]) == [f"q{i}" for i in range(7)]
    assert set(df["output"]) <= {"A", "B"}


def test_explode_and_extract(sim):
    rows = [{"texts": [{"user": "1+1? A:2 B:3", "assistant": "Answer: A"},
                       {"user": "2+2? A:3 B:4", "assistant": "Answer: B"}]}]
    df = structflow.run(rows, prompt="{texts.user}", choices=["A", "B"], explode="texts",
                        extract={"key": "texts.assistant:Answer: ([A-D])"}, endpoint=sim.url)
    assert list(df["key"]) == ["A", "B"]
    assert set(df["output"]) <= {"A", "B"}


def test_missing_values_and_nullable_columns(sim):
    df_in = pd.DataFrame({"q": ["a", None, "c"], "k": pd.array([1, None, 3], dtype="Int64")})
    df = structflow.run(df_in, prompt="{q} {k}", choices=["A"], endpoint=sim.url)
    assert str(df["k"].dtype) == "Int64"  # the input columns come back as they went in
    assert len(df) == 3


def test_a_value_that_cannot_be_sent_names_the_column(sim):
    df_in = pd.DataFrame({"q": ["a", object()]})
    with pytest.raises(structflow.InputError, match="column 'q'"):
        structflow.run(df_in, prompt="{q}", choices=["A"], endpoint=sim.url)


def test_several_endpoints_share_the_rows(sim):
    with structflow.Sim(latency_ms=0) as other:
        df = structflow.run(QUESTIONS, prompt="{question}", choices=["A", "B"],
                            endpoint=[sim.url, other.url], concurrency=8)
        assert df["error"].isna().all()
        assert other.metrics()["chat_requests"] > 0


def test_unknown_arguments_are_refused(sim):
    with pytest.raises(TypeError, match="no_such_flag"):
        structflow.run(QUESTIONS, prompt="{question}", choices=["A"], endpoint=sim.url,
                       no_such_flag=1)


def test_no_rows_give_an_empty_typed_frame(sim):
    df = structflow.run(pd.DataFrame({"q": pd.Series([], dtype=object)}), prompt="{q}",
                        choices=["A"], endpoint=sim.url)
    assert list(df.columns) == ["q", "output", "error"] and len(df) == 0
    assert str(df["output"].dtype) == "string"

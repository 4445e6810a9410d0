"""Images as bytes, paths, {bytes, path} dicts and PIL images; Pydantic models round trip."""

import io
from typing import List, Optional

import pandas as pd
import pydantic
import pytest
from PIL import Image

import structflow

TOKENS_PER_IMAGE = 576  # the simulator counts this many prompt tokens per image


def _png(color):
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), color).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pictures")
    paths = []
    for i, color in enumerate(["red", "green", "blue"]):
        p = folder / f"p{i}.png"
        p.write_bytes(_png(color))
        paths.append(p)
    return paths


def _check_sent_with_images(df, rows):
    assert df["error"].isna().all(), df["error"].tolist()
    assert set(df["output"]) <= {"red", "green", "blue"}
    # Each request carried its image: the server counted the image tokens.
    assert df.attrs["structflow"]["prompt_tokens"] >= rows * TOKENS_PER_IMAGE


@pytest.mark.parametrize("form", ["bytes", "str path", "pathlib path", "dict", "PIL", "list"])
def test_images(sim, pictures, form):
    if form == "bytes":
        values = [p.read_bytes() for p in pictures]
    elif form == "str path":
        values = [str(p) for p in pictures]
    elif form == "pathlib path":
        values = list(pictures)
    elif form == "dict":
        values = [{"bytes": p.read_bytes(), "path": p.name} for p in pictures]
    elif form == "PIL":
        values = [Image.open(p) for p in pictures]
    else:
        values = [[Image.open(p)] for p in pictures]
    df_in = pd.DataFrame({"picture": values, "q": ["which colour?"] * 3})
    df = structflow.run(df_in, prompt="{q}", images="picture", choices=["red", "green", "blue"],
                        endpoint=sim.url)
    _check_sent_with_images(df, 3)
    assert list(df["q"]) == ["which colour?"] * 3


def test_a_broken_image_is_a_row_error(sim, pictures):
    df_in = pd.DataFrame({"picture": [pictures[0].read_bytes(), b"not an image"], "q": ["?", "?"]})
    df = structflow.run(df_in, prompt="{q}", images=["picture"], choices=["A"], endpoint=sim.url)
    assert df["error"].iloc[0] is None
    err = df["error"].iloc[1]
    assert err["kind"] == "image_error", err
    assert err["message"]


class Pet(pydantic.BaseModel):
    name: str
    age: int
    weight: float
    vaccinated: bool
    toys: List[str]
    nickname: Optional[str] = None


def test_pydantic_model_round_trip(sim):
    df_in = pd.DataFrame({"text": [f"pet {i}" for i in range(20)]})
    df = structflow.run(df_in, prompt="Describe {text}", schema=Pet, endpoint=sim.url,
                        as_models=True)
    assert df["error"].isna().all()
    pets = df["output"].tolist()
    assert all(isinstance(p, Pet) for p in pets)
    assert all(isinstance(p.age, int) and isinstance(p.toys, list) for p in pets)
    # And back: the model's dict form is what the dict output holds.
    plain = structflow.run(df_in, prompt="Describe {text}", schema=Pet, endpoint=sim.url)
    for pet, d in zip(pets, plain["output"]):
        assert pet == Pet.parse_obj({k: v for k, v in d.items() if v is not None})


def test_pydantic_model_flatten(sim):
    df_in = pd.DataFrame({"text": [f"pet {i}" for i in range(20)]})
    df = structflow.run(df_in, prompt="Describe {text}", schema=Pet, endpoint=sim.url,
                        flatten=True)
    assert str(df["age"].dtype) == "Int64"
    assert str(df["weight"].dtype) == "Float64"
    assert str(df["vaccinated"].dtype) == "boolean"
    assert str(df["name"].dtype) == "string"
    assert str(df["nickname"].dtype) == "string"
    assert df["age"].notna().all()


def test_as_models_needs_a_model(sim):
    with pytest.raises(structflow.SchemaError, match="Pydantic"):
        structflow.run({"q": ["a"]}, prompt="{q}", schema={"type": "object"}, as_models=True,
                       endpoint=sim.url)


class V2Style:
    """Pydantic v2's two class methods structflow calls (Debian 12 ships Pydantic v1, so v2 itself
    cannot be imported here): model_json_schema() for the schema, with "$defs" as v2 writes
    them, and model_validate() for as_models=True."""

    def __init__(self, **fields):
        self.fields = fields

    @classmethod
    def model_json_schema(cls):
        return {"$defs": {"Toy": {"type": "object", "properties": {"name": {"type": "string"}},
                                  "required": ["name"]}},
                "type": "object",
                "properties": {"age": {"type": "integer"},
                               "toy": {"$ref": "#/$defs/Toy"},
                               "nickname": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
                "required": ["age", "toy"]}

    @classmethod
    def model_validate(cls, data):
        return cls(**data)


def test_pydantic_v2_methods_are_used(sim):
    df_in = pd.DataFrame({"text": ["a", "b", "c"]})
    df = structflow.run(df_in, prompt="{text}", schema=V2Style, endpoint=sim.url, as_models=True)
    assert all(isinstance(m, V2Style) and isinstance(m.fields["age"], int) for m in df["output"])
    assert all(isinstance(m.fields["toy"]["name"], str) for m in df["output"])
    flat = structflow.run(df_in, prompt="{text}", schema=V2Style, endpoint=sim.url, flatten=True)
    assert str(flat["age"].dtype) == "Int64" and str(flat["nickname"].dtype) == "string"

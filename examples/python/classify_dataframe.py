"""Classify the rows of a pandas DataFrame; the answers come back as a typed column.
ENDPOINT=http://HOST:PORT/v1 for your server, else the built-in simulator answers."""
import os
from contextlib import nullcontext

import pandas as pd

import structflow

reviews = pd.DataFrame({
    "product": ["kettle", "lamp", "chair", "kettle"],
    "review": ["Boils fast, love it.", "Flickers after a week.", "Fine for the price.",
               "Lid broke on day two."],
})
with nullcontext() if os.environ.get("ENDPOINT") else structflow.Sim() as sim:
    df = structflow.run(reviews, prompt="Review of a {product}: {review}\nSentiment?",
                        choices=["positive", "neutral", "negative"],
                        endpoint=os.environ.get("ENDPOINT") or sim.url, model=os.environ.get("MODEL"))
print(df[["product", "output", "error"]])
print(df.groupby("product")["output"].value_counts())

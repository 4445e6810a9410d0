"""Extract typed fields with a Pydantic model: one typed column per field (flatten=True), or
model instances (as_models=True). Checkpointed: Ctrl-C keeps finished rows, and running the
script again sends only what is missing.
ENDPOINT=http://HOST:PORT/v1 for your server, else the built-in simulator answers."""
import os
from contextlib import nullcontext
from typing import List, Optional

import pydantic

import structflow


class Invoice(pydantic.BaseModel):
    vendor: str
    total: float
    currency: str
    paid: bool
    line_items: List[str]
    due_days: Optional[int] = None


texts = [{"text": f"Invoice #{i} from ACME Tools: {i} hammers at 12.50 EUR, due in 30 days."}
         for i in range(200)]
with nullcontext() if os.environ.get("ENDPOINT") else structflow.Sim() as sim:
    endpoint = os.environ.get("ENDPOINT") or sim.url
    df = structflow.run(texts, prompt="Extract the invoice fields from: {text}", schema=Invoice,
                        endpoint=endpoint, model=os.environ.get("MODEL"), flatten=True,
                        checkpoint="invoices.checkpoint")
    models = structflow.run(texts[:3], prompt="Extract the invoice fields from: {text}",
                            schema=Invoice, endpoint=endpoint, model=os.environ.get("MODEL"),
                            as_models=True)
print(df.dtypes)
print(df[["vendor", "total", "paid", "due_days"]].head())
print(models["output"].iloc[0])

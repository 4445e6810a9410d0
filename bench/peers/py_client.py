#!/usr/bin/python3
"""The job as a careful Python user writes it: asyncio, a semaphore of CONCURRENCY, gather over
all rows, Pillow + base64 for images (in a thread pool so decoding does not block the event
loop), json.loads + field checks on each answer, JSONL out. Run by /usr/bin/python3, which sees
Debian's python3-httpx, python3-aiohttp and python3-pil.
Usage: py_client.py {httpx|aiohttp} ENDPOINT MODEL IN.jsonl SCHEMA.json OUT.jsonl CONCURRENCY [ROWS]
Prints one line: rows=N ok=N failed=N wall_s=S"""
import asyncio
import base64
import io
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from PIL import Image

transport, endpoint, model, in_path, schema_path, out_path = sys.argv[1:7]
concurrency = int(sys.argv[7])
limit = int(sys.argv[8]) if len(sys.argv) > 8 else None

with open(schema_path) as f:
    schema = json.load(f)
props = schema["properties"]


def load_rows():
    rows = []
    with open(in_path) as f:
        for line in f:
            rows.append(json.loads(line))
            if limit is not None and len(rows) >= limit:
                break
    return rows


def image_data_url(path):
    with Image.open(path) as im:
        im = im.convert("RGB")
        im.thumbnail((768, 768))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def validate(answer):
    if not isinstance(answer, dict):
        raise ValueError("answer is not an object")
    for name in schema["required"]:
        if name not in answer:
            raise ValueError(f"missing field {name}")
    for name, spec in props.items():
        v = answer.get(name)
        if "enum" in spec and v not in spec["enum"]:
            raise ValueError(f"{name}={v!r} not in enum")
        if spec.get("type") == "integer":
            if not isinstance(v, int) or not spec["minimum"] <= v <= spec["maximum"]:
                raise ValueError(f"{name}={v!r} out of range")
    return answer


async def main():
    rows = load_rows()
    pool = ThreadPoolExecutor(max_workers=os.cpu_count())
    loop = asyncio.get_running_loop()
    sem = asyncio.Semaphore(concurrency)
    url = endpoint.rstrip("/") + "/chat/completions"
    response_format = {"type": "json_schema",
                       "json_schema": {"name": "answer", "schema": schema, "strict": True}}

    if transport == "httpx":
        import httpx
        client = httpx.AsyncClient(
            timeout=300, limits=httpx.Limits(max_connections=concurrency,
                                             max_keepalive_connections=concurrency))

        async def post(body):
            for attempt in range(5):
                try:
                    r = await client.post(url, json=body)
                    if r.status_code in (429, 500, 502, 503):
                        await asyncio.sleep(0.5 * (attempt + 1))
                        continue
                    r.raise_for_status()
                    return r.json()
                except httpx.TransportError:
                    if attempt == 4:
                        raise
                    await asyncio.sleep(0.5 * (attempt + 1))
            raise RuntimeError("too many retries")
        close = client.aclose
    else:
        import aiohttp
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=concurrency),
            timeout=aiohttp.ClientTimeout(total=300))

        async def post(body):
            for attempt in range(5):
                try:
                    async with session.post(url, json=body) as r:
                        if r.status in (429, 500, 502, 503):
                            await asyncio.sleep(0.5 * (attempt + 1))
                            continue
                        r.raise_for_status()
                        return await r.json()
                except aiohttp.ClientConnectionError:
                    if attempt == 4:
                        raise
                    await asyncio.sleep(0.5 * (attempt + 1))
            raise RuntimeError("too many retries")
        close = session.close

    async def one(row):
        async with sem:
            try:
                content = [{"type": "text", "text": row["text"]}]
                if "image" in row:
                    data_url = await loop.run_in_executor(pool, image_data_url, row["image"])
                    content.insert(0, {"type": "image_url", "image_url": {"url": data_url}})
                body = {"model": model, "messages": [{"role": "user", "content": content}],
                        "max_tokens": 64, "temperature": 0, "response_format": response_format}
                resp = await post(body)
                answer = validate(json.loads(resp["choices"][0]["message"]["content"]))
                return {"id": row["id"], "output": answer, "error": None}
            except Exception as e:  # noqa: BLE001 - a failed row is recorded, not fatal
                return {"id": row["id"], "output": None, "error": repr(e)}

    t0 = time.monotonic()
    results = await asyncio.gather(*(one(r) for r in rows))
    await close()
    ok = 0
    with open(out_path, "w") as f:
        for res in results:
            ok += res["error"] is None
            f.write(json.dumps(res) + "\n")
    print(f"rows={len(rows)} ok={ok} failed={len(rows) - ok} wall_s={time.monotonic() - t0:.2f}")


asyncio.run(main())

"""The same prepare step with Pillow and Python's base64, as a user would write it.

    pillow_prepare.py DIR [SECONDS] [typical|draft]
typical: Image.open(...).convert("RGB"); thumbnail((768, 768)); save JPEG q=85; b64encode.
draft:   the same plus img.draft("RGB", (768, 576)) first, so libjpeg decodes at reduced scale.

Run with Debian's /usr/bin/python3 (python3-pil). Prints key=value lines like prepare_bench.
"""
import base64
import io
import json
import os
import sys
import time

from PIL import Image


DRAFT = False


def prepare(data: bytes) -> str:
    img = Image.open(io.BytesIO(data))
    if DRAFT:
        # Tuned Pillow: let libjpeg decode at 1/2, 1/4 or 1/8 scale (what structflow does).
        # draft() wants the target size with the image's aspect ratio, not the bounding box.
        w, h = img.size
        scale = 768 / max(w, h)
        if scale < 1:
            img.draft("RGB", (max(1, int(w * scale)), max(1, int(h * scale))))
    img = img.convert("RGB")
    img.thumbnail((768, 768))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=85)
    url = "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    return json.dumps({
        "model": "bench-vlm",
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "Describe the image."},
            {"type": "image_url", "image_url": {"url": url}}]}],
        "max_tokens": 256,
        "temperature": 0.0,
    })


def main() -> int:
    global DRAFT
    folder = sys.argv[1]
    min_seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
    DRAFT = len(sys.argv) > 3 and sys.argv[3] == "draft"
    names = sorted(n for n in os.listdir(folder) if n.endswith(".jpg"))
    inputs = []
    for n in names:
        with open(os.path.join(folder, n), "rb") as f:
            inputs.append(f.read())

    # Correctness first: the body carries a 768x576 JPEG.
    body = json.loads(prepare(inputs[0]))
    url = body["messages"][0]["content"][1]["image_url"]["url"]
    check = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert check.size == (768, 576) and check.format == "JPEG", check.size

    images = 0
    body_bytes = 0
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    while True:
        for data in inputs:
            body_bytes += len(prepare(data))
            images += 1
        if time.process_time() - cpu0 >= min_seconds:
            break
    cpu = time.process_time() - cpu0
    wall = time.perf_counter() - wall0
    print(f"pillow_version={Image.__version__}")
    print(f"prepare_images_per_cpu_s={images / cpu:.1f}")
    print(f"prepare_images_per_wall_s={images / wall:.1f}")
    print(f"mean_body_kb={body_bytes / 1e3 / images:.1f}")

    raw = os.urandom(64 << 20)
    assert base64.b64decode(base64.b64encode(raw)) == raw
    reps = 0
    cpu0 = time.process_time()
    while True:
        base64.b64encode(raw)
        reps += 1
        if time.process_time() - cpu0 >= 1.0:
            break
    cpu = time.process_time() - cpu0
    print(f"base64_gb_per_s={len(raw) * reps / cpu / 1e9:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

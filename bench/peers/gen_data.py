#!/usr/bin/python3
"""Writes the peer benchmark's inputs into DIR (run by /usr/bin/python3, which sees Pillow):
  DIR/images/img_NNNN.jpg  IMAGES distinct photo-like 1600x1200 JPEGs (gradients + noise)
  DIR/text.jsonl           TEXT_ROWS rows {"id", "text"}
  DIR/image.jsonl          IMAGE_ROWS rows {"id", "text", "image": path}: the questions about
                           one image are adjacent, IMAGE_ROWS / IMAGES of them per image (AI2D:
                           7,462 questions on 2,434 diagrams, about 3 per image)
  DIR/text_schema.json, DIR/image_schema.json
Usage: gen_data.py DIR TEXT_ROWS IMAGE_ROWS IMAGES"""
import json
import os
import random
import sys

from PIL import Image, ImageChops

out, text_rows, image_rows, images = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
os.makedirs(os.path.join(out, "images"), exist_ok=True)
rng = random.Random(42)

paths = []
w, h = 1600, 1200
noise = None
for i in range(images):
    path = os.path.join(out, "images", f"img_{i:04d}.jpg")
    paths.append(path)
    if os.path.exists(path):
        continue
    if noise is None:
        # One noise field, cropped at a different offset for each image (drawing fresh noise per
        # image would take 4x longer).
        noise = Image.merge("RGB", [Image.effect_noise((w + 400, h + 300), 35) for _ in range(3)])
    # Three gradients at different angles as R, G, B, plus gaussian noise: photo-like entropy.
    chans = []
    for c in range(3):
        g = Image.linear_gradient("L").resize((w, h)).rotate(rng.uniform(0, 360), expand=False)
        g = g.point(lambda v, a=rng.uniform(0.3, 1.0), b=rng.randint(0, 80): int(v * a + b) & 255)
        chans.append(g)
    base = Image.merge("RGB", chans)
    ox, oy = rng.randint(0, 400), rng.randint(0, 300)
    img = ImageChops.blend(base, noise.crop((ox, oy, ox + w, oy + h)), 0.35)
    img.save(path, "JPEG", quality=90)

words = ("great terrible fine arrived late broken refund support quick slow price value box "
         "colour size battery screen delivery return works stopped love hate okay").split()


def sentence(r):
    return " ".join(r.choice(words) for _ in range(r.randint(8, 24))).capitalize() + "."


with open(os.path.join(out, "text.jsonl"), "w") as f:
    for i in range(text_rows):
        f.write(json.dumps({"id": i, "text": sentence(rng)}) + "\n")
with open(os.path.join(out, "image.jsonl"), "w") as f:
    for i in range(image_rows):
        q = "Which best describes the picture? A) sky B) sea C) forest D) city. " + sentence(rng)
        f.write(json.dumps({"id": i, "text": q, "image": paths[i * len(paths) // image_rows]}) + "\n")

text_schema = {
    "type": "object",
    "properties": {
        "sentiment": {"type": "string", "enum": ["positive", "neutral", "negative"]},
        "score": {"type": "integer", "minimum": 1, "maximum": 5},
    },
    "required": ["sentiment", "score"],
    "additionalProperties": False,
}
image_schema = json.loads(json.dumps(text_schema))
image_schema["properties"]["answer"] = {"type": "string", "enum": ["A", "B", "C", "D"]}
image_schema["required"].append("answer")
with open(os.path.join(out, "text_schema.json"), "w") as f:
    json.dump(text_schema, f)
with open(os.path.join(out, "image_schema.json"), "w") as f:
    json.dump(image_schema, f)

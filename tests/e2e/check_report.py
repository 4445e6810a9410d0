#!/usr/bin/python3
"""Checks a `structflow report` page as headless Chromium rendered it (its --dump-dom output)
against `structflow eval --json` on the same files:

  check_report.py DOM.html EVAL.json CHROMIUM.log [--two] [--min-images N]

- every figure in the page (elements with data-figure, the JSON path of the value in eval's
  output) shows eval's value, as the page formats it (counts, percentages to 0.1, p-values);
- every figure the report must show (accuracy and its interval, counts, per-class precision and
  recall, confusion cells, --by groups, errors; for two runs the four-way table, McNemar and the
  paired difference; with a confidence column its calibration: ECE, Brier, reliability bins,
  accuracy at coverage, abstentions) is in the page;
- every gallery image decoded in the browser (the page records img.decode() results on <body>)
  and, independently, is a JPEG that Pillow opens;
- Chromium logged no console message (errors, uncaught exceptions, CSP violations).
Exits non-zero with the reasons.
"""
import base64
import io
import json
import sys
from html.parser import HTMLParser

from PIL import Image


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.figures = []  # (path, format, text)
        self._fig = None
        self.body = {}
        self.gallery_imgs = []
        self._depth_gallery = 0
        self._stack = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.body = a
        cls = (a.get("class") or "").split()
        # Chromium serialises every element but HTML's void ones with an end tag.
        void = tag in ("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                       "source", "track", "wbr")
        if not void:
            self._stack.append("gallery" if "gallery" in cls else tag)
        if tag == "img" and "gallery" in self._stack:
            self.gallery_imgs.append(a.get("src", ""))
        if "data-figure" in a:
            self._fig = [json.loads(a["data-figure"]), a.get("data-format"), ""]

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if self._stack:
            self._stack.pop()
        if self._fig is not None and tag == "span":
            self.figures.append(tuple(self._fig))
            self._fig = None

    def handle_data(self, data):
        if self._fig is not None:
            self._fig[2] += data


def lookup(doc, path):
    v = doc
    for k in path:
        if isinstance(v, list):
            v = v[int(k)]
        else:
            v = v[k]
    return v


def matches(fmt, text, value):
    text = text.strip().replace(",", "")
    if fmt == "int":
        return int(text) == round(value)
    if fmt == "pct":
        return text.endswith("%") and abs(float(text[:-1]) - 100 * value) <= 0.05 + 1e-9
    if fmt == "dec":
        return abs(float(text) - value) <= 0.0005 + 1e-12
    if fmt == "points":
        return abs(float(text) - 100 * value) <= 0.05 + 1e-9
    if fmt == "p":
        if text.startswith("<"):
            return value < 1e-300
        shown = float(text)
        if value < 0.001:
            return abs(shown - value) <= 0.006 * value
        return abs(shown - value) <= 0.0005 + 1e-12
    raise ValueError(f"unknown format {fmt}")


def required(doc, two):
    """The figures the report must show, as JSON paths into eval's output."""
    out = []
    runs = [("first",), ("second",)] if two else [()]
    for p in runs:
        s = lookup(doc, p)
        for k in ("accuracy", "correct", "scored", "failed", "no_key", "rows"):
            out.append(p + (k,))
        out += [p + ("ci95", "0"), p + ("ci95", "1")]
        for c, v in s["per_class"].items():
            out += [p + ("per_class", c, "rows"), p + ("per_class", c, "correct"),
                    p + ("per_class", c, "predicted")]
            if v["predicted"]:
                out.append(p + ("per_class", c, "precision"))
            if v["rows"]:
                out.append(p + ("per_class", c, "recall"))
        for k, row in s["confusion"].items():
            for pr in row:
                out.append(p + ("confusion", k, pr))
        for g, v in s.get("by", {}).get("groups", {}).items():
            out += [p + ("by", "groups", g, "correct"), p + ("by", "groups", g, "scored")]
            if v["scored"]:
                out.append(p + ("by", "groups", g, "accuracy"))
        for k in s["errors"]:
            out.append(p + ("errors", k))
        cal = s.get("calibration")
        if cal:
            c = p + ("calibration",)
            out += [c + ("rows",), c + ("no_confidence",)]
            if cal["rows"]:
                out += [c + (k,) for k in ("ece", "brier", "mean_confidence", "accuracy")]
                for i, b in enumerate(cal["bins"]):
                    if b["rows"]:
                        out += [c + ("bins", str(i), k) for k in ("rows", "mean_confidence", "accuracy")]
                for i in range(len(cal["coverage"])):
                    out += [c + ("coverage", str(i), k) for k in ("coverage", "rows", "threshold", "accuracy")]
                if "min_confidence" in cal:
                    out += [c + ("min_confidence", k) for k in ("threshold", "answered", "abstained", "coverage")]
    if two:
        for k in ("both_right", "first_only", "second_only", "both_wrong", "not_scored"):
            out.append(("four_way", k))
        out += [("mcnemar", "p_value"), ("mcnemar", "discordant"), ("difference",)]
    return out


def main():
    dom_path, eval_path, log_path = sys.argv[1:4]
    two = "--two" in sys.argv
    min_images = 0
    if "--min-images" in sys.argv:
        min_images = int(sys.argv[sys.argv.index("--min-images") + 1])
    doc = json.load(open(eval_path))
    page = Page()
    page.feed(open(dom_path, encoding="utf-8").read())
    problems = []

    shown = set()
    for path, fmt, text in page.figures:
        shown.add(tuple(path))
        try:
            value = lookup(doc, path)
        except (KeyError, IndexError, ValueError):
            problems.append(f"the page shows {path} = {text!r}, which eval --json does not have")
            continue
        try:
            ok = matches(fmt, text, value)
        except ValueError as e:
            ok = False
            text += f" ({e})"
        if not ok:
            problems.append(f"{path}: the page shows {text!r}, eval --json says {value!r}")
    for path in required(doc, two):
        if tuple(path) not in shown:
            problems.append(f"the page does not show {list(path)} (eval: {lookup(doc, path)!r})")

    imgs = page.gallery_imgs
    if len(imgs) < min_images:
        problems.append(f"the gallery has {len(imgs)} images, expected at least {min_images}")
    decoded = page.body.get("data-images-decoded")
    total = page.body.get("data-images-total")
    if imgs and (decoded is None or total is None):
        problems.append("the page did not record its image decoding (the script did not finish)")
    elif imgs and not (int(decoded) == int(total) == len(imgs)):
        problems.append(f"Chromium decoded {decoded} of {total} gallery images ({len(imgs)} in the page)")
    for i, src in enumerate(imgs):
        head = "data:image/jpeg;base64,"
        if not src.startswith(head):
            problems.append(f"gallery image {i} is not a JPEG data URL: {src[:40]!r}")
            continue
        try:
            im = Image.open(io.BytesIO(base64.b64decode(src[len(head):])))
            im.load()
            if im.format != "JPEG" or max(im.size) > 400:
                problems.append(f"gallery image {i}: {im.format} {im.size}, expected a small JPEG")
        except Exception as e:  # noqa: BLE001 - any failure to decode is the finding
            problems.append(f"gallery image {i} does not decode: {e}")

    console = [l for l in open(log_path, errors="replace") if ":CONSOLE" in l]
    for l in console:
        problems.append(f"console message: {l.strip()}")

    if problems:
        print("report check FAILED:\n  " + "\n  ".join(problems[:40]), file=sys.stderr)
        sys.exit(1)
    print(f"report check ok: {len(page.figures)} figures equal eval --json, {len(imgs)} gallery "
          f"images decoded, no console message")


if __name__ == "__main__":
    main()

"""Digest of rendered reports, to prove a refactor leaves their content unchanged.

A digest holds, per partnership and notebook, a hash of each table (CSV), of the headlines and of
the report's visible text (sentences, headings, table cells, alt text; the provenance footer,
which names the commit and the time, is left out). Floats are rounded to 9 significant digits
before hashing, so the 15th-digit noise of BLAS thread counts does not count as a change.

Usage (from the repository root)::

    python tests/report_digest.py OUTPUTS --write tests/fixtures/report_digest.json
    python tests/report_digest.py OUTPUTS --compare tests/fixtures/report_digest.json

``tests/test_end_to_end.py::test_default_reports_unchanged`` renders the default partnerships
and compares them with the committed digest. When a change is *meant* to alter a report,
regenerate the digest with ``--write`` and say why in the commit.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

#: heading that starts the provenance footer (commit, time, data vintage)
FOOTER = "About this report"


def _h(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _round(x):
    if isinstance(x, float):
        return float(f"{x:.9g}") if x == x else None
    if isinstance(x, dict):
        return {k: _round(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_round(v) for v in x]
    return x


def digest_csv(path: Path) -> str:
    """Hash of a CSV with floats rounded to 9 significant digits."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)

    def canon(v: str) -> str:
        try:
            f = float(v)
        except ValueError:
            return v
        if "." not in v and "e" not in v.lower():
            return v                                  # integers and codes stay as written
        return f"{f:.9g}"

    df = df.apply(lambda col: col.map(canon)) if len(df.columns) else df
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    return _h(buf.getvalue())


class _Text(HTMLParser):
    """Visible text and alt text of a rendered report, up to the provenance footer."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.done = False

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.skip += 1
        a = dict(attrs)
        if tag == "img" and a.get("alt"):
            self.parts.append(f"[img: {a['alt']}]")

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self.skip -= 1

    def handle_data(self, data):
        if self.skip or self.done:
            return
        if data.strip() == FOOTER:
            self.done = True
            return
        if data.strip():
            self.parts.append(data.strip())


def report_text(path: Path) -> str:
    p = _Text()
    p.feed(path.read_text(encoding="utf-8"))
    return re.sub(r"\s+", " ", "\n".join(p.parts))


def digest_outputs(outputs: Path) -> dict:
    """``{partnership: {item: hash}}`` for every partnership folder under ``outputs``."""
    out: dict[str, dict[str, str]] = {}
    for part in sorted(p for p in outputs.iterdir() if (p / "manifest.json").exists()):
        d: dict[str, str] = {}
        for csv in sorted((part / "tables").glob("*.csv")):
            d[f"tables/{csv.name}"] = digest_csv(csv)
        for html in sorted(part.glob("*.html")):
            d[f"text/{html.name}"] = _h(report_text(html))
        if (part / "headlines.json").exists():
            heads = json.loads((part / "headlines.json").read_text())
            d["headlines.json"] = _h(json.dumps(_round(heads), sort_keys=True))
        out[part.name] = d
    return out


def compare(got: dict, want: dict) -> list[str]:
    """Items that differ, are missing or are new (empty when identical)."""
    diffs = []
    for part in sorted(set(got) | set(want)):
        g, w = got.get(part, {}), want.get(part, {})
        for k in sorted(set(g) | set(w)):
            if g.get(k) != w.get(k):
                what = "missing" if k not in g else "new" if k not in w else "changed"
                diffs.append(f"{part}/{k}: {what}")
    return diffs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outputs", type=Path)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--write", type=Path)
    g.add_argument("--compare", type=Path)
    a = ap.parse_args(argv)
    got = digest_outputs(a.outputs)
    if a.write:
        a.write.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
        print(f"wrote {a.write}: {sum(len(v) for v in got.values())} items")
        return 0
    diffs = compare(got, json.loads(a.compare.read_text()))
    print("\n".join(diffs) if diffs else "identical")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())

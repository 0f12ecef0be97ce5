"""Executed notebook -> self-contained HTML report (no code cells), and atomic file writes.

One place owns the look of every report: the nbconvert exporter, its template and the
report stylesheet. :func:`render_html` is what the runner calls per notebook;
:func:`make_exporter` builds the exporter once so a worker can reuse it.
"""
from __future__ import annotations

import os
from pathlib import Path


def _atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it over ``path``
    (readers never see a half-written file). Also used by :mod:`csp_analysis.report`."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def render_html(ipynb, html_path: Path, exporter=None) -> None:
    """Convert an executed notebook to self-contained HTML without code cells.

    Inputs and prompts are excluded and stderr streams (warnings) dropped; images are
    embedded as data URIs by the notebook outputs themselves.
    """
    import nbformat

    nb = ipynb if hasattr(ipynb, "cells") else nbformat.read(ipynb, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", [])
                            if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    exporter = exporter or make_exporter()
    body, _ = exporter.from_notebook_node(nb)
    css = ("<style>.csp-table{border-collapse:collapse;font-size:0.9em;margin:0.5em 0}"
           ".csp-table th,.csp-table td{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}"
           ".csp-table th:first-child,.csp-table td:first-child{text-align:left}"
           ".csp-figure figcaption{margin-bottom:0.3em}.csp-note{font-size:0.85em;color:#555}</style>")
    body = body.replace("</head>", css + "</head>", 1)
    _atomic_write(html_path, body)


def make_exporter():
    """The nbconvert HTML exporter used for every report (inputs and prompts excluded)."""
    from nbconvert import HTMLExporter

    return HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)

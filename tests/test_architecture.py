"""Issue 15: the layers stay apart.

* No module uses another module's private names (``from .x import _y`` or ``x._y``): what a
  module shares, it names publicly. A subpackage (``sections/trends/``, ``interventions/``,
  ``trends/``) is one unit: its own modules may share private names (``from .compute import
  _wide``), and private *modules* (``interventions/_results``) are shared within it on purpose.
  The top-level modules of ``csp_analysis/`` are each their own unit.
* No SQL outside the data layer: ``sections/`` receive DataFrames.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "csp_analysis"


def _private_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    in_subpackage = path.parent != PKG
    aliases: set[str] = set()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("csp_analysis")):
            same_unit = in_subpackage and node.level == 1
            for a in node.names:
                if same_unit:
                    continue
                if a.name.startswith("_") and not a.name.startswith("__"):
                    found.append(f"{path.relative_to(PKG.parent)}:{node.lineno}: "
                                 f"from {'.' * node.level}{node.module or ''} import {a.name}")
                else:
                    aliases.add(a.asname or a.name)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("csp_analysis"):
                    aliases.add(a.asname or a.name.split(".")[0])
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                and node.attr.startswith("_") and not node.attr.startswith("__")):
            found.append(f"{path.relative_to(PKG.parent)}:{node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_no_private_names_across_modules():
    found = [f for p in sorted(PKG.rglob("*.py")) for f in _private_uses(p)]
    assert found == []


def test_the_checker_finds_private_uses(tmp_path):
    bad = PKG / "_probe_for_test.py"
    assert not bad.exists()
    try:
        bad.write_text("from .rates import _hidden\nfrom . import rates\nx = rates._other\n")
        found = _private_uses(bad)
    finally:
        bad.unlink()
    assert len(found) == 2 and "_hidden" in found[0] and "rates._other" in found[1]


SQL = re.compile(r"\b(SELECT\s+.+\s+FROM|INSERT\s+INTO|DELETE\s+FROM|CREATE\s+(TABLE|VIEW))\b", re.I | re.S)


def test_sections_hold_no_sql():
    hits = []
    for p in sorted((PKG / "sections").rglob("*.py")):
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
                hits.append(f"{p.relative_to(PKG.parent)}:{node.lineno}")
    assert hits == []

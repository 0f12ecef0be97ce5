"""End-to-end: synthetic data -> ingest -> papermill -> HTML, tables, headlines, index.

Also renders the seed partnerships on ../shared/data (skipped when absent).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from csp_analysis import cli, runner

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(demo_store, tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    # a private copy of the session's synthetic store: the runner writes to it (local data preload)
    return demo_store.copy_store(root), demo_store.data, root / "outputs"


def test_render_one_synthetic_partnership(demo):
    db, _, out = demo
    rc = cli.main(["run", "riverton", "--store", str(db), "--outputs", str(out)])
    assert rc == 0
    part = out / "riverton"
    for nb in runner.DEFAULT_NOTEBOOKS:
        html = (part / f"{nb}.html").read_text()
        assert "Safer Riverton" in html and "Synthetic data" in html
        assert "start_report(" not in html and "import " not in html  # no code cells
        assert "<img" in html and "data:image/png;base64" in html     # charts embedded
        assert "Download CSV" in html and "About this report" in html  # tables + provenance footer
        assert "Traceback" not in html
    tables = sorted(p.name for p in (part / "tables").glob("*.csv"))
    assert any(t.startswith("01_trends__") for t in tables)
    man = json.loads((part / "manifest.json").read_text())
    assert man["status"] == "ok" and man["data_vintage"]["street/synthshire"]["latest_month"] == "2025-12"
    assert man["inputs"]["police_files"] and man["parameters"]["lad_codes"] == ["X08000001"]
    assert isinstance(json.loads((part / "headlines.json").read_text()), list)
    index = (out / "index.html").read_text()
    assert "riverton/01_trends.html" in index
    idx = json.loads((out / "index.json").read_text())
    assert [r["status"] for r in idx] == ["ok"] and all(n["status"] == "ok" for n in idx[0]["notebooks"])
    # nothing changed: the re-run skips it, says so, and leaves the reports as they were
    before = (part / "01_trends.html").read_bytes()
    assert cli.main(["run", "riverton", "--store", str(db), "--outputs", str(out)]) == 0
    [again] = json.loads((out / "index.json").read_text())
    assert again["action"] == "unchanged" and again["status"] == "ok"
    assert (part / "01_trends.html").read_bytes() == before


def test_warm_kernel_tables_identical_to_fresh_kernels(demo, tmp_path):
    """Issue 12: the warm kernel (reused across notebooks and partnerships, query cache)
    renders byte-identical tables to a fresh kernel per notebook."""
    db, _, _ = demo
    slugs, nbs = ["riverton", "easthaven"], ("01_trends", "02_disproportionality")
    kw = dict(store=db, notebooks=nbs, log=lambda *_: None, force=True)
    cold = runner.run_all(slugs, outputs_dir=tmp_path / "cold", warm=False, **kw)
    warm = runner.run_all(slugs, outputs_dir=tmp_path / "warm", warm=True, **kw)
    assert [r.status for r in cold] == [r.status for r in warm]
    assert all(r.status in ("ok", "warning") for r in warm), [(r.slug, r.error) for r in warm]
    for s in slugs:
        a = {p.name: p.read_bytes() for p in (tmp_path / "cold" / s / "tables").glob("*.csv")}
        b = {p.name: p.read_bytes() for p in (tmp_path / "warm" / s / "tables").glob("*.csv")}
        assert a and a.keys() == b.keys()
        assert [k for k in a if a[k] != b[k]] == []


@pytest.mark.realdata
def test_render_real_barnsley_and_kirklees_no_data(shared_data, tmp_path):
    db, out = tmp_path / "real.duckdb", tmp_path / "outputs"
    geo = shared_data / "geography"
    assert cli.main(["ingest-lookup", str(geo), str(shared_data / "population"), "--store", str(db)]) == 0
    sy = shared_data / "police_uk" / "street"
    files = sorted(str(p) for p in sy.glob("*/*south-yorkshire*"))
    assert cli.main(["ingest", *files, "--store", str(db), "--quiet"]) == 0
    rc = cli.main(["run", "barnsley", "kirklees", "--store", str(db), "--outputs", str(out)])
    assert rc == 0
    barnsley = (out / "barnsley" / "01_trends.html").read_text()
    assert "Safer Barnsley Partnership" in barnsley and "data:image/png;base64" in barnsley
    assert "No data" not in barnsley
    kirklees = (out / "kirklees" / "01_trends.html").read_text()
    assert "No data" in kirklees and "west-yorkshire" in kirklees
    kirklees_iv = (out / "kirklees" / "03_intervention_effects.html").read_text()
    assert "Safer Dewsbury Town Centre Group" in kirklees_iv and "The data cannot say" in kirklees_iv


def test_default_reports_unchanged(demo, tmp_path):
    """Issue 15: refactoring keeps the default reports' content identical: every table, the
    headlines and the visible text (alt text included, provenance footer left out) hash as in
    ``tests/fixtures/report_digest.json``. A change meant to alter a report regenerates that
    file (``python tests/report_digest.py OUTPUTS --write tests/fixtures/report_digest.json``)."""
    from report_digest import compare, digest_outputs

    db, _, _ = demo
    out = tmp_path / "outputs"
    assert cli.main(["run", "--group", "demo", "--jobs", "2", "--store", str(db), "--outputs", str(out),
                     "--force", "--quiet"]) == 0
    want = json.loads((Path(__file__).parent / "fixtures" / "report_digest.json").read_text())
    assert compare(digest_outputs(out), want) == []

"""Tests for csp_analysis.distributed: partnerships as tasks on a dask.distributed LocalCluster.

Both start worker processes and Jupyter kernels; the one on the default partnerships
(about 3 minutes here) is marked slow."""
from __future__ import annotations

import filecmp
import json

import pytest

from csp_analysis import runner

pytest.importorskip("distributed")

# The runner tests' small store, params and fixture notebooks (one partnership per task here).
from test_runner import FIXTURES, setup  # noqa: E402,F401 - setup is a fixture


def test_dask_failures_and_index_behave_as_in_local_runs(setup):
    db, pdir, out = setup
    results = runner.run_all(["broken", "alpha", "beta"], params_dir=pdir, outputs_dir=out, store=db,
                             notebooks=("fails", "ok"), notebooks_dir=FIXTURES, log=lambda *_: None,
                             dask="local", dask_workers=2)
    assert [r.slug for r in results] == ["broken", "alpha", "beta"]  # the order asked for
    by = {r.slug: r for r in results}
    assert by["broken"].status == "failed" and "bogus_key" in by["broken"].error
    for slug in ("alpha", "beta"):
        nbs = {n.notebook: n for n in by[slug].notebooks}
        assert by[slug].status == "failed" and nbs["ok"].status == "ok" and "planted failure" in nbs["fails"].error
        assert (out / slug / "fails.ipynb").exists() and (out / slug / "ok.html").exists()
    idx = json.loads((out / "index.json").read_text())
    assert [x["slug"] for x in idx] == ["alpha", "beta", "broken"]
    assert (out / "index.html").exists() and len((out / "index.csv").read_text().splitlines()) == 4


@pytest.mark.slow
def test_dask_local_cluster_gives_the_tables_of_the_sequential_run(tmp_path, demo_store):
    """The default partnerships (group demo) on a LocalCluster of 2 worker processes and
    sequentially: every CSV table byte-identical."""
    st = demo_store.store
    slugs = ["easthaven", "northdale-southmoor", "riverton"]
    seq = runner.run_all(slugs, outputs_dir=tmp_path / "seq", store=st, log=lambda *_: None)
    par = runner.run_all(slugs, outputs_dir=tmp_path / "dask", store=st, log=lambda *_: None,
                         dask="local", dask_workers=2)
    assert [r.status for r in seq] == [r.status for r in par]
    assert all(r.status in ("ok", "warning") for r in par), [(r.slug, r.error) for r in par]
    n = 0
    for slug in slugs:
        a, b = tmp_path / "seq" / slug / "tables", tmp_path / "dask" / slug / "tables"
        names = sorted(p.name for p in a.glob("*.csv"))
        assert names and names == sorted(p.name for p in b.glob("*.csv")), slug
        match, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
        assert not mismatch and not errors, (slug, mismatch, errors)
        n += len(match)
    assert n > 10
    ia = (tmp_path / "seq" / "index.csv").read_text().splitlines()
    ib = (tmp_path / "dask" / "index.csv").read_text().splitlines()
    assert len(ia) == len(ib) == 4

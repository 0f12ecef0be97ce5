"""Tests for csp_analysis.runner with tiny purpose-built fixture notebooks
(one that works, one that fails, one without parameters)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from csp_analysis import cli, runner, store

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"
PARAMS = """\
name: {name}
slug: {slug}
lad_codes: [E08000016]
forces: [south-yorkshire]
window: {{start: 2022-01, end: 2025-12}}
small_number_threshold: 5
"""


def _add_month(con, month: str, sha: str) -> None:
    """One street record and its ingest_log row for south-yorkshire (the store then has data)."""
    con.execute("INSERT INTO street (month, crime_type, force, source_file, lsoa_code) "
                f"VALUES (DATE '{month}', 'Burglary', 'south-yorkshire', 'f-{month}.csv', 'E01007300')")
    con.execute("INSERT INTO ingest_log (source_file, kind, force, month, sha256, status, started_at, finished_at) "
                f"VALUES ('f-{month}.csv', 'street', 'south-yorkshire', DATE '{month}', '{sha}', 'loaded', now(), now())")


@pytest.fixture()
def setup(tmp_path):
    db = tmp_path / "s.duckdb"
    con = store.connect(db)
    con.execute("INSERT INTO lad_lookup VALUES ('E08000016','Barnsley','E22000259','Barnsley','E23000011',"
                "'South Yorkshire','t')")
    _add_month(con, "2024-01-01", "sha-a")
    con.close()
    pdir = tmp_path / "params"
    pdir.mkdir()
    for slug in ("alpha", "beta"):
        (pdir / f"{slug}.yaml").write_text(PARAMS.format(name=slug.title(), slug=slug))
    (pdir / "broken.yaml").write_text(PARAMS.format(name="Broken", slug="broken") + "bogus_key: 1\n")
    return db, pdir, tmp_path / "outputs"


def test_ok_notebook_renders_html_tables_headlines_manifest(setup):
    db, pdir, out = setup
    [r] = runner.run_all(["alpha"], params_dir=pdir, outputs_dir=out, store=db, notebooks=("ok",),
                         notebooks_dir=FIXTURES, log=lambda *_: None)
    assert r.status == "ok", r
    html = (out / "alpha" / "ok.html").read_text()
    assert "report.start_report" not in html  # no code cells
    assert "visible output" in html and "Download CSV" in html and "People by group" in html
    csv = (out / "alpha" / "tables" / "ok__people.csv").read_text().splitlines()
    assert csv[0] == "group,people" and csv[1] == "a,[c]" and csv[2] == "b,[c]"  # primary + secondary
    heads = json.loads((out / "alpha" / "headlines.json").read_text())
    assert heads[0]["key"] == "answer" and heads[0]["value"] == 42
    man = json.loads((out / "alpha" / "manifest.json").read_text())
    assert man["parameters"]["slug"] == "alpha" and man["package_version"] and man["git_commit"]
    assert man["inputs"]["params_file"]["sha256"] and "data_vintage" in man
    idx = (out / "index.html").read_text()
    assert "alpha/ok.html" in idx and "The answer is 42." in idx


def test_failing_notebook_kept_and_others_still_run(setup):
    db, pdir, out = setup
    results = runner.run_all(["broken", "alpha", "beta"], params_dir=pdir, outputs_dir=out, store=db,
                             notebooks=("fails", "ok"), notebooks_dir=FIXTURES, log=lambda *_: None)
    by = {r.slug: r for r in results}
    assert by["broken"].status == "failed" and "bogus_key" in by["broken"].error
    for slug in ("alpha", "beta"):
        r = by[slug]
        assert r.status == "failed"
        nbs = {n.notebook: n for n in r.notebooks}
        assert nbs["fails"].status == "failed" and "planted failure" in nbs["fails"].error
        assert nbs["ok"].status == "ok"
        executed = (out / slug / "fails.ipynb").read_text()
        assert "planted failure in the fixture notebook" in executed  # the failing cell is kept
        assert (out / slug / "fails.html").exists()
    idx = (out / "index.html").read_text()
    assert idx.count("class='failed'") >= 3


def test_notebook_without_parameters_cell_runs(setup):
    db, pdir, out = setup
    [r] = runner.run_all(["alpha"], params_dir=pdir, outputs_dir=out, store=db, notebooks=("no_params",),
                         notebooks_dir=FIXTURES, log=lambda *_: None)
    assert r.status == "ok"
    assert "without a parameters cell" in (out / "alpha" / "no_params.html").read_text()


def test_cli_run_exits_non_zero_when_any_fails(setup, monkeypatch):
    db, pdir, out = setup
    monkeypatch.setattr(runner, "NOTEBOOKS_DIR", FIXTURES)
    monkeypatch.setattr(runner, "DEFAULT_NOTEBOOKS", ("ok",))
    rc = cli.main(["run", "alpha", "broken", "--params-dir", str(pdir), "--outputs", str(out), "--store", str(db)])
    assert rc == 1
    assert (out / "alpha" / "ok.html").exists()
    assert cli.main(["run", "nosuch", "--params-dir", str(pdir), "--outputs", str(out), "--store", str(db)]) == 2


def test_thread_limits_share_the_cores_between_parallel_kernels():
    from csp_analysis.runner import THREAD_VARS, thread_limits

    lim = thread_limits(2, cpus=16, environ={})
    assert set(lim) == set(THREAD_VARS) and set(lim.values()) == {"8"}
    assert set(thread_limits(4, cpus=2, environ={}).values()) == {"1"}
    # what the user set is theirs
    assert "OMP_NUM_THREADS" not in thread_limits(2, cpus=16, environ={"OMP_NUM_THREADS": "3"})


def test_manifest_hashes_inputs_with_sha256(setup):
    import hashlib

    db, pdir, out = setup
    runner.run_all(["alpha"], params_dir=pdir, outputs_dir=out, store=db, notebooks=("ok",),
                   notebooks_dir=FIXTURES, log=lambda *_: None)
    manifest = json.loads((out / "alpha" / "manifest.json").read_text())
    want = hashlib.sha256((pdir / "alpha.yaml").read_bytes()).hexdigest()
    assert manifest["inputs"]["params_file"]["sha256"] == want == runner._sha256(pdir / "alpha.yaml")
    assert manifest["inputs"]["notebooks"]["ok"] == hashlib.sha256((FIXTURES / "ok.ipynb").read_bytes()).hexdigest()
    assert not list(out.rglob("*.tmp"))  # every atomic write renamed its temporary file


def test_report_and_runner_share_one_atomic_write():
    from csp_analysis import report

    assert report._atomic_write is runner._atomic_write


def test_cli_status_missing_store_and_closes_its_connection(setup, tmp_path, capsys):
    db, _, _ = setup
    assert cli.main(["status", "--store", str(tmp_path / "nope.duckdb")]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "does not exist" in err and "Traceback" not in err
    assert cli.main(["status", "--store", str(db)]) == 0
    assert "lad_lookup: 1 rows" in capsys.readouterr().out
    con = store.connect(db)  # a read-write connection: fails if status left its read-only one open
    con.close()


def test_report_suppress_counts_is_suppress_small_numbers():
    import pandas as pd

    from csp_analysis import report
    from csp_analysis.disproportionality import suppress_small_numbers

    df = pd.DataFrame({"group": ["A", "B", "C", "D"], "searches": [3, 40, 0, 25], "arrests": [1, 6, 0, 7]})
    got = report.suppress_counts(df, ["searches", "arrests"], 5)
    pd.testing.assert_frame_equal(got, suppress_small_numbers(df, ["searches", "arrests"], threshold=5)[0])
    assert got.loc[0, "searches"] == "[c]" and got.loc[0, "arrests"] == "[c]"
    assert got.loc[2, "searches"] == 0  # a true zero is shown
    assert list(got["group"]) == ["A", "B", "C", "D"]

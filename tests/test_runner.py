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
    assert idx.count("class='failed'") + idx.count('class="failed"') >= 3


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

    lim = thread_limits(2, cpus=16, environ={}, max_threads=None)
    assert set(lim) == set(THREAD_VARS) and set(lim.values()) == {"8"}
    assert set(thread_limits(2, cpus=16, environ={}, max_threads=4).values()) == {"4"}
    assert set(thread_limits(2, cpus=16, environ={}).values()) == {"1"}  # default cap: one thread
    assert set(thread_limits(4, cpus=2, environ={}, max_threads=None).values()) == {"1"}
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


# ------------------------------------------------------------------ issue 12: warm kernels, incremental runs
def test_warm_kernel_reused_and_no_state_leaks_between_notebooks_or_partnerships(setup):
    """Each 'leak' notebook checks the kernel is as fresh as a new one, then pollutes it
    (variables, figures, rcParams, environment, sys.path, warnings, cwd, query cache)."""
    db, pdir, out = setup
    results = runner.run_all(["alpha", "beta"], params_dir=pdir, outputs_dir=out, store=db,
                             notebooks=("leak", "leak_again"), notebooks_dir=FIXTURES, log=lambda *_: None)
    pids = set()
    for r in results:
        assert r.status == "ok", r
        for nb in ("leak", "leak_again"):
            heads = {h["key"]: h for h in json.loads((out / r.slug / "headlines" / f"{nb}.json").read_text())}
            assert heads["problems"]["value"] == 0, heads["problems"]["sentence"]
            pids.add(heads["pid"]["value"])
        executed = json.loads((out / r.slug / "leak_again.ipynb").read_text())
        counts = [c["execution_count"] for c in executed["cells"] if c["cell_type"] == "code"]
        assert counts[0] == 1  # a fresh execution counter, as in a new kernel
    assert len(pids) == 1  # the four notebooks ran in one kernel


def test_cold_kernels_still_available(setup):
    db, pdir, out = setup
    [r] = runner.run_all(["alpha"], params_dir=pdir, outputs_dir=out, store=db, notebooks=("ok",),
                         notebooks_dir=FIXTURES, log=lambda *_: None, warm=False)
    assert r.status == "ok" and (out / "alpha" / "ok.html").exists()


def test_unchanged_inputs_skip_and_each_input_change_rebuilds(setup, capsys):
    db, pdir, out = setup
    kw = dict(params_dir=pdir, outputs_dir=out, store=db, notebooks=("ok",), notebooks_dir=FIXTURES,
              log=lambda *_: None)
    [r1] = runner.run_all(["alpha"], **kw)
    assert r1.status == "ok" and r1.action == "rebuilt"
    man1 = json.loads((out / "alpha" / "manifest.json").read_text())
    assert man1["fingerprint"]["sha256"] == r1.fingerprint
    assert {"params", "police_files", "lookups", "package", "notebook:ok"} <= set(man1["fingerprint"]["parts"])

    [r2] = runner.run_all(["alpha"], **kw)
    assert r2.action == "unchanged" and r2.status == "ok" and r2.fingerprint == r1.fingerprint
    assert r2.headlines and r2.headlines[0]["value"] == 42
    assert json.loads((out / "alpha" / "manifest.json").read_text()) == man1  # outputs untouched
    idx = (out / "index.html").read_text()
    assert "unchanged since" in idx and "alpha/ok.html" in idx

    # the store's data for its force changes -> rebuilt, and the manifest says why
    con = store.connect(db)
    _add_month(con, "2024-02-01", "sha-b")
    con.close()
    [r3] = runner.run_all(["alpha"], **kw)
    assert r3.action == "rebuilt"
    assert "police_files" in json.loads((out / "alpha" / "manifest.json").read_text())["fingerprint"]["changed"]
    # another force's data does not concern alpha
    con = store.connect(db)
    con.execute("INSERT INTO ingest_log (source_file, kind, force, month, sha256, status, started_at, finished_at) "
                "VALUES ('w.csv', 'street', 'west-yorkshire', DATE '2024-01-01', 'x', 'loaded', now(), now())")
    con.close()
    assert runner.run_all(["alpha"], **kw)[0].action == "unchanged"
    # lookups change -> rebuilt
    con = store.connect(db)
    con.execute("UPDATE lad_lookup SET lad_name = 'Barnsley MBC'")
    con.close()
    assert runner.run_all(["alpha"], **kw)[0].action == "rebuilt"
    assert json.loads((out / "alpha" / "manifest.json").read_text())["fingerprint"]["changed"] == ["lookups"]
    # params change -> rebuilt; --force rebuilds an unchanged partnership
    (pdir / "alpha.yaml").write_text((pdir / "alpha.yaml").read_text() + "description: edited\n")
    assert runner.run_all(["alpha"], **kw)[0].action == "rebuilt"
    assert runner.run_all(["alpha"], **kw)[0].action == "unchanged"
    assert runner.run_all(["alpha"], force=True, **kw)[0].action == "rebuilt"
    # a failed run is never "unchanged"
    [f1] = runner.run_all(["beta"], **{**kw, "notebooks": ("fails",)})
    [f2] = runner.run_all(["beta"], **{**kw, "notebooks": ("fails",)})
    assert f1.status == f2.status == "failed" and f2.action == "rebuilt"


def test_cli_run_force_flag_and_unchanged_line(setup, monkeypatch, capsys):
    db, pdir, out = setup
    monkeypatch.setattr(runner, "NOTEBOOKS_DIR", FIXTURES)
    monkeypatch.setattr(runner, "DEFAULT_NOTEBOOKS", ("ok",))
    base = ["run", "alpha", "--params-dir", str(pdir), "--outputs", str(out), "--store", str(db)]
    assert cli.main(base) == 0
    capsys.readouterr()
    assert cli.main(base) == 0
    assert "alpha: unchanged (ok)" in capsys.readouterr().out
    assert cli.main(base + ["--force"]) == 0
    assert "alpha: OK in" in capsys.readouterr().out


# ------------------------------------------------------------------ issue 11: honest status
def test_section_warning_makes_partnership_warning_with_one_line_reason(setup):
    db, pdir, out = setup
    [r] = runner.run_all(["alpha"], params_dir=pdir, outputs_dir=out, store=db, notebooks=("warns", "ok"),
                         notebooks_dir=FIXTURES, log=lambda *_: None)
    assert r.status == "warning"
    nbs = {n.notebook: n for n in r.notebooks}
    assert nbs["warns"].status == "warning" and nbs["ok"].status == "ok"
    assert "warns: local CSV malformed: line 3 has 2 fields" in r.warnings  # one line
    idx = (out / "index.html").read_text()
    assert "local CSV malformed: line 3 has 2 fields" in idx
    assert "<b>Nowhere 001A</b>" not in idx and "&lt;b&gt;Nowhere 001A&lt;/b&gt;" in idx  # escaped
    assert json.loads((out / "alpha" / "manifest.json").read_text())["status"] == "warning"


def test_no_data_and_store_warnings_are_warnings_not_ok(setup):
    db, pdir, out = setup
    (pdir / "gamma.yaml").write_text(PARAMS.format(name="Gamma", slug="gamma").replace(
        "forces: [south-yorkshire]", "forces: [south-yorkshire, humberside]"))
    [r] = runner.run_all(["gamma"], params_dir=pdir, outputs_dir=out, store=db, notebooks=("ok",),
                         notebooks_dir=FIXTURES, log=lambda *_: None)
    assert r.status == "warning" and any("humberside" in w for w in r.warnings)
    assert cli.main(["run", "gamma", "--params-dir", str(pdir), "--outputs", str(out), "--store", str(db),
                     "--notebooks", "ok"]) != 2  # a warning is not a usage error


def test_crash_reason_is_one_readable_line(setup):
    db, pdir, out = setup
    [r] = runner.run_all(["alpha"], params_dir=pdir, outputs_dir=out, store=db, notebooks=("fails",),
                         notebooks_dir=FIXTURES, log=lambda *_: None)
    err = r.notebooks[0].error
    assert err.startswith("RuntimeError: planted failure in the fixture notebook")
    assert "\n" not in err and "Traceback" not in err and "\x1b[" not in err and "---" not in err
    assert runner.one_line(ValueError("a\n\nb")) == "ValueError: a; b"


def test_output_folders_never_escape_outputs(setup, tmp_path):
    db, pdir, out = setup
    for bad in ("../evil", "/tmp/evil", "a/../../evil", "..", ""):
        r = runner.run_partnership(bad, pdir, out, db, notebooks=("ok",), notebooks_dir=FIXTURES)
        assert r.status == "failed" and "slug" in r.error
    assert not (tmp_path / "evil").exists() and not (out.parent / "evil").exists()


def test_runs_of_one_partnership_are_serialised(setup):
    import threading

    db, pdir, out = setup
    out.mkdir(parents=True)
    done = []
    with runner._Lock(out / ".locks" / "alpha.lock"):
        t = threading.Thread(target=lambda: done.append(runner.run_partnership(
            "alpha", pdir, out, db, notebooks=("no_params",), notebooks_dir=FIXTURES, warm=False)))
        t.start()
        t.join(1.5)
        assert t.is_alive() and not (out / "alpha").exists()  # waits for the lock holder
    t.join(120)
    assert done and done[0].status == "ok" and (out / "alpha" / "no_params.html").exists()
    assert not list(out.glob(".alpha.*"))  # staging folder swapped in, old folder removed


def test_jobs_two_workers_warm_kernels_isolated_failures_and_no_orphans(setup):
    import os
    import time

    db, pdir, out = setup
    results = runner.run_all(["alpha", "broken", "beta"], params_dir=pdir, outputs_dir=out, store=db,
                             notebooks=("leak",), notebooks_dir=FIXTURES, jobs=2, log=lambda *_: None)
    by = {r.slug: r for r in results}
    assert by["alpha"].status == by["beta"].status == "ok" and by["broken"].status == "failed"
    pids = set()
    for slug in ("alpha", "beta"):
        heads = {h["key"]: h for h in json.loads((out / slug / "headlines.json").read_text())}
        assert heads["problems"]["value"] == 0
        pids.add(heads["pid"]["value"])
    time.sleep(1)
    alive = []
    for pid in pids:  # the workers shut their kernels down when they ended
        try:
            os.kill(pid, 0)
            alive.append(pid)
        except ProcessLookupError:
            pass
    assert alive == []


def test_progress_lines_say_done_failed_remaining_and_eta():
    import io

    clock = iter([0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0])
    buf = io.StringIO()
    bar = runner.RunProgress(4, stream=buf, enabled=True, tty=False, clock=lambda: next(clock))
    bar.update(runner.PartnershipRun(slug="a", status="ok", action="unchanged"))
    assert "ETA ?" in buf.getvalue()  # nothing rendered yet: no estimate
    bar.update(runner.PartnershipRun(slug="b", status="ok"))
    bar.update(runner.PartnershipRun(slug="c", status="failed"))
    lines = buf.getvalue().splitlines()
    assert len(lines) == 3 and all(x.startswith("progress ") for x in lines)  # plain lines when not a terminal
    assert "3/4: done 2 (1 unchanged), failed 1, remaining 1" in lines[-1]
    # 2 partnerships rendered in the time so far: the one left is estimated at half of it
    assert lines[-1].endswith("ETA 25s")
    tty = io.StringIO()
    bar = runner.RunProgress(2, stream=tty, enabled=True, tty=True)
    bar.update(runner.PartnershipRun(slug="a", status="ok"))
    bar.clear()
    bar.update(runner.PartnershipRun(slug="b", status="warning"))
    bar.close()
    out = tty.getvalue()
    assert out.count("\r") >= 3 and "[" + "#" * 24 + "]" in out and out.endswith("\n")
    quiet = io.StringIO()
    off = runner.RunProgress(2, stream=quiet, enabled=False)
    off.update(runner.PartnershipRun(slug="a", status="ok"))
    assert quiet.getvalue() == ""


def test_interrupted_run_resumes_without_redoing_finished_partnerships(setup, monkeypatch):
    """Ctrl-C during the second partnership: the first is complete; the rerun skips it."""
    db, pdir, out = setup
    real = runner.run_partnership

    def interrupted(slug, *a, **k):
        if slug == "beta":
            # what an interruption leaves: a staging folder, no manifest
            (out / ".beta.staging-999").mkdir(parents=True, exist_ok=True)
            raise KeyboardInterrupt
        return real(slug, *a, **k)

    monkeypatch.setattr(runner, "run_partnership", interrupted)
    with pytest.raises(KeyboardInterrupt):
        runner.run_all(["alpha", "beta"], params_dir=pdir, outputs_dir=out, store=db, notebooks=("ok",),
                       notebooks_dir=FIXTURES, log=lambda *_: None)
    journal = json.loads((out / ".run-journal.json").read_text())
    assert journal["complete"] is False and journal["finished"] == {"alpha": "ok"}
    first = json.loads((out / "alpha" / "manifest.json").read_text())["finished"]
    monkeypatch.setattr(runner, "run_partnership", real)
    said = []
    results = runner.run_all(["alpha", "beta"], params_dir=pdir, outputs_dir=out, store=db, notebooks=("ok",),
                             notebooks_dir=FIXTURES, log=said.append)
    by = {r.slug: r for r in results}
    assert by["alpha"].action == "unchanged" and by["beta"].action == "rebuilt" and by["beta"].status == "ok"
    assert json.loads((out / "alpha" / "manifest.json").read_text())["finished"] == first  # not redone
    assert said[0].startswith("resuming: ") and "after 1 of 2" in said[0]
    assert not list(out.glob(".beta.staging-*"))
    assert json.loads((out / ".run-journal.json").read_text())["complete"] is True
    assert (out / "index.csv").exists() and len((out / "index.csv").read_text().splitlines()) == 3


def test_cli_run_prints_progress_on_stderr(setup, monkeypatch, capsys):
    db, pdir, out = setup
    monkeypatch.setattr(runner, "NOTEBOOKS_DIR", FIXTURES)
    monkeypatch.setattr(runner, "DEFAULT_NOTEBOOKS", ("ok",))
    rc = cli.main(["run", "alpha", "broken", "--params-dir", str(pdir), "--outputs", str(out), "--store", str(db)])
    err = capsys.readouterr().err
    assert rc == 1
    assert "progress 1/2" in err and "progress 2/2: done 1, failed 1, remaining 0" in err


def test_fingerprint_same_with_counts_computed_once_per_run(setup):
    """The run-wide district counts give the same digest as the per-partnership query."""
    from csp_analysis import params as params_mod

    db, pdir, out = setup
    con = store.connect(db)
    con.execute("INSERT INTO lsoa_lookup (lsoa_code, lsoa_name, lad_code, lad_name, vintage) "
                "VALUES ('E01007300', 'Barnsley 001A', 'E08000016', 'Barnsley', '2021')")
    for force, month in (("west-yorkshire", "2024-02-01"), ("west-yorkshire", "2024-01-01"),
                         ("south-yorkshire", "2024-03-01")):
        con.execute("INSERT INTO street (month, crime_type, force, source_file, lsoa_code) "
                    f"VALUES (DATE '{month}', 'Burglary', '{force}', 'x.csv', 'E01007300')")
    p = params_mod.load_params(pdir / "alpha.yaml")
    counts = runner.district_month_counts(con)
    a = runner.fingerprint(p, pdir / "alpha.yaml", con, ("ok",), FIXTURES, pdir)
    b = runner.fingerprint(p, pdir / "alpha.yaml", con, ("ok",), FIXTURES, pdir,
                           district_counts={lad: counts.get(lad, []) for lad in p.lad_codes})
    con.close()
    assert a == b
    assert runner._stray_rows(counts, p.lad_codes, {"south-yorkshire"}) == [
        ("west-yorkshire", __import__("datetime").date(2024, 1, 1), 1),
        ("west-yorkshire", __import__("datetime").date(2024, 2, 1), 1)]


@pytest.mark.slow
def test_killed_run_resumes_without_redoing_finished_partnerships(setup, tmp_path):
    """SIGKILL to a `run_all` process while it renders the second partnership; the rerun
    skips the first (same manifest) and renders the others."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import nbformat

    db, pdir, out = setup
    nbdir = tmp_path / "nbs"
    nbdir.mkdir()
    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell("partnership = None")
    p.metadata["tags"] = ["parameters"]
    nb.cells = [p, nbformat.v4.new_code_cell(
        "import os, time\nif partnership != 'alpha' and not os.environ.get('CSP_TEST_NO_SLEEP'):\n    time.sleep(60)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, nbdir / "sleepy.ipynb")
    (pdir / "gamma.yaml").write_text(PARAMS.format(name="Gamma", slug="gamma"))
    code = (f"from csp_analysis import runner; runner.run_all(['alpha', 'beta', 'gamma'], params_dir={str(pdir)!r}, "
            f"outputs_dir={str(out)!r}, store={str(db)!r}, notebooks=('sleepy',), notebooks_dir={str(nbdir)!r})")
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(Path(runner.__file__).parents[1])})
    journal = out / ".run-journal.json"
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if "alpha" in json.loads(journal.read_text()).get("finished", {}):
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.3)
        else:
            pytest.fail("the first partnership did not finish in time")
        time.sleep(1.0)  # beta's notebook is sleeping now
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    first = json.loads((out / "alpha" / "manifest.json").read_text())["finished"]
    assert not (out / "beta" / "manifest.json").exists()
    said = []
    # the rerun: same notebook (its hash is in the fingerprint); the kernel is told not to sleep
    os.environ["CSP_TEST_NO_SLEEP"] = "1"
    try:
        results = runner.run_all(["alpha", "beta", "gamma"], params_dir=pdir, outputs_dir=out, store=db,
                                 notebooks=("sleepy",), notebooks_dir=nbdir, log=said.append, force=False)
    finally:
        os.environ.pop("CSP_TEST_NO_SLEEP", None)
    by = {r.slug: r for r in results}
    assert by["alpha"].action == "unchanged"
    assert json.loads((out / "alpha" / "manifest.json").read_text())["finished"] == first
    assert by["beta"].action == "rebuilt" and by["gamma"].action == "rebuilt"
    assert said[0].startswith("resuming: ") and "after 1 of 3" in said[0]
    assert not list(out.glob(".*.staging-*"))


def test_warm_kernel_keeps_only_national_and_force_queries_between_partnerships(monkeypatch):
    """kernel_reset's cache step: answers about a partnership's own areas are dropped,
    national and force-wide ones (runner.SHARED_QUERIES) kept, and all dropped past the cap."""
    from csp_analysis import data

    monkeypatch.setattr(data, "_CACHE", {})
    store_key = ("/s.duckdb", 1)
    data._CACHE.update({("lad_crime_counts", store_key, ((), ("E23000011",)), ()): "force-wide",
                        ("data_vintage", store_key, (), ()): "national",
                        ("monthly_counts", store_key, (("E08000016",),), ()): "own area",
                        ("planted",): "not a query"})
    runner._forget_partnership_queries(data)
    assert sorted(v for v in data._CACHE.values()) == ["force-wide", "national"]
    monkeypatch.setattr(runner, "SHARED_QUERIES_MAX", 1)
    runner._forget_partnership_queries(data)
    assert data._CACHE == {}


def test_parallel_runs_hand_out_partnerships_grouped_by_force(tmp_path):
    for slug, force in (("a1", "zed"), ("b1", "alpha"), ("c1", "zed"), ("d1", "alpha")):
        (tmp_path / f"{slug}.yaml").write_text(PARAMS.replace("south-yorkshire", force).format(name=slug, slug=slug))
    args = [(s, tmp_path) for s in ("a1", "b1", "c1", "d1", "missing")]
    assert [a[0] for a in runner.by_force(args, tmp_path)] == ["b1", "d1", "a1", "c1", "missing"]


def test_warm_engine_writes_the_executed_notebook_once_at_the_end(setup, monkeypatch):
    """Papermill's per-cell writes are throttled (SAVE_EVERY_SECONDS); the final write always
    happens and holds every cell's output."""
    import papermill.engines as pm_engines

    db, pdir, out = setup
    writes = []
    real = pm_engines.write_ipynb
    monkeypatch.setattr(pm_engines, "write_ipynb", lambda nb, path: (writes.append(path), real(nb, path)))
    monkeypatch.setattr(runner, "SAVE_EVERY_SECONDS", 3600.0)
    try:
        [r] = runner.run_all(["alpha"], params_dir=pdir, outputs_dir=out, store=db, notebooks=("ok",),
                             notebooks_dir=FIXTURES, log=lambda *_: None)
    finally:
        runner.shutdown_worker()
    assert r.status == "ok", r
    assert len(writes) == 1  # the manager's final save (papermill itself writes once more after it)
    nb = json.loads((out / "alpha" / "ok.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["metadata"]["papermill"]["status"] == "completed" for c in code)
    assert any(c.get("outputs") for c in code)

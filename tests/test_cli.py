"""Tests for csp_analysis.cli: the command set and the exit codes of its error paths
(the commands' work is tested through their modules and in test_end_to_end.py)."""
from __future__ import annotations

import pytest

from csp_analysis import __version__, cli, store

COMMANDS = {"ingest", "ingest-lookup", "demo-data", "setup-demo", "init-params", "fetch", "run", "status"}


def test_every_command_of_the_readme_is_there(capsys):
    ap = cli.build_parser()
    sub = next(a for a in ap._actions if a.dest == "cmd")  # argparse keeps subcommands here
    assert set(sub.choices) == COMMANDS
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0 and __version__ in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        cli.main([])
    assert e.value.code == 2  # a command is required


def test_status_without_a_store_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["status", "--store", str(tmp_path / "none.duckdb")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: The data store") and "csp ingest" in err


def test_status_of_an_empty_store(tmp_path, capsys):
    db = tmp_path / "s.duckdb"
    store.connect(db).close()
    assert cli.main(["status", "--store", str(db)]) == 0
    out = capsys.readouterr().out
    assert "street: 0 rows" in out and "lad_lookup: 0 rows" in out


def test_ingest_of_a_missing_path_fails_that_path_and_names_it(tmp_path, capsys):
    missing = tmp_path / "no-such-folder"
    rc = cli.main(["ingest", str(missing), "--store", str(tmp_path / "s.duckdb"), "--quiet"])
    out = capsys.readouterr().out
    assert rc == 1  # a path failed (the README's exit codes)
    assert f"FAILED: {missing}: no such file or folder" in out

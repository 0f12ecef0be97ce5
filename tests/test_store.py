"""Tests for csp_analysis.store: location, schema creation and read-only opening."""
from __future__ import annotations

import duckdb
import pytest

from csp_analysis import store


def test_store_path_explicit_then_environment_then_default(tmp_path, monkeypatch):
    monkeypatch.delenv("CSP_STORE", raising=False)
    assert store.store_path() == store.DEFAULT_STORE
    assert store.DEFAULT_STORE == store.PROJECT_ROOT / "data" / "store" / "csp.duckdb"
    monkeypatch.setenv("CSP_STORE", str(tmp_path / "env.duckdb"))
    assert store.store_path() == tmp_path / "env.duckdb"
    assert store.store_path(tmp_path / "x.duckdb") == tmp_path / "x.duckdb"


def test_connect_creates_folder_schema_and_views_idempotently(tmp_path):
    db = tmp_path / "new" / "folder" / "csp.duckdb"
    con = store.connect(db)
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        assert {"street", "stop_search", "ingest_log", "rejects", "no_location", "lsoa_lookup", "lad_lookup",
                "lsoa_lad", "street_geo"} <= tables
        cols = [r[0] for r in con.execute("DESCRIBE street").fetchall()]
        assert cols == list(store.STREET_COLUMNS)
        store.ensure_schema(con)  # a second time changes nothing
        assert con.execute("SELECT count(*) FROM street_geo").fetchone()[0] == 0
    finally:
        con.close()
    assert db.exists()


def test_read_only_needs_an_existing_store_and_refuses_writes(tmp_path):
    with pytest.raises(FileNotFoundError, match="csp ingest"):
        store.connect(tmp_path / "missing.duckdb", read_only=True)
    assert not (tmp_path / "missing.duckdb").exists()
    store.connect(tmp_path / "s.duckdb").close()
    ro = store.connect(tmp_path / "s.duckdb", read_only=True)
    try:
        with pytest.raises(duckdb.Error):
            ro.execute("CREATE TABLE t (x INTEGER)")
    finally:
        ro.close()

"""The national synthetic data set (``csp setup-demo --national``), at a tiny scale (1% of the volumes)."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from csp_analysis import cli, geography, ingest, params, store, synthetic_national as sn

SCALE, MONTHS = 0.01, 2


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def national(tmp_path_factory):
    root = tmp_path_factory.mktemp("national")
    db = root / "national.duckdb"
    rc = cli.main(["setup-demo", "--national", "--data", str(root / "data"), "--store", str(db),
                   "--scale", str(SCALE), "--months", str(MONTHS), "--quiet"])
    assert rc == 0
    return root / "data", db


def test_sizes_and_formats(national):
    data, db = national
    street = sorted((data / "police_uk" / "street").rglob("*.csv"))
    ss = sorted((data / "police_uk" / "stop_and_search").rglob("*.csv"))
    assert len(street) == sn.N_FORCES * MONTHS and 0 < len(ss) <= sn.N_FORCES * MONTHS
    for f in street[:3] + ss[:3]:
        kind, force, month = ingest.parse_file_name(f.name)
        assert force.startswith("xn-") and month in sn.MONTHS[:MONTHS]
        header = f.read_text(encoding="utf-8").splitlines()[0].split(",")
        assert header == (ingest.STREET_HEADER if kind == "street" else ingest.STOP_SEARCH_HEADER)
    con = store.connect(db, read_only=True)
    try:
        n_read, n_rej = con.execute("SELECT sum(rows_read), sum(rows_rejected) FROM ingest_log").fetchone()
        assert n_read > 0 and n_rej == 0
        assert con.execute("SELECT count(DISTINCT force) FROM street").fetchone()[0] == sn.N_FORCES
        assert con.execute("SELECT count(DISTINCT csp_code) FROM lad_lookup").fetchone()[0] == sn.N_PARTNERSHIPS
        # every located record resolves to a partnership and force area
        assert con.execute("SELECT count(*) FROM street_geo WHERE lsoa_code IS NOT NULL AND lsoa_code <> '' "
                           "AND csp_code IS NULL").fetchone()[0] == 0
        pop = con.execute("SELECT population FROM population_area WHERE geography = 'Country'").fetchone()[0]
        assert pop == sn.EW_POPULATION
    finally:
        con.close()


def test_params_for_every_partnership(national):
    data, _ = national
    found = params.find_params(data / "params")
    assert len(found) == sn.N_PARTNERSHIPS
    for f in list(found.values())[:: 40]:
        p = params.load_params(f)
        assert p.group == sn.GROUP and p.synthetic and p.forces[0].startswith("xn-")
        assert p.window.end.strftime("%Y-%m") == sn.MONTHS[MONTHS - 1]
    assert "SYNTHETIC" in (data / "SYNTHETIC_README.md").read_text()
    assert "shoplifting step" in (data / "PLANTED_EFFECTS.md").read_text()


def test_county_rows_from_the_synthetic_county_lookup(national):
    data, db = national
    con = store.connect(db, read_only=True)
    try:
        two_tier = con.execute("SELECT lad_code FROM lad_county LIMIT 1").fetchone()[0]
        c = geography.county_of(con, [two_tier])
        assert c is not None and c["county_code"].startswith("X10") and c["population"] > 0
        london = con.execute("SELECT lad_code FROM lad_lookup WHERE lad_code LIKE 'X09%' LIMIT 1").fetchone()[0]
        assert geography.county_of(con, [london]) is None
    finally:
        con.close()


def test_deterministic(national, tmp_path):
    data, _ = national
    sn.generate_national(tmp_path, scale=SCALE, months=MONTHS, write_params=False)
    a, b = _digest(data / "police_uk"), _digest(tmp_path / "police_uk")
    assert a == b and len(a) >= sn.N_FORCES * MONTHS
    for sub in ("geography", "population", "deprivation"):
        assert _digest(data / sub) == _digest(tmp_path / sub)


def test_realistic_national_volume_and_planted_effects():
    geo = sn._build(np.random.default_rng(np.random.SeedSequence(sn.NATIONAL_SEED).spawn(3)[0]), 1.0)
    lam, meta = sn._expected(geo, 1.0)
    per_month = lam.sum(axis=(1, 2))
    assert 250_000 < per_month.mean() < 400_000  # "several hundred thousand records a month"
    pops = geo["forces"]["population"].to_numpy()
    assert pops.sum() == sn.EW_POPULATION and pops.max() == sn.CAPITAL_POPULATION and pops.min() > 300_000
    assert len(geo["csps"]) == sn.N_PARTNERSHIPS and len(geo["units"]) > 30_000
    # the shoplifting step: the force's expected shoplifting jumps by the planted ratio (x the
    # national trend and season, which the same month a year earlier cancels out)
    k = sn.CRIME_TYPES.index("Shoplifting")
    f_u = geo["units"]["force"].to_numpy() == sn.SHOPLIFTING_STEP["force_index"]
    m1 = sn.MONTHS.index(sn.SHOPLIFTING_STEP["start"])
    ratio = lam[m1, k, f_u].sum() / lam[m1 - 12, k, f_u].sum()
    assert ratio == pytest.approx(sn.SHOPLIFTING_STEP["ratio"] * sn.TRENDS["Shoplifting"], rel=1e-9)
    other = ~f_u
    assert lam[m1, k, other].sum() / lam[m1 - 12, k, other].sum() == pytest.approx(sn.TRENDS["Shoplifting"], rel=1e-9)


def test_plain_writer_matches_pandas(tmp_path):
    import pandas as pd

    from csp_analysis.synthetic import write_csv as _write_csv

    ok = pd.DataFrame({"a": ["x", "", "z"], "b": [1, 2, 3], "c": ["On or near Mill Lane", "p", ""]})
    bad = pd.DataFrame({"a": ["Bristol, City of", 'say "hi"', "two\nlines"], "b": [1, 2, 3]})
    for i, df in enumerate((ok, bad, ok.iloc[:0])):
        sn._write_plain_csv(df, tmp_path / f"f{i}.csv")
        _write_csv(df, tmp_path / f"p{i}.csv")
        assert (tmp_path / f"f{i}.csv").read_bytes() == (tmp_path / f"p{i}.csv").read_bytes()

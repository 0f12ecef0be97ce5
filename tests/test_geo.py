"""Tests for csp_analysis.geo: swap repair and placing searches at crime snap points."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from csp_analysis import data, geo, ingest, lookups, store


def test_repair_is_an_involution_and_moves_points_back():
    # Newark-on-Trent (about lon -0.81, lat 53.08): swap E/N, then repair twice returns the original
    lon, lat = np.array([-0.81, -1.15]), np.array([53.08, 52.95])
    slon, slat = geo.repair_swapped_coordinates(lon, lat)  # applying the swap once "breaks" them
    assert (slat > 53.8).all() and (slon < -2).all()       # ... to the Lancaster area, as published
    rlon, rlat = geo.repair_swapped_coordinates(slon, slat)
    np.testing.assert_allclose(rlon, lon, atol=1e-6)
    np.testing.assert_allclose(rlat, lat, atol=1e-6)


def test_nearest_points_and_distance_limit():
    pts = pd.DataFrame({"longitude": [-1.0, -1.1], "latitude": [53.0, 53.0]})
    idx, dist = geo.nearest_points(pts, [-1.0001, -1.0999, -2.0, np.nan], [53.0, 53.0001, 53.0, 53.0], max_km=1)
    assert list(idx) == [0, 1, -1, -1]
    assert dist[0] < 0.05 and np.isnan(dist[3])


def test_detect_swapped():
    rng = np.random.default_rng(1)
    pts = pd.DataFrame({"longitude": rng.uniform(-1.2, -0.8, 500), "latitude": rng.uniform(52.9, 53.3, 500)})
    sample = pts.sample(50, random_state=1)
    assert not geo.detect_swapped(pts, sample["longitude"], sample["latitude"])
    slon, slat = geo.repair_swapped_coordinates(sample["longitude"], sample["latitude"])
    assert geo.detect_swapped(pts, slon, slat)


@pytest.mark.realdata
def test_real_nottinghamshire_searches_repaired_into_nottinghamshire(shared_data, tmp_path):
    con = store.connect(tmp_path / "g.duckdb")
    for f in ("LAD17_CSP17_PFA17_EW_lookup_Jan2017_v2.csv", "lsoa21_to_lad21_lad23_ew_derived.csv.gz"):
        lookups.load_lookup(con, shared_data / "geography" / f)
    pu = shared_data / "police_uk"
    ingest.ingest_paths(con, [pu / "street" / "2025-12" / "2025-12-nottinghamshire-street.csv.gz",
                              pu / "street" / "2025-12" / "2025-12-south-yorkshire-street.csv.gz",
                              pu / "stop_and_search" / "2024-11", pu / "stop_and_search" / "2024-12"], progress=False)
    recs = data.stop_search_records(con, ["nottinghamshire", "south-yorkshire"])
    out, notes = geo.locate_stop_search(con, recs)
    notts = out[out["force"] == "nottinghamshire"]
    assert notts["coordinates_repaired"].all()
    pfa = dict(con.execute("SELECT lad_code, pfa_name FROM lad_lookup").fetchall())
    placed = notts["lad_code"].dropna().map(pfa)
    assert len(placed) > 0.9 * len(notts) and (placed == "Nottinghamshire").all()
    assert any("swapped" in n for n in notes)
    assert out.loc[out["force"] == "south-yorkshire", "lad_code"].isna().all()
    assert any("south-yorkshire: no coordinates" in n for n in notes)

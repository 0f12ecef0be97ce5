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


def _tiny_force_store(tmp_path, n_points=300):
    """A store with one force's street snap points (each in its own LSOA of one LAD)."""
    con = store.connect(tmp_path / "swap.duckdb")
    con.execute("INSERT INTO lad_lookup VALUES ('E07000001','Alpha','E22000001','Alpha CSP','E23000001',"
                "'Force A','t')")
    rng = np.random.default_rng(7)
    pts = pd.DataFrame({"longitude": rng.uniform(-1.2, -0.8, n_points).round(6),
                        "latitude": rng.uniform(52.9, 53.3, n_points).round(6)})
    pts["lsoa_code"] = [f"E01{i:06d}" for i in range(n_points)]
    con.executemany("INSERT INTO lsoa_lookup (lsoa_code, lad_code, vintage) VALUES (?, 'E07000001', 2021)",
                    [[c] for c in pts["lsoa_code"]])
    con.register("pts_in", pts)
    con.execute("INSERT INTO street (month, longitude, latitude, lsoa_code, crime_type, force, source_file) "
                "SELECT DATE '2024-10-01', longitude, latitude, lsoa_code, 'Burglary', 'forcea', 'f.csv' FROM pts_in")
    con.unregister("pts_in")
    return con, pts


def test_swap_detected_per_month_when_only_some_months_are_swapped(tmp_path):
    # Nottinghamshire published 2024-11 and 2024-12 swapped; pooled over a longer window the
    # normal months outnumber the swapped ones and a force-wide test repairs nothing.
    con, pts = _tiny_force_store(tmp_path)
    recs = []
    for month, n, swap in (("2024-09", 60, False), ("2024-10", 60, False), ("2024-11", 25, True),
                           ("2024-12", 60, False)):
        sample = pts.sample(n, random_state=len(recs), replace=True)
        lon, lat = sample["longitude"].to_numpy(), sample["latitude"].to_numpy()
        if swap:  # the published (broken) coordinates
            lon, lat = geo.repair_swapped_coordinates(lon, lat)
        recs.append(pd.DataFrame({"force": "forcea", "month": pd.Timestamp(month + "-01"), "longitude": lon,
                                  "latitude": lat, "want": sample["lsoa_code"].to_numpy()}))
    recs = pd.concat(recs, ignore_index=True)
    recs.loc[0, ["longitude", "latitude"]] = np.nan  # a search without coordinates in a normal month
    swapped_share = (recs["month"] == "2024-11-01").mean()
    assert swapped_share < 0.2
    assert not geo.detect_swapped(pts, recs["longitude"], recs["latitude"])  # pooled: no swap seen
    out, notes = geo.locate_stop_search(con, recs)
    nov = out["month"] == "2024-11-01"
    assert out.loc[nov, "coordinates_repaired"].all() and not out.loc[~nov, "coordinates_repaired"].any()
    placed = out["lsoa_code"].notna()
    assert placed.sum() == len(out) - 1 and pd.isna(out.loc[0, "lsoa_code"])
    assert (out.loc[placed, "lsoa_code"] == out.loc[placed, "want"]).all()
    assert (out.loc[placed, "lad_code"] == "E07000001").all()
    assert any("swapped in 2024-11;" in n for n in notes)
    con.close()

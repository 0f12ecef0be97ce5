"""The parts of the maps section package (csp_analysis.sections.maps): the pure compute step on
small hand-made DataFrames (no store, no notebook) and the maps and wording built from a
computed result without a report context."""
from __future__ import annotations

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from csp_analysis import hotspots  # noqa: E402
from csp_analysis.formatting import not_enough_data  # noqa: E402
from csp_analysis.sections import maps as maps_section  # noqa: E402
from csp_analysis.sections.maps import charts, compute, tables, wording  # noqa: E402


def _grid(k: int = 6):
    """k x k LSOAs about 500 m apart, all 2021 codes; the first two also 2011 codes."""
    codes = [f"E010{i:05d}" for i in range(k * k)]
    lon = np.repeat(-1.50 + 0.0075 * np.arange(k), k)
    lat = np.tile(53.50 + 0.0045 * np.arange(k), k)
    lk = pd.DataFrame({"lsoa_code": codes, "lsoa_name": [f"Gridtown {i:03d}" for i in range(k * k)],
                       "in_2011": [i < 2 for i in range(k * k)], "in_2021": True})
    cent = pd.DataFrame({"lsoa_code": codes, "longitude": lon, "latitude": lat, "source": "supplied"})
    return lk, cent


@pytest.fixture(scope="module")
def geo():
    lk, cent = _grid()
    return compute.geography_frame(lk, cent, None)


def test_geography_and_universe_from_hand_made_frames(geo):
    lk = geo["lsoas"]
    assert lk["x"].notna().all() and geo["outline"] is None and geo["polygons"] is None
    assert 400_000 < lk["x"].min() < lk["x"].max() < 500_000  # British National Grid metres
    counts = pd.Series({c: 5 for c in lk["lsoa_code"]} | {"E01999999": 7})
    u = compute.test_universe(counts, lk)
    assert u["vintage"] == 2021 and len(u["codes"]) == 36 and u["lost"] == 7 and u["unplaced"] == 0
    note = wording.universe_note(u)
    assert note.startswith("The test uses the 36 LSOAs of the 2021 boundaries.") and "7 records" in note


def test_gi_star_finds_a_planted_cluster_and_the_map_draws_without_ctx(geo):
    lk = geo["lsoas"]
    codes = list(lk["lsoa_code"])
    rng = np.random.default_rng(4)
    counts = pd.Series(rng.poisson(20, len(codes)), index=codes)
    cluster = ["E01000000", "E01000001", "E01000006", "E01000007"]  # a 2 x 2 corner block
    counts[cluster] += 120
    w, wtext = compute.weights_for(geo, codes)
    assert compute.weights_for(geo, codes)[0] is w  # built once per set of LSOAs
    r = compute.gi_star_result(counts, codes, w, None)
    hot = set(r.loc[r["classification"] == "Hot spot", "lsoa_code"])
    assert hot and hot <= set(cluster) | {"E01000002", "E01000012", "E01000008", "E01000013", "E01000014"}
    assert r["gi_z"].is_monotonic_decreasing
    names = lk.set_index("lsoa_code")["lsoa_name"].to_dict()
    labels = compute.hot_spot_labels(r, lk.set_index("lsoa_code"), names)
    assert len(labels) == min(len(hot), compute.N_LABELS) and labels["label"].str.startswith("Gridtown").all()
    pts = lk.set_index("lsoa_code").loc[codes, ["x", "y"]].reset_index()
    fig, alt = charts.hot_spot_map(r, pts, geo, codes, labels, title="Test: Gi*", what="crimes", area="Gridtown")
    assert "hot spot" in alt and "dot at its centroid" in alt
    plt.close(fig)
    shown = tables._gi_display(r, names)
    assert list(shown.columns[:3]) == ["LSOA", "Name", "Records"] and len(shown) == 36
    assert compute.rows_shown(0) == 5 and compute.rows_shown(40) == 25


def test_density_layout_and_map_from_hand_made_points(geo):
    lk = geo["lsoas"]
    rng = np.random.default_rng(2)
    pick = rng.choice(lk.index, 400, p=np.r_[[0.3, 0.2], np.full(34, 0.5 / 34)])
    pts = pd.DataFrame({"lsoa_code": lk.loc[pick, "lsoa_code"].to_numpy(), "x": lk.loc[pick, "x"].to_numpy(),
                        "y": lk.loc[pick, "y"].to_numpy(), "period": np.where(np.arange(400) < 250, "latest",
                                                                              "previous")})
    extent, labels = compute.density_layout(pts, geo)
    assert extent[0] < lk["x"].min() and extent[1] > lk["x"].max()
    assert len(labels) == compute.N_LABELS and labels["lsoa_code"].iloc[0] == "E01000000"
    a = pd.period_range("2025-01", "2025-12", freq="M").tolist()
    b = [m - 12 for m in a]
    fig, alt = charts.density_map(pts, a, b, geo, extent, labels, what="burglary records", area="Gridtown",
                                  measure="Burglary")
    assert fig._suptitle.get_text() == "Burglary: where records were published, latest 12 months and the 12 before"
    assert "250 burglary records" in alt
    plt.close(fig)


def test_quarters_and_lsoas_followed():
    usable = pd.period_range("2023-02", "2025-12", freq="M").tolist()
    q = compute._quarters([m for m in usable if str(m) != "2024-05"])
    assert [str(x[0].asfreq("Q")) for x in q] == ["2024Q3", "2024Q4", "2025Q1", "2025Q2", "2025Q3", "2025Q4"]
    lk, _ = _grid(3)
    df = pd.DataFrame({"lsoa_code": ["E01000000", "E01000004", "E01099999"], "n": [3, 2, 5]})
    follow, subset = compute.lsoas_to_follow(df, list(lk["lsoa_code"]), lk)
    assert follow == ["E01000000", "E01000001"] and subset  # only LSOAs unchanged in 2021


def test_one_guard_and_escaped_names():
    assert wording.no_test(4, compute.MIN_LSOAS, "LSOAs", "Burglary") == \
        not_enough_data(4, 10, "LSOAs", "a hot-spot test of burglary")
    assert wording.no_emerging(hotspots.MIN_PERIODS, hotspots.MIN_PERIODS, "quarters") is None
    said = []
    ctx = SimpleNamespace(say=said.append)
    res = SimpleNamespace(usable=lambda m: [], latest=pd.period_range("2025-01", "2025-12", freq="M"),
                          matches={}, partnership="P")
    assert maps_section.tested(ctx, res, {}, "Burglary") is None
    assert said == [not_enough_data(0, 1, "usable months in the latest 12", "a hot-spot test of burglary")]
    assert maps_section.density(ctx, res, {}, "Burglary") is None and said[-1].startswith("Not enough data for a map")
    assert wording.gi_heading("Burglary", "Hot spot: Town <b>", [pd.Period("2025-01", freq="M")], "", "") \
        .startswith("### Burglary\n\nHot spot: Town &lt;b&gt;")

"""Static maps (csp_analysis.maps) and the maps section (csp_analysis.sections.maps)."""
from __future__ import annotations

import json
import shutil
import time

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from csp_analysis import cli, hotspots, intervention_data, maps, report, store  # noqa: E402
from csp_analysis.sections import maps as maps_section  # noqa: E402
from csp_analysis.sections import trends  # noqa: E402


# ---------------------------------------------------------------------------- drawing functions
def test_density_maps_share_extent_and_colour_scale():
    rng = np.random.default_rng(1)
    a = (rng.normal(435000, 800, 3000), rng.normal(406000, 800, 3000))
    b = (rng.normal(435500, 1500, 1000), rng.normal(406500, 1500, 1000))
    extent = maps.map_extent(np.r_[a[0], b[0]], np.r_[a[1], b[1]])
    labels = pd.DataFrame({"label": ["Centre 001A"], "x": [435000.0], "y": [406000.0]})
    fig, alt = maps.density_maps([("Latest", *a), ("Previous", *b)], extent=extent, labels=labels,
                                 what="crimes", area="Testshire")
    ax1, ax2 = fig.axes[:2]
    for ax in (ax1, ax2):
        assert ax.get_xlim() == pytest.approx(extent[:2]) and ax.get_ylim() == pytest.approx(extent[2:])
    n1, n2 = ax1.collections[0].norm, ax2.collections[0].norm
    assert n1 is n2 and n1.vmax >= max(ax1.collections[0].get_array().max(), ax2.collections[0].get_array().max())
    # the extent holds every point, with a margin of a few per cent
    assert extent[0] < min(a[0].min(), b[0].min()) and extent[1] > max(a[0].max(), b[0].max())
    assert (extent[1] - extent[0]) < 1.1 * (max(a[0].max(), b[0].max()) - min(a[0].min(), b[0].min()))
    assert "3,000 crimes" in alt and "1,000 crimes" in alt and "near Centre 001A" in alt
    texts = [t.get_text() for t in ax1.texts]
    assert any(t.endswith("km") for t in texts) and "N" in texts and "Centre 001A" in texts
    matplotlib.pyplot.close(fig)


def test_scale_bar_is_a_round_fifth_of_the_width():
    assert maps._nice_length(10000) == 2000 and maps._nice_length(27000) == 5000 and maps._nice_length(900) == 100


def test_hot_spot_map_points_and_polygons():
    from test_boundaries import grid_boundaries

    g = grid_boundaries(4).rename(columns={"LSOA21CD": "lsoa_code"})
    res = pd.DataFrame({"lsoa_code": g["lsoa_code"], "classification": ["Hot spot"] * 2 + ["Not significant"] * 14})
    c = g.geometry.centroid
    pts = pd.DataFrame({"lsoa_code": g["lsoa_code"], "x": c.x, "y": c.y})
    fig, alt = maps.hot_spot_map(res, pts, what="crimes", area="Gridtown")
    x0, x1 = fig.axes[0].get_xlim()
    assert x0 < c.x.min() < c.x.max() < x1 and "2 hot spots in red" in alt and "dot at its centroid" in alt
    fig2, alt2 = maps.hot_spot_map(res, pts, polygons=g, outline=g.geometry, what="crimes")
    x0, x1 = fig2.axes[0].get_xlim()
    assert x0 < g.total_bounds[0] and x1 > g.total_bounds[2] and "filled" in alt2
    matplotlib.pyplot.close("all")


def test_displacement_map_shows_treated_buffer_and_the_buffer_distance():
    places = pd.DataFrame({"unit": list("abcdef"), "role": ["treated", "treated", "buffer", "buffer", "other", "other"],
                           "x": [0, 300, 1200, -900, 5000, 9000.0], "y": [0, 0, 400, -300, 0, 0.0]})
    places[["x", "y"]] += [435000, 406000]
    fig, alt = maps.displacement_map(places, buffer_km=1.0, title="CCTV", area="CCTV")
    ax = fig.axes[0]
    x0, x1 = ax.get_xlim()
    assert x0 < 435000 - 1000 and x1 > 435300 + 1000  # the 1 km circles are inside the map
    assert len(ax.patches) == 2 and "2 treated places" in alt and "2 buffer places" in alt and "1 km" in alt
    matplotlib.pyplot.close(fig)


# ---------------------------------------------------------------------------- the section on synthetic data
@pytest.fixture(scope="module")
def demo(demo_store):
    return demo_store.root, demo_store.store  # the session's synthetic store (conftest.py), read only


def _town_centre(root):
    pe = json.loads((root / "demo" / "planted_effects.json").read_text())
    return [x["name"] for x in pe["place"]["town_centre_lsoas"]] if "town_centre_lsoas" in pe.get("place", {}) \
        else [f"Riverton 001{c}" for c in "ABCDEFGH"]


def test_section_finds_the_planted_town_centre(demo, tmp_path):
    root, db = demo
    ctx = report.start_report("riverton", "01_trends", store=db, output_dir=tmp_path)
    res = trends.analyse(ctx)
    said = []
    say = ctx.say
    ctx.say = lambda text: (said.append(text), say(text))
    t0 = time.perf_counter()
    out = maps_section.section(ctx, res)  # the report's default: all crime, ASB and the priority types
    print(f"\nmaps section added to the Riverton trends report: {time.perf_counter() - t0:.1f} s")
    assert set(out["hot_spots"]) >= {trends.ALL_CRIME, trends.ASB, *res.priorities}
    text = "\n".join(said)
    assert "would add the outline" in text and not out["boundaries"]
    r = out["hot_spots"][trends.ALL_CRIME]["result"]
    geo = maps_section.geography(ctx)["lsoas"].set_index("lsoa_code")
    hot = r[r["classification"] == "Hot spot"]
    names = hot["lsoa_code"].map(geo["lsoa_name"])
    centre = _town_centre(root)
    assert names.isin(centre).sum() >= 4
    tc = geo[geo["lsoa_name"].isin(centre)]
    d = np.hypot(hot["lsoa_code"].map(geo["x"]) - tc["x"].mean(), hot["lsoa_code"].map(geo["y"]) - tc["y"].mean())
    assert (d < 2000).all()  # every hot spot is at the town centre, none elsewhere
    em = out["hot_spots"][trends.ALL_CRIME]["emerging"]
    assert (em.set_index("lsoa_code").loc[hot["lsoa_code"].iloc[:3], "classification"] == "Persistent hot spot").all()
    dens = out["density"][trends.ALL_CRIME]
    x0, x1, y0, y1 = dens["extent"]
    riv = geo[geo["x"].notna() & geo.index.isin(r["lsoa_code"])]
    assert x0 < riv["x"].min() and riv["x"].max() < x1 and y0 < riv["y"].min() and riv["y"].max() < y1
    assert dens["n_latest"] > 10000 and len(dens["labels"]) == 5
    assert any(h["key"] == "gi_hot_spots_all_crime" for h in ctx.headlines)
    assert (tmp_path / "tables" / "01_trends__gi_star_all_crime_excl_asb.csv").exists()


def _voronoi_boundaries(root, path):
    """Boundaries for the synthetic LSOAs: Voronoi cells of the supplied centroids."""
    import geopandas as gpd
    import shapely

    c = pd.read_csv(root / "demo" / "geography" / "lsoa21_centroids.csv")
    x, y = hotspots.to_bng(c["longitude"], c["latitude"])
    pts = shapely.points(x, y)
    hull = shapely.convex_hull(shapely.multipoints(pts)).buffer(300)
    cells = shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=hull)
    cells = [shapely.intersection(g, hull) for g in shapely.get_parts(cells)]
    order = [next(i for i, cell in enumerate(cells) if cell.contains(p)) for p in pts]
    gdf = gpd.GeoDataFrame({"LSOA21CD": c["lsoa21cd"]}, geometry=[cells[i] for i in order], crs="EPSG:27700")
    gdf.to_file(path, driver="GPKG")


def test_section_with_boundaries_and_the_intervention_map(demo, tmp_path):
    root, db = demo
    db2 = tmp_path / "with_boundaries.duckdb"
    shutil.copy(db, db2)
    gpkg = tmp_path / "lsoa21_boundaries.gpkg"
    _voronoi_boundaries(root, gpkg)
    assert cli.main(["ingest-lookup", str(gpkg), "--store", str(db2)]) == 0
    ctx = report.start_report("riverton", "01_trends", store=db2, output_dir=tmp_path / "out")
    res = trends.analyse(ctx)
    out = maps_section.section(ctx, res, measures=[trends.ALL_CRIME], emerging=False)
    assert out["boundaries"]
    hs = out["hot_spots"][trends.ALL_CRIME]
    # Voronoi cells link fewer town-centre LSOAs to each other than 6 nearest neighbours do, so
    # fewer are flagged; the strongest cluster is still the planted town centre
    assert "share a boundary" in hs["weights"] and hs["n_hot"] >= 1 and "filled" in hs["alt"]
    top = hs["result"].iloc[0]["lsoa_code"]
    assert maps_section.geography(ctx)["lsoas"].set_index("lsoa_code").loc[top, "lsoa_name"] in _town_centre(root)
    assert "outlined" in out["density"][trends.ALL_CRIME]["alt"]
    # item 4: the CCTV scheme's treated area and buffer on one map
    iv = ctx.params.interventions[0]
    d = intervention_data.build_intervention_data(ctx.con, ctx.params, iv)
    alt = maps_section.intervention_map(ctx, d)
    n_buffer = int((d.places["role"] == "buffer").sum())
    assert n_buffer > 0
    assert "the 8 treated places" in alt and f"{n_buffer} buffer places" in alt and f"{iv.buffer_km:g} km" in alt


# ---------------------------------------------------------------------------- real data
@pytest.mark.realdata
def test_barnsley_town_centre_is_a_hot_spot(shared_data, tmp_path):
    """On the published South Yorkshire files for 2025, Gi* puts Barnsley's hot spots (all crime)
    in the LSOAs around the town centre (town hall at 53.5534 N, 1.4827 W), and nowhere else."""
    from csp_analysis import data

    db = tmp_path / "real.duckdb"
    assert cli.main(["ingest-lookup", str(shared_data / "geography"), "--store", str(db)]) == 0
    files = sorted(str(p) for p in (shared_data / "police_uk" / "street").glob("2025-*/*south-yorkshire*"))
    assert len(files) == 12
    assert cli.main(["ingest", *files, "--store", str(db), "--quiet"]) == 0
    con = store.connect(db, read_only=True)
    lad = ["E08000016"]
    cnt = con.execute("SELECT lsoa_code, count(*) AS n FROM street_geo WHERE lad_code = 'E08000016' "
                      "AND crime_type <> 'Anti-social behaviour' GROUP BY 1").df().set_index("lsoa_code")["n"]
    cent = data.lsoa_centroids(con, lad)
    codes = sorted(set(con.execute("SELECT lsoa_code FROM lsoa_lookup WHERE vintage = 2021 AND "
                                   "lad_code = 'E08000016'").df()["lsoa_code"]) & set(cent["lsoa_code"]))
    assert len(codes) > 140
    w, _ = hotspots.lsoa_weights(codes, cent)
    r = hotspots.gi_star(cnt.reindex(codes).fillna(0), w)
    c = cent.set_index("lsoa_code")
    x, y = hotspots.to_bng(c["longitude"], c["latitude"])
    tx, ty = hotspots.to_bng([-1.4827], [53.5534])
    km = pd.Series(np.hypot(x - tx[0], y - ty[0]) / 1000, index=c.index)
    hot = r[r["classification"] == "Hot spot"]
    assert len(hot) >= 2
    assert (hot["lsoa_code"].map(km) < 1.5).all()
    con.close()


def test_names_from_the_data_are_escaped_in_markdown():
    assert maps_section._md("Town <script>x</script> [a](b) *c*") == \
        r"Town &lt;script&gt;x&lt;/script&gt; \[a\](b) \*c\*"

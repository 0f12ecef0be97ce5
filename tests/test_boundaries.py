"""LSOA boundary files: ingestion through `csp ingest-lookup`, reading back, errors, contiguity."""
from __future__ import annotations

import numpy as np
import pytest

from csp_analysis import boundaries, cli, hotspots, store
from csp_analysis.ingest import IngestError


def grid_boundaries(n_side: int = 3, size_m: float = 500.0, x0: float = 434000, y0: float = 406000,
                    prefix: str = "E01900"):
    """A tiny ONS-like LSOA boundary layer: n x n squares (British National Grid)."""
    import geopandas as gpd
    from shapely.geometry import box

    rows = []
    for i in range(n_side):
        for j in range(n_side):
            k = i * n_side + j
            rows.append({"LSOA21CD": f"{prefix}{k:03d}", "LSOA21NM": f"Gridtown {k:03d}A",
                         "geometry": box(x0 + i * size_m, y0 + j * size_m, x0 + (i + 1) * size_m,
                                         y0 + (j + 1) * size_m)})
    return gpd.GeoDataFrame(rows, crs="EPSG:27700")


@pytest.fixture()
def db(tmp_path):
    return tmp_path / "store.duckdb"


def test_geopackage_and_geojson_load_through_ingest_lookup(tmp_path, db, capsys):
    g = grid_boundaries()
    gpkg = tmp_path / "lsoa_boundaries.gpkg"
    g.to_file(gpkg, driver="GPKG")
    gj = tmp_path / "more" / "lsoa_more.geojson"
    gj.parent.mkdir()
    grid_boundaries(2, prefix="E01800", x0=440000).to_crs("EPSG:4326").to_file(gj, driver="GeoJSON")
    assert cli.main(["ingest-lookup", str(gpkg), str(gj.parent), "--store", str(db)]) == 0
    assert "into lsoa_boundaries" in capsys.readouterr().out
    con = store.connect(db)
    assert con.execute("SELECT count(*) FROM lsoa_boundaries").fetchall()[0][0] == 9 + 4
    # reload: replaced by key, not duplicated
    assert cli.main(["ingest-lookup", str(gpkg), "--store", str(db)]) == 0
    assert con.execute("SELECT count(*) FROM lsoa_boundaries").fetchall()[0][0] == 13
    b = boundaries.read_boundaries(con, [f"E01900{k:03d}" for k in range(9)] + ["E01800000"])
    assert len(b) == 10 and b.crs.to_epsg() == 27700
    np.testing.assert_allclose(b.area, 250000.0, rtol=1e-6)  # 500 m squares, also after the 4326 round trip
    assert b.set_index("lsoa_code").loc["E01900004", "lsoa_name"] == "Gridtown 004A"
    assert boundaries.read_boundaries(con, ["E01000001"]) is None
    con.close()


def test_store_without_boundaries_reads_none(tmp_path, db):
    con = store.connect(db)
    con.close()
    ro = store.connect(db, read_only=True)
    assert not boundaries.has_boundaries(ro) and boundaries.read_boundaries(ro) is None


def test_contiguity_weights_from_boundaries():
    g = grid_boundaries().rename(columns={"LSOA21CD": "lsoa_code"})
    codes = list(g["lsoa_code"])
    w, text = hotspots.lsoa_weights(codes, boundaries=g)
    assert "share a boundary" in text
    assert w.cardinalities[codes[4]] == 8 and w.cardinalities[codes[0]] == 3


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
@pytest.mark.parametrize("problem, message", [
    ("no_code", "no LSOA code column"),
    ("no_crs", "no coordinate reference system"),
    ("duplicate", "listed more than once"),
    ("point", "not a polygon"),
])
def test_bad_boundary_files_name_the_file_and_problem(tmp_path, db, problem, message):
    from shapely.geometry import Point

    g = grid_boundaries()
    if problem == "no_code":
        g = g.rename(columns={"LSOA21CD": "code"})
    elif problem == "no_crs":
        g = g.set_crs(None, allow_override=True)
    elif problem == "duplicate":
        g.loc[3, "LSOA21CD"] = g.loc[2, "LSOA21CD"]
    elif problem == "point":
        g.loc[5, "geometry"] = Point(434100, 406100)
    path = tmp_path / f"bad_{problem}.gpkg"
    g.to_file(path, driver="GPKG")
    con = store.connect(db)
    with pytest.raises(IngestError, match=message) as e:
        boundaries.load_boundaries(con, path)
    assert str(path) in str(e.value)
    assert not boundaries.has_boundaries(con)  # nothing half-loaded
    con.close()

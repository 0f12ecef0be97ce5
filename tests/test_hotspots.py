"""Getis-Ord Gi*, the FDR threshold and the emerging hot-spot classes (csp_analysis.hotspots)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from csp_analysis import hotspots


def _grid(n_side: int, spacing_m: float = 600.0) -> pd.DataFrame:
    """LSOA-like centroids on a square grid near Barnsley (lon/lat)."""
    from pyproj import Transformer

    ij = np.array([(i, j) for i in range(n_side) for j in range(n_side)])
    x = 430000 + ij[:, 0] * spacing_m
    y = 406000 + ij[:, 1] * spacing_m
    lon, lat = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True).transform(x, y)
    return pd.DataFrame({"lsoa_code": [f"E01{k:06d}" for k in range(len(ij))], "longitude": lon, "latitude": lat,
                         "i": ij[:, 0], "j": ij[:, 1]})


def _negbin(rng, mean: np.ndarray, dispersion: float = 2.0) -> np.ndarray:
    """Over-dispersed counts with variance = dispersion x mean."""
    p = 1 / dispersion
    r = mean * p / (1 - p)
    return rng.negative_binomial(r, p)


def _hand_gi_star(y: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Gi* z (Ord & Getis 1995, eq. 3.1 with the LSOA in its own neighbourhood), written out."""
    n = len(y)
    xbar = y.mean()
    s = np.sqrt((y ** 2).mean() - xbar ** 2)
    Wi = W.sum(1)
    S1 = (W ** 2).sum(1)
    return (W @ y - xbar * Wi) / (s * np.sqrt((n * S1 - Wi ** 2) / (n - 1)))


def test_gi_star_matches_the_published_formula_and_esda_example():
    import libpysal

    # esda's documented example (binary weights, star): z-scores published in its docstring
    pts = [(10, 10), (20, 10), (40, 10), (15, 20), (30, 20), (30, 30)]
    w = libpysal.weights.DistanceBand(pts, threshold=15, silence_warnings=True)
    y = pd.Series([2, 3, 3.2, 5, 8, 7], index=w.id_order)
    r = hotspots.gi_star(y, w, permutations=99, fdr=False)
    np.testing.assert_allclose(r["gi_z"], [-1.39727626, -0.28917762, 0.65064964, -0.28917762, 1.23452088,
                                           2.02424331], atol=1e-6)
    # and the formula written out, on a KNN graph of a grid
    g = _grid(6)
    w2, _ = hotspots.lsoa_weights(g["lsoa_code"], g)
    y2 = pd.Series(np.random.default_rng(3).poisson(20, len(g)).astype(float), index=g["lsoa_code"])
    W = np.eye(len(g))
    pos = {c: i for i, c in enumerate(w2.id_order)}
    for c, nb in w2.neighbors.items():
        for j in nb:
            W[pos[c], pos[j]] = 1
    r2 = hotspots.gi_star(y2, w2, permutations=99)
    np.testing.assert_allclose(r2["gi_z"], _hand_gi_star(y2.reindex(w2.id_order).to_numpy(), W), atol=1e-9)
    assert (r2["neighbours"] == 6).all() and {"value", "lower", "upper", "confidence", "method", "p_value"} <= set(r2)


def test_fdr_threshold_agrees_with_benjamini_hochberg_in_statsmodels():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(5)
    for _ in range(20):
        p = np.concatenate([rng.uniform(size=80), rng.uniform(0, 0.002, size=int(rng.integers(0, 10)))])
        ours = p < hotspots.fdr_threshold(p, confidence=0.95)
        ref = multipletests(p, alpha=0.05, method="fdr_bh")[0]
        assert (ours == ref).all()


def test_planted_cluster_is_found_and_little_else():
    g = _grid(12)
    rng = np.random.default_rng(11)
    mean = np.full(len(g), 30.0)
    cluster = (g["i"].between(4, 6) & g["j"].between(4, 6)).to_numpy()   # 3 x 3 block, twice the rate
    mean[cluster] *= 2.5
    y = pd.Series(_negbin(rng, mean).astype(float), index=g["lsoa_code"])
    w, text = hotspots.lsoa_weights(g["lsoa_code"], g)
    r = hotspots.gi_star(y, w).set_index("lsoa_code")
    hot = set(r.index[r["classification"] == "Hot spot"])
    inside = set(g.loc[cluster, "lsoa_code"])
    ring = set(g.loc[(g["i"].between(3, 7) & g["j"].between(3, 7)).to_numpy(), "lsoa_code"])
    assert len(hot & inside) >= 5
    assert hot <= ring  # nothing flagged away from the cluster
    assert "6 nearest" in text
    assert "hot spot" in hotspots.hot_spot_sentence(r.reset_index())


def test_spatially_random_null_flags_no_more_than_the_nominal_rate():
    """Over-dispersed counts scattered at random: the per-LSOA test has size alpha and the FDR
    threshold flags any LSOA in no more than about alpha of the maps (Benjamini-Hochberg under
    the global null controls the chance of any false alarm at alpha)."""
    g = _grid(10)
    w, _ = hotspots.lsoa_weights(g["lsoa_code"], g)
    raw, any_fdr = [], []
    for seed in range(40):
        rng = np.random.default_rng(1000 + seed)
        y = pd.Series(_negbin(rng, np.full(len(g), 25.0), dispersion=2.5).astype(float), index=g["lsoa_code"])
        r = hotspots.gi_star(y, w, permutations=999, seed=seed, fdr=False)
        raw.append((r["p_value"] <= 0.05).mean())
        if seed < 20:
            r = hotspots.gi_star(y, w, seed=seed)
            any_fdr.append(bool(r["significant"].any()))
    assert 0.03 <= np.mean(raw) <= 0.07, np.mean(raw)
    assert sum(any_fdr) <= 3, sum(any_fdr)  # expected about 1 of 20; P(>= 4) < 2% at a 5% rate


@pytest.mark.parametrize("hot, expected", [
    ([1] * 10, "Persistent hot spot"),
    ([1, 1, 1, 0, 1, 1, 1, 1, 1, 0], "Persistent hot spot"),
    ([0] * 8 + [1, 1], "Emerging hot spot"),
    ([0] * 9 + [1], "No pattern"),                         # one recent quarter of two: not yet
    ([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], "Former hot spot"),
    ([1, 0, 0, 1, 0, 0, 0, 0, 0, 0], "No pattern"),        # a quarter of the earlier periods
    ([1, 0, 1, 0, 1, 0, 1, 0, 1, 0], "Intermittent hot spot"),
    ([0] * 10, "No pattern"),
])
def test_classify_periods(hot, expected):
    assert hotspots.classify_periods(np.array(hot), np.zeros(10)) == expected


def test_classify_periods_cold():
    assert hotspots.classify_periods(np.zeros(10), np.array([0] * 8 + [1, 1])) == "Emerging cold spot"


def test_emerging_hot_spot_is_classified_emerging():
    g = _grid(10)
    w, _ = hotspots.lsoa_weights(g["lsoa_code"], g)
    rng = np.random.default_rng(2)
    cluster = (g["i"].between(2, 4) & g["j"].between(2, 4)).to_numpy()
    persist = (g["i"].between(7, 9) & g["j"].between(7, 9)).to_numpy()
    rows = []
    for t in range(10):
        mean = np.full(len(g), 40.0)
        mean[persist] *= 2.5
        if t >= 8:
            mean[cluster] *= 2.5
        rows.append(_negbin(rng, mean, 1.5))
    panel = pd.DataFrame(rows, columns=g["lsoa_code"])
    em = hotspots.emerging_hot_spots(panel, w, permutations=999).set_index("lsoa_code")
    centre = g.loc[(g["i"] == 3) & (g["j"] == 3), "lsoa_code"].iloc[0]
    corner = g.loc[(g["i"] == 8) & (g["j"] == 8), "lsoa_code"].iloc[0]
    assert em.loc[centre, "classification"] == "Emerging hot spot"
    assert em.loc[corner, "classification"] == "Persistent hot spot"
    assert em.loc[centre, "tau"] > 0
    assert em.attrs["periods"] == 10


def test_emerging_classes_are_rare_on_spatially_random_maps():
    """No clusters in any period: fewer than 1 LSOA in 100 gets a class (about 0.1% expected)."""
    g = _grid(10)
    w, _ = hotspots.lsoa_weights(g["lsoa_code"], g)
    share = []
    for seed in range(6):
        rng = np.random.default_rng(500 + seed)
        panel = pd.DataFrame([_negbin(rng, np.full(len(g), 30.0), 2.0) for _ in range(8)], columns=g["lsoa_code"])
        em = hotspots.emerging_hot_spots(panel, w, seed=seed)
        share.append((em["classification"] != "No pattern").mean())
    assert np.mean(share) < 0.01, share


def test_neighbourhood_ratio_interval_allows_for_over_dispersion_and_covers():
    """Monthly over-dispersed counts (variance 2.5 x mean) with a known rate per LSOA: the
    quasi-Poisson interval of the neighbourhood ratio covers the true ratio about 95% of the
    time, where the exact Poisson interval (no monthly data) is too narrow."""
    g = _grid(6)
    w, _ = hotspots.lsoa_weights(g["lsoa_code"], g)
    ids = list(w.id_order)
    rng = np.random.default_rng(8)
    mu = rng.gamma(4, 2.5, len(ids))                     # monthly mean per LSOA
    i = 14
    nb = [i] + [ids.index(c) for c in w.neighbors[ids[i]]]
    truth = mu[nb].mean() / mu.mean()
    cover_q = cover_p = 0
    reps = 150
    for _ in range(reps):
        months = pd.DataFrame([_negbin(rng, mu, 2.5) for _ in range(12)], columns=ids)
        total = months.sum()
        q = hotspots.gi_star(total, w, permutations=9, monthly=months).iloc[i]
        p = hotspots.gi_star(total, w, permutations=9).iloc[i]
        cover_q += q["lower"] <= truth <= q["upper"]
        cover_p += p["lower"] <= truth <= p["upper"]
    assert 0.90 <= cover_q / reps <= 0.99, (cover_q / reps, cover_p / reps)
    assert cover_p / reps < cover_q / reps
    print(f"\nneighbourhood ratio coverage: quasi-Poisson {cover_q / reps:.3f}, exact Poisson {cover_p / reps:.3f}")


def test_shared_permutation_draws_change_no_result(monkeypatch):
    """gi_star keeps esda's permutation draws between calls (speed): the results are exactly those of
    esda drawing afresh each time, and esda's own function is back in place afterwards."""
    import esda.crand

    g = _grid(8)
    w, _ = hotspots.lsoa_weights(g["lsoa_code"], g)
    rng = np.random.default_rng(11)
    ys = [pd.Series(_negbin(rng, np.full(len(g), 30.0)).astype(float), index=g["lsoa_code"]) for _ in range(3)]
    hotspots._permuted_ids.cache_clear()
    shared = [hotspots.gi_star(y, w, permutations=499, seed=s) for y, s in zip(ys, (5, 5, 6))]
    assert hotspots._permuted_ids.cache_info().hits >= 1  # the second call reused the first one's draws
    assert esda.crand.vec_permutations is hotspots._ESDA_VEC_PERMUTATIONS[0]

    class Fresh:  # esda draws its own permutations every time
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(hotspots, "_shared_permutations", Fresh)
    fresh = [hotspots.gi_star(y, w, permutations=499, seed=s) for y, s in zip(ys, (5, 5, 6))]
    for a, b in zip(shared, fresh):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    # another seed draws differently (the cache is keyed by seed)
    assert not np.array_equal(hotspots._permuted_ids(6, 64, 499, 5), hotspots._permuted_ids(6, 64, 499, 6))

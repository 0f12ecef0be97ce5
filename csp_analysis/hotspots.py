"""Statistically tested hot spots: Getis-Ord Gi* at LSOA level, and emerging hot spots.

A top-10 table says where records are most numerous; it cannot say whether a cluster of
busy neighbourhoods is more than chance. The local Getis-Ord statistic Gi* (Getis & Ord
1992; Ord & Getis 1995) compares the records in an LSOA *and its neighbours* with the
partnership's average: a high Gi* z-score means a cluster of high counts (a hot spot), a
low one a cluster of low counts (a cold spot).

Methods
-------
* **Neighbours** (:func:`lsoa_weights`): Queen contiguity (LSOAs sharing a boundary
  point) when LSOA boundaries are in the store; otherwise the ``k`` nearest LSOA
  centroids (British National Grid distance; default 6, about the median number of
  contiguous neighbours of an English LSOA). KNN rather than a distance band because
  LSOAs are small in towns and large in the countryside: a fixed band would give town
  LSOAs dozens of neighbours and rural ones none. LSOAs without a contiguous neighbour
  (islands) are joined to their nearest one.
* **Statistic** (:func:`gi_star`): PySAL's ``esda.G_Local`` with ``star=True`` and
  binary weights (the LSOA itself is in its own neighbourhood), on record counts.
* **Inference**: conditional permutation (the LSOA's own count fixed, the others
  shuffled; ``PERMUTATIONS`` draws, fixed seed), two-sided pseudo p-value (twice
  esda's folded one-sided ``p_sim``, capped at 1), and a false-discovery-rate threshold
  over all LSOAs (Benjamini & Hochberg 1995 through ``esda.fdr``; when nothing passes,
  esda returns the Bonferroni bound ``alpha / n``). Permutation inference needs no
  normality: counts of crime are skewed and over-dispersed, which makes the normal
  p-value of the z-score too small in the upper tail.
* **Size of the cluster**: the neighbourhood's records per LSOA against the partnership
  average (``value``), with a quasi-Poisson interval (``lower``/``upper``) whose
  dispersion comes from the neighbourhood's monthly totals when they are given (else an
  exact Poisson interval): a description of how busy the cluster is, holding the
  partnership average fixed; the verdict comes from the permutation test.
* **Emerging hot spots** (:func:`emerging_hot_spots`): Gi* for each period (e.g. each
  quarter) at the per-LSOA 5% level, then each LSOA classified with the names of R's
  ``sfhotspot`` ``hotspot_classify`` (Langton 2023) under stricter rules that keep chance
  patterns rare (:func:`classify_periods`): *persistent*, *emerging*, *former*,
  *intermittent*, the same for cold spots, and *no pattern*; plus the Mann-Kendall trend of the LSOA's Gi* z-scores over the periods as
  in ArcGIS's emerging hot spot analysis (``intensifying`` / ``diminishing``), with FDR
  across the LSOAs that have a hot- or cold-spot pattern.

References
----------
Getis, A. & Ord, J. K. (1992). The analysis of spatial association by use of distance
statistics. *Geographical Analysis* 24:189-206.
Ord, J. K. & Getis, A. (1995). Local spatial autocorrelation statistics: distributional
issues and an application. *Geographical Analysis* 27:286-306.
Benjamini, Y. & Hochberg, Y. (1995). Controlling the false discovery rate. *JRSS B* 57:289-300.
Langton, S. & Chainey, S. (2023). sfhotspot: hot-spot analysis with simple features (R package).
Rey, S. J. & Anselin, L. (2007). PySAL: a Python library of spatial analytical methods.

``esda``, ``libpysal`` and ``geopandas`` are imported inside the functions, so reports
that do not map anything do not pay their import time.
"""
from __future__ import annotations

import functools
import warnings
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

#: Permutations for the main Gi* test: with 9,999 the smallest two-sided p-value is
#: 0.0002, small enough for an FDR threshold over a few hundred LSOAs.
PERMUTATIONS = 9999
#: Permutations for each period of the emerging hot-spot analysis (each period is tested at
#: the per-LSOA level alpha, as sfhotspot does, so 999 resolve p = 0.05 well).
PERIOD_PERMUTATIONS = 999
SEED = 14
ALPHA = 0.05
K_NEIGHBOURS = 6
#: sfhotspot's defaults (hotspot_classify_params): persistent_prop, recent_prop; and the share
#: of periods flagged for a former / intermittent pattern (see :func:`classify_periods`).
PERSISTENT_PROP, RECENT_PROP, PATTERN_PROP = 0.8, 0.2, 0.5
#: Fewest consecutive periods for an emerging hot-spot classification (with 6, "recent" is
#: the last 2 and "persistent" at least 5).
MIN_PERIODS = 6

GI_COLUMNS = ["lsoa_code", "count", "neighbours", "neighbourhood_count", "value", "lower", "upper", "gi_z",
              "p_value", "p_threshold", "significant", "classification", "confidence", "method"]


@functools.lru_cache(maxsize=1)
def _transformer():
    from pyproj import Transformer

    return Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)


def to_bng(longitude, latitude) -> tuple[np.ndarray, np.ndarray]:
    """Longitude/latitude (WGS84) to British National Grid easting/northing in metres."""
    x, y = _transformer().transform(np.asarray(longitude, dtype=float), np.asarray(latitude, dtype=float))
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def lsoa_weights(codes: Sequence[str], centroids: pd.DataFrame | None = None, boundaries=None,
                 k: int = K_NEIGHBOURS):
    """Spatial weights between LSOAs: contiguity from boundaries, else k nearest centroids.

    Parameters
    ----------
    codes : list of str
        LSOA codes, in the order of the values to be tested.
    centroids : DataFrame, optional
        ``lsoa_code``, ``longitude``, ``latitude`` (used when ``boundaries`` is None or
        does not cover every code).
    boundaries : geopandas.GeoDataFrame, optional
        ``lsoa_code`` and polygon ``geometry`` (any CRS).
    k : int
        Neighbours per LSOA for the centroid method.

    Returns
    -------
    (libpysal.weights.W, str)
        Binary weights with ``ids`` = ``codes`` and a sentence describing them.
    """
    import libpysal

    codes = list(codes)
    if len(codes) < 3:
        raise ValueError("Gi* needs at least 3 LSOAs")
    if boundaries is not None and set(codes) <= set(boundaries["lsoa_code"]):
        gdf = boundaries.drop_duplicates("lsoa_code").set_index("lsoa_code").loc[codes].reset_index()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            w = libpysal.weights.Queen.from_dataframe(gdf, ids=codes, use_index=False, silence_warnings=True)
            if w.islands:
                cx = gdf.geometry.centroid
                knn1 = libpysal.weights.KNN.from_array(np.column_stack([cx.x, cx.y]), k=1, ids=codes)
                w = libpysal.weights.util.attach_islands(w, knn1)
        w.transform = "B"
        text = ("Neighbours are LSOAs that share a boundary (Queen contiguity, from the LSOA boundary file in "
                "the store).")
        return w, text
    if centroids is None:
        raise ValueError("centroids are needed when no boundaries cover every LSOA")
    c = centroids.drop_duplicates("lsoa_code").set_index("lsoa_code").reindex(codes)
    if c[["longitude", "latitude"]].isna().any().any():
        missing = c.index[c["longitude"].isna()].tolist()
        raise ValueError(f"no centroid for LSOA(s) {', '.join(missing[:5])}")
    x, y = to_bng(c["longitude"], c["latitude"])
    k = int(min(k, len(codes) - 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = libpysal.weights.KNN.from_array(np.column_stack([x, y]), k=k, ids=codes)
        # KNN is not symmetric; Gi* does not need it to be, and symmetrising would give
        # LSOAs in the middle of a town far more neighbours than those at its edge.
    w.transform = "B"
    text = (f"Neighbours are each LSOA's {k} nearest LSOAs by the distance between their centroids (no LSOA "
            "boundary file is loaded; with one, neighbours would be the LSOAs that actually share a boundary).")
    return w, text


def _poisson_ci(total: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    a = 1 - confidence
    lo = np.where(total > 0, stats.chi2.ppf(a / 2, 2 * total) / 2, 0.0)
    hi = stats.chi2.ppf(1 - a / 2, 2 * (total + 1)) / 2
    return lo, hi


def fdr_threshold(p_values, alpha: float | None = None, *, confidence: float = 0.95) -> float:
    """Benjamini-Hochberg p-value threshold (``esda.fdr``) at false discovery rate ``1 - confidence``
    (or the deprecated ``alpha``); significant means ``p < threshold``."""
    import esda

    from .contract import significance_level

    alpha = significance_level(alpha, confidence, function="fdr_threshold")
    p = np.asarray(p_values, dtype=float)
    p = p[np.isfinite(p)]
    return float(esda.fdr(p, alpha)) if len(p) else float("nan")


@functools.lru_cache(maxsize=32)
def _permuted_ids(max_card: int, n: int, k_replications: int, seed: int) -> np.ndarray:
    """esda's conditional-permutation draws (``esda.crand.vec_permutations``), kept.

    They depend only on (largest number of neighbours, number of LSOAs, permutations,
    seed): every measure of a partnership, and the same quarter of every measure, reuse
    the same draws. Without numba, esda draws them in a Python loop (about 0.2 s for 9,999
    on 150 LSOAs, most of a Gi* test); keeping them changes no result. Read-only.
    """
    ids = _ESDA_VEC_PERMUTATIONS[0](max_card, n, k_replications, seed)
    ids.setflags(write=False)
    return ids


_ESDA_VEC_PERMUTATIONS: list = []


class _shared_permutations:
    """Context in which esda's conditional randomisation takes its draws from
    :func:`_permuted_ids` (restored on exit; esda looks ``vec_permutations`` up in
    ``esda.crand`` at each call)."""

    def __enter__(self):
        from esda import crand

        if not _ESDA_VEC_PERMUTATIONS:
            _ESDA_VEC_PERMUTATIONS.append(crand.vec_permutations)
        self._saved = crand.vec_permutations
        crand.vec_permutations = lambda max_card, n, k, seed: _permuted_ids(int(max_card), int(n), int(k),
                                                                             int(seed))
        return self

    def __exit__(self, *exc):
        from esda import crand

        crand.vec_permutations = self._saved
        return False


def gi_star(counts: pd.Series, w, permutations: int = PERMUTATIONS, seed: int = SEED, alpha: float | None = None,
            fdr: bool = True, confidence: float = 0.95, monthly: pd.DataFrame | None = None) -> pd.DataFrame:
    """Getis-Ord Gi* for each LSOA with permutation p-values and an FDR threshold.

    Parameters
    ----------
    counts : Series
        Records per LSOA, indexed by LSOA code (zeros included), in the order of ``w.id_order``
        or reindexable to it.
    w : libpysal.weights.W
        Binary weights from :func:`lsoa_weights`.
    permutations : int
        Conditional permutations (``esda.G_Local``); the seed fixes them.
    alpha : float, optional
        Deprecated (a :class:`DeprecationWarning`): the false discovery rate
        (``fdr=True``) or per-LSOA level (``fdr=False``) is ``1 - confidence`` unless given.
    confidence : float
        Level of the interval for the neighbourhood ratio; ``1 - confidence`` is the false
        discovery rate (or per-LSOA level).
    monthly : DataFrame, optional
        Month x LSOA counts whose columns sum to ``counts``. When given, the interval
        allows for over-dispersion: each neighbourhood's dispersion (variance / mean of its
        monthly totals, at least 1; seasonality makes it conservative) widens a log-scale
        interval, ``ratio * exp(+-z sqrt(dispersion / total))`` (quasi-Poisson). Without
        it, the exact Poisson interval (too narrow for over-dispersed counts).

    Returns
    -------
    DataFrame
        One row per LSOA: ``count``, ``neighbours`` (excluding itself),
        ``neighbourhood_count`` (LSOA + neighbours), ``value`` (neighbourhood records per
        LSOA / partnership mean per LSOA) with ``lower``/``upper`` (exact Poisson),
        ``gi_z`` (Gi* z-score, Getis-Ord standardisation), ``p_value`` (two-sided
        permutation), ``p_threshold``, ``significant``, ``classification`` ("Hot spot",
        "Cold spot", "Not significant"), ``confidence``, ``method``. Sorted as ``w``.
    """
    from .contract import significance_level

    alpha = significance_level(alpha, confidence, function="gi_star")
    ids = list(w.id_order)
    y = counts.reindex(ids).fillna(0).to_numpy(dtype=float)
    n = len(y)
    if y.sum() <= 0:
        raise ValueError("no records: Gi* is undefined")
    g = _g_local_star(y, w, permutations, seed)
    p = np.minimum(1.0, 2.0 * np.asarray(g.p_sim, dtype=float))
    thr = fdr_threshold(p, confidence=1 - alpha) if fdr else alpha
    sig = p < thr if fdr else p <= alpha
    z = np.asarray(g.Zs, dtype=float)
    card = np.array([w.cardinalities[i] for i in ids])
    A = _neighbourhood_matrix(w, ids)
    local = A @ y  # neighbourhood totals (the LSOA plus its neighbours); whole counts, so exact
    lo, hi, ci_text = _neighbourhood_interval(local, A, ids, monthly, confidence)
    cls = np.where(sig & (z > 0), "Hot spot", np.where(sig & (z < 0), "Cold spot", "Not significant"))
    method = (f"Getis-Ord Gi* (esda.G_Local, star, binary weights), {permutations:,} conditional permutations "
              f"(seed {seed}), two-sided; " + (f"Benjamini-Hochberg FDR {alpha:g} over {n} LSOAs" if fdr
                                             else f"per-LSOA level {alpha:g} (no multiple-testing control)")
              + f"; neighbourhood ratio with a {ci_text}")
    size = card + 1
    mean = y.mean()
    out = pd.DataFrame({
        "lsoa_code": ids, "count": y, "neighbours": card, "neighbourhood_count": local,
        "value": local / size / mean, "lower": lo / size / mean, "upper": hi / size / mean,
        "gi_z": z, "p_value": p, "p_threshold": thr, "significant": sig, "classification": cls,
        "confidence": confidence, "method": method,
    })
    out["sentence"] = _gi_sentences(out)
    out.attrs.update({"threshold": thr, "n_tests": n, "alpha": alpha, "permutations": permutations})
    return out


def _g_local_star(y: np.ndarray, w, permutations: int, seed: int):
    """``esda.G_Local`` (star, binary) with its permutations drawn from numpy's global
    generator seeded with ``seed`` (the caller's generator state is restored) and the
    draws shared between calls (:func:`_permuted_ids`)."""
    from esda.getisord import G_Local

    rng_state = np.random.get_state()
    try:
        np.random.seed(seed)  # esda draws its permutations from numpy's global generator
        with warnings.catch_warnings(), _shared_permutations():
            warnings.simplefilter("ignore")
            return G_Local(y, w, transform="B", star=True, permutations=permutations, seed=seed,
                           keep_simulations=False, n_jobs=1)
    finally:
        np.random.set_state(rng_state)


def _neighbourhood_matrix(w, ids: list) -> np.ndarray:
    """0/1 matrix (LSOAs x LSOAs in ``ids`` order) of each LSOA's neighbourhood: itself and
    its neighbours in ``w``."""
    pos = {c: i for i, c in enumerate(ids)}
    A = np.eye(len(ids))
    for i, c in enumerate(ids):
        A[i, [pos[j] for j in w.neighbors[c]]] = 1
    return A


def _neighbourhood_interval(local: np.ndarray, A: np.ndarray, ids: list, monthly: pd.DataFrame | None,
                            confidence: float) -> tuple[np.ndarray, np.ndarray, str]:
    """Interval of each neighbourhood's total: quasi-Poisson from the dispersion of its
    monthly totals when ``monthly`` has three months or more, else exact Poisson.
    Returns (lower, upper, a phrase naming the method)."""
    if monthly is not None and len(monthly) >= 3:
        M = monthly.reindex(columns=ids).fillna(0).to_numpy(dtype=float)   # months x LSOAs
        nb = M @ A.T                                                       # months x neighbourhoods
        mu = nb.mean(0)
        phi = np.maximum(1.0, np.divide(nb.var(0, ddof=1), mu, out=np.ones(len(ids)), where=mu > 0))
        zq = stats.norm.ppf(0.5 + confidence / 2)
        half = zq * np.sqrt(phi / np.maximum(local, 0.5))
        lo, hi = local * np.exp(-half), np.maximum(local, 0.5) * np.exp(half)
        return lo, hi, "quasi-Poisson interval (dispersion of the neighbourhood's monthly totals)"
    lo, hi = _poisson_ci(local, confidence)
    return lo, hi, "exact Poisson interval (no allowance for over-dispersion)"


def _gi_sentences(out: pd.DataFrame) -> list[str]:
    """The contract's sentence for each LSOA of a :func:`gi_star` table (rows as plain dicts:
    the same values as ``iterrows`` without building a Series per row)."""
    from .contract import default_sentence

    return [default_sentence(r, f"{r['lsoa_code']} ({r['classification'].lower()}): neighbourhood "
                                "records per LSOA relative to the partnership mean")
            for r in out.to_dict("records")]


def hot_spot_sentence(res: pd.DataFrame, what: str = "records", names: dict | None = None) -> str:
    """Plain sentences about a :func:`gi_star` result."""
    names = names or {}
    hot = res[res["classification"] == "Hot spot"].sort_values("gi_z", ascending=False)
    cold = res[res["classification"] == "Cold spot"]
    n = len(res)
    alpha = res.attrs.get("alpha", ALPHA)
    if not len(hot):
        s = (f"No LSOA is a hot spot of {what}: no cluster of neighbouring LSOAs has more {what} than the "
             f"partnership's spread of {what} across its {n} LSOAs would give by chance (false discovery rate "
             f"{alpha:.0%}).")
    else:
        top = hot.iloc[0]
        nm = names.get(top["lsoa_code"], top["lsoa_code"])
        s = (f"{len(hot)} of {n} LSOAs {'is a hot spot' if len(hot) == 1 else 'are hot spots'} of {what}: "
             f"clusters of neighbouring LSOAs with more {what} than chance would give (false discovery rate "
             f"{alpha:.0%}: on average no more than {alpha:.0%} of the LSOAs flagged are false alarms). The strongest is "
             f"{nm}, whose neighbourhood has {top['value']:.1f} times the partnership's average {what} per LSOA "
             f"(95% CI {top['lower']:.1f} to {top['upper']:.1f}).")
    if len(cold):
        s += (f" {len(cold)} LSOA{'s are' if len(cold) != 1 else ' is'} in cold spots (clusters with fewer "
              f"{what} than chance would give).")
    return s


# ---------------------------------------------------------------------------- emerging hot spots
def classify_periods(hot: np.ndarray, cold: np.ndarray, persistent_prop: float = PERSISTENT_PROP,
                     recent_prop: float = RECENT_PROP, pattern_prop: float = PATTERN_PROP) -> str:
    """Emerging / persistent / former / intermittent class for one LSOA from per-period flags.

    ``hot`` and ``cold`` are per-period flags, oldest first. With ``r`` = the most recent
    ``recent_prop`` of periods (at least one) and the rest "earlier":

    * Persistent: flagged in at least ``persistent_prop`` of all periods.
    * Emerging: flagged in *every* recent period and in no earlier one.
    * Former: flagged in at least ``pattern_prop`` of the earlier periods and in no recent one.
    * Intermittent: flagged in at least ``pattern_prop`` of all periods, otherwise.
    * No pattern: anything less.

    Hot patterns take precedence over cold ones. The names and the 80% / 20% defaults are
    sfhotspot's (``hotspot_classify``); the rules are stricter than its defaults, which count
    a single significant period (``hotspot_prop = 0.1``) as a pattern: with a 5% test each
    period, that labels about one LSOA in six "intermittent" on a map with no clusters at
    all. Here each class is unlikely by chance alone: with 7 quarters and a 2.5% one-sided
    false-alarm rate per period, about 0.07% of LSOAs get any class under spatial
    randomness if periods and LSOAs were independent; simulated over-dispersed counts on a
    grid with 8 periods gave 0.17% (12 maps; ``tests/test_hotspots.py`` checks < 1%).
    """
    n = len(hot)
    n_recent = max(1, int(np.ceil(recent_prop * n)))
    for flags, word in ((np.asarray(hot, bool), "hot spot"), (np.asarray(cold, bool), "cold spot")):
        k = flags.sum()
        if k == 0:
            continue
        recent, earlier = flags[-n_recent:], flags[:-n_recent]
        if k / n >= persistent_prop:
            return f"Persistent {word}"
        if recent.all() and not earlier.any():
            return f"Emerging {word}"
        if len(earlier) and earlier.mean() >= pattern_prop and not recent.any():
            return f"Former {word}"
        if k / n >= pattern_prop:
            return f"Intermittent {word}"
    return "No pattern"


def emerging_hot_spots(panel: pd.DataFrame, w, permutations: int = PERIOD_PERMUTATIONS, seed: int = SEED,
                       alpha: float | None = None, *, confidence: float = 0.95) -> pd.DataFrame:
    """Gi* per period and an emerging / persistent / former hot-spot class per LSOA.

    Parameters
    ----------
    panel : DataFrame
        Period x LSOA counts (index: periods in time order; columns: LSOA codes in the
        order of ``w.id_order``; zeros included).
    w : libpysal.weights.W
    alpha : float, optional
        Deprecated (a :class:`DeprecationWarning`): use ``confidence``.
    confidence : float, default 0.95
        ``1 - confidence`` is the per-period, per-LSOA level and the false discovery rate of
        the trend test.

    Returns
    -------
    DataFrame
        One row per LSOA: ``lsoa_code``, ``periods``, ``hot_periods``, ``cold_periods``,
        ``latest_z``, ``classification``, Mann-Kendall ``tau`` and ``trend_p`` of the
        Gi* z-scores (NaN for "No pattern"), ``trend_p_threshold`` (FDR across the LSOAs with
        a pattern), ``trend`` ("intensifying", "diminishing", "no clear trend"), ``method``.
    """
    from .contract import significance_level
    from .trends import mann_kendall

    alpha = significance_level(alpha, confidence, function="emerging_hot_spots")
    ids = list(w.id_order)
    zs, hots, colds = [], [], []
    for i, (_, row) in enumerate(panel.iterrows()):
        s = row.reindex(ids).fillna(0)
        if s.sum() <= 0:
            continue
        # per-period flags at the per-LSOA level (sfhotspot's default, no adjustment): an FDR
        # threshold in each small period makes a real cluster flicker in and out of
        # significance and fakes "former" and "emerging" classes; the class rules
        # (classify_periods) then keep chance patterns rare.
        r = gi_star(s, w, permutations=permutations, seed=seed + i, confidence=1 - alpha, fdr=False)
        zs.append(r["gi_z"].to_numpy())
        hots.append((r["classification"] == "Hot spot").to_numpy())
        colds.append((r["classification"] == "Cold spot").to_numpy())
    Z, H, C = np.array(zs), np.array(hots), np.array(colds)
    rows = []
    for j, code in enumerate(ids):
        cls = classify_periods(H[:, j], C[:, j])
        tau = trend_p = np.nan
        if cls != "No pattern":
            # the trend only qualifies a hot- or cold-spot pattern, so it is tested (and the
            # FDR taken) over those LSOAs only
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mk = mann_kendall(Z[:, j], times=np.arange(len(Z)))
            tau, trend_p = float(mk["tau"].iloc[0]), float(mk["p_value"].iloc[0])
        rows.append({"lsoa_code": code, "periods": len(Z), "hot_periods": int(H[:, j].sum()),
                     "cold_periods": int(C[:, j].sum()), "latest_z": float(Z[-1, j]),
                     "classification": cls, "tau": tau, "trend_p": trend_p})
    out = pd.DataFrame(rows)
    thr = fdr_threshold(out["trend_p"].dropna(), confidence=1 - alpha) if out["trend_p"].notna().any() else float("nan")
    up = (out["trend_p"] < thr) & (out["tau"] > 0)
    down = (out["trend_p"] < thr) & (out["tau"] < 0)
    out["trend_p_threshold"] = thr
    out["trend"] = np.where(up, "intensifying", np.where(down, "diminishing", "no clear trend"))
    out["method"] = (f"Gi* per period ({permutations:,} permutations, per-LSOA level {alpha:g}); classes "
                     f"(persistent >= {PERSISTENT_PROP:.0%} of periods; emerging = every one of the last "
                     f"{RECENT_PROP:.0%} and none before; former / intermittent >= {PATTERN_PROP:.0%}); Mann-Kendall trend of Gi* z with FDR {alpha:g} across LSOAs with a pattern")
    out.attrs["periods"] = len(Z)
    return out

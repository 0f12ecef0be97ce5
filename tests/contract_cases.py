"""Every public statistic with a small example call (used by tests/test_contract.py)."""
from pathlib import Path
import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
LOCAL = REPO / "data" / "local" / "barnsley_safeguarding_2022_23.csv"


def _series(n=48, seed=1, base=60.0, effect=0.7, start=36):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    mu = base * np.exp(0.1 * np.sin(2 * np.pi * t / 12)) * np.where(t >= start, effect, 1.0)
    months = pd.period_range("2021-01", periods=n, freq="M")
    return pd.Series(rng.poisson(mu), index=months)


def _panel(seed=2, n_units=12, n_periods=24, start=16):
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_units):
        lvl = rng.normal(30, 3)
        for t in range(n_periods):
            eff = 0.8 if (u == 0 and t >= start) else 1.0
            rows.append({"unit": f"u{u:02d}", "t": 2000 + t, "y": rng.poisson(lvl * eff),
                         "treated": int(u < n_units // 2), "post": int(t >= start)})
    return pd.DataFrame(rows)


def _grid_counts(k=6, seed=5):
    """Counts on a k x k grid of places with rook weights (libpysal)."""
    from libpysal.weights import lat2W

    w = lat2W(k, k)
    codes = [f"E0{i:07d}" for i in range(k * k)]
    w.remap_ids(codes)
    y = np.random.default_rng(seed).poisson(20, k * k).astype(float)
    y[:4] += 40
    return pd.Series(y, index=codes), w


def table_cases():
    """(name, has_test, callable returning a DataFrame)."""
    from csp_analysis import rates, funnels, disproportionality as dp, dispersion, multiplicity, local_stats
    from csp_analysis.local_indicators import read_local_indicators
    import importlib

    mk = importlib.import_module("csp_analysis.trends.mann_kendall")
    conc = importlib.import_module("csp_analysis.trends.concentration")
    cc = importlib.import_module("csp_analysis.trends.control_charts")
    from csp_analysis import hotspots

    s = _series()
    x = np.array([3, 40, 120]); n = np.array([50, 400, 1000])
    local = read_local_indicators(LOCAL)
    groups = pd.DataFrame({"g": ["A", "B", "C", "W"], "n": [40, 25, 3, 300], "pop": [2000, 1500, 400, 30000]})
    lsoa = pd.DataFrame({"decile": np.repeat(np.arange(1, 11), 5),
                         "crimes": np.random.default_rng(3).poisson(80, 50), "pop": 1500.0})
    lsoa["place"] = [f"L{i:02d}" for i in range(len(lsoa))]
    searches = pd.DataFrame({"g": ["A", "B", "W"], "n": [120, 60, 900], "finds": [20, 15, 240]})
    rng = np.random.default_rng(4)
    disp_counts = pd.DataFrame({f"m{i}": rng.poisson(100, 48) for i in range(6)},
                               index=pd.period_range("2021-01", periods=48, freq="M"))
    return [
        ("rates.proportion_ci", False, lambda: rates.proportion_ci(x, n)),
        ("rates.count_ci", False, lambda: rates.count_ci(x)),
        ("rates.rate_ci", False, lambda: rates.rate_ci(x, n)),
        ("rates.rate_ratio", True, lambda: rates.rate_ratio(30, 1000, 20, 1000)),
        ("rates.compare_periods", True, lambda: rates.compare_periods(130, 100)),
        ("funnels.funnel_limits", False, lambda: funnels.funnel_limits(x, n, statistic="proportion", multiplier=100)),
        ("funnels.assign_funnel_significance", False,
         lambda: funnels.assign_funnel_significance(x, n, statistic="proportion")),
        ("funnels.funnel_ratio_limits", False, lambda: funnels.funnel_ratio_limits(np.array([5.0, 50, 500]))),
        ("funnels.funnel_outliers", False, lambda: funnels.funnel_outliers(np.array([8, 40, 130, 60, 70, 90]),
                                                                          np.array([10.0, 50, 100, 60, 75, 80]))),
        ("disproportionality.relative_rate_index", True,
         lambda: dp.relative_rate_index(groups, "g", "n", "pop", reference="W")),
        ("disproportionality.find_rate_by_group", True,
         lambda: dp.find_rate_by_group(searches, "g", outcome="finds", searches="n", reference="W")),
        ("disproportionality.location_quotients", False,
         lambda: dp.location_quotients(lsoa.assign(total=1000), "place", "crimes", "total")),
        ("disproportionality.deprivation_gradient.by_decile", False,
         lambda: dp.deprivation_gradient(lsoa, "decile", "crimes", "pop").by_decile),
        ("disproportionality.deprivation_gradient.summary", True,
         lambda: dp.deprivation_gradient(lsoa, "decile", "crimes", "pop").summary),
        ("disproportionality.share_of_burden", False, lambda: dp.share_of_burden(lsoa, "place", "crimes", "pop")),
        ("dispersion.estimate_dispersion", False, lambda: dispersion.estimate_dispersion(disp_counts)),
        ("multiplicity.adjust_p_values", True, lambda: multiplicity.adjust_p_values([0.01, 0.04, 0.3])),
        ("local_stats.indicator_change", True, lambda: local_stats.indicator_change(local, "referrals", "2022/23", "2021/22")),
        ("local_stats.monthly_year_on_year", True,
         lambda: local_stats.monthly_year_on_year(local, "children_in_need", "2022/23", "2021/22")),
        ("local_stats.indicator_proportions", False,
         lambda: local_stats.indicator_proportions(local, "referrals_by_source")),
        ("local_stats.compare_with_comparators", True,
         lambda: local_stats.compare_with_comparators(local, "referrals_by_source", "2022/23")),
        ("local_stats.before_after", True,
         lambda: local_stats.before_after(local, "contacts_processed_within_24_hours", "2023-01")),
        ("hotspots.gi_star", True, lambda: hotspots.gi_star(*_grid_counts(), permutations=99)),
        ("trends.mann_kendall", True, lambda: mk.mann_kendall(s)),
        ("trends.seasonal_mann_kendall", True, lambda: mk.seasonal_mann_kendall(s)),
        ("trends.concentration", False, lambda: conc.concentration(lsoa["crimes"], n_boot=100)),
        ("trends.top_places", False, lambda: conc.top_places(lsoa.set_index("place")["crimes"],
                                                            lsoa.set_index("place")["crimes"][::-1].set_axis(lsoa["place"]))),
        ("trends.control_chart", False, lambda: cc.control_chart(s.to_numpy(), kind="c")),
    ]


def result_cases():
    """(name, callable returning a result object)."""
    from csp_analysis.trends.count_model import fit_count_trend
    import importlib

    its, did, sc, dis, placebo, power = (importlib.import_module(f"csp_analysis.interventions.{m}") for m in
                                         ("its", "did", "synthetic_control", "displacement", "placebo", "power"))

    s = _series()
    p = _panel()
    frame = pd.DataFrame({"t": np.arange(1, len(s) + 1), "y": s.to_numpy()})
    return [
        ("trends.fit_count_trend", lambda: fit_count_trend(s.to_numpy(), s.index)),
        ("interventions.interrupted_time_series", lambda: its.interrupted_time_series(frame, "y", "t", 37)),
        ("interventions.difference_in_differences",
         lambda: did.difference_in_differences(p, "y", "treated", "post", unit="unit")),
        ("interventions.synthetic_control", lambda: sc.synthetic_control(p, "unit", "t", "y", "u00", 2016)),
        ("interventions.displacement", lambda: dis.displacement((207, 110), (178, 157), (308, 318))),
        ("interventions.placebo_in_time", lambda: placebo.placebo_in_time(frame, "y", "t", 37)),
        ("interventions.minimum_detectable_effect",
         lambda: power.minimum_detectable_effect(s[:36], 12, n_sim=50)),
    ]

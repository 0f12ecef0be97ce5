"""The result contract (csp_analysis.contract, ARCHITECTURE.md "Result contract"), enforced over
every public statistic.

* Every public function of the statistics modules is listed: either it returns a table or a
  result object (and is checked below, from the example calls in ``contract_cases.py``) or it
  is exempt with a reason. A new public function fails ``test_every_public_statistic_is_classified``
  until it is added to one of the lists.
* Every table carries value/lower/upper/confidence/method (+ p_value for a test) and a sentence.
* Every result object offers ``.table``, ``.summary()`` (text) and ``.plot(ax=None)``.
* ``confidence`` is the argument everywhere; ``alpha``/``p_threshold`` still work and warn.
"""
from __future__ import annotations

import importlib
import inspect
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from csp_analysis import contract  # noqa: E402
from csp_analysis.contract import check_contract, resolve_confidence, significance_level, standardise  # noqa: E402

from contract_cases import result_cases, table_cases  # noqa: E402

STATISTICS_MODULES = [
    "rates", "funnels", "disproportionality", "dispersion", "multiplicity", "local_stats", "hotspots",
    "quality", "trends.mann_kendall", "trends.decompose", "trends.count_model", "trends.control_charts",
    "trends.concentration", "interventions.its", "interventions.did", "interventions.synthetic_control",
    "interventions.displacement", "interventions.placebo", "interventions.power",
]

#: Public functions that are not statistics returning a table or result, with the reason.
EXEMPT = {
    "rates.format_p_value": "formatting helper (csp_analysis.formatting)",
    "rates.format_count": "formatting helper (csp_analysis.formatting)",
    "funnels.estimate_overdispersion": "returns the over-dispersion parameters (dict) used by funnel_outliers",
    "funnels.plot_funnel": "plotting helper",
    "disproportionality.broad_ethnic_group": "label mapping",
    "disproportionality.census_population_by_broad_group": "data preparation (census populations)",
    "dispersion.seasonal_design": "design matrix (array)",
    "dispersion.fit_poisson_batch": "numerical helper (arrays)",
    "dispersion.combine": "numerical helper (pooling of estimate_dispersion's parts)",
    "dispersion.correlation_factor": "numerical helper (A_L factor, also used by disproportionality)",
    "dispersion.residual_maker": "numerical helper (matrix, also used by trends.mann_kendall)",
    "dispersion.rho_traces": "numerical helper (arrays)",
    "disproportionality.describe_group": "wording helper",
    "disproportionality.format_ratio": "wording helper",
    "rates.check_positive_scalar": "input check",
    "rates.prepare_inputs": "input handling (arrays)",
    "rates.wilson_limits": "limits (arrays) behind proportion_ci and the funnels",
    "rates.poisson_limits": "limits (arrays) behind rate_ci and the funnels",
    "rates.quasi_score_test": "arrays behind compare_periods and relative_rate_index",
    "multiplicity.allowing_text": "wording helper",
    "local_stats.two_proportions": "scalar helper (dict) behind compare_with_comparators and before_after",
    "hotspots.to_bng": "coordinate conversion",
    "hotspots.lsoa_weights": "spatial weights",
    "hotspots.fdr_threshold": "a threshold (float) used inside gi_star",
    "hotspots.hot_spot_sentence": "wording helper",
    "hotspots.classify_periods": "label rule",
    "hotspots.emerging_hot_spots": "classification table (pattern labels and a Mann-Kendall trend of Gi* z), "
                                   "no single value with an interval",
    "quality.flag_anomalous_months": "data-quality flags (which months to check or exclude), not an estimate",
    "quality.common_months": "month matching",
    "trends.decompose": "STL decomposition (components per month), not an estimate with an interval",
    "trends.plot_decomposition": "plotting helper",
    "trends.plot_count_trend": "plotting helper (also CountTrendResult.plot)",
    "trends.plot_control_chart": "plotting helper",
    "trends.gini": "a scalar (float) used inside concentration, which carries its interval",
    "interventions.its_design": "design matrix",
    "interventions.fit_its_model": "model fit (count engine) behind interrupted_time_series",
    "interventions.fit_simplex_weights": "weights (array) behind synthetic_control",
    "interventions.interpret_wdq": "wording helper",
}

#: Tables whose ``lower``/``upper`` are control limits the value is compared with, not an
#: interval of the value (so the value may lie outside them: that is the signal).
LIMITS_NOT_INTERVAL = {"funnels.funnel_outliers", "trends.control_chart"}

TABLES = table_cases()
RESULTS = result_cases()


def _short(module: str, name: str) -> str:
    top = module.split(".")[0]
    return f"{top}.{name}"


def _public_functions():
    out = {}
    for mod_name in STATISTICS_MODULES:
        mod = importlib.import_module(f"csp_analysis.{mod_name}")
        for name, obj in vars(mod).items():
            if name.startswith("_") or not inspect.isfunction(obj):
                continue
            if obj.__module__ != mod.__name__:
                continue
            out[_short(mod_name, name)] = obj
    return out


def _case_function_names():
    names = {n.split(".", 2)[0] + "." + n.split(".")[1] for n, _, _ in TABLES}
    names |= {n for n, _ in RESULTS}
    return names


def test_every_public_statistic_is_classified():
    public = _public_functions()
    covered = _case_function_names() | set(EXEMPT)
    missing = sorted(set(public) - covered)
    assert not missing, f"public functions neither checked nor exempt: {missing}"
    stale = sorted(set(EXEMPT) - set(public))
    assert not stale, f"exempt names that no longer exist: {stale}"


@pytest.mark.parametrize("name,test,make", TABLES, ids=[t[0] for t in TABLES])
def test_table_keeps_the_contract(name, test, make):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        table = make()
    assert len(table) > 0, name
    problems = check_contract(table, test=test)
    if name in LIMITS_NOT_INTERVAL:
        problems = [p for p in problems if p != "value outside [lower, upper]"]
    assert not problems, f"{name}: {problems}"


@pytest.mark.parametrize("name,make", RESULTS, ids=[r[0] for r in RESULTS])
def test_result_object_keeps_the_contract(name, make):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        res = make()
    assert isinstance(res.table, pd.DataFrame) and len(res.table), name
    assert not check_contract(res.table, test=True), f"{name}: {check_contract(res.table, test=True)}"
    text = res.summary()
    assert isinstance(text, str) and len(text) > 20, name
    ax = res.plot()  # ax=None draws on a new figure
    assert isinstance(ax, matplotlib.axes.Axes), name
    fig, given = plt.subplots()
    assert res.plot(ax=given) is given, name
    plt.close("all")


def test_deprivation_gradient_summary_is_still_the_table_and_also_the_text():
    from csp_analysis.disproportionality import deprivation_gradient

    lsoa = pd.DataFrame({"decile": np.repeat(np.arange(1, 11), 5),
                         "crimes": np.random.default_rng(3).poisson(80, 50), "pop": 1500.0})
    g = deprivation_gradient(lsoa, "decile", "crimes", "pop")
    by_decile, summary = g  # still a named pair
    assert isinstance(summary, pd.DataFrame) and summary.iloc[1]["measure"] == "relative index of inequality"
    assert g.summary() == " ".join(g.summary["sentence"])
    assert type(g.table) is pd.DataFrame and list(g.table.columns) == list(summary.columns)


def test_no_public_statistic_takes_alpha_without_confidence():
    offenders = []
    for name, fn in _public_functions().items():
        params = inspect.signature(fn).parameters
        if ("alpha" in params or "p_threshold" in params) and "confidence" not in params:
            offenders.append(name)
    assert not offenders, offenders


def test_alpha_still_works_with_a_deprecation_warning():
    from csp_analysis.multiplicity import adjust_p_values

    trends = importlib.import_module("csp_analysis.trends.mann_kendall")
    p = [0.001, 0.02, 0.04, 0.3]
    with pytest.warns(DeprecationWarning, match="confidence=0.9"):
        old = adjust_p_values(p, alpha=0.1)
    new = adjust_p_values(p, confidence=0.9)
    pd.testing.assert_frame_equal(old, new)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # the new spelling does not warn
        default = adjust_p_values(p)
    assert default["reject"].tolist() == [True, False, False, False]

    x = [3, 5, 4, 6, 8, 7, 9, 12, 10, 13, 12, 15]
    with pytest.warns(DeprecationWarning):
        old = trends.mann_kendall(x, alpha=0.2)
    assert old.loc[0, "h"] == trends.mann_kendall(x, confidence=0.8).loc[0, "h"]
    # the old meaning is kept: alpha sets the test only, confidence the slope's interval
    assert old.loc[0, "confidence"] == 0.95


def test_resolve_confidence_and_significance_level():
    assert resolve_confidence(None) == 0.95
    assert resolve_confidence(0.9) == 0.9
    with pytest.warns(DeprecationWarning):
        assert resolve_confidence(None, alpha=0.01) == pytest.approx(0.99)
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="disagree"):
        resolve_confidence(0.9, alpha=0.05)
    with pytest.raises(ValueError, match="confidence"):
        resolve_confidence(1.5)
    assert significance_level(None, 0.95) == 0.05  # exactly, not 0.050000000000000044
    with pytest.warns(DeprecationWarning):
        assert significance_level(0.01, 0.95) == 0.01


def test_standardise_adds_beside_and_never_renames():
    t = pd.DataFrame({"estimate": [1.2, 0.8], "lower": [1.0, 0.6], "upper": [1.5, 1.1], "x": [3, 4],
                      "n": [10, 20]})
    out = standardise(t, value="estimate", confidence=0.95, method="test", count="x", denominator="n")
    assert list(out.columns[:5]) == list(t.columns)
    pd.testing.assert_frame_equal(out[t.columns], t)
    assert out["value"].tolist() == [1.2, 0.8] and out["count"].tolist() == [3, 4]
    assert out["sentence"].iloc[0] == "test 1.20 (95% confidence interval 1.00 to 1.50)."
    # a column the table has is never overwritten
    assert standardise(t.assign(value=[9.0, 9.0]), value="estimate")["value"].tolist() == [9.0, 9.0]


def test_check_contract_finds_problems():
    good = standardise(pd.DataFrame({"value": [1.0], "lower": [0.5], "upper": [2.0], "p_value": [0.2]}),
                       confidence=0.95, method="m")
    assert check_contract(good, test=True) == []
    assert check_contract(good.drop(columns="p_value"), test=True) == ["missing columns ['p_value']"]
    assert "value outside [lower, upper]" in check_contract(good.assign(value=3.0))
    assert "confidence outside (0, 1)" in check_contract(good.assign(confidence=95))
    assert "sentence column has empty or non-text rows" in check_contract(good.assign(sentence=""))
    assert contract.STANDARD_COLUMNS == ("value", "lower", "upper", "confidence", "method")

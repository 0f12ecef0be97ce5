"""Trend, seasonality, control-chart and concentration statistics for CSP reports.

Public functions
----------------
mann_kendall, seasonal_mann_kendall
    Mann-Kendall and seasonal Kendall trend tests with Sen's slope and its
    confidence interval (:mod:`.mann_kendall`).
decompose, plot_decomposition
    STL seasonal-trend decomposition (:mod:`.decompose`).
fit_count_trend, plot_count_trend, CountTrendResult
    Annual % change from a negative binomial / (quasi-)Poisson regression with
    seasonality, gaps and exclusions (:mod:`.count_model`).
control_chart, plot_control_chart
    XmR, c, u and p charts with NHS "Making Data Count" special-cause rules
    (:mod:`.control_charts`).
concentration, gini, top_places
    Crime concentration at places: top-5%/10% shares, generalised Gini, top
    places and their change (:mod:`.concentration`).

Every estimate comes as a table with ``value``, ``lower``, ``upper``,
``confidence`` and ``method`` columns (control charts: per point, with the
process limits as ``lower``/``upper``), plus a plain-English ``sentence``.
"""
from .concentration import concentration, gini, top_places
from .control_charts import control_chart, plot_control_chart
from .count_model import CountTrendResult, fit_count_trend, plot_count_trend
from .decompose import decompose, plot_decomposition
from .mann_kendall import mann_kendall, seasonal_mann_kendall

__all__ = [
    "CountTrendResult",
    "concentration",
    "control_chart",
    "decompose",
    "fit_count_trend",
    "gini",
    "mann_kendall",
    "plot_control_chart",
    "plot_count_trend",
    "plot_decomposition",
    "seasonal_mann_kendall",
    "top_places",
]

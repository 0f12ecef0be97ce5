"""Allowing for many comparisons shown together (multiplicity).

A report that tests 15 crime types at the 5% level calls at least one change "unlikely to be
chance" in about half of the years when nothing changed at all. Within each *family* of
comparisons shown together (the summary bullets, one table), the p-values are adjusted and
the verdict words and daggers use the adjusted values.

Two methods, both from :func:`statsmodels.stats.multitest.multipletests`:

* ``"holm"`` (default): Holm's step-down method (Holm 1979) controls the family-wise error
  rate (the chance of *any* false "unlikely to be chance" in the family) at ``alpha`` under
  any dependence between the tests. Chosen as the default because a single wrong sentence
  quoted to a council is the error that matters.
* ``"fdr_bh"``: Benjamini-Hochberg (1995) controls the false discovery rate (the expected
  share of false ones among the changes called real); more powerful for large tables, valid
  for independent or positively dependent tests.

References
----------
Holm S (1979). A simple sequentially rejective multiple test procedure. Scand J Stat 6:65-70.
Benjamini Y, Hochberg Y (1995). Controlling the false discovery rate. J R Stat Soc B 57:289-300.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["adjust_p_values", "METHOD_NAMES", "allowing_text"]

#: Plain names of the methods, for table notes and sentences.
METHOD_NAMES = {"holm": "Holm", "fdr_bh": "Benjamini-Hochberg"}


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values: ``max_{j<=i} (m - j + 1) p_(j)`` capped at 1, in input order.

    Written out (three lines, tested equal to ``multipletests(method="holm")``) because
    statsmodels' Holm branch calls ``gc.collect()`` on every call, 0.1-0.3 s in a large
    process, which is too slow for the calibration benchmark's hundred thousand families.
    """
    order = np.argsort(p, kind="mergesort")
    adj_sorted = np.minimum(np.maximum.accumulate(p[order] * np.arange(len(p), 0, -1)), 1.0)
    out = np.empty_like(adj_sorted)
    out[order] = adj_sorted
    return out


def adjust_p_values(p_values, method: str = "holm", alpha: float | None = None, *,
                    confidence: float | None = None) -> pd.DataFrame:
    """Adjust a family of p-values for multiple comparisons.

    Parameters
    ----------
    p_values : array-like or Series
        The family's p-values; NaN entries (comparisons not made) are left out of the family
        and get NaN back.
    method : {"holm", "fdr_bh"}, default "holm"
        Holm (family-wise error) or Benjamini-Hochberg (false discovery rate).
    alpha : float, optional
        Deprecated: use ``confidence`` (``alpha = 1 - confidence``).
    confidence : float, default 0.95
        The ``reject`` column is ``p_adjusted < 1 - confidence``.

    Returns
    -------
    DataFrame
        Indexed like ``p_values`` (a Series keeps its index): ``p_value``, ``p_adjusted``,
        ``reject`` (``p_adjusted < alpha``), ``n_comparisons`` (size of the family: the
        non-missing p-values) and ``method`` (e.g. ``"Holm over 15 comparisons"``), plus the
        contract columns (:mod:`csp_analysis.contract`): ``value`` (the adjusted p-value),
        ``lower``/``upper`` (missing: no interval), ``confidence`` and ``sentence``.

    Examples
    --------
    >>> adjust_p_values([0.01, 0.04, 0.03])["p_adjusted"].round(2).tolist()
    [0.03, 0.06, 0.06]
    """
    from statsmodels.stats.multitest import multipletests

    if method not in METHOD_NAMES:
        raise ValueError(f"method must be one of {sorted(METHOD_NAMES)}, got {method!r}")
    from .contract import resolve_confidence, standardise

    if alpha is not None and not 0 < float(alpha) < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}")
    confidence = resolve_confidence(confidence, alpha=alpha, function="adjust_p_values")
    alpha = round(1 - confidence, 12)
    index = p_values.index if isinstance(p_values, pd.Series) else None
    p = np.asarray(pd.to_numeric(pd.Series(np.asarray(p_values, dtype=object).ravel()), errors="coerce"),
                   dtype=float)
    if ((p < 0) | (p > 1)).any():
        raise ValueError("p-values must lie between 0 and 1")
    ok = np.isfinite(p)
    adj = np.full(p.shape, np.nan)
    if ok.any():
        if method == "holm":
            adj[ok] = _holm(p[ok])
        else:
            adj[ok] = multipletests(p[ok], alpha=alpha, method=method)[1]
    n = int(ok.sum())
    out = pd.DataFrame({
        "p_value": p, "p_adjusted": adj, "reject": np.where(ok, adj < alpha, False),
        "n_comparisons": n, "method": f"{METHOD_NAMES[method]} over {n} comparison{'s' if n != 1 else ''}",
    }, index=index)
    return standardise(out, value="p_adjusted", lower=None, upper=None, confidence=confidence,
                       sentence=lambda r: _adjusted_sentence(r, method))


def _adjusted_sentence(row: pd.Series, method: str) -> str:
    from .formatting import format_p_value

    if pd.isna(row["p_adjusted"]):
        return "Comparison not made (no p-value)."
    return (f"Unadjusted {format_p_value(row['p_value'])}; "
            f"{format_p_value(row['p_adjusted'])} {allowing_text(int(row['n_comparisons']), method)}.")


def allowing_text(n: int, method: str = "holm") -> str:
    """The words for a sentence: "after allowing for 15 comparisons (Holm)"."""
    if n <= 1:
        return "(a single comparison, so no adjustment for multiple comparisons)"
    return f"after allowing for {n} comparisons ({METHOD_NAMES.get(method, method)})"

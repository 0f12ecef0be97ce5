"""Report-level null check: a synthetic partnership with no planted change shows at most 5% of
its year-on-year verdicts as "unlikely to be chance" on average (issue 10)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from csp_analysis import simulate
from csp_analysis.sections import trends

# 15 summary measures like a district's: (mean monthly count, variance/mean of a month)
MEASURES = [(1500, 3.0), (600, 2.5), (300, 2.0), (200, 2.0), (150, 1.8), (120, 1.8), (100, 1.6), (80, 1.5),
            (60, 1.5), (45, 1.4), (30, 1.3), (25, 1.3), (20, 1.2), (12, 1.1), (8, 1.0)]


def _partnership(seed: int, ar: float = 0.3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cols = {f"m{i}": simulate.simulate_series(48, mean, phi, ar, True, rng=rng, start="2022-01").to_numpy()
            for i, (mean, phi) in enumerate(MEASURES)}
    return pd.DataFrame(cols, index=pd.period_range("2022-01", periods=48, freq="M"))


def _verdicts(seed: int, old: bool = False) -> np.ndarray:
    wide = _partnership(seed)
    latest = wide.index[-12:]
    if old:  # today's logic before issue 10: exact Poisson test, no adjustment
        from csp_analysis import rates
        cur, prev = wide.loc[latest].sum(), wide.loc[latest - 12].sum()
        r = rates.compare_periods(cur.to_numpy(), prev.to_numpy())
        return ((r["p_value"] < 0.05) & ((r["lower"] > 1) | (r["upper"] < 1))).to_numpy()
    state = {"wide": {"P": wide}, "latest": latest, "lag": 12, "excluded": {}}
    rows, _ = trends.headline_rows(state, "P", "Partnership", None, list(wide.columns), [])
    fam = trends.adjust_family(pd.DataFrame(rows))
    assert (fam["n_comparisons"] == len(MEASURES)).all()
    return fam["unlikely_chance"].to_numpy(dtype=bool)


def test_null_partnership_verdicts_at_most_5_percent():
    seeds = range(25)
    share = np.mean([_verdicts(s).mean() for s in seeds])
    any_false = np.mean([_verdicts(s).any() for s in seeds])
    assert share <= 0.05
    assert any_false <= 0.15  # family-wise (Holm) around 5%; 0.15 leaves room for 40 seeds
    # the old logic (exact Poisson test, no adjustment) fails the same check
    old = np.mean([_verdicts(s, old=True).mean() for s in seeds])
    assert old > 0.08


def test_null_report_sentences_say_how_many_comparisons():
    wide = _partnership(3)
    state = {"wide": {"P": wide}, "latest": wide.index[-12:], "lag": 12, "excluded": {}}
    rows, _ = trends.headline_rows(state, "P", "Partnership", None, list(wide.columns), [])
    fam = trends.adjust_family(pd.DataFrame(rows))
    with_verdict = [s for s in fam["sentence"] if "be chance (" in s]
    assert len(with_verdict) >= 13
    assert all("after allowing for 15 comparisons (Holm)" in s for s in with_verdict)
    assert fam["method"].str.startswith("quasi-Poisson").sum() >= 8

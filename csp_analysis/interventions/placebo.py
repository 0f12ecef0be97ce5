"""Placebo-in-time checks for interrupted time series.

The interrupted time series is refitted to the **pre-intervention data only**,
pretending the intervention started at each of a set of fake dates. Nothing
happened at those dates, so

* the fake "effects" show how large a change the model finds by chance (or
  through model misspecification: a curved trend, unmodelled seasonality,
  autocorrelation), and
* roughly ``alpha`` of them should be statistically significant if the model's
  standard errors are right (fake starts close together give strongly correlated
  results, so this is a rough guide, not a formal test).

The real estimate is compared with the placebo estimates by size (absolute log
rate ratio for count families, absolute difference for Gaussian). The rank
p-value is :math:`(1 + \\#\\{|\\hat\\theta_{fake}| \\ge |\\hat\\theta_{real}|\\}) /
(n_{fake} + 1)`; the real estimate is flagged as *not unusual* unless it is larger
than every placebo estimate. The placebo fits use shorter series than the real
fit, so they are less precise; a real effect that does not stand out from them
should not be attributed to the intervention.

References
----------
Abadie, A., Diamond, A. & Hainmueller, J. (2015). Comparative politics and the
synthetic control method. *American Journal of Political Science* 59:495-510
(placebo-in-time / "in-time placebo" tests).
Lopez Bernal, J., Cummins, S. & Gasparrini, A. (2018). The use of controls in
interrupted time series studies of public health interventions. *International
Journal of Epidemiology* 47:2082-2093.
Linden, A. (2018). Using permutation tests to enhance causal inference in
interrupted time series analysis. *Journal of Evaluation in Clinical Practice*
24:496-501.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..contract import significance_level
from ._results import (
    InterventionResult,
    TimeAxis,
    check_column,
    check_confidence,
    check_dataframe,
    conf_pct,
    make_table,
)
from .its import COUNT_FAMILIES, interrupted_time_series

__all__ = ["placebo_in_time", "PlaceboResult"]


class PlaceboResult(InterventionResult):
    """Result of :func:`placebo_in_time`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per fake start (index: the fake start, as text), with
        ``fake_start``, ``estimate``, ``lower``, ``upper``, ``p_value``,
        ``confidence``, ``method``, ``scale``.
    real : ITSResult
        The interrupted time series fitted with the real start.
    real_estimate : float
    rank_p_value : float
        Share of estimates (real included) at least as large in size as the real one.
    real_is_unusual : bool
        True only if the real estimate is larger in size than every placebo estimate.
    share_significant : float
        Proportion of placebo estimates with ``p_value < alpha``.
    skipped : list
        Fake starts that could not be fitted (with the reason).
    """

    def __init__(self, **kw: Any):
        self.__dict__.update(kw)

    @property
    def flag(self) -> bool:
        """True when the real estimate is *not* unusual among the placebo estimates."""
        return not self.real_is_unusual

    def summary(self) -> str:
        ax: TimeAxis = self.axis
        n = len(self.table)
        is_count = self.family in COUNT_FAMILIES
        real_txt = (f"rate ratio {self.real_estimate:.3f}" if is_count
                    else f"{self.real_estimate:.3g}")
        n_sig = int(round(self.share_significant * n))
        bigger = int((self._fake_size >= self._real_size).sum())
        lines = [
            f"Placebo-in-time check of the {self.effect.replace('_', ' ')}: the interrupted time "
            f"series was refitted to the pre-intervention data only, with {n} fake start dates "
            f"from {ax.fmt(self._fake_ords[0])} to {ax.fmt(self._fake_ords[-1])}.",
            f"{n_sig} of {n} placebo estimates ({self.share_significant:.0%}) were statistically "
            f"significant at {self.alpha:g}; about {self.alpha:.0%} would be expected if the model "
            "is adequate (neighbouring fake starts give correlated results, so this is a rough "
            "guide). A much higher share suggests the model's trend, seasonality or standard "
            "errors are wrong.",
            f"The real estimate ({real_txt}) is at least matched in size by {bigger} of {n} placebo "
            f"estimates (rank p = {self.rank_p_value:.3f}; smallest possible {1 / (n + 1):.3f}).",
        ]
        if self.real_is_unusual:
            lines.append("The real estimate is larger than every placebo estimate: changes of this "
                         "size were not seen at other times before the intervention.")
        else:
            lines.append("FLAG: the real estimate is not unusual compared with the placebo "
                         "estimates. Changes of this size occurred before the intervention, when "
                         "nothing happened, so this result should not be attributed to the "
                         "intervention without further evidence.")
        if self.skipped:
            lines.append(f"{len(self.skipped)} fake start(s) could not be fitted and were skipped.")
        lines.append("Limits: placebo fits use shorter series than the real fit, and a clean "
                     "placebo check does not rule out something else changing at the same time as "
                     "the intervention.")
        return "\n".join(lines)

    def plot(self, ax: Any = None) -> Any:
        """Placebo estimates (with intervals) by fake start, and the real estimate."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(8, 4.5))
        axis: TimeAxis = self.axis
        x = axis.plot_x(self._fake_ords)
        t = self.table
        est = t["estimate"].to_numpy()
        yerr = np.vstack([est - t["lower"].to_numpy(), t["upper"].to_numpy() - est])
        ax.errorbar(x, est, yerr=yerr, fmt="o", color="tab:grey", ms=4, capsize=2,
                    label=f"Placebo estimates ({conf_pct(self.confidence)} CI)")
        r = self.real.table.loc[self.effect]
        xr = axis.plot_x([self.real.start])
        ax.errorbar(xr, [r.estimate], yerr=[[r.estimate - r.lower], [r.upper - r.estimate]],
                    fmt="s", color="tab:red", capsize=3, label="Real intervention")
        is_count = self.family in COUNT_FAMILIES
        ax.axhline(1.0 if is_count else 0.0, color="black", lw=0.8)
        ax.set_title(f"Placebo-in-time check: {self.effect.replace('_', ' ')} of {self.outcome}")
        ax.set_xlabel("Start date used" if axis.kind == "month" else f"Start ({self.time})")
        ax.set_ylabel("Rate ratio" if is_count else f"Change in {self.outcome}")
        ax.legend(fontsize=8)
        return ax


def placebo_in_time(
    data: pd.DataFrame,
    outcome: str,
    time: str,
    intervention_start: Any,
    fake_starts: Sequence[Any] | None = None,
    *,
    effect: str = "level_change",
    min_segment: int | None = None,
    alpha: float | None = None,
    confidence: float | None = None,
    **its_kwargs: Any,
) -> PlaceboResult:
    """Refit an interrupted time series at fake start dates before the real one.

    Parameters
    ----------
    data, outcome, time, intervention_start
        As for :func:`~csp_analysis.interventions.interrupted_time_series`.
    fake_starts : sequence, optional
        Fake start periods, all before ``intervention_start``. By default every
        pre-intervention period leaving at least ``min_segment`` periods on each
        side (within the pre-period).
    effect : {"level_change", "slope_change"}
        Which effect to compare (default the level change).
    min_segment : int, optional
        Minimum periods before and after each default fake start (default 6, or
        ``period // 2`` if larger when seasonal terms are used).
    alpha : float, optional
        Deprecated (a :class:`DeprecationWarning`): use ``confidence``.
    confidence : float, default 0.95
        Confidence level of the ITS fits (passed on); placebo estimates with
        ``p_value < 1 - confidence`` count as "significant".
    **its_kwargs
        Passed to :func:`interrupted_time_series` (``family``, ``exposure``,
        ``seasonality``, ``slope_change``, ...). ``end`` applies to the real fit
        only.

    Returns
    -------
    PlaceboResult

    Raises
    ------
    ValueError
        A fake start not before the real start, too short a pre-period for any fake
        start, or an unknown ``effect``.
    """
    data = check_dataframe(data)
    check_column(data, time, "time")
    confidence = _check_effect_and_confidence(effect, confidence, its_kwargs)
    alpha = significance_level(alpha, 0.95 if confidence is None else confidence, function="placebo_in_time")
    real = interrupted_time_series(data, outcome, time, intervention_start, **its_kwargs)
    axis = real.axis
    _, ords, _ = TimeAxis.from_values(data[time], "time")
    pre_mask = ords < real.start
    seasonal = real.seasonality is not None  # as resolved by the real fit ("auto" included)
    cand = _fake_start_ordinals(np.sort(ords[pre_mask]), real.start, axis, fake_starts, min_segment,
                                seasonal, int(its_kwargs.get("period", 12)))
    fake_kwargs = {k: v for k, v in its_kwargs.items() if k != "end"}
    fake_kwargs["seasonality"] = real.seasonality  # the same model as the real fit
    table, skipped, fake_ords = _fit_placebos(data.loc[pre_mask], outcome, time, axis, cand, effect, fake_kwargs)
    is_count = real.family in COUNT_FAMILIES
    real_est = float(real.table.loc[effect, "estimate"])
    fake_size = _effect_size(table["estimate"].to_numpy(), is_count)
    real_size = float(_effect_size([real_est], is_count)[0])
    rank_p = float((1 + (fake_size >= real_size).sum()) / (len(fake_size) + 1))
    return PlaceboResult(
        table=table, real=real, real_estimate=real_est, rank_p_value=rank_p,
        real_is_unusual=bool(real_size > fake_size.max()),
        share_significant=float((table["p_value"] < alpha).mean()), skipped=skipped,
        axis=axis, alpha=alpha, effect=effect, family=real.family, outcome=outcome, time=time,
        confidence=real.confidence, _fake_ords=np.asarray(fake_ords), _fake_size=fake_size,
        _real_size=real_size,
    )


# --------------------------------------------------------------------------- #
# The steps of placebo_in_time: validation, design (fake starts), fits, sizes
# --------------------------------------------------------------------------- #
def _check_effect_and_confidence(effect: str, confidence: float | None, its_kwargs: dict) -> float | None:
    """Check ``effect``; resolve the confidence level (also the old way, inside ``its_kwargs``)
    and put it in ``its_kwargs`` for the ITS fits. Returns it (None when not given)."""
    if effect not in ("level_change", "slope_change"):
        raise ValueError(f"`effect` must be 'level_change' or 'slope_change', got {effect!r}")
    if effect == "slope_change" and its_kwargs.get("slope_change") is False:
        raise ValueError("`effect='slope_change'` needs slope_change=True in the ITS model")
    if confidence is None and "confidence" in its_kwargs:  # the old way: passed on to the ITS only
        confidence = its_kwargs["confidence"]
    if confidence is not None:
        its_kwargs["confidence"] = check_confidence(confidence)
    return confidence


def _fake_start_ordinals(pre_ords: np.ndarray, start: int, axis: TimeAxis, fake_starts: Sequence[Any] | None,
                         min_segment: int | None, seasonal: bool, period: int) -> list[int]:
    """The fake starts as ordinals: the given ones (all before the real start), or by default
    every pre-period leaving ``min_segment`` periods either side within the pre-period."""
    if min_segment is None:
        min_segment = max(6, period // 2) if seasonal else 6
    if not isinstance(min_segment, (int, np.integer)) or min_segment < 2:
        raise ValueError(f"`min_segment` must be an integer >= 2, got {min_segment!r}")
    if fake_starts is None:
        cand = [int(o) for i, o in enumerate(pre_ords)
                if i >= min_segment and len(pre_ords) - i >= min_segment]
        if not cand:
            raise ValueError(f"`intervention_start`: the pre-period ({len(pre_ords)} periods) is too "
                             f"short for placebo starts with {min_segment} periods either side")
        return cand
    if isinstance(fake_starts, (str, bytes)) or not hasattr(fake_starts, "__iter__"):
        fake_starts = [fake_starts]
    cand = sorted({axis.convert(f, "fake_starts") for f in fake_starts})
    late = [axis.fmt(c) for c in cand if c >= start]
    if late:
        raise ValueError(f"`fake_starts` must all be before the real start; got {late}")
    return cand


def _fit_placebos(pre_data: pd.DataFrame, outcome: str, time: str, axis: TimeAxis, cand: list[int],
                  effect: str, fake_kwargs: dict) -> tuple[pd.DataFrame, list, list[int]]:
    """Fit the ITS to the pre-period data at each fake start.

    Returns the table (one row per fitted fake start), the skipped starts with their reason,
    and the fitted starts' ordinals.
    """
    rows, skipped, fake_ords = [], [], []
    for c in cand:
        try:
            fr = interrupted_time_series(pre_data, outcome, time, axis.label(c), **fake_kwargs)
        except ValueError as err:
            skipped.append((axis.label(c), str(err)))
            continue
        r = fr.table.loc[effect]
        rows.append({"effect": axis.fmt(c), "fake_start": axis.label(c), "estimate": r.estimate,
                     "lower": r.lower, "upper": r.upper, "p_value": r.p_value,
                     "confidence": r.confidence, "method": "placebo: " + r.method,
                     "scale": r.scale})
        fake_ords.append(c)
    if not rows:
        raise ValueError("No placebo start could be fitted: " + "; ".join(s for _, s in skipped))
    table = make_table(rows, extra=["fake_start"])
    table.index.name = "fake_start_label"
    return table, skipped, fake_ords


def _effect_size(v: Any, is_count: bool) -> np.ndarray:
    """Size of an effect for ranking: absolute log rate ratio (count families) or absolute difference."""
    v = np.asarray(v, dtype=float)
    return np.abs(np.log(v)) if is_count else np.abs(v)

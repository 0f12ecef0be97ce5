"""Synthetic control for one treated unit (Abadie, Diamond & Hainmueller 2010).

The synthetic control is a weighted average of untreated "donor" units whose
weights :math:`w_j \\ge 0`, :math:`\\sum_j w_j = 1` minimise the squared distance
between the treated unit's and the synthetic unit's outcomes in the
pre-intervention periods:

.. math::

    \\hat w = \\arg\\min_{w \\in \\Delta} \\sum_{t < T_0} (Y_{1t} - \\sum_j w_j Y_{jt})^2 .

This is the outcome-only version of the estimator: every pre-period outcome is a
predictor with equal importance (the matrix :math:`V` of Abadie et al. is the
identity), and covariates are not used. Kaul et al. (2022) show that when all
pre-period outcomes are used as predictors, covariates have no influence on the
weights under the nested-V optimisation, so this is the common practical choice;
but published covariate-based applications (e.g. Abadie et al. 2010's own
Proposition 99 weights) will not be reproduced exactly.

Weights are found with :func:`scipy.optimize.minimize` (SLSQP) on the convex
quadratic programme with an analytic gradient. SciPy and statsmodels provide no
simplex-constrained least-squares solver, so the objective is written out here;
the tests check the solution against an independent solver (non-negative least
squares with a heavily weighted sum-to-one row).

Inference is by placebo-in-space permutation: the method is re-run treating each
donor in turn as if it were treated (the real treated unit is removed from the
donor pool) and the ratio of post- to pre-period root mean squared prediction
error (RMSPE) is compared. The p-value is the proportion of units (treated
included) whose ratio is at least the treated unit's (Abadie et al. 2010,
section 4; Abadie 2021, section 7). With J donors the smallest possible p-value
is 1/(J+1).

References
----------
Abadie, A., Diamond, A. & Hainmueller, J. (2010). Synthetic control methods for
comparative case studies: estimating the effect of California's tobacco control
program. *Journal of the American Statistical Association* 105:493-505.
Abadie, A. (2021). Using synthetic controls: feasibility, data requirements, and
methodological aspects. *Journal of Economic Literature* 59:391-425.
Kaul, A., Klößner, S., Pfeifer, G. & Schieler, M. (2022). Standard synthetic
control methods: the case of using all preintervention outcomes together with
covariates. *Journal of Business & Economic Statistics* 40:1362-1376.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize

from ._results import (
    InterventionResult,
    TimeAxis,
    check_column,
    check_dataframe,
    fmt_num,
    make_table,
    numeric_column,
)

__all__ = ["synthetic_control", "SyntheticControlResult", "fit_simplex_weights"]


def fit_simplex_weights(target: np.ndarray, donors: np.ndarray) -> np.ndarray:
    """Non-negative weights summing to one that best reproduce ``target``.

    Solves :math:`\\min_w \\|y - Xw\\|^2` subject to :math:`w \\ge 0, \\sum w = 1`
    by SLSQP with analytic gradient (a convex quadratic programme, so the local
    optimum found is global; the weights may be non-unique when the treated unit
    lies inside the donors' convex hull).

    Parameters
    ----------
    target : array, shape (T,)
        Treated unit's pre-period outcomes.
    donors : array, shape (T, J)
        Donor units' pre-period outcomes (one column per donor).

    Returns
    -------
    numpy.ndarray, shape (J,)
    """
    y = np.asarray(target, dtype=float)
    X = np.asarray(donors, dtype=float)
    J = X.shape[1]
    if J == 1:
        return np.ones(1)
    # Rescale for numerical conditioning; does not change the minimiser.
    scale = max(float(np.abs(X).max()), 1e-12)
    Xs, ys = X / scale, y / scale
    H = Xs.T @ Xs
    g = Xs.T @ ys

    def obj(w):
        return 0.5 * w @ H @ w - g @ w

    def jac(w):
        return H @ w - g

    # Warm start: non-negative least squares with a heavily weighted sum-to-one row
    # (an approximation to the constrained problem), then SLSQP enforces the
    # constraints exactly. The uniform start is kept as a fallback.
    big = 1e3 * max(1.0, float(np.sqrt((Xs ** 2).sum(axis=0)).max()))
    w_nnls, _ = optimize.nnls(np.vstack([Xs, np.full(J, big)]), np.r_[ys, big])
    starts = [w_nnls / w_nnls.sum()] if w_nnls.sum() > 0 else []
    starts.append(np.full(J, 1.0 / J))
    best = None
    for w0 in starts:  # the problem is convex: the first start that converges is optimal
        sol = optimize.minimize(
            obj, w0, jac=jac, method="SLSQP", bounds=[(0.0, 1.0)] * J,
            constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0,
                          "jac": lambda w: np.ones_like(w)}],
            options={"ftol": 1e-14, "maxiter": 2000},
        )
        if sol.success:
            best = sol
            break
    if best is None:  # pragma: no cover - SLSQP failed from every start
        raise RuntimeError("synthetic control weights: the optimiser did not converge")
    w = np.clip(best.x, 0.0, None)
    w[w < 1e-10] = 0.0
    return w / w.sum()


def _rmspe(gap: np.ndarray) -> float:
    return float(math.sqrt(np.mean(gap ** 2))) if len(gap) else float("nan")


class SyntheticControlResult(InterventionResult):
    """Result of :func:`synthetic_control`.

    Attributes
    ----------
    table : pandas.DataFrame
        Rows ``average_post_effect`` (mean gap over the post period),
        ``final_period_gap`` and ``average_post_ratio`` (the treated unit's post-period
        mean over the synthetic unit's); ``p_value`` (``average_post_effect`` row) is
        the placebo-in-space permutation p-value (RMSPE ratio rank);
        ``lower``/``upper`` are NaN because the method gives no sampling-based
        interval.
    weights : pandas.Series
        Donor weights (all donors, summing to one).
    gap : pandas.DataFrame
        Per period: ``treated``, ``synthetic`` and ``gap`` (= treated - synthetic).
    pre_rmspe, post_rmspe, rmspe_ratio : float
    placebo : pandas.DataFrame or None
        Per unit (treated first): ``pre_rmspe``, ``post_rmspe``, ``ratio``,
        ``average_post_gap``.
    placebo_gaps : pandas.DataFrame or None
        Gap series for every placebo unit (columns) by period.
    p_value : float
    """

    def __init__(self, **kw: Any):
        self.__dict__.update(kw)

    def summary(self) -> str:
        ax: TimeAxis = self.axis
        w = self.weights[self.weights > 0.001].sort_values(ascending=False)
        wtxt = ", ".join(f"{k} {v:.3f}" for k, v in w.items())
        avg = self.table.loc["average_post_effect"]
        lines = [
            f"Synthetic control for {self.treated!r} ({self.outcome!r}), intervention from "
            f"{ax.fmt(self.start)}; {len(self.weights)} donor units, weights fitted to the "
            f"{self.n_pre} pre-intervention outcomes only (no covariates).",
            f"Synthetic {self.treated} = {wtxt}.",
            f"Pre-intervention fit: RMSPE {fmt_num(self.pre_rmspe)} (mean absolute level of the "
            f"treated series {fmt_num(self.pre_level)}).",
            f"Average post-intervention gap (treated minus synthetic): {fmt_num(avg.estimate)} per "
            f"{ax.unit}; gap in the last period ({ax.fmt(self.last)}): "
            f"{fmt_num(self.table.loc['final_period_gap', 'estimate'])}.",
        ]
        if self.placebo is not None:
            n = len(self.placebo)
            rank = int((self.placebo["ratio"] >= self.rmspe_ratio).sum())
            lines.append(
                f"Placebo-in-space test: the post/pre RMSPE ratio of {self.treated} "
                f"({self.rmspe_ratio:.2f}) ranks {rank} of {n}, permutation p = {self.p_value:.3f} "
                f"(smallest possible {1 / n:.3f})."
            )
        if self.pre_rmspe > 0.1 * self.pre_level:
            lines.append("Caution: the synthetic control does not track the treated unit well before "
                         "the intervention, so the post-period gap is not a reliable effect estimate.")
        lines.append(
            "Limits: the synthetic control assumes that the weighted donors would have followed the "
            "treated unit without the intervention, and that donors were not affected by it "
            "(e.g. by displacement). The p-value comes from comparing the treated unit with placebo "
            "units, not from sampling theory; with few donors it cannot be small. Weights can be "
            "sensitive to which donors are included."
        )
        return "\n".join(lines)

    def plot(self, ax: Any = None, kind: str = "trajectories",
             max_pre_mspe_ratio: float | None = None) -> Any:
        """Plot the treated and synthetic series (``kind="trajectories"``) or the gaps
        of the treated unit and the placebo units (``kind="gap"``).

        ``max_pre_mspe_ratio`` (e.g. 5) hides placebo units whose pre-period MSPE is
        more than that multiple of the treated unit's, as in Abadie et al. (2010,
        Figures 5-7): their gaps say little because they were never well fitted.
        """
        import matplotlib.pyplot as plt

        if kind not in ("trajectories", "gap"):
            raise ValueError(f"`kind` must be 'trajectories' or 'gap', got {kind!r}")
        if ax is None:
            _, ax = plt.subplots(figsize=(8, 4.5))
        axis: TimeAxis = self.axis
        x = axis.plot_x(self.gap["ordinal"])
        if kind == "trajectories":
            ax.plot(x, self.gap["treated"], color="black", lw=1.8, label=str(self.treated))
            ax.plot(x, self.gap["synthetic"], color="tab:blue", ls="--", lw=1.8,
                    label=f"Synthetic {self.treated}")
            ax.set_ylabel(self.outcome)
            ax.set_title(f"Synthetic control: {self.outcome}, {self.treated}")
        else:
            if self.placebo_gaps is not None:
                cols = list(self.placebo_gaps.columns)
                if max_pre_mspe_ratio is not None:
                    limit = max_pre_mspe_ratio * self.pre_rmspe ** 2
                    cols = [c for c in cols if self.placebo.loc[c, "pre_rmspe"] ** 2 <= limit]
                for i, col in enumerate(cols):
                    ax.plot(x, self.placebo_gaps[col], color="grey", alpha=0.35, lw=0.8,
                            label="Placebo units" if i == 0 else None)
            ax.plot(x, self.gap["gap"], color="black", lw=1.8, label=str(self.treated))
            ax.axhline(0, color="black", lw=0.6)
            ax.set_ylabel(f"Gap in {self.outcome} (actual minus synthetic)")
            ax.set_title(f"Synthetic control gaps: {self.treated} and placebos")
        ax.axvline(axis.plot_x([self.start])[0], color="grey", ls=":", lw=1)
        ax.set_xlabel("Month" if axis.kind == "month" else str(self.time))
        ax.legend(fontsize=8)
        return ax


def synthetic_control(
    data: pd.DataFrame,
    unit: str,
    time: str,
    outcome: str,
    treated: Any,
    intervention_start: Any,
    *,
    donors: list[Any] | None = None,
    placebo: bool = True,
) -> SyntheticControlResult:
    """Estimate an intervention effect on one unit with a synthetic control.

    Parameters
    ----------
    data : pandas.DataFrame
        Long panel: one row per unit and period, with no missing outcomes.
    unit : str
        Unit identifier column (e.g. CSP or ward name).
    time : str
        Period column (month dates or integers, e.g. years).
    outcome : str
        Outcome column.
    treated : label
        The treated unit's value in ``unit``.
    intervention_start : month or int
        First period in which the intervention was in place.
    donors : list, optional
        Donor units to use (default: all other units). Exclude units that had a
        similar intervention, or that could be affected by displacement.
    placebo : bool
        Run the placebo-in-space permutation test (default True; costs one fit
        per donor).

    Returns
    -------
    SyntheticControlResult

    Raises
    ------
    ValueError
        Unknown columns or treated unit, an unbalanced panel or missing outcomes,
        fewer than two pre-periods or donors, or no post-period.

    References
    ----------
    Abadie, Diamond & Hainmueller (2010), *JASA* 105:493-505; Abadie (2021), *JEL*
    59:391-425.
    """
    data = check_dataframe(data)
    _check_arguments(data, unit, time, outcome, treated, placebo)
    axis, start, wide, donor_list = _wide_panel(data, unit, time, outcome, treated, intervention_start, donors)
    pre = _pre_periods(wide, donor_list, start)
    Y = wide.to_numpy()
    y1, Y0 = Y[:, 0], Y[:, 1:]
    w = fit_simplex_weights(y1[pre], Y0[pre])
    synth = Y0 @ w
    gap = y1 - synth
    pre_rmspe, post_rmspe = _rmspe(gap[pre]), _rmspe(gap[~pre])
    ratio = post_rmspe / pre_rmspe if pre_rmspe > 0 else float("inf")

    placebo_df = placebo_gaps = None
    p_value = float("nan")
    if placebo:
        treated_row = {"unit": treated, "pre_rmspe": pre_rmspe, "post_rmspe": post_rmspe,
                       "ratio": ratio, "average_post_gap": float(gap[~pre].mean()), "treated": True}
        placebo_df, placebo_gaps, p_value = _placebo_in_space(Y0, pre, donor_list, treated_row,
                                                              axis.labels(wide.index))

    gap_df = pd.DataFrame({"time": axis.labels(wide.index), "ordinal": wide.index.to_numpy(),
                           "treated": y1, "synthetic": synth, "gap": gap, "post": ~pre})
    return SyntheticControlResult(
        table=_result_table(gap_df, p_value, outcome, axis.unit, placebo),
        weights=pd.Series(w, index=donor_list, name="weight"),
        gap=gap_df, pre_rmspe=pre_rmspe, post_rmspe=post_rmspe, rmspe_ratio=ratio,
        placebo=placebo_df, placebo_gaps=placebo_gaps, p_value=p_value, axis=axis,
        start=start, last=int(wide.index[-1]), treated=treated, outcome=outcome, time=time,
        n_pre=int(pre.sum()), pre_level=float(np.mean(np.abs(y1[pre]))),
    )


# --------------------------------------------------------------------------- #
# The steps of synthetic_control: validation, design, placebo fits, result table
# --------------------------------------------------------------------------- #
def _check_arguments(data: pd.DataFrame, unit: str, time: str, outcome: str, treated: Any,
                     placebo: Any) -> None:
    """Columns exist, ``placebo`` is a bool and ``treated`` is one of the units."""
    for arg, col in (("unit", unit), ("time", time), ("outcome", outcome)):
        check_column(data, col, arg)
    if not isinstance(placebo, (bool, np.bool_)):
        raise ValueError(f"`placebo` must be True or False, got {placebo!r}")
    if treated not in set(pd.unique(data[unit])):
        raise ValueError(f"`treated`: {treated!r} is not a value of column {unit!r}")


def _wide_panel(data: pd.DataFrame, unit: str, time: str, outcome: str, treated: Any, intervention_start: Any,
                donors: list[Any] | None) -> tuple[TimeAxis, int, pd.DataFrame, list[Any]]:
    """(time axis, start ordinal, periods x units table with the treated unit first, donors).

    Raises on duplicate unit-periods, unknown donors and missing outcomes (an unbalanced panel).
    """
    axis, ords, _ = TimeAxis.from_values(data[time], "time")
    start = axis.convert(intervention_start, "intervention_start")
    y = numeric_column(data, outcome, "outcome")
    frame = pd.DataFrame({"unit": data[unit].to_numpy(), "ord": ords, "y": y})
    if frame.duplicated(["unit", "ord"]).any():
        raise ValueError("Each unit may appear only once per period (duplicates in `unit`/`time`)")
    wide = frame.pivot(index="ord", columns="unit", values="y").sort_index()
    if donors is not None:
        unknown = [d for d in donors if d not in wide.columns]
        if unknown:
            raise ValueError(f"`donors`: not found in column {unit!r}: {unknown}")
        donor_list = [d for d in donors if d != treated]
    else:
        donor_list = [u for u in wide.columns if u != treated]
    wide = wide[[treated] + donor_list]
    if wide.isna().any().any():
        bad = wide.columns[wide.isna().any()].tolist()
        raise ValueError(f"`outcome`: missing values (or missing periods) for unit(s) {bad}; the "
                         "synthetic control needs a balanced panel")
    return axis, start, wide, donor_list


def _pre_periods(wide: pd.DataFrame, donor_list: list[Any], start: int) -> np.ndarray:
    """Mask of the pre-intervention periods, after checking there are enough donors and periods."""
    if len(donor_list) < 2:
        raise ValueError("`donors`: at least two donor units are needed")
    pre = wide.index.to_numpy() < start
    if pre.sum() < 2:
        raise ValueError(f"`intervention_start`: only {int(pre.sum())} pre-intervention period(s); "
                         "at least 2 are needed")
    if (~pre).sum() < 1:
        raise ValueError("`intervention_start`: no periods on or after the start")
    return pre


def _placebo_in_space(Y0: np.ndarray, pre: np.ndarray, donor_list: list[Any], treated_row: dict,
                      labels: pd.Index) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """Refit treating each donor as if treated (the real treated unit left out of the pool).

    Returns the per-unit RMSPE table (treated first, from ``treated_row``), each donor's gap
    series (rows ``labels``) and the permutation p-value: the share of units whose post/pre
    RMSPE ratio is at least the treated unit's.
    """
    recs = [treated_row]
    gaps = {}
    for j, name in enumerate(donor_list):
        others = np.delete(Y0, j, axis=1)  # real treated unit excluded from the pool
        wj = fit_simplex_weights(Y0[pre, j], others[pre])
        gj = Y0[:, j] - others @ wj
        pr, po = _rmspe(gj[pre]), _rmspe(gj[~pre])
        recs.append({"unit": name, "pre_rmspe": pr, "post_rmspe": po,
                     "ratio": po / pr if pr > 0 else float("inf"),
                     "average_post_gap": float(gj[~pre].mean()), "treated": False})
        gaps[name] = gj
    table = pd.DataFrame(recs).set_index("unit")
    ratio = treated_row["ratio"]
    p_value = float((table["ratio"] >= ratio - 1e-12 * abs(ratio)).mean())
    return table, pd.DataFrame(gaps, index=labels), p_value


def _result_table(gap_df: pd.DataFrame, p_value: float, outcome: str, unit: str, placebo: bool) -> pd.DataFrame:
    """Rows ``average_post_effect``, ``final_period_gap`` and ``average_post_ratio``."""
    post = gap_df["post"].to_numpy()
    gap = gap_df["gap"].to_numpy()
    method = "synthetic control (outcome-only, SLSQP weights)" + \
        ("; placebo-in-space RMSPE-ratio permutation p-value" if placebo else "")
    rows = [
        {"effect": "average_post_effect", "estimate": float(gap[post].mean()),
         "p_value": p_value, "confidence": float("nan"), "method": method,
         "scale": f"difference in {outcome} per {unit}"},
        {"effect": "final_period_gap", "estimate": float(gap[-1]),
         "p_value": float("nan"), "confidence": float("nan"), "method": method,
         "scale": f"difference in {outcome}"},
        # the treated unit's after-period mean over the synthetic unit's (the report's "x% lower");
        # no p-value of its own: the permutation p-value is the average_post_effect row's
        {"effect": "average_post_ratio",
         "estimate": float(gap_df.loc[post, "treated"].mean() / gap_df.loc[post, "synthetic"].mean()),
         "p_value": float("nan"), "confidence": float("nan"), "method": method,
         "scale": f"ratio of {outcome} (treated / synthetic, after the start)"},
    ]
    return make_table(rows)

"""Spatial displacement and diffusion of benefits for place-based schemes.

Counts of crime before and after a scheme in three (or four) areas:

* the **target** area R (where the scheme operated),
* a **buffer** B around it (where crime might be displaced to, or benefits spread),
* a **control** area C (similar, unaffected, used to allow for general trends),
* optionally a **control buffer** C' around the control area.

Two measures are reported.

Weighted Displacement Quotient (Bowers & Johnson 2003)
    success measure :math:`SM = R_a/C_a - R_b/C_b` (negative: the target improved
    relative to the control); buffer displacement measure :math:`BDM = B_a/C_a -
    B_b/C_b`; :math:`WDQ = BDM / SM`. Interpretation (their Table 1), meaningful
    only when :math:`SM < 0`: WDQ > 1 diffusion of benefits greater than the
    direct effect; 0 < WDQ <= 1 some diffusion of benefits; WDQ = 0 no
    displacement or diffusion; -1 <= WDQ < 0 some displacement, smaller than the
    direct effect (net benefit); WDQ < -1 displacement larger than the direct
    effect (net harm). The WDQ has no sampling theory, so no interval or p-value.

Weighted Displacement Difference test (Wheeler & Ratcliffe 2018)
    With :math:`\\Delta X = X_{after} - X_{before}`,
    :math:`WDD = \\Delta T - \\Delta C + \\Delta D - \\Delta C'` (target, control,
    displacement/buffer, control buffer). Assuming independent Poisson counts, its
    variance is the sum of all eight counts, giving
    :math:`z = WDD / \\sqrt{\\text{var}}`, a two-sided normal p-value and a normal
    confidence interval. Negative values mean fewer crimes than expected. Without
    a control buffer the authors' reference implementation sets :math:`\\Delta C' =
    0` (followed here), so the buffer's change is then not adjusted for the
    general trend.

References
----------
Bowers, K. J. & Johnson, S. D. (2003). Measuring the geographical displacement
and diffusion of benefit effects of crime prevention activity. *Journal of
Quantitative Criminology* 19:275-301.
Wheeler, A. P. & Ratcliffe, J. H. (2018). A simple weighted displacement
difference test to evaluate place based crime interventions. *Crime Science* 7:11.
Guerette, R. T. & Bowers, K. J. (2009). Assessing the extent of crime
displacement and diffusion of benefits: a review of situational crime prevention
evaluations. *Criminology* 47:1331-1368.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ._results import InterventionResult, check_confidence, conf_pct, format_p, make_table

__all__ = ["displacement", "DisplacementResult", "interpret_wdq"]


def _pair(x: Any, name: str) -> tuple[float, float]:
    try:
        vals = [float(v) for v in x]
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a (before, after) pair of counts, got {x!r}") from None
    if len(vals) != 2:
        raise ValueError(f"`{name}` must be a (before, after) pair of counts, got {len(vals)} values")
    if any(math.isnan(v) or math.isinf(v) or v < 0 for v in vals):
        raise ValueError(f"`{name}` counts must be finite and non-negative, got {x!r}")
    return vals[0], vals[1]


def interpret_wdq(wdq: float, success_measure: float) -> str:
    """Plain-English reading of a WDQ value (Bowers & Johnson 2003, Table 1)."""
    if math.isnan(success_measure) or success_measure >= 0:
        return ("The target area did not improve relative to the control area (success measure "
                ">= 0), so the WDQ cannot be interpreted.")
    if math.isnan(wdq):
        return "WDQ not available."
    if wdq > 1:
        return "Diffusion of benefits into the buffer, larger than the direct effect in the target area."
    if wdq > 0:
        return "Some diffusion of benefits into the buffer (smaller than the direct effect)."
    if wdq == 0:
        return "No displacement or diffusion of benefits."
    if wdq >= -1:
        return ("Some displacement into the buffer, smaller than the direct effect: a net benefit "
                "overall.")
    return "Displacement into the buffer larger than the direct effect: a net increase overall."


class DisplacementResult(InterventionResult):
    """Result of :func:`displacement`.

    Attributes
    ----------
    table : pandas.DataFrame
        Rows ``success_measure``, ``buffer_displacement_measure``, ``wdq`` (no
        interval or p-value), ``wdd_target`` (:math:`\\Delta T - \\Delta C`),
        ``wdd_displacement`` (:math:`\\Delta D - \\Delta C'`) and ``wdd`` (their
        sum); extra columns ``se`` and ``z``.
    counts : pandas.DataFrame
        The input counts (rows: areas; columns: before, after, change).
    interpretation : str
        Reading of the WDQ.
    """

    def __init__(self, **kw: Any):
        self.__dict__.update(kw)

    def summary(self) -> str:
        t = self.table
        cl = conf_pct(self.confidence)
        c = self.counts
        lines = [
            "Displacement analysis (counts before -> after): "
            + "; ".join(f"{a} {int(r.before) if float(r.before).is_integer() else r.before} -> "
                        f"{int(r.after) if float(r.after).is_integer() else r.after}"
                        for a, r in c.iterrows()) + ".",
        ]
        sm, bdm, wdq = (t.loc[k, "estimate"] for k in
                        ("success_measure", "buffer_displacement_measure", "wdq"))
        lines.append(
            f"Weighted Displacement Quotient (Bowers & Johnson 2003): success measure {sm:.3f}, "
            f"buffer displacement measure {bdm:.3f}, WDQ {wdq:.2f}. {self.interpretation} "
            "The WDQ has no significance test."
        )
        w = t.loc["wdd"]
        wt = t.loc["wdd_target"]
        direction = "fewer" if w.estimate < 0 else "more"
        lines.append(
            f"Weighted Displacement Difference test (Wheeler & Ratcliffe 2018): target and buffer "
            f"together had {abs(w.estimate):.0f} {direction} crimes than the control "
            f"area(s) imply (WDD {w.estimate:.0f}, {cl} CI {w.lower:.0f} to {w.upper:.0f}; "
            f"z = {w.z:.2f}, {format_p(w.p_value)}). Target area alone: WDD {wt.estimate:.0f} "
            f"({cl} CI {wt.lower:.0f} to {wt.upper:.0f}; {format_p(wt.p_value)})."
        )
        if not self.has_control_buffer:
            lines.append("Note: no control buffer was given, so the buffer's change is not adjusted "
                         "for the general trend (Wheeler & Ratcliffe's default); treat the "
                         "displacement part with caution.")
        if min(c["before"].min(), c["after"].min()) < 10:
            lines.append("Caution: some counts are below 10; the normal approximation behind the "
                         "WDD p-value is rough and ratios in the WDQ are unstable.")
        lines.append(
            "Limits: both measures compare one before and one after period, so they assume that the "
            "control area shows what would have happened without the scheme, and the WDD assumes "
            "Poisson counts; real crime counts are usually over-dispersed, which makes the p-value "
            "too small. A 'significant' WDD is evidence of a change relative to the control, not "
            "proof that the scheme caused it."
        )
        return "\n".join(lines)

    def plot(self, ax: Any = None) -> Any:
        """Before/after counts by area."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4.5))
        c = self.counts
        x = np.arange(len(c))
        ax.bar(x - 0.2, c["before"], width=0.4, label="Before", color="tab:grey")
        ax.bar(x + 0.2, c["after"], width=0.4, label="After", color="tab:blue")
        ax.set_xticks(x, [a.replace("_", " ").capitalize() for a in c.index])
        ax.set_title(f"Displacement check (WDQ {self.table.loc['wdq', 'estimate']:.2f}, "
                     f"WDD {self.table.loc['wdd', 'estimate']:.0f})")
        ax.set_xlabel("Area")
        ax.set_ylabel("Number of crimes")
        ax.legend(fontsize=8)
        return ax


def displacement(
    target: Any,
    buffer: Any,
    control: Any,
    *,
    control_buffer: Any = None,
    confidence: float = 0.95,
) -> DisplacementResult:
    """Weighted Displacement Quotient and Weighted Displacement Difference test.

    Parameters
    ----------
    target, buffer, control : (before, after) pairs of counts
        Crime counts in the target area, its buffer and the control area, for
        equal-length periods before and after the scheme.
    control_buffer : (before, after) pair, optional
        Counts in a buffer around the control area (the WDD's :math:`C'`).
    confidence : float
        Confidence level for the WDD intervals (default 0.95).

    Returns
    -------
    DisplacementResult

    Raises
    ------
    ValueError
        If a pair is not two finite non-negative counts, or the control counts are
        zero (the WDQ divides by them).

    References
    ----------
    Bowers & Johnson (2003), *J Quant Criminol* 19:275-301; Wheeler & Ratcliffe
    (2018), *Crime Science* 7:11.

    Examples
    --------
    >>> res = displacement(target=(207, 110), buffer=(178, 157), control=(308, 318),
    ...                    control_buffer=(150, 140))
    >>> round(res.table.loc["wdd", "estimate"])
    -118
    """
    Rb, Ra = _pair(target, "target")
    Bb, Ba = _pair(buffer, "buffer")
    Cb, Ca = _pair(control, "control")
    has_cb = control_buffer is not None
    CBb, CBa = _pair(control_buffer, "control_buffer") if has_cb else (0.0, 0.0)
    confidence = check_confidence(confidence)
    if Cb <= 0 or Ca <= 0:
        raise ValueError("`control` counts must both be positive (the WDQ divides by them)")
    areas = {"target": (Rb, Ra), "buffer": (Bb, Ba), "control": (Cb, Ca)}
    if has_cb:
        areas["control_buffer"] = (CBb, CBa)
    sm, _, wdq = _wdq(areas)
    rows = _wdq_rows(areas) + _wdd_rows(areas, confidence)
    counts = pd.DataFrame(areas, index=["before", "after"]).T
    counts["change"] = counts["after"] - counts["before"]
    return DisplacementResult(
        table=make_table(rows, extra=["se", "z"]), counts=counts,
        interpretation=interpret_wdq(wdq, sm), has_control_buffer=has_cb, confidence=confidence,
    )


# --------------------------------------------------------------------------- #
# The two measures (``areas``: area -> (before, after); a missing control buffer is zero)
# --------------------------------------------------------------------------- #
def _wdq(areas: dict) -> tuple[float, float, float]:
    """Success measure, buffer displacement measure and WDQ (Bowers & Johnson 2003)."""
    (Rb, Ra), (Bb, Ba), (Cb, Ca) = areas["target"], areas["buffer"], areas["control"]
    sm = Ra / Ca - Rb / Cb
    bdm = Ba / Ca - Bb / Cb
    wdq = bdm / sm if sm != 0 else float("nan")
    return sm, bdm, wdq


def _wdq_rows(areas: dict) -> list[dict]:
    """The three WDQ rows (no interval, no test: the WDQ has no sampling theory)."""
    sm, bdm, wdq = _wdq(areas)
    wdq_method = "weighted displacement quotient (Bowers & Johnson 2003)"
    rows = [
        {"effect": "success_measure", "estimate": sm, "method": wdq_method,
         "scale": "difference in target/control ratio (after minus before)"},
        {"effect": "buffer_displacement_measure", "estimate": bdm, "method": wdq_method,
         "scale": "difference in buffer/control ratio (after minus before)"},
        {"effect": "wdq", "estimate": wdq, "method": wdq_method,
         "scale": "ratio (buffer measure / success measure)"},
    ]
    for r in rows:
        r["confidence"] = float("nan")
    return rows


def _wdd_rows(areas: dict, confidence: float) -> list[dict]:
    """The WDD test's rows (Wheeler & Ratcliffe 2018): target part, buffer part and their sum,
    each with its Poisson variance (the sum of the counts involved), z, p-value and interval."""
    (Rb, Ra), (Bb, Ba), (Cb, Ca) = areas["target"], areas["buffer"], areas["control"]
    CBb, CBa = areas.get("control_buffer", (0.0, 0.0))
    crit = stats.norm.ppf(0.5 + confidence / 2)

    def wdd_row(name, est, var):
        se = math.sqrt(var)
        z = est / se if se > 0 else float("nan")
        p = float(2 * stats.norm.sf(abs(z))) if se > 0 else float("nan")
        return {"effect": name, "estimate": est, "lower": est - crit * se, "upper": est + crit * se,
                "p_value": p, "confidence": confidence,
                "method": "weighted displacement difference (Wheeler & Ratcliffe 2018)",
                "scale": "difference in crime counts", "se": se, "z": z}

    dT, dC, dD, dCB = Ra - Rb, Ca - Cb, Ba - Bb, CBa - CBb
    return [
        wdd_row("wdd_target", dT - dC, Rb + Ra + Cb + Ca),
        wdd_row("wdd_displacement", dD - dCB, Bb + Ba + CBb + CBa),
        wdd_row("wdd", dT - dC + dD - dCB, Rb + Ra + Cb + Ca + Bb + Ba + CBb + CBa),
    ]

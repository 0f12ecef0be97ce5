"""Evaluating interventions: did a scheme change crime, ASB or safeguarding outcomes?

One estimator per module, each returning a result object with ``.table`` (one
row per effect: ``estimate``, ``lower``, ``upper``, ``p_value``, ``confidence``,
``method``, ``scale``), ``.summary()`` (plain English) and ``.plot()``.

* :func:`interrupted_time_series` - segmented regression on one series
  (Poisson / quasi-Poisson / negative binomial / Gaussian with Newey-West errors).
* :func:`placebo_in_time` - the ITS refitted at fake start dates before the real one.
* :func:`difference_in_differences` - treated vs comparison areas, before vs after,
  with cluster-robust errors, event study and pre-trend check.
* :func:`synthetic_control` - a weighted combination of comparison areas
  (Abadie et al. 2010) with a placebo-in-space permutation p-value.
* :func:`displacement` - Weighted Displacement Quotient (Bowers & Johnson 2003)
  and Weighted Displacement Difference test (Wheeler & Ratcliffe 2018).
* :func:`minimum_detectable_effect` - the smallest step change an ITS would detect.
"""
from __future__ import annotations

from ._results import InterventionResult
from .did import DiDResult, difference_in_differences
from .displacement import DisplacementResult, displacement, interpret_wdq
from .its import ITSResult, interrupted_time_series
from .placebo import PlaceboResult, placebo_in_time
from .power import MDEResult, minimum_detectable_effect
from .synthetic_control import SyntheticControlResult, fit_simplex_weights, synthetic_control

__all__ = [
    "interrupted_time_series",
    "difference_in_differences",
    "synthetic_control",
    "displacement",
    "minimum_detectable_effect",
    "placebo_in_time",
    "interpret_wdq",
    "fit_simplex_weights",
    "InterventionResult",
    "ITSResult",
    "DiDResult",
    "SyntheticControlResult",
    "DisplacementResult",
    "MDEResult",
    "PlaceboResult",
]

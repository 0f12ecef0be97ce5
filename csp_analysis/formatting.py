"""Shared wording and number formatting for sentences, tables and headlines.

The package's one place for:

* :func:`check_confidence` - validate a confidence level (and, through
  :func:`csp_analysis.contract.resolve_confidence`, the deprecated ``alpha`` /
  ``p_threshold`` arguments);
* :func:`format_number`, :func:`format_count`, :func:`format_percent` - numbers in
  sentences and tables (UK style: thousands separators, no sign on a rounded zero);
* :func:`format_p_value` - p-values, in the sentence style (``p = 0.04``) or the
  table-cell style (``0.041``);
* :func:`confidence_label` - ``0.95`` -> ``"95%"``;
* :func:`not_enough_data` - the one "not enough data" guard a section calls before it
  computes anything;
* :func:`capitalise`, :func:`join_and`, :func:`slugify` - small wording helpers the report
  sections share (sentence case, "a, b and c", file-name slugs).

Older helpers (``rates.format_p_value``, ``rates._check_confidence``,
``trends._utils.format_number``/``format_percent``/``format_p``/``check_confidence``,
``interventions._results.check_confidence``/``fmt_p``/``conf_pct``,
``report.format_number`` and the ``_pct`` helpers of ``local_stats`` and the sections)
are thin wrappers of these, kept so that existing imports keep working.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "MISSING",
    "check_confidence",
    "confidence_label",
    "auto_digits",
    "format_number",
    "format_count",
    "format_percent",
    "format_p_value",
    "not_enough_data",
    "capitalise",
    "join_and",
    "slugify",
]

#: What a table shows for a missing number.
MISSING = "–"


def _is_missing(x: Any) -> bool:
    if x is None:
        return True
    try:
        import pandas as pd

        if x is pd.NA:
            return True
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    try:
        return bool(np.isnan(x))
    except (TypeError, ValueError):
        return False


def check_confidence(confidence: Any, name: str = "confidence") -> float:
    """Return ``confidence`` as a float strictly between 0 and 1 or raise a ValueError naming it.

    Used for confidence levels (0.95) and, with ``name="alpha"``, for significance levels.
    """
    try:
        value = float(confidence)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number between 0 and 1 (e.g. 0.95), got {confidence!r}") from None
    if math.isnan(value) or not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be between 0 and 1 (e.g. 0.95), got {confidence!r}")
    return value


def confidence_label(confidence: float) -> str:
    """``0.95`` -> ``"95%"``; ``0.998`` -> ``"99.8%"``; ``0.9973`` -> ``"99.73%"`` (up to four decimals)."""
    pct = float(confidence) * 100
    text = f"{pct:.4f}".rstrip("0").rstrip(".")
    return f"{text}%"


def auto_digits(*values: float) -> int:
    """Decimal places giving about three significant figures for the largest of ``values``."""
    finite = [abs(v) for v in values if v is not None and not math.isnan(v)]
    ax = max(finite) if finite else 0.0
    if ax == 0 or ax >= 100:
        return 0
    if ax >= 10:
        return 1
    if ax >= 1:
        return 2
    return max(2, -int(math.floor(math.log10(ax))) + 1)


def _signed_zero_free(text: str, negative: bool) -> str:
    """Put the minus sign back unless the number rounded to zero (no "-0.0")."""
    digits = text.replace(",", "")
    return ("-" if negative and float(digits) != 0 else "") + text


def format_number(x: Any, dp: int | None = None, missing: str = MISSING) -> str:
    """Format a number for a sentence or a table cell.

    Parameters
    ----------
    x : number
        Whole-number types (``int``, NumPy integers) print without decimals (they are
        counts); floats with ``dp`` decimals.
    dp : int, optional
        Decimal places; ``None`` chooses about three significant figures
        (:func:`auto_digits`).
    missing : str
        Text for a missing value (``"–"`` in tables; sentences pass ``"n/a"``).

    Thousands are separated by commas and a number that rounds to zero carries no
    minus sign (``-0.01`` with one decimal is ``"0.0"``, not ``"-0.0"``).
    """
    if _is_missing(x):
        return missing
    if isinstance(x, (bool, np.bool_)):
        x = int(x)
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    x = float(x)
    if math.isinf(x):
        return "infinity" if x > 0 else "-infinity"
    if dp is None:
        dp = auto_digits(x)
    return _signed_zero_free(f"{abs(x):,.{dp}f}", x < 0)


def format_count(x: Any) -> str:
    """A count with thousands separators (one decimal if not whole); ``"n/a"`` when missing."""
    if _is_missing(x) or not np.isfinite(x):
        return "n/a"
    if float(x).is_integer():
        return f"{int(x):,}"
    return f"{x:,.1f}"


def format_percent(x: Any, dp: int = 1, signed: bool = False, scale: float = 1.0,
                   missing: str = "n/a", thousands: bool = False) -> str:
    """Format a percentage: ``12.3%`` (``+12.3%`` with ``signed``).

    Parameters
    ----------
    x : number
        The percentage, or a proportion with ``scale=100``.
    dp : int
        Decimal places.
    signed : bool
        Show ``+`` for positive values (changes).
    scale : float
        Multiplier applied first (100 for a 0-1 proportion).
    missing : str
        Text for a missing value.
    thousands : bool
        Separate thousands with commas.

    Infinite values read ``infinity`` / ``-infinity``.
    """
    if _is_missing(x):
        return missing
    v = float(x) * scale
    if math.isinf(v):
        return "infinity" if v > 0 else "-infinity"
    sep = "," if thousands else ""
    return f"{v:+{sep}.{dp}f}%" if signed else f"{v:{sep}.{dp}f}%"


def format_p_value(p: Any, style: str = "sentence", digits: int | None = None, missing: str = "") -> str:
    """Format a p-value, in one of the package's two media.

    Parameters
    ----------
    p : float
    style : {"sentence", "cell"}
        ``"sentence"``: ``p < 0.001``; ``p = 0.004`` (three decimals below 0.01);
        ``p = 0.04`` (two decimals otherwise); ``p > 0.99``; ``p not available`` when
        missing. ``"cell"`` (a table column headed "p-value"): ``<0.001`` or three
        decimals, empty when missing.
    digits : int, optional
        Sentence style with a fixed number of decimals (``p = 0.412``; no ``p > 0.99``
        cap), as the intervention summaries print them.
    missing : str
        Cell style: the text for a missing p-value (empty by default).
    """
    if style not in ("sentence", "cell"):
        raise ValueError(f"style must be 'sentence' or 'cell', got {style!r}")
    if style == "cell":
        if _is_missing(p) or not np.isfinite(p):
            return missing
        return "<0.001" if p < 0.001 else f"{p:.3f}"
    if _is_missing(p) or not np.isfinite(p):
        return "p not available"
    if p < 0.001:
        return "p < 0.001"
    if digits is not None:
        return f"p = {p:.{digits}f}"
    if p < 0.01:
        return f"p = {p:.3f}"
    if p > 0.99:
        return "p > 0.99"
    return f"p = {p:.2f}"


def not_enough_data(available: float, needed: float, unit: str, purpose: str) -> str | None:
    """The one "not enough data" guard: ``None`` when ``available >= needed``, else the sentence.

    A section calls it before computing a statistic and, when it returns a sentence,
    says it (``ctx.say``) and shows nothing else for that statistic::

        msg = not_enough_data(len(series), 24, "months", "a seasonal trend")
        if msg:
            ctx.say(msg)
            return

    Parameters
    ----------
    available, needed : number
        What the data hold and the least the method needs.
    unit : str
        Plural noun of what is counted ("months", "LSOAs", "searches").
    purpose : str
        What would have been shown ("a seasonal trend").
    """
    if _is_missing(available):
        available = 0
    if available >= needed:
        return None
    return (f"Not enough data for {purpose}: {format_number(available)} {unit} available, "
            f"at least {format_number(needed)} needed, so it is not shown.")


# ------------------------------------------------------------------ shared wording helpers
def capitalise(text: str) -> str:
    """First letter upper case, the rest as written (``str.capitalize`` would lower the rest:
    "ASB" must stay "ASB")."""
    return text[:1].upper() + text[1:]


def join_and(items) -> str:
    """``["a", "b", "c"]`` -> ``"a, b and c"`` (UK style, no serial comma); ``""`` for none."""
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def slugify(text: str, max_len: int | None = None) -> str:
    """Lower-case ASCII slug for table and chart file names: runs of anything but ``a-z0-9``
    become one ``_``, none at either end; cut to ``max_len`` characters when given."""
    import re

    slug = re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_")
    return slug[:max_len] if max_len else slug

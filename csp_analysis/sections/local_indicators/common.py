"""Constants and small helpers shared by the local-indicators modules (compute, wording, charts, render).

Nothing here reads data or draws: the report's confidence level and thresholds, the
suppression mark, period labels, the ``DISCREPANCY:`` note parser, the suppression
sentence, and a helper that silences the statistics' warnings.
"""
from __future__ import annotations

import math
import re
import warnings

import pandas as pd

from ...local_indicators import guess_period_type, period_label

CONFIDENCE = 0.95
#: Monthly counts need this many months for a chart.
MIN_SERIES_MONTHS = 6
#: Control charts (c and p) need this many points.
MIN_CHART_POINTS = 8
#: At most this many findings in the summary.
MAX_FINDINGS = 8
MARK = "[c]"
#: The comparator table's verdict column.
UNLIKELY_COL = "Unlikely to be chance (after Holm)"
#: What a source note of a suppressed figure is replaced by (the note may quote the figure).
WITHHELD = "withheld (suppressed figure)"

_DISCREPANCY_RE = re.compile(r"DISCREPANCY:?\s*(.+)$", re.IGNORECASE | re.DOTALL)
UNIT_WORDS = {
    "count": "Number (count)", "percent": "Per cent (%)", "percent_change": "Percentage change (%)",
    "rate": "Rate", "mean": "Average", "ratio": "Ratio", "score": "Score", "gbp": "Pounds (£)",
}


def lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text and not text[:2].isupper() else text


def period_text(period: str, ptype: str) -> str:
    try:
        return period_label(period, ptype)
    except ValueError:
        return period


def period_type_of(period: str) -> str:
    return guess_period_type(period) or ""


def group_part(group) -> str:
    return f" ({group})" if isinstance(group, str) and group else ""


def financial_year_of(ts: pd.Timestamp) -> str:
    y = ts.year if ts.month >= 4 else ts.year - 1
    return f"{y}/{(y + 1) % 100:02d}"


def discrepancy(source: str) -> str | None:
    """The text after ``DISCREPANCY:`` in a source note, or None."""
    if not isinstance(source, str):
        return None
    m = _DISCREPANCY_RE.search(source)
    return m.group(1).strip().rstrip(".") if m else None


def number_word(n: int) -> str:
    words = "no one two three four five six seven eight nine ten eleven twelve".split()
    return words[n] if 0 <= n < len(words) else f"{n:,}"


def is_small_count(v, threshold: int) -> bool:
    return v is not None and isinstance(v, (int, float)) and math.isfinite(v) and 0 < v < threshold


def suppressed_sentence(label: str, threshold: int, secondary: bool = False) -> str:
    """The sentence of a suppressed figure (shared by the analysis tables and the rendered ones)."""
    if secondary:
        return (f"{label}: suppressed (secondary suppression), so that another count of children below "
                f"{threshold} cannot be worked out from a total.")
    return (f"{label}: suppressed, because a count of children is below {threshold}; publishing it could "
            "identify a child.")


def quietly(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)

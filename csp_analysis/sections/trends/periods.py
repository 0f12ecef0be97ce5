"""Monthly periods for the trends report: runs of consecutive months and their names in text."""
from __future__ import annotations

import pandas as pd


def month_text(p: pd.Period) -> str:
    """``Period("2024-03")`` -> ``"Mar 2024"``."""
    return p.strftime("%b %Y")


def runs(months) -> list[list[pd.Period]]:
    """Consecutive runs of monthly Periods (sorted; each run oldest first)."""
    months = sorted(months)
    out: list[list[pd.Period]] = []
    for m in months:
        if out and m.ordinal == out[-1][-1].ordinal + 1:
            out[-1].append(m)
        else:
            out.append([m])
    return out


def ranges(months) -> str:
    """'Jan 2022 to Mar 2022; Jun 2022' for a list of monthly Periods ("none" for none).

    The Period twin of :func:`csp_analysis.data.month_range_text` (which takes Timestamps)."""
    months = sorted(set(months))
    if not months:
        return "none"
    out, start, prev = [], months[0], months[0]
    for m in months[1:] + [None]:
        if m is not None and m.ordinal == prev.ordinal + 1:
            prev = m
            continue
        out.append(month_text(start) if start == prev else f"{month_text(start)} to {month_text(prev)}")
        if m is not None:
            start = prev = m
    return "; ".join(out)


def to_period(values) -> list[pd.Period]:
    """Month strings or timestamps -> monthly Periods."""
    return [pd.Period(v, freq="M") for v in values]

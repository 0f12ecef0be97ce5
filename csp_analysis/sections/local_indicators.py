"""The local-indicators report (04_local_indicators): a partnership's own figures.

Much of what a partnership reports is not police data: referrals by source, children
in need by month, missing-children reports and return-home interviews, hate crime by
type, the share of contacts processed within 24 hours. The partnership lists its
local-indicators files (``docs/local_indicators_format.md``) under ``local_data`` in
its parameters; the runner loads them into the store table ``local_indicators``
before the notebooks run.

The notebook first computes everything (:func:`analyse`, no output), so that the
plain-English summary can come first, and then renders each part. Which analyses run
is chosen from the shape of the data, indicator by indicator, so the report works for
any partnership's file:

* counts (``unit`` count) in two or more years (financial or calendar) or quarters:
  the change between the latest two, with the exact conditional interval and test of
  :func:`csp_analysis.local_stats.indicator_change` (published percentage changes
  ``<indicator>_percent_change`` are checked against the computation);
* monthly counts in two financial years: each month against the same month a year
  earlier (:func:`~csp_analysis.local_stats.monthly_year_on_year`), never adding up
  snapshot counts; monthly counts in one year: a c-chart;
* counts or percentages with a denominator: shares with Wilson intervals, a p-chart
  for monthly data (:func:`~csp_analysis.local_stats.indicator_proportions`) and the
  change in share between the latest two years;
* indicators with comparator rows (statistical neighbours, national average): a test
  per group and comparator, Holm-adjusted
  (:func:`~csp_analysis.local_stats.compare_with_comparators`);
* indicators named by a ``process_changes`` entry of the params' ``local_data``:
  before and after the change (:func:`~csp_analysis.local_stats.before_after`);
* everything else: tables of the published figures, grouped sensibly.

Counts of children from 1 to ``small_number_threshold - 1`` (and counts whose remainder of
their denominator is that small) are suppressed everywhere (``[c]``), with secondary
suppression within each breakdown. The decision is made once, by
:func:`csp_analysis.local_indicators.suppress_small_counts` on all the partnership's
figures (``LocalResult.published``), and every table, chart, sentence and source note
follows it; the source notes of suppressed figures are withheld, since they may quote
the hidden number. Changes tested together (the groups of a breakdown, the months of a
year) are Holm-adjusted before a change is called unlikely to be chance.
"""
from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import data
from .. import local_stats as ls
from ..formatting import format_p_value, format_percent
from ..local_indicators import (
    FRAME_COLUMNS,
    TABLE,
    LocalIndicatorError,
    period_bounds,
    period_label,
    read_local_indicators,
)
from ..store import PROJECT_ROOT

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
_UNIT_WORDS = {
    "count": "Number (count)", "percent": "Per cent (%)", "percent_change": "Percentage change (%)",
    "rate": "Rate", "mean": "Average", "ratio": "Ratio", "score": "Score", "gbp": "Pounds (£)",
}


# --------------------------------------------------------------------------- formatting


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text and not text[:2].isupper() else text


def _num(x, dp: int = 1) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    if float(x).is_integer():
        return f"{int(x):,}"
    return f"{x:,.{dp}f}"


def _pct(x, dp: int = 1, signed: bool = False) -> str:
    return format_percent(x, dp, signed=signed)


def fmt_value(value, unit: str) -> str:
    """Format a published figure by its unit (``3,133``; ``27.2%``; ``+11.3%``; ``£46,010``)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    v = float(value)
    if unit == "percent":
        return f"{v:g}%"
    if unit == "percent_change":
        return f"{v:+g}%"
    if unit == "gbp":
        return f"£{v:,.0f}" if v.is_integer() else f"£{v:,.2f}"
    if unit == "ratio":
        return f"{v:g} times"
    if unit in ("mean", "rate"):
        return f"{v:,.1f}" if not v.is_integer() else f"{int(v):,}"
    return _num(v)


def _plabel(period: str, ptype: str) -> str:
    try:
        return period_label(period, ptype)
    except ValueError:
        return period


def _group_part(group) -> str:
    return f" ({group})" if isinstance(group, str) and group else ""


def _ranges(labels: list[str]) -> str:
    if not labels:
        return ""
    if len(labels) == 1:
        return labels[0]
    return ", ".join(labels[:-1]) + " and " + labels[-1]


def _fy_of(ts: pd.Timestamp) -> str:
    y = ts.year if ts.month >= 4 else ts.year - 1
    return f"{y}/{(y + 1) % 100:02d}"


def _rel(path) -> str:
    """A path relative to the repository when it lies inside it."""
    p = Path(path)
    try:
        return p.resolve().relative_to(PROJECT_ROOT.resolve()).as_posix()
    except (ValueError, OSError):
        return str(path)


def _clean_problem(msg: str) -> str:
    root = str(PROJECT_ROOT.resolve()) + "/"
    return msg.replace(root, "")


def discrepancy(source: str) -> str | None:
    """The text after ``DISCREPANCY:`` in a source note, or None."""
    if not isinstance(source, str):
        return None
    m = _DISCREPANCY_RE.search(source)
    return m.group(1).strip().rstrip(".") if m else None


def _words(n: int) -> str:
    words = "no one two three four five six seven eight nine ten eleven twelve".split()
    return words[n] if 0 <= n < len(words) else f"{n:,}"


# --------------------------------------------------------------------------- result


@dataclass
class LocalResult:
    """Everything the local-indicators report shows, computed before any output."""

    status: str  # "ok", "none" (no local_data), "error" (a file failed validation), "empty"
    name: str
    slug: str
    threshold: int
    files: list[str] = field(default_factory=list)
    descriptions: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    message: str = ""
    read_from: str = ""  # "store" or "files"
    read_note: str = ""
    df: pd.DataFrame = field(default_factory=pd.DataFrame)  # the partnership's rows in the window
    outside_window: pd.DataFrame = field(default_factory=pd.DataFrame)
    window: tuple = ()
    changes: pd.DataFrame = field(default_factory=pd.DataFrame)
    published_checks: pd.DataFrame = field(default_factory=pd.DataFrame)
    monthly_yoy: dict = field(default_factory=dict)  # indicator -> (table, current FY, previous FY)
    monthly_series: dict = field(default_factory=dict)  # indicator -> table (with chart columns)
    proportions: dict = field(default_factory=dict)  # indicator -> indicator_proportions table
    share_changes: pd.DataFrame = field(default_factory=pd.DataFrame)
    comparisons: dict = field(default_factory=dict)  # indicator -> compare_with_comparators table
    comparisons_descriptive: dict = field(default_factory=dict)  # indicator -> (table, reason)
    before_after: list = field(default_factory=list)  # dicts: change, indicator, group, table, series
    process_changes: list = field(default_factory=list)
    used: set = field(default_factory=set)
    discrepancies: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)
    findings: list[dict] = field(default_factory=list)
    #: ``df`` as published: suppress_small_counts' flags (``suppressed``, ``secondary``,
    #: ``denominator_suppressed``), the one suppression decision every table follows
    published: pd.DataFrame = field(default_factory=pd.DataFrame)
    hidden: dict = field(default_factory=dict)  # (indicator, period, group) -> flags of ``published``

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def local(self) -> pd.DataFrame:
        return self.df[self.df["comparator"].isna()]


# --------------------------------------------------------------------------- loading


def _normalise(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for col in ("period_start", "period_end"):
        df[col] = pd.to_datetime(df[col])
    for col in ("group", "comparator"):
        df[col] = df[col].astype(object).where(df[col].notna(), None)
    for col in ("value", "denominator", "comparator_value"):
        df[col] = pd.to_numeric(df[col]).astype("float64")
    df["counts_children"] = df["counts_children"].astype(bool)
    return df.reset_index(drop=True)


def store_rows(con, slug: str) -> pd.DataFrame | None:
    """The partnership's rows of the store table ``local_indicators`` (None if the table is missing).

    Works on a read-only connection (unlike
    :func:`csp_analysis.local_indicators.query_local_indicators`, which creates the table).
    """
    df = data.local_indicator_rows(con, slug, TABLE)
    if df is None:
        return None
    cols = [c for c in FRAME_COLUMNS if c in df.columns] + (["source_file"] if "source_file" in df.columns else [])
    return _normalise(df[cols])


def _keyset(df: pd.DataFrame) -> set:
    return {
        (r.indicator, r.period, r.group or "", r.comparator or "",
         None if pd.isna(r.value) else round(float(r.value), 9),
         None if pd.isna(r.comparator_value) else round(float(r.comparator_value), 9),
         None if pd.isna(r.denominator) else round(float(r.denominator), 9))
        for r in df.itertuples()
    }


def load(ctx) -> LocalResult:
    """Read and validate the partnership's local indicators (store first, else the files).

    The files named in the params are always validated: a bad file gives a result with
    ``status == "error"`` and every problem (file, row, line, column) in ``problems``,
    never an exception. The store's copy is used when it matches the files; otherwise
    (no table, nothing loaded for this partnership, or an older copy) the files are used.
    """
    p = ctx.params
    res = LocalResult(status="ok", name=p.name, slug=p.slug, threshold=int(p.small_number_threshold or 0),
                      window=(p.start, p.end))
    if not p.local_data:
        res.status = "none"
        return res
    res.files = [_rel(ld.path) for ld in p.local_data]
    res.descriptions = {_rel(ld.path): ld.description for ld in p.local_data}
    res.process_changes = [pc for ld in p.local_data for pc in ld.process_changes]

    frames = []
    for ld in p.local_data:
        try:
            frames.append(read_local_indicators(ld.path).assign(source_file=Path(ld.path).as_posix()))
        except LocalIndicatorError as exc:
            res.problems.extend(_clean_problem(m) for m in exc.problems)
        except (OSError, ValueError) as exc:  # pragma: no cover - read_local_indicators reports its own
            res.problems.append(f"{_rel(ld.path)}: {exc}")
    if res.problems:
        res.status = "error"
        return res
    files = pd.concat(frames, ignore_index=True)
    mine = files[files["partnership"] == p.slug]
    if mine.empty:
        others = sorted(set(files["partnership"]))
        res.status = "empty"
        res.message = (f"The local indicators file(s) ({', '.join(res.files)}) hold no figures for this partnership: "
                       f"their `partnership` column reads {', '.join(f'`{o}`' for o in others)}, "
                       f"not `{p.slug}` (the slug of the parameters file).")
        return res
    mine = _normalise(mine)

    stored = store_rows(ctx.con, p.slug)
    if stored is not None and not stored.empty and _keyset(stored) == _keyset(mine):
        res.read_from, df = "store", stored
        res.read_note = "read from the data store (loaded from the file(s) listed under Sources)"
    else:
        res.read_from, df = "files", mine
        if stored is None or stored.empty:
            res.read_note = "read directly from the file(s) listed under Sources (the data store does not hold them)"
        else:
            res.read_note = ("read directly from the file(s) listed under Sources: the data store holds an "
                             "older copy, which was not used")

    # the analysis window: local figures whose period overlaps it; comparators always kept
    start, end = p.start, p.end + pd.offsets.MonthEnd(0)
    is_local = df["comparator"].isna()
    inside = (df["period_end"] >= start) & (df["period_start"] <= end)
    res.outside_window = df[is_local & ~inside].reset_index(drop=True)
    df = df[~is_local | inside].reset_index(drop=True)
    if df["comparator"].isna().sum() == 0:
        res.status = "empty"
        res.message = (f"None of the {len(res.outside_window):,} local figures for {p.name} falls inside the "
                       f"analysis window ({p.start:%B %Y} to {p.end:%B %Y}); widen `window` in the parameters "
                       "to include them.")
        return res
    order = {f: i for i, f in enumerate(dict.fromkeys(df["source_file"]))} if "source_file" in df else {}
    df = df.assign(_file=df["source_file"].map(order) if order else 0).sort_values(
        ["_file", "source_row"], kind="stable").drop(columns="_file").reset_index(drop=True)
    res.df = df
    return res


# --------------------------------------------------------------------------- analysis helpers


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _count_change_plan(rows: pd.DataFrame) -> list[tuple[str, str]]:
    """(current, previous) periods to compare for a count indicator, per non-monthly period type."""
    plan = []
    for ptype in ("financial_year", "year", "quarter"):
        sub = rows[rows["period_type"] == ptype].drop_duplicates("period").sort_values("period_start")
        periods = sub["period"].tolist()
        if len(periods) < 2:
            continue
        cur = periods[-1]
        prev = periods[-2]
        if ptype == "quarter":
            y, q = cur.split("-Q")
            year_ago = f"{int(y) - 1}-Q{q}"
            if year_ago in periods:
                prev = year_ago
        plan.append((cur, prev))
    return plan


def _flags(res: LocalResult) -> dict:
    """(indicator, period, group) -> (suppressed, secondary, denominator withheld), from ``res.published``."""
    pub = res.published
    if pub is None or pub.empty:
        return {}
    loc = pub[pub["comparator"].isna()]
    return {(r.indicator, r.period, r.group if isinstance(r.group, str) else ""):
            (bool(r.suppressed), bool(r.secondary), bool(r.denominator_suppressed)) for r in loc.itertuples()}


def _hidden(res: LocalResult, indicator, period, group) -> tuple[bool, bool, bool]:
    """Whether a published figure is suppressed (and as secondary), and whether its denominator is withheld."""
    if not isinstance(period, str):
        return (False, False, False)
    g = group if isinstance(group, str) else ""
    return res.hidden.get((indicator, period, g), (False, False, False))


def _apply_published(t: pd.DataFrame, res: LocalResult, blank: list[str], sentence_of,
                     period: str = "period") -> pd.DataFrame:
    """Suppress the rows of an analysis table that the report's one suppression path hides.

    :func:`csp_analysis.local_indicators.suppress_small_counts` (primary, remainder
    and secondary suppression) decides once, on all the partnership's figures, which
    are published; every table follows it, so a figure shown as [c] in one table is
    [c] in all. Rows newly suppressed here get their ``blank`` columns emptied,
    ``secondary`` set where they protect another figure, and a new sentence.
    """
    t = t.copy()
    if t.empty or "suppressed" not in t:
        return t
    t["suppressed"] = t["suppressed"].fillna(False).astype(bool)
    t["secondary"] = t["secondary"].fillna(False).astype(bool) if "secondary" in t else False
    for i, r in t.iterrows():
        sup, sec, _ = _hidden(res, r["indicator"], r[period], r["group"])
        if not sup or r["suppressed"]:
            continue
        t.at[i, "suppressed"] = True
        t.at[i, "secondary"] = sec
        for c in blank:
            if c in t:
                t.at[i, c] = np.nan
        if "sentence" in t:
            t.at[i, "sentence"] = sentence_of(t.loc[i])
    return t


def _apply_published_changes(t: pd.DataFrame, res: LocalResult) -> pd.DataFrame:
    """As :func:`_apply_published`, count by count, for a table of changes between two periods.

    A count hidden by the report's suppression (e.g. secondary suppression, which
    :func:`csp_analysis.local_stats.indicator_change` does not do) is blanked with the
    change statistics; the other count stays.
    """
    t = t.copy()
    if t.empty:
        return t
    t["secondary"] = t["secondary"].fillna(False).astype(bool) if "secondary" in t else False
    thr = res.threshold
    for i, r in t.iterrows():
        newly = {}
        for side in ("previous", "current"):
            sup, sec, _ = _hidden(res, r["indicator"], r[f"{side}_period"], r["group"])
            if sup and not r[f"{side}_suppressed"]:
                newly[side] = sec
                t.at[i, f"{side}_suppressed"] = True
                t.at[i, side] = np.nan
        if not newly:
            continue
        sec = any(newly.values())
        t.at[i, "secondary"] = sec
        t.at[i, "suppressed"] = True
        for c in ls.CHANGE_STATISTICS + ["p_value_holm"]:
            if c in t:
                t.at[i, c] = np.nan
        r = t.loc[i]
        shown = [x for x in ("current", "previous")
                 if isinstance(r[f"{x}_period"], str) and not r[f"{x}_suppressed"]]
        if shown:
            x = shown[0]
            y = "previous" if x == "current" else "current"
            t.at[i, "sentence"] = ls._suppressed_change_sentence(
                r["indicator_label"], r["group"], r[x], _plabel(r[f"{x}_period"], _ptype(r[f"{x}_period"])),
                _plabel(r[f"{y}_period"], _ptype(r[f"{y}_period"])), thr, secondary=newly.get(y, False))
        else:
            when = f", {r['month']}" if isinstance(r.get("month"), str) else ""
            t.at[i, "sentence"] = _supp_sentence(f"{r['indicator_label']}{_group_part(r['group'])}{when}", thr, sec)
    t["secondary"] = t["secondary"].astype(bool)
    return t


def _ptype(period: str) -> str:
    from ..local_indicators import guess_period_type

    return guess_period_type(period) or ""


def _supp_sentence(label: str, threshold: int, secondary: bool = False) -> str:
    if secondary:
        return (f"{label}: suppressed (secondary suppression), so that another count of children below "
                f"{threshold} cannot be worked out from a total.")
    return (f"{label}: suppressed, because a count of children is below {threshold}; publishing it could "
            "identify a child.")


def _share_change(rows: pd.DataFrame, threshold: int, confidence: float = CONFIDENCE) -> dict | None:
    """Change in a share between the latest two periods (:func:`csp_analysis.local_stats.two_proportions`).

    The sentence is written by :func:`_share_change_sentences`, once the tests of the
    whole breakdown are known (for the Holm adjustment).
    """
    rows = rows.assign(_start=[period_bounds(a, b)[0] for a, b in zip(rows["period"], rows["period_type"])])
    rows = rows.sort_values("_start")
    if len(rows) < 2:
        return None
    prev, cur = rows.iloc[-2], rows.iloc[-1]
    xp, n_p, xc, nc = prev["numerator"], prev["denominator"], cur["numerator"], cur["denominator"]
    rec = {"indicator": cur["indicator"], "indicator_label": cur["indicator_label"], "group": cur["group"],
           "previous_period": prev["period"], "current_period": cur["period"],
           "previous_period_type": prev["period_type"], "current_period_type": cur["period_type"],
           "previous_numerator": xp, "previous_denominator": n_p, "current_numerator": xc,
           "current_denominator": nc, "previous_percent": np.nan, "current_percent": np.nan,
           "difference_points": np.nan, "lower": np.nan, "upper": np.nan, "p_value": np.nan,
           "implied_numerator": bool(prev["implied_numerator"] or cur["implied_numerator"]),
           "suppressed": bool(prev["suppressed"] or cur["suppressed"]), "sentence": None}
    if rec["suppressed"] or any(pd.isna(v) for v in (xp, n_p, xc, nc)):
        if not rec["suppressed"]:
            return None
        label = f"{cur['indicator_label']}{_group_part(cur['group'])}"
        rec["sentence"] = _supp_sentence(label, threshold)
        for c in ("previous_numerator", "current_numerator"):
            rec[c] = np.nan
        return rec
    tp = ls.two_proportions(xc, nc, xp, n_p, confidence=confidence)
    rec.update(previous_percent=tp["percent0"], current_percent=tp["percent1"], difference_points=tp["difference"],
               lower=tp["lower"], upper=tp["upper"], p_value=tp["p_value"])
    return rec


def _share_change_sentences(shares: pd.DataFrame, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Holm-adjust the share changes within each breakdown and word each verdict on it."""
    from statsmodels.stats.multitest import multipletests

    from ..rates import format_p_value

    if shares.empty:
        return shares
    out = shares.copy()
    out["p_value_holm"] = np.nan
    alpha = 1 - confidence
    key = ["indicator", "previous_period", "current_period"]
    for _, idx in out.groupby(key, sort=False).groups.items():
        ok = [i for i in idx if pd.notna(out.at[i, "p_value"])]
        if not ok:
            continue
        out.loc[ok, "p_value_holm"] = multipletests(out.loc[ok, "p_value"].to_numpy(dtype=float), method="holm")[1]
        k = len(ok)
        for i in ok:
            r = out.loc[i]
            d, p, ph = r["difference_points"], r["p_value"], r["p_value_holm"]
            verb = "rose" if d > 0 else "fell" if d < 0 else "was unchanged"
            verdict = "unlikely to be chance" if ph < alpha else "could be chance"
            test = f"Fisher's exact test {format_p_value(p)}"
            if k > 1:
                test += f" ({format_p_value(ph)} after Holm adjustment for the {_words(k)} groups)"
            implied = " (counts derived from the published percentages)" if r["implied_numerator"] else ""
            pp = _plabel(r["previous_period"], r["previous_period_type"])
            cp = _plabel(r["current_period"], r["current_period_type"])
            out.at[i, "sentence"] = (
                f"{r['indicator_label']}{_group_part(r['group'])}: the share {verb} from "
                f"{_pct(r['previous_percent'])} of {_num(r['previous_denominator'])} in {pp} to "
                f"{_pct(r['current_percent'])} of {_num(r['current_denominator'])} in {cp}{implied}, a change of "
                f"{d:+.1f} percentage points ({confidence:.0%} CI {r['lower']:+.1f} to {r['upper']:+.1f}); {test}: "
                f"{verdict}.")
    return out


# --------------------------------------------------------------------------- analysis


def analyse(ctx) -> LocalResult:
    """Load the partnership's local indicators and compute every analysis (no output)."""
    res = load(ctx)
    if res.ok:
        analyse_frame(res)
    return res


def analyse_frame(res: LocalResult) -> LocalResult:
    """Run the analyses that fit each indicator of ``res.df`` (filled in place)."""
    from ..local_indicators import suppress_small_counts

    df, slug, thr = res.df, res.slug, res.threshold
    res.published = suppress_small_counts(df, thr)
    res.hidden = _flags(res)
    local = res.local()
    comp_inds = set(df.loc[df["comparator"].notna(), "indicator"])
    changes, shares = [], []
    for ind, rows in local.groupby("indicator", sort=False):
        unit = rows["unit"].iloc[0]
        has_den = rows["denominator"].notna()
        label = rows["indicator_label"].iloc[0]
        # A. change in counts between the latest two years (or quarters)
        if unit == "count":
            for cur, prev in _count_change_plan(rows):
                try:
                    t = _quiet(ls.indicator_change, df, ind, cur, prev, partnership=slug,
                               small_number_threshold=thr)
                except (KeyError, ValueError) as exc:
                    res.notes.append(f"{label}: no change computed ({exc}).")
                    continue
                changes.append(_apply_published_changes(t, res))
                res.used.add(ind)
        # B. monthly counts (without denominators): like months a year apart, or a c-chart
        monthly = rows[(rows["period_type"] == "month") & rows["denominator"].isna()]
        if unit == "count" and len(monthly) >= 2:
            _monthly(res, ind, monthly)
        # C. shares with Wilson intervals (counts or percentages with a denominator)
        if unit in ("count", "percent") and has_den.any():
            monthly_den = rows[(rows["period_type"] == "month") & has_den]
            try:
                t = _quiet(ls.indicator_proportions, df, ind, partnership=slug,
                           p_chart=len(monthly_den) >= MIN_CHART_POINTS, small_number_threshold=thr)
            except (KeyError, ValueError) as exc:
                res.notes.append(f"{label}: no shares computed ({exc}).")
            else:
                t = _apply_published(t, res, ["numerator", "percent", "lower", "upper", "chart_value"],
                                     lambda r: _supp_sentence(f"{r['indicator_label']}{_group_part(r['group'])}, "
                                                              f"{_plabel(r['period'], r['period_type'])}", thr,
                                                              bool(r["secondary"])))
                res.proportions[ind] = t
                res.used.add(ind)
                annual = t[(t["period_type"] != "month") & t["denominator"].notna()]
                for _, g in annual.groupby(annual["group"].fillna(""), sort=False):
                    for ptype, gg in g.groupby("period_type", sort=False):
                        rec = _share_change(gg, thr)
                        if rec:
                            shares.append(rec)
        # D. comparators
        if ind in comp_inds:
            _comparators(res, ind, rows)
    res.changes = pd.concat(changes, ignore_index=True) if changes else pd.DataFrame()
    res.share_changes = _share_change_sentences(pd.DataFrame(shares))
    _published_checks(res)
    _process_changes(res)
    _discrepancies(res)
    _findings(res)
    return res


def _monthly(res: LocalResult, ind: str, monthly: pd.DataFrame) -> None:
    thr, slug = res.threshold, res.slug
    label = monthly["indicator_label"].iloc[0]
    fys = monthly.assign(fy=monthly["period_start"].map(_fy_of))
    order = sorted(set(fys["fy"]))
    if len(order) >= 2:
        cur = order[-1]
        prev = f"{int(cur[:4]) - 1}/{int(cur[:4]) % 100:02d}"
        common = (set(fys.loc[fys["fy"] == cur, "period_start"].dt.month)
                  & set(fys.loc[fys["fy"] == prev, "period_start"].dt.month))
        if prev in order and common:
            try:
                t = _quiet(ls.monthly_year_on_year, res.df, ind, cur, prev, partnership=slug,
                           small_number_threshold=thr)
            except (KeyError, ValueError) as exc:
                res.notes.append(f"{label}: no month-by-month comparison ({exc}).")
            else:
                t = _apply_published_changes(t, res)
                res.monthly_yoy[ind] = (t, cur, prev)
                res.used.add(ind)
                return
    if monthly["group"].notna().any() or len(monthly) < MIN_SERIES_MONTHS:
        return
    s = monthly.sort_values("period_start").reset_index(drop=True)
    from ..local_indicators import suppression_mask

    canonical = [_hidden(res, ind, per, None)[0] for per in s["period"]]
    s["suppressed"] = suppression_mask(s["value"].to_numpy(), counts_children=bool(s["counts_children"].iloc[0]),
                                       threshold=thr).to_numpy() | np.array(canonical, dtype=bool)
    s.attrs = {}
    if len(s) >= MIN_CHART_POINTS and not s["suppressed"].any():
        from ..trends import control_chart

        values = pd.Series(s["value"].to_numpy(dtype=float),
                           index=pd.PeriodIndex(s["period_start"], freq="M"))
        chart = _quiet(control_chart, values, kind="c")
        s = s.join(pd.DataFrame(chart).reset_index(drop=True).add_prefix("chart_"))
        s.attrs["chart"] = chart
    res.monthly_series[ind] = s
    res.used.add(ind)


def _comparators(res: LocalResult, ind: str, rows: pd.DataFrame) -> None:
    label = rows["indicator_label"].iloc[0]
    with_den = rows[rows["denominator"].notna()]
    pick = with_den if not with_den.empty else rows
    period = pick.sort_values("period_start")["period"].iloc[-1]
    try:
        t = _quiet(ls.compare_with_comparators, res.df, ind, period, partnership=res.slug,
                   small_number_threshold=res.threshold)
    except (KeyError, ValueError) as exc:
        comps = res.df[(res.df["indicator"] == ind) & res.df["comparator"].notna()]
        lr = rows[rows["period"] == period]
        recs = []
        for _, c in comps.iterrows():
            match = lr[lr["group"].fillna("") == (c["group"] or "")]
            lv = match.iloc[0] if not match.empty else None
            recs.append({"indicator": ind, "indicator_label": label, "group": c["group"],
                         "period": period if lv is not None else None,
                         "value": lv["value"] if lv is not None else np.nan,
                         "unit": lv["unit"] if lv is not None else rows["unit"].iloc[0],
                         "counts_children": bool(rows["counts_children"].iloc[0]),
                         "comparator": c["comparator"], "comparator_period": c["period"],
                         "comparator_value": c["comparator_value"], "comparator_unit": c["unit"]})
        reason = str(exc).strip("'\"")
        res.comparisons_descriptive[ind] = (pd.DataFrame(recs), reason)
    else:
        t = _apply_published(t, res, ["numerator", "local_percent", "lower", "upper", "difference_points",
                                      "expected", "p_value", "p_value_holm"],
                             lambda r: _supp_sentence(f"{r['indicator_label']}{_group_part(r['group'])}",
                                                      res.threshold, bool(r["secondary"])))
        res.comparisons[ind] = t
    res.used.add(ind)


def _published_checks(res: LocalResult) -> None:
    """Published ``<indicator>_percent_change`` figures against the change computed from the counts."""
    local = res.local()
    recs = []
    if res.changes.empty:
        res.published_checks = pd.DataFrame()
        return
    for _, r in res.changes.iterrows():
        if r["group"] is not None or pd.isna(r["percent_change"]):
            continue
        pub = local[(local["indicator"] == f"{r['indicator']}_percent_change")
                    & (local["period"] == r["current_period"]) & local["group"].isna()]
        if pub.empty:
            continue
        published = float(pub["value"].iloc[0])
        dp = max(0, len(repr(published).split(".")[1]) if "." in repr(published) else 0)
        dp = min(dp, 3) if not published.is_integer() else 0
        computed = float(r["percent_change"])
        agrees = abs(round(computed, dp) - published) < 10 ** (-dp) / 2 + 1e-9
        recs.append({
            "indicator": r["indicator"], "indicator_label": r["indicator_label"],
            "previous_period": r["previous_period"], "current_period": r["current_period"],
            "previous": r["previous"], "current": r["current"], "published_percent_change": published,
            "computed_percent_change": computed, "agrees": bool(agrees),
            "sentence": (f"The published change in {_lower_first(r['indicator_label'])}, {published:+g}%, is "
                         + (f"reproduced by the computation from the counts ({_num(r['previous'])} to "
                            f"{_num(r['current'])}: {computed:+.{max(dp, 1)}f}%)." if agrees else
                            f"not what the counts give ({_num(r['previous'])} to {_num(r['current'])}: "
                            f"{computed:+.{max(dp, 1)}f}%); the computed figure is used.")),
        })
        res.used.add(f"{r['indicator']}_percent_change")
    res.published_checks = pd.DataFrame(recs)


def _process_changes(res: LocalResult) -> None:
    local = res.local()
    for pc in res.process_changes:
        change_period = f"{pc.start:%Y-%m}"
        for ind in pc.indicators:
            rows = local[local["indicator"] == ind]
            if rows.empty:
                res.before_after.append({"change": pc, "indicator": ind, "group": None, "table": None,
                                         "error": f"the indicator `{ind}` is not among the partnership's figures "
                                                  "(check the id in the parameters)"})
                continue
            groups = list(dict.fromkeys(rows["group"])) if rows["group"].notna().any() else [None]
            for g in groups:
                try:
                    t = _quiet(ls.before_after, res.df, ind, change_period, partnership=res.slug, group=g,
                               small_number_threshold=res.threshold)
                    err = None
                except (KeyError, ValueError) as exc:
                    t, err = None, str(exc).strip("'\"")
                series = rows[rows["group"] == g] if g is not None else rows[rows["group"].isna()]
                props = res.proportions.get(ind)
                res.before_after.append({"change": pc, "indicator": ind, "group": g, "table": t, "error": err,
                                         "series": series.sort_values("period_start"), "proportions": props})
                res.used.add(ind)


def _discrepancies(res: LocalResult) -> None:
    recs, seen = [], set()
    for _, r in res.df.iterrows():
        d = discrepancy(r["source"])
        if d and _note_withheld(res, r):
            d = WITHHELD  # the note would quote the hidden figure
        if d and (r["indicator"], d) not in seen:
            seen.add((r["indicator"], d))
            recs.append({"indicator": r["indicator"], "indicator_label": r["indicator_label"],
                         "period": _plabel(r["period"], r["period_type"]), "discrepancy": d})
    res.discrepancies = pd.DataFrame(recs, columns=["indicator", "indicator_label", "period", "discrepancy"])


def _finding(res, priority, key, label, value, sentence, **extra):
    res.findings.append({"priority": priority, "key": key, "label": label, "value": value, "sentence": sentence,
                         **extra})


def _findings(res: LocalResult) -> None:
    """The summary's key findings, in order of interest."""
    checks = res.published_checks.set_index("indicator") if not res.published_checks.empty else None
    if not res.changes.empty:
        for _, r in res.changes[res.changes["group"].isna()].iterrows():
            if pd.isna(r["percent_change"]):
                continue
            s = r["sentence"]
            if checks is not None and r["indicator"] in checks.index and checks.loc[r["indicator"], "agrees"]:
                s += f" This reproduces the published {checks.loc[r['indicator'], 'published_percent_change']:+g}%."
            _finding(res, 1, f"{r['indicator']}__change", f"{r['indicator_label']}: change", r["percent_change"], s,
                     lower=r["percent_lower"], upper=r["percent_upper"])
    for ind, (t, cur, prev) in res.monthly_yoy.items():
        _finding(res, 2, f"{ind}__year_on_year", f"{t['indicator_label'].iloc[0]}: months compared",
                 int(t["percent_change"].notna().sum()), monthly_summary(t, cur, prev))
    for ind, t in res.proportions.items():
        if "in_chart" in t and t["in_chart"].any():
            _finding(res, 2, f"{ind}__share", f"{t['indicator_label'].iloc[0]}: share", pooled_share(t)["percent"],
                     p_chart_summary(t))
    for ind, t in res.comparisons.items():
        _finding(res, 3, f"{ind}__comparators", f"{t['indicator_label'].iloc[0]}: comparisons",
                 int((t["p_value_holm"] < 1 - CONFIDENCE).sum()), comparison_summary(t))
    for ba in res.before_after:
        t = ba.get("table")
        if t is None:
            continue
        r = t.iloc[0]
        _finding(res, 3, f"{ba['indicator']}__before_after", f"{r['indicator_label']}: before and after",
                 r["difference"], f"{r['sentence']} {_caveat_short(r)}")
    if not res.share_changes.empty:
        for _, r in res.share_changes.iterrows():
            if r["suppressed"] or pd.isna(r["p_value"]):
                continue
            if r["group"] is None:
                _finding(res, 4, f"{r['indicator']}__share_change", f"{r['indicator_label']}: change in share",
                         r["difference_points"], r["sentence"])
    if not res.discrepancies.empty:
        n = len(res.discrepancies)
        _finding(res, 5, "local_data__discrepancies", "Inconsistencies in the source", n,
                 f"The source document has {n} inconsistenc{'y' if n == 1 else 'ies'} (listed under Data notes); "
                 "the figures are used as published and the affected figures are left out of the statistics that "
                 "they would distort.")
    res.findings.sort(key=lambda f: f["priority"])


def _caveat_short(r) -> str:
    min_points = r.get("min_points", 8)
    if r["n_before"] < min_points or r["n_after"] < min_points:
        n = int(r["n_before"] + r["n_after"])
        return f"With only {_words(n)} points, the data cannot separate the change from an underlying trend."
    return "A before/after comparison assumes no underlying trend."


# --------------------------------------------------------------------------- sentences


def monthly_summary(t: pd.DataFrame, cur: str, prev: str) -> str:
    """One sentence on a month-by-month comparison (snapshot counts are never added up)."""
    label = t["indicator_label"].iloc[0]
    both = t[t["percent_change"].notna()]
    n = len(both)
    if n == 0:
        return f"{label}: no month is published (unsuppressed) in both {prev} and {cur}."
    p = both["p_value_holm"] if "p_value_holm" in both else both["p_value"]
    sig = (p < 1 - CONFIDENCE) & ((both["lower"] > 1) | (both["upper"] < 1))
    down = both[sig & (both["percent_change"] < 0)]
    up = both[sig & (both["percent_change"] > 0)]
    parts = []
    for part, word in ((down, "lower"), (up, "higher")):
        if part.empty:
            continue
        lo, hi = part["percent_change"].abs().min(), part["percent_change"].abs().max()
        size = f"by {lo:.0f}%" if round(lo) == round(hi) else f"by {lo:.0f}% to {hi:.0f}%"
        which = (f"in all {_words(n)} months" if len(part) == n else
                 f"in {_words(len(part))} month{'s' if len(part) != 1 else ''} ({_ranges(part['month'].tolist())})"
                 if len(part) <= 6 else f"in {_words(len(part))} months")
        parts.append(f"{word} in {cur} {which}, {size}, more than chance would explain (after Holm adjustment "
                     f"for the {_words(n)} months)")
    rest = n - len(down) - len(up)
    if rest:
        parts.append(f"in the other {_words(rest)} the change could be chance" if parts else
                     f"in all {_words(rest)} the change could be chance")
    mean_prev, mean_cur = both["previous"].mean(), both["current"].mean()
    return (f"{label}: of the {_words(n)} months published for both {prev} and {cur}, the count was "
            + "; ".join(parts) + f". Averaged over these months: {_num(round(mean_prev))} in {prev} and "
            f"{_num(round(mean_cur))} in {cur} (monthly snapshots, compared month by month, never added up).")


def pooled_share(t: pd.DataFrame) -> dict:
    """The pooled share of the months in a p-chart, with its Wilson interval."""
    from ..rates import proportion_ci

    inc = t[t["in_chart"].fillna(False).astype(bool)]
    x, n = inc["numerator"].sum(), inc["denominator"].sum()
    ci = proportion_ci(x, n, confidence=CONFIDENCE, multiplier=100)
    return {"x": x, "n": n, "percent": float(ci["value"].iloc[0]), "lower": float(ci["lower"].iloc[0]),
            "upper": float(ci["upper"].iloc[0]), "months": len(inc)}


def excluded_months(t: pd.DataFrame, df: pd.DataFrame | None = None) -> list[str]:
    """One sentence per month left out of a p-chart, with the reason (and the source's discrepancy note)."""
    out = []
    monthly = t[t["period_type"] == "month"]
    for _, r in monthly[~monthly["in_chart"].fillna(False).astype(bool)].iterrows():
        when = _plabel(r["period"], "month")
        if r["suppressed"]:
            out.append(f"{when} is left out: its count is suppressed (a count of children below the threshold).")
            continue
        why = "no denominator is recorded"
        note = None
        if df is not None:
            src = df[(df["indicator"] == r["indicator"]) & (df["period"] == r["period"])
                     & (df["group"].fillna("") == (r["group"] or "")) & df["comparator"].isna()]
            if not src.empty:
                note = discrepancy(src["source"].iloc[0])
        if note:
            why += f", because the published figures are inconsistent (source note: {note})"
        out.append(f"{when} is left out of the chart and the pooled share: {why}.")
    return out


def p_chart_summary(t: pd.DataFrame, df: pd.DataFrame | None = None) -> str:
    label = t["indicator_label"].iloc[0]
    ps = pooled_share(t)
    inc = t[t["in_chart"].fillna(False).astype(bool)].sort_values("period")
    first, last = _plabel(inc["period"].iloc[0], "month"), _plabel(inc["period"].iloc[-1], "month")
    left = t[(t["period_type"] == "month") & ~t["in_chart"].fillna(False).astype(bool)]
    left_txt = (f", {_ranges([_plabel(p, 'month') for p in left['period']])} left out"
                if not left.empty else "")
    n_sc = int(inc["chart_special_cause"].fillna(False).astype(bool).sum()) if "chart_special_cause" in inc else 0
    chart_txt = ("no month shows special-cause variation on the p-chart: month-to-month differences are within "
                 "what chance would produce" if n_sc == 0 else
                 f"{_words(n_sc)} month{'s' if n_sc != 1 else ''} show special-cause variation on the p-chart")
    return (f"{label}: {_num(ps['x'])} of {_num(ps['n'])} over the {_words(ps['months'])} months with a denominator "
            f"({first} to {last}{left_txt}), {_pct(ps['percent'])} ({CONFIDENCE:.0%} CI {_pct(ps['lower'])} to "
            f"{_pct(ps['upper'])}); {chart_txt}.")


def latest_point_sentence(t: pd.DataFrame) -> str:
    """The latest month of a p-chart against its process limits."""
    inc = t[t["in_chart"].fillna(False).astype(bool)].sort_values("period")
    if inc.empty:
        return ""
    r = inc.iloc[-1]
    where = ("within" if r["chart_lower"] <= r["chart_value"] <= r["chart_upper"] else "outside")
    return (f"Latest month ({_plabel(r['period'], 'month')}): {_pct(r['chart_value'])}, {where} the process limits "
            f"for that month ({_pct(r['chart_lower'])} to {_pct(r['chart_upper'])}); "
            f"{str(r['chart_variation']).lower()}.")


def comparison_summary(t: pd.DataFrame) -> str:
    """One sentence on an indicator's comparisons, naming each group's share and the comparators'."""
    label = t["indicator_label"].iloc[0]
    ok = t[~t["suppressed"] & t["p_value_holm"].notna()]
    k = len(ok)
    alpha = 1 - CONFIDENCE
    sig = ok[ok["p_value_holm"] < alpha]
    comps = list(dict.fromkeys(t["comparator"]))
    cper = list(dict.fromkeys(t["comparator_period"]))
    per = t["period"].iloc[0]
    head = f"{label}, {per}, against {_ranges(comps)} ({_ranges(cper)}): "
    if k == 0:
        return head + "every comparison is suppressed or has no denominator, so none can be tested."
    if k == 1:
        r = ok.iloc[0]
        verdict = "unlikely to be chance" if r["p_value"] < alpha else "could be chance"
        return (head + f"{_pct(r['local_percent'])} of {_num(r['denominator'])} against {_pct(r['comparator_percent'])}, "
                f"a difference of {r['difference_points']:+.1f} percentage points that {verdict} "
                f"({_p(r['p_value'])}).")
    parts = []
    for g, gg in ok.groupby(ok["group"].fillna(""), sort=False):
        r0 = gg.iloc[0]
        local = f"{_pct(r0['local_percent'])} of {_num(r0['denominator'])}"
        if not r0["implied_numerator"]:
            local += f" ({_num(r0['numerator'])})"
        vs = ", ".join(f"{_pct(r['comparator_percent'])} for {r['comparator']}"
                       f"{' (differs)' if r['p_value_holm'] < alpha else ''}" for _, r in gg.iterrows())
        parts.append(f"{g or 'all'}: {local} against {vs}")
    n_sig = len(sig)
    lead = (f"{_cap(_words(n_sig))} of the {_words(k)} comparisons differ" if n_sig else
            f"None of the {_words(k)} comparisons differs")
    return (head + f"{lead} by more than chance would explain after Holm adjustment, marked (differs). "
            + "; ".join(parts) + ".")


def _p(p: float) -> str:
    from ..rates import format_p_value

    return format_p_value(p)


def _pfmt(p) -> str:
    """A p-value for a table cell: empty when missing, ``<0.001`` below 0.001, else three decimals."""
    return format_p_value(p, style="cell")


# --------------------------------------------------------------------------- display helpers


def _counts(values, suppressed) -> np.ndarray:
    """A display column of counts: whole numbers without decimals, [c] where suppressed, missing as NaN."""
    out = []
    for v, sup in zip(values, suppressed):
        if sup:
            out.append(MARK)
        elif v is None or (isinstance(v, float) and not math.isfinite(v)):
            out.append(np.nan)
        else:
            out.append(int(v) if float(v).is_integer() else float(v))
    arr = np.empty(len(out), dtype=object)
    arr[:] = out
    return arr


def _totals(res: LocalResult, t: pd.DataFrame) -> np.ndarray:
    """A display column of the denominators of ``t``, [c] where the report withholds one."""
    hide = [_hidden(res, i, p, g)[2] for i, p, g in zip(t["indicator"], t["period"], t["group"])]
    return _counts(t["denominator"], hide)


def _small(v, threshold: int) -> bool:
    return v is not None and isinstance(v, (int, float)) and math.isfinite(v) and 0 < v < threshold


def _blank_small(tab: pd.DataFrame, cols: list[str], threshold: int, children: pd.Series | bool = True) -> pd.DataFrame:
    """Show small counts of children as [c] in a display table (cells already blanked stay blank)."""
    out = tab.copy()
    if not threshold:
        return out
    cc = children if isinstance(children, pd.Series) else pd.Series(children, index=out.index)
    for c in cols:
        if c not in out:
            continue
        out[c] = out[c].astype(object)
        for i, v in out[c].items():
            if cc.loc[i] and _small(v, threshold):
                out.at[i, c] = MARK
    return out


def _supp_note(res: LocalResult, disp: pd.DataFrame | None = None) -> str | None:
    """The suppression note, for a table that has suppressed cells."""
    if not res.threshold:
        return None
    if disp is not None and not disp.isin([MARK]).any().any():
        return None
    return (f"Counts of children from 1 to {res.threshold - 1}, and counts whose remainder of a published total "
            f"is that small, are suppressed ({MARK}), with a second figure suppressed where a total would reveal "
            "the first; the same figures are suppressed in every table.")


def _wrap(text: str, width: int = 34) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(str(text), width)) or str(text)


def _tight(fig) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig.tight_layout()


def _ylabel_count(unit: str) -> str:
    return _UNIT_WORDS.get(unit, unit)


def condensed_sentences(t: pd.DataFrame, threshold: int) -> list[str]:
    """The rows' sentences, with the suppressed rows of each indicator gathered into one sentence.

    A change whose count is suppressed in one period only keeps its own sentence
    (which gives the other count).
    """
    if "suppressed" not in t:
        return list(t["sentence"])
    sup = t["suppressed"].fillna(False).astype(bool)
    if {"previous_suppressed", "current_suppressed"} <= set(t.columns):
        gone = [t[f"{x}_suppressed"].fillna(False).astype(bool) | ~t[f"{x}_period"].map(lambda v: isinstance(v, str))
                for x in ("previous", "current")]
        sup = sup & gone[0] & gone[1]
    sup = sup.to_numpy()
    out = [x for x, hide in zip(t["sentence"], sup) if not hide]
    if not sup.any():
        return out
    for label, g in t[sup].groupby("indicator_label", sort=False):
        names = []
        periods = (list(dict.fromkeys(_plabel(p, pt) for p, pt in zip(g["period"], g["period_type"])))
                   if {"period", "period_type"} <= set(g.columns) else [])
        one_period = len(periods) == 1
        for _, r in g.iterrows():
            bits = [r.get("group") if isinstance(r.get("group"), str) else None,
                    r.get("month") if isinstance(r.get("month"), str) else None,
                    None if one_period or not periods else _plabel(r["period"], r["period_type"])]
            name = ", ".join(b for b in bits if b)
            if name and name not in names:
                names.append(name)
        if one_period:
            names = [f"{_ranges(names)} in {periods[0]}"] if names else [periods[0]]
        secondary = "secondary" in g and g["secondary"].fillna(False).astype(bool).any()
        why = (f"counts of children below {threshold}"
               + (", or a figure from which one could be worked out" if secondary else "")
               + "; publishing them could identify a child")
        what = f" for {_ranges(names)}" if names else ""
        out.append(f"{label}: suppressed{what} ({why}).")
    return out


def _sentences(items) -> str:
    return "\n".join(f"- {s}" for s in items if s)


# --------------------------------------------------------------------------- rendering: summary


def summary(ctx, res: LocalResult) -> None:
    """The plain-English summary first; or say why there is nothing to show."""
    if res.status == "none":
        ctx.say(
            "## No local indicators\n\n"
            f"The parameters of {res.name} (`{ctx.params_file.name}`) list no local indicators files "
            "(`local_data`), so this report has nothing to show. A partnership can add its own figures "
            "(referrals, children in need, missing-children reports and the like) as a CSV in the format of "
            "`docs/local_indicators_format.md` and list it under `local_data` in its parameters.")
        ctx.headline("local_indicators", "Local indicators", 0,
                     f"No local indicators file is listed for {res.name}.")
        return
    if res.status == "error":
        shown = res.problems[:25]
        more = len(res.problems) - len(shown)
        ctx.say(
            "## Local indicators could not be read\n\n"
            f"The local indicators file(s) listed for {res.name} failed validation, so nothing from them is "
            "shown (a file either loads whole or not at all). Each problem names the file, the data row (and "
            "its line in the file) and the column:\n\n"
            + "\n".join(f"- `{m}`" for m in shown)
            + (f"\n- … and {more} more." if more > 0 else "")
            + "\n\nCorrect the file(s) and run the report again; the format is described in "
              "`docs/local_indicators_format.md`.")
        ctx.headline("local_indicators_error", "Local indicators: problems", len(res.problems),
                     f"The local indicators file could not be read ({len(res.problems)} problem"
                     f"{'s' if len(res.problems) != 1 else ''}; first: {res.problems[0]})")
        return
    if res.status == "empty":
        ctx.say("## No local indicators to show\n\n" + res.message)
        ctx.headline("local_indicators", "Local indicators", 0, res.message)
        return
    local = res.local()
    n_ind = local["indicator"].nunique()
    n_comp = int(res.df["comparator"].notna().sum())
    text = (f"## Summary\n\n{len(local):,} published figures on {n_ind} indicators"
            + (f", with {n_comp} comparator figures (statistical neighbours, national averages and the like)"
               if n_comp else "")
            + f", {res.read_note}. Every share comes with its {CONFIDENCE:.0%} confidence interval (CI) and every "
              "change with a test of whether it could be chance.")
    if not res.outside_window.empty:
        text += (f" {len(res.outside_window)} figure{'s' if len(res.outside_window) != 1 else ''} for periods "
                 f"outside the analysis window ({res.window[0]:%B %Y} to {res.window[1]:%B %Y}) "
                 f"{'are' if len(res.outside_window) != 1 else 'is'} left out: "
                 + _ranges([f"{r.indicator_label}{_group_part(r.group)}, {_plabel(r.period, r.period_type)}"
                            for r in res.outside_window.itertuples()][:6])
                 + (" and others" if len(res.outside_window) > 6 else "") + ".")
    ctx.say(text)
    top = res.findings[:MAX_FINDINGS]
    if top:
        ctx.say("**Main findings**\n\n" + _sentences(f["sentence"] for f in top))
    for f in top:
        extra = {k: v for k, v in f.items() if k not in ("priority", "key", "label", "value", "sentence")}
        value = f["value"]
        if isinstance(value, float) and math.isfinite(value):
            value = round(value, 2)
        ctx.headline(f["key"], f["label"], value, f["sentence"], **extra)


# --------------------------------------------------------------------------- rendering: changes


def _forest(ctx, t: pd.DataFrame, title: str) -> None:
    ok = t[t["ratio"].notna() & t["lower"].notna() & t["upper"].notna() & np.isfinite(t["upper"])
           & (t["lower"] > 0)]
    if len(ok) < 2:
        return
    ok = ok.iloc[::-1]
    labels = [f"{r['indicator_label']}{_group_part(r['group'])}" for _, r in ok.iterrows()]
    labels = [_wrap(lab, 48) for lab in labels]
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(ok) + 1.6))
    y = np.arange(len(ok))
    sig = (ok["p_value_holm"] if "p_value_holm" in ok else ok["p_value"]) < 1 - CONFIDENCE
    ax.errorbar(ok["ratio"], y, xerr=[ok["ratio"] - ok["lower"], ok["upper"] - ok["ratio"]], fmt="none",
                ecolor="#555555", capsize=3, linewidth=1)
    ax.scatter(ok["ratio"][~sig], y[~sig.to_numpy()], color="#9e9e9e", zorder=3, label="Could be chance")
    ax.scatter(ok["ratio"][sig], y[sig.to_numpy()], color="#1f4e79", zorder=3, label="Unlikely to be chance")
    ax.axvline(1, color="black", linewidth=0.8)
    ax.set_xscale("log")
    lo, hi = float(ok["lower"].min()), float(ok["upper"].max())
    grid = (0.1, 0.25, 0.5, 1, 2, 4, 10) if hi / lo > 6 else (0.5, 0.75, 0.9, 1, 1.1, 1.25, 1.5, 2)
    ticks = [t_ for t_ in grid if lo / 1.2 <= t_ <= hi * 1.2]
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{(t_ - 1) * 100:+.0f}%" if t_ != 1 else "0%" for t_ in ticks])
    ax.minorticks_off()
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel(f"Change on the previous period (%, log scale), with {CONFIDENCE:.0%} confidence interval")
    ax.set_ylabel("Indicator")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    _tight(fig)
    ctx.show(fig)


def changes_section(ctx, res: LocalResult) -> None:
    """Change in counts between the latest two periods, and monthly snapshots a year apart."""
    if not res.ok:
        return
    if res.changes.empty and not res.monthly_yoy and not res.monthly_series:
        ctx.say("## Change over time\n\nNo count is published for two comparable periods, so no change can be "
                "computed.")
        return
    ctx.say("## Change over time")
    thr = res.threshold
    if not res.changes.empty:
        t = res.changes
        ctx.say(
            "### Counts: latest period against the one before\n\n"
            "Each count is compared with the same count in the period before, with the exact conditional test for "
            "two counts (the counts are treated as Poisson). The confidence interval is for the percentage "
            "change. Where an indicator is broken down into groups, several changes are tested at once, so "
            "their p-values are Holm-adjusted within the breakdown before a change is called unlikely to be "
            "chance (the intervals are not adjusted). Where a count of children is suppressed in one period, "
            "the other is still shown but no change is given. Chance is not the only explanation: recording "
            "practice and definitions change too.")
        _forest(ctx, t, f"{res.name}: change in counts on the previous period")
        cc = t["indicator"].map(res.local().groupby("indicator")["counts_children"].first()).fillna(False)
        disp = pd.DataFrame({
            "Indicator": t["indicator_label"], "Group": t["group"].fillna(""),
            "Previous period": t["previous_period"], "Previous": t["previous"],
            "Latest period": t["current_period"], "Latest": t["current"],
            "Change (%)": t["percent_change"],
            "CI lower (%)": t["percent_lower"].where(t["percent_change"].notna()),
            "CI upper (%)": t["percent_upper"].where(t["percent_change"].notna()),
            "p-value": t["p_value"].where(t["percent_change"].notna()).map(_pfmt),
            "p-value (Holm, within the breakdown)": t["p_value_holm"].where(t["percent_change"].notna()).map(_pfmt),
        })
        disp["Previous"] = _counts(t["previous"], t["previous_suppressed"])
        disp["Latest"] = _counts(t["current"], t["current_suppressed"])
        disp = _blank_small(disp, ["Previous", "Latest"], thr, cc)
        ctx.table(disp, "count_changes", "Counts in the latest two periods, with the percentage change and its "
                  f"{CONFIDENCE:.0%} confidence interval.", note=_supp_note(res, disp))
        ctx.say(_sentences(condensed_sentences(t, thr)))
        if not res.published_checks.empty:
            pc = res.published_checks
            ctx.say("**Published changes checked.** " + " ".join(pc["sentence"]))
            disp = pd.DataFrame({"Indicator": pc["indicator_label"], "Previous period": pc["previous_period"],
                                 "Previous": _counts(pc["previous"], [False] * len(pc)),
                                 "Latest period": pc["current_period"],
                                 "Latest": _counts(pc["current"], [False] * len(pc)),
                                 "Published change (%)": pc["published_percent_change"],
                                 "Computed change (%)": pc["computed_percent_change"].round(2),
                                 "Agrees": pc["agrees"].map({True: "yes", False: "no"})})
            ctx.table(disp, "published_changes_checked", "Published percentage changes against the change "
                      "computed from the transcribed counts.", float_dp=2)
    for ind, (t, cur, prev) in res.monthly_yoy.items():
        _monthly_yoy_block(ctx, res, ind, t, cur, prev)
    for ind, s in res.monthly_series.items():
        _monthly_series_block(ctx, res, ind, s)


def _monthly_yoy_block(ctx, res, ind, t, cur, prev) -> None:
    label = t["indicator_label"].iloc[0]
    thr = res.threshold
    ctx.say(f"### {label}: each month against the same month a year earlier\n\n"
            "Monthly counts like these are usually snapshots (the children open to a service at a date): "
            "largely the same children are counted month after month, so the months are **not added up** into "
            "a yearly total. Each month is compared with the same month of the previous year instead; the "
            "interval shows whether a change is larger than counting noise, not the full uncertainty (policy and "
            "recording changes move such counts too). The months are tested together, so their p-values are "
            "Holm-adjusted before a change is called more than chance would explain.")
    series = res.local()
    series = series[(series["indicator"] == ind) & (series["period_type"] == "month") & series["group"].isna()]
    if not series.empty:
        fig, ax = plt.subplots()
        months_order = [4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3]
        for fy, style in ((prev, dict(color="#9e9e9e", marker="o", linestyle="--")),
                          (cur, dict(color="#1f4e79", marker="o"))):
            s = series[series["period_start"].map(_fy_of) == fy]
            y = []
            for m in months_order:
                hit = s[s["period_start"].dt.month == m]
                v = hit["value"].iloc[0] if not hit.empty else np.nan
                hide = not hit.empty and (_hidden(res, ind, hit["period"].iloc[0], None)[0]
                                          or (_small(v, thr) and bool(s["counts_children"].iloc[0])))
                y.append(np.nan if hide else v)
            ax.plot(range(12), y, label=fy, **style)
        ax.set_xticks(range(12))
        ax.set_xticklabels(["Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "Jan", "Feb", "Mar"])
        ax.set_xlabel("Month of the financial year")
        ax.set_ylabel("Number at the month (count)")
        ax.set_ylim(bottom=0)
        ax.set_title(f"{label}: {prev} and {cur} by month")
        ax.legend(title="Financial year")
        ctx.show(fig)
    disp = pd.DataFrame({
        "Month": t["month"], "Group": t["group"].fillna(""), prev: t["previous"], cur: t["current"],
        "Change (%)": t["percent_change"], "CI lower (%)": t["percent_lower"], "CI upper (%)": t["percent_upper"],
        "p-value": t["p_value"].map(_pfmt),
        "p-value (Holm, over the months)": t["p_value_holm"].map(_pfmt),
    })
    if not disp["Group"].astype(bool).any():
        disp = disp.drop(columns="Group")
    disp[prev] = _counts(t["previous"], t["previous_suppressed"])
    disp[cur] = _counts(t["current"], t["current_suppressed"])
    cc = bool(series["counts_children"].iloc[0]) if not series.empty else True
    disp = _blank_small(disp, [prev, cur], thr, cc)
    ctx.table(disp, f"{ind}_month_by_month", f"{label}: each month of {cur} against the same month of {prev}.",
              note=_supp_note(res, disp))
    ctx.say(monthly_summary(t, cur, prev))
    ctx.say(_sentences(condensed_sentences(t, thr)))


def monthly_series_summary(s: pd.DataFrame, label: str, threshold: int) -> str:
    """The sentence under a monthly series: the average and the range over **every**
    month (suppression applies to what is shown, never to what is computed).

    A suppressed month's count is shown as "fewer than ``threshold``" where it is the
    lowest or highest month. The average is withheld when it would let a reader work
    out the suppressed counts: exactly one month suppressed (average x months minus the
    shown months gives it), or the suppressed months' total within one of its least or
    greatest possible value (all 1s, or all ``threshold - 1``, give or take one).

    Parameters
    ----------
    s : DataFrame
        One row per month, in order: ``period``, ``value``, ``suppressed``.
    """
    vals = pd.to_numeric(s["value"], errors="coerce")
    supp = s["suppressed"].fillna(False).astype(bool).to_numpy()
    ok = vals.notna().to_numpy()
    months = [_plabel(p, "month") for p in s["period"]]
    n = int(ok.sum())
    if n == 0:
        return f"{label}: no month has a figure."

    def shown(i) -> str:
        return f"fewer than {threshold}" if supp[i] else _num(vals.iloc[i])

    v = vals[ok]
    i_lo, i_hi = s.index.get_loc(v.idxmin()), s.index.get_loc(v.idxmax())
    sv = vals[supp & ok]
    k, tot = len(sv), float(sv.sum())
    # the suppressed months' total (average x months minus the shown months) pins their counts down when
    # one month is suppressed, or the total is within one of its least (all 1s) or greatest (all threshold-1)
    discloses = k == 1 or (k > 1 and (tot <= k + 1 or tot >= k * (threshold - 1) - 1))
    if discloses:
        avg = (f"the average is withheld, as it would reveal a count below {threshold} (the months with "
               f"such counts are shown as [c])")
        text = f"{label} over the {_words(n)} months from {months[0]} to {months[-1]}: {avg}"
    else:
        text = (f"{label}: {_num(round(float(v.mean()), 1))} a month on average over the {_words(n)} months from "
                f"{months[0]} to {months[-1]}")
    text += (f"; from {shown(i_lo)} ({_plabel(s['period'].iloc[i_lo], 'month')}) to {shown(i_hi)} "
             f"({_plabel(s['period'].iloc[i_hi], 'month')}).")
    if n < len(s):
        text += f" {_words(len(s) - n).capitalize()} month{'s' if len(s) - n != 1 else ''} without a figure."
    return text


def _monthly_series_block(ctx, res, ind, s) -> None:
    label = s["indicator_label"].iloc[0]
    thr = res.threshold
    ctx.say(f"### {label}: month by month")
    chart = s.attrs.get("chart")
    if chart is not None:
        from ..trends import plot_control_chart

        ax = _quiet(plot_control_chart, chart, title=f"{label}: c-chart by month",
                    ylabel="Number per month (count)")
        ctx.show(ax.figure)
    else:
        fig, ax = plt.subplots()
        y = s["value"].where(~s["suppressed"])
        ax.plot(s["period_start"], y, marker="o", color="#1f4e79")
        ax.set_xlabel("Month")
        ax.set_ylabel("Number per month (count)")
        ax.set_ylim(bottom=0)
        ax.set_title(f"{label} by month")
        ctx.show(fig)
    text = monthly_series_summary(s, label, thr)
    if chart is not None:
        n_sc = int(chart["special_cause"].sum())
        text += (" On a c-chart (Poisson limits, NHS *Making Data Count* rules) "
                 + ("no month shows special-cause variation: the ups and downs are within what chance would "
                    "produce." if n_sc == 0 else
                    f"{_words(n_sc)} month{'s' if n_sc != 1 else ''} show special-cause variation: "
                    + "; ".join(f"{_plabel(str(m), 'month')} ({chart.loc[m, 'rules']})"
                                for m in chart.index[chart['special_cause'].to_numpy(dtype=bool)]) + "."))
        if len(chart) < 15:
            text += f" With {_words(len(chart))} months the limits are provisional (15 to 20 are advised)."
    ctx.say(text)
    disp = pd.DataFrame({"Month": s["period"], "Count": _counts(s["value"], s["suppressed"])})
    if chart is not None:
        disp["Variation"] = s["chart_variation"].to_numpy()
    ctx.table(disp, f"{ind}_by_month", f"{label} by month.", note=_supp_note(res, disp))


# --------------------------------------------------------------------------- rendering: proportions


def _p_chart_figure(ctx, res, t: pd.DataFrame) -> None:
    from ..trends import plot_control_chart

    label = t["indicator_label"].iloc[0]
    inc = t[t["in_chart"].fillna(False).astype(bool)].sort_values("period")
    chart = pd.DataFrame({
        "value": inc["chart_value"].to_numpy(dtype=float), "centre": inc["chart_centre"].to_numpy(dtype=float),
        "lower": inc["chart_lower"].to_numpy(dtype=float), "upper": inc["chart_upper"].to_numpy(dtype=float),
        "variation": inc["chart_variation"].to_numpy(),
    }, index=pd.PeriodIndex(inc["period"], freq="M"))
    for c in ("near_lower", "near_upper", "special_cause"):
        if f"chart_{c}" in inc:
            chart[c] = inc[f"chart_{c}"].to_numpy()
    chart.attrs["kind"] = "p"
    ax = _quiet(plot_control_chart, chart, title=f"{label}: p-chart by month",
                ylabel="Per cent of the month's total (%)")
    left = t[(t["period_type"] == "month") & ~t["in_chart"].fillna(False).astype(bool)]
    for i, p in enumerate(left["period"]):
        x = pd.Period(p, freq="M").to_timestamp()
        ax.axvline(x, color="#b00020", linestyle=":", linewidth=1.2,
                   label="Month left out (see text)" if i == 0 else None)
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8, loc="lower left")
    ctx.show(ax.figure)


def _share_bars(ctx, t: pd.DataFrame, period: str, ptype: str) -> None:
    sub = t[(t["period"] == period) & t["group"].notna()]
    if len(sub) < 2 or int((~sub["suppressed"] & sub["percent"].notna()).sum()) < 2:
        return
    label = sub["indicator_label"].iloc[0]
    sub = sub.assign(_k=sub["percent"].fillna(-1)).sort_values("_k", kind="stable")
    fig, ax = plt.subplots(figsize=(9, 0.4 * len(sub) + 1.6))
    y = np.arange(len(sub))
    pct = sub["percent"].astype(float)
    ax.barh(y, pct.fillna(0), color="#9ecae1")
    ok = pct.notna() & sub["lower"].notna()
    ax.errorbar(pct[ok], y[ok.to_numpy()], xerr=[(pct - sub["lower"])[ok], (sub["upper"] - pct)[ok]], fmt="none",
                ecolor="#333333", capsize=3, linewidth=1)
    for yi, (_, r) in zip(y, sub.iterrows()):
        if r["suppressed"]:
            ax.text(0.5, yi, f"{MARK} suppressed", va="center", fontsize=8, color="#555555")
    ax.set_yticks(y)
    ax.set_yticklabels([_wrap(g) for g in sub["group"]], fontsize=8)
    ax.set_xlabel(f"Per cent of the total (%), with {CONFIDENCE:.0%} confidence interval")
    ax.set_ylabel("Group")
    ax.set_title(f"{label}, {_plabel(period, ptype)}")
    _tight(fig)
    ctx.show(fig)


def proportions_section(ctx, res: LocalResult) -> None:
    """Shares with Wilson intervals; p-charts for monthly shares; change in share between years."""
    if not res.ok:
        return
    if not res.proportions:
        ctx.say("## Shares\n\nNo figure is published with a denominator, so no share or interval can be computed.")
        return
    ctx.say("## Shares, with confidence intervals\n\n"
            f"Each share has a {CONFIDENCE:.0%} Wilson confidence interval: the range of underlying rates that could "
            "plausibly have produced the published count. Where only a percentage and its base are published, "
            "the count is worked back from the percentage (the interval is then approximate to the rounding).")
    thr = res.threshold
    single = []
    for ind, t in res.proportions.items():
        label = t["indicator_label"].iloc[0]
        monthly_chart = "in_chart" in t and bool(t["in_chart"].fillna(False).astype(bool).sum() >= 2)
        groups = t["group"].notna().any()
        if not monthly_chart and not groups and len(t) == 1:
            single.append(t)
            continue
        ctx.say(f"### {label}")
        if monthly_chart:
            _p_chart_figure(ctx, res, t)
            ctx.say(p_chart_summary(t, res.df) + " " + latest_point_sentence(t))
            ex = excluded_months(t, res.df)
            if ex:
                ctx.say("**Left out:** " + " ".join(ex))
            ctx.say("The p-chart's limits are wider in months with fewer cases; a point outside them, or a long run "
                    "on one side of the mean, would signal a change in the process (NHS *Making Data Count* rules).")
        else:
            for (per, ptype), _ in t.groupby(["period", "period_type"], sort=False):
                _share_bars(ctx, t, per, ptype)
        disp = pd.DataFrame({
            "Period": t["period"], "Group": t["group"].fillna(""),
            "Count": _counts(t["numerator"], t["suppressed"]),
            "Total": _totals(res, t), "Share (%)": t["percent"], "CI lower (%)": t["lower"],
            "CI upper (%)": t["upper"],
        })
        if t["implied_numerator"].any():
            disp["Count from a %"] = t["implied_numerator"].map({True: "yes", False: ""})
        if "in_chart" in t:
            disp["In p-chart"] = t["in_chart"].map({True: "yes", False: "no"}).fillna("no")
            disp["Variation"] = t["chart_variation"].fillna("")
        if not disp["Group"].astype(bool).any():
            disp = disp.drop(columns="Group")
        cc = res.local().groupby("indicator")["counts_children"].first().get(ind, True)
        disp = _blank_small(disp, ["Count", "Total"], thr, bool(cc))
        ctx.table(disp, f"{ind}_shares", f"{label}: count, total and share with {CONFIDENCE:.0%} confidence "
                  "interval.", note=_supp_note(res, disp))
        if not monthly_chart:
            ctx.say(_sentences(condensed_sentences(t, thr)))
        sc = res.share_changes[res.share_changes["indicator"] == ind] if not res.share_changes.empty else None
        if sc is not None and not sc.empty:
            ctx.say("**Change in share on the previous period.** " + " ".join(sc["sentence"]))
    if single:
        s = pd.concat(single, ignore_index=True)
        ctx.say("### Other shares")
        disp = pd.DataFrame({
            "Indicator": s["indicator_label"], "Period": s["period"],
            "Count": _counts(s["numerator"], s["suppressed"]),
            "Total": _totals(res, s), "Share (%)": s["percent"], "CI lower (%)": s["lower"],
            "CI upper (%)": s["upper"], "Count from a %": s["implied_numerator"].map({True: "yes", False: ""}),
        })
        cc = s["indicator"].map(res.local().groupby("indicator")["counts_children"].first()).fillna(True)
        disp = _blank_small(disp, ["Count", "Total"], thr, cc.astype(bool))
        ctx.table(disp, "other_shares", f"Other shares, with {CONFIDENCE:.0%} confidence intervals.",
                  note=_supp_note(res, disp))
        ctx.say(_sentences(condensed_sentences(s, thr)))
        sc = res.share_changes[res.share_changes["indicator"].isin(s["indicator"])] \
            if not res.share_changes.empty else None
        if sc is not None and not sc.empty:
            ctx.say(_sentences(sc["sentence"]))


# --------------------------------------------------------------------------- rendering: comparators


def _comparator_chart(ctx, t: pd.DataFrame) -> None:
    ok = t[~t["suppressed"] & t["local_percent"].notna()]
    if ok.empty:
        return
    label = t["indicator_label"].iloc[0]
    groups = list(dict.fromkeys(ok["group"].fillna("All")))
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(groups) + 1.8))
    y = {g: i for i, g in enumerate(groups[::-1])}
    first = ok.drop_duplicates(subset=["group"])
    yy = [y[g] for g in first["group"].fillna("All")]
    ax.errorbar(first["local_percent"], yy, xerr=[first["local_percent"] - first["lower"],
                                                  first["upper"] - first["local_percent"]],
                fmt="o", color="#1f4e79", capsize=3, label=f"{t['period'].iloc[0]} (this partnership, "
                f"{CONFIDENCE:.0%} CI)")
    markers = ["D", "s", "^", "v", "P"]
    colours = ["#e6550d", "#31a354", "#756bb1", "#636363", "#de2d26"]
    for k, (comp, cc) in enumerate(ok.groupby("comparator", sort=False)):
        ax.scatter(cc["comparator_percent"], [y[g] - 0.18 * (k + 1) for g in cc["group"].fillna("All")],
                   marker=markers[k % len(markers)], color=colours[k % len(colours)], zorder=3,
                   label=f"{comp} ({', '.join(dict.fromkeys(cc['comparator_period']))})")
    ax.set_ylim(-0.4 - 0.18 * ok["comparator"].nunique(), len(groups) - 0.5)
    ax.set_yticks(list(y.values()))
    ax.set_yticklabels([_wrap(g) for g in y.keys()], fontsize=9)
    ax.set_xlabel("Per cent of the total (%)")
    ax.set_ylabel("Group")
    ax.set_xlim(left=0)
    ax.set_title(f"{label}: this partnership against comparators")
    ax.legend(fontsize=8, loc="best")
    _tight(fig)
    ctx.show(fig)


def comparators_section(ctx, res: LocalResult) -> None:
    """Each group's share against each comparator, a test per comparison, Holm-adjusted."""
    if not res.ok:
        return
    if not res.comparisons and not res.comparisons_descriptive:
        return
    ctx.say("## Against comparators\n\n"
            "Each share is set against the comparators' (statistical neighbours, national average). The test is "
            "an exact binomial test of the partnership's count against the comparator's share, treated as known "
            "(comparators average many areas). Several comparisons are made at once, so the p-values are "
            "Holm-adjusted before a difference is called unlikely to be chance. Comparators may be for an earlier "
            "year and defined slightly differently; the sentences say when.")
    thr = res.threshold
    for ind, t in res.comparisons.items():
        label = t["indicator_label"].iloc[0]
        ctx.say(f"### {label}")
        _comparator_chart(ctx, t)
        ctx.say(comparison_summary(t))
        ci = [("" if pd.isna(a) else f"{a:.1f} to {b:.1f}") for a, b in zip(t["lower"], t["upper"])]
        disp = pd.DataFrame({
            "Group": t["group"].fillna(""),
            "Comparator": [f"{c} ({p})" for c, p in zip(t["comparator"], t["comparator_period"])],
            "Count": _counts(t["numerator"], t["suppressed"]), "Total": _totals(res, t),
            "Share (%)": t["local_percent"], f"{CONFIDENCE:.0%} CI (%)": ci,
            "Comparator (%)": t["comparator_percent"], "Difference (points)": t["difference_points"],
            "p-value": t["p_value"].map(_pfmt),
            "p-value (Holm)": t["p_value_holm"].map(_pfmt),
            UNLIKELY_COL: (t["p_value_holm"] < 1 - CONFIDENCE).map({True: "yes", False: "no"}),
        })
        disp.loc[(t["suppressed"] | t["p_value_holm"].isna()).to_numpy(), UNLIKELY_COL] = ""
        if not disp["Group"].astype(bool).any():
            disp = disp.drop(columns="Group")
        disp = _blank_small(disp, ["Count", "Total"], thr, True)
        ctx.table(disp, f"{ind}_comparators", f"{label}, {t['period'].iloc[0]}: share against each comparator, "
                  "with the exact binomial test and the Holm-adjusted p-value.", note=_supp_note(res, disp))
        ctx.say(_sentences(condensed_sentences(t, thr)))
    for ind, (t, reason) in res.comparisons_descriptive.items():
        label = t["indicator_label"].iloc[0]
        ctx.say(f"### {label}\n\nNo test is possible ({reason}); the figures are set side by side.")
        disp = pd.DataFrame({
            "Group": t["group"].fillna(""), "Period": t["period"],
            "This partnership": [fmt_value(v, u) for v, u in zip(t["value"], t["unit"])],
            "Comparator": t["comparator"], "Comparator period": t["comparator_period"],
            "Comparator figure": [fmt_value(v, u) for v, u in zip(t["comparator_value"], t["comparator_unit"])],
        })
        if not disp["Group"].astype(bool).any():
            disp = disp.drop(columns="Group")
        for i, r in t.iterrows():
            if (_hidden(res, ind, r["period"], r["group"])[0]
                    or (r["counts_children"] and r["unit"] == "count" and _small(r["value"], thr))):
                disp.at[i, "This partnership"] = MARK
        ctx.table(disp, f"{ind}_comparators", f"{label}: this partnership and its comparators (no test possible).")
        ctx.say(_sentences(
            f"{label}{_group_part(r['group'])}: {disp.at[i, 'This partnership']} in {r['period'] or 'no period'}, "
            f"against {disp.at[i, 'Comparator figure']} for {r['comparator']} in {r['comparator_period']}."
            for i, r in t.iterrows()))


# --------------------------------------------------------------------------- rendering: before/after


def before_after_section(ctx, res: LocalResult) -> None:
    """Before and after each process change named in the parameters, with the caveats."""
    if not res.ok:
        return
    ctx.say("## Before and after a process change")
    if not res.process_changes:
        ctx.say("No process change is named in the parameters. To compare an indicator before and after a change "
                "(a new triage process, a new team), add `process_changes` (name, start month, indicator ids) "
                "to the `local_data` entry.")
        return
    for pc in res.process_changes:
        ctx.say(f"### {pc.name} (from {pc.start:%B %Y})" + (f"\n\n{pc.description}" if pc.description else ""))
        for ba in [b for b in res.before_after if b["change"] is pc]:
            if ba.get("table") is None:
                ctx.say(f"`{ba['indicator']}`{_group_part(ba['group'])}: no comparison possible: {ba['error']}.")
                continue
            r = ba["table"].iloc[0]
            _before_after_chart(ctx, res, ba, r)
            ctx.say(r["sentence"])
            ctx.say(f"**Caveat.** {r['caveat']}")
            disp = pd.DataFrame([{
                "Indicator": r["indicator_label"], "Group": r["group"] or "", "Change from": r["change_period"],
                "Periods before": _span(r["before_periods"]), "Periods after": _span(r["after_periods"]),
                "Measure": r["measure"],
                "Before": r["before"], "After": r["after"], "Difference": r["difference"],
                "CI lower": r["lower"], "CI upper": r["upper"],
                "p-value": _pfmt(r["p_value"]),
                "Method": r["method"],
            }])
            if not disp["Group"].astype(bool).any():
                disp = disp.drop(columns="Group")
            ctx.table(disp, f"{ba['indicator']}_before_after", f"{r['indicator_label']}: before and after "
                      f"{pc.name}.")


def _span(periods: str) -> str:
    """'2021-04, 2021-05, ..., 2022-03' as 'April 2021 to March 2022 (12)'."""
    items = [p.strip() for p in str(periods).split(",") if p.strip()]
    if len(items) <= 3:
        return ", ".join(items)
    from ..local_indicators import guess_period_type

    first, last = (_plabel(items[0], guess_period_type(items[0]) or ""), _plabel(items[-1], guess_period_type(items[-1]) or ""))
    return f"{first} to {last} ({len(items)})"


def _before_after_chart(ctx, res, ba, r) -> None:
    s = ba["series"]
    if s is None or s.empty:
        return
    label = r["indicator_label"]
    unit = s["unit"].iloc[0]
    props = ba.get("proportions")
    x = s["period_start"]
    y = s["value"].astype(float)
    lo = hi = None
    if props is not None:
        pp = props[(props["group"].fillna("") == (ba["group"] or ""))].set_index("period")
        y = s["period"].map(pp["percent"]).astype(float)
        lo, hi = s["period"].map(pp["lower"]).astype(float), s["period"].map(pp["upper"]).astype(float)
        unit = "percent"
    if unit == "count":
        hide = [_hidden(res, ba["indicator"], p, ba["group"])[0] for p in s["period"]]
        small = y.map(lambda v: _small(v, res.threshold)) & bool(s["counts_children"].iloc[0])
        y = y.where(~(small | pd.Series(hide, index=y.index)))
    fig, ax = plt.subplots()
    change = pd.Timestamp(ba["change"].start)
    before = x < change
    ax.plot(x, y, color="#7f7f7f", linewidth=1)
    ax.scatter(x[before], y[before], color="#9e9e9e", zorder=3, label="Before the change")
    ax.scatter(x[~before], y[~before], color="#1f4e79", zorder=3, label="After the change")
    if lo is not None and lo.notna().any():
        ax.errorbar(x, y, yerr=[y - lo, hi - y], fmt="none", ecolor="#555555", capsize=3, linewidth=1)
    ax.axvline(change - pd.Timedelta(days=15), color="#b00020", linestyle="--", linewidth=1,
               label=f"{ba['change'].name} ({change:%B %Y})")
    if len(x) <= 8:  # few points: label each, and each month on the axis
        for xi, yi in zip(x, y):
            if pd.notna(yi):
                ax.annotate(f"{yi:.0f}%" if unit == "percent" else fmt_value(yi, unit), (xi, yi),
                            textcoords="offset points", xytext=(0, 8), ha="center", fontsize=8)
        ax.set_xticks(list(x))
        ax.set_xticklabels([f"{d:%b %Y}" for d in x])
    ax.set_xlabel("Month" if (s["period_type"] == "month").all() else "Period")
    ax.set_ylabel("Per cent (%)" if unit == "percent" else _ylabel_count(unit))
    if unit == "percent":
        ax.set_ylim(0, 100)
    else:
        ax.set_ylim(bottom=0)
    ax.set_title(f"{label}{_group_part(ba['group'])}: before and after the change")
    ax.legend(fontsize=8, loc="upper left")
    ctx.show(fig)


# --------------------------------------------------------------------------- rendering: other figures


def _display_values(res: LocalResult, rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` of ``res.df`` as published: the report's one suppression decision (``res.published``)."""
    return res.published.loc[rows.index].reset_index(drop=True)


def _note_withheld(res: LocalResult, r) -> bool:
    """Whether a figure's source note must be withheld: the figure, or its denominator, is suppressed."""
    if isinstance(r["comparator"], str):
        return False
    sup, _, den = _hidden(res, r["indicator"], r["period"], r["group"])
    return sup or den


def _figure_text(r) -> str:
    if r["comparator"] is not None:
        return fmt_value(r["comparator_value"], r["unit"])
    if r["suppressed"]:
        return MARK
    return fmt_value(r["value"], r["unit"])


def _row_sentence(r, threshold: int) -> str:
    what = f"{r['indicator_label']}{_group_part(r['group'])}"
    when = _plabel(r["period"], r["period_type"])
    if r["comparator"] is not None:
        return f"{what}: {fmt_value(r['comparator_value'], r['unit'])} for {r['comparator']} in {when}."
    if r["suppressed"]:
        return _supp_sentence(f"{what}, {when}", threshold, bool(r.get("secondary", False)))
    v = fmt_value(r["value"], r["unit"])
    if r["unit"] == "percent_change":
        return f"{what}: {v} in {when} (a published change; the counts behind it are not in the file)."
    of = f" of {_num(r['denominator'])}" if pd.notna(r["denominator"]) else ""
    return f"{what}: {v}{of} in {when}."


def other_figures_section(ctx, res: LocalResult) -> None:
    """Every published figure not used above: breakdowns as small tables, the rest in one table."""
    if not res.ok:
        return
    rest = res.df[~res.df["indicator"].isin(res.used)]
    if rest.empty:
        return
    thr = res.threshold
    ctx.say("## Other published figures\n\n"
            "The remaining figures are shown as published: single figures, breakdowns without a total, and "
            "figures such as scores or amounts to which no test applies.")
    shown = _display_values(res, rest)
    shown["Figure"] = shown.apply(_figure_text, axis=1)
    shown["Sentence"] = shown.apply(lambda r: _row_sentence(r, thr), axis=1)
    grouped = shown.groupby("indicator", sort=False)["group"].apply(lambda g: g.notna().any())
    for ind in grouped[grouped].index:
        b = shown[shown["indicator"] == ind]
        label = b["indicator_label"].iloc[0]
        unit = b["unit"].iloc[0]
        ctx.say(f"### {label}")
        bl = b[b["comparator"].isna()]
        periods = list(dict.fromkeys(bl.sort_values("period_start")["period"]))
        if unit in ("count", "gbp") and len(periods) == 1 and bl["group"].nunique() >= 3:
            _breakdown_bars(ctx, bl, unit, thr)
        wide = bl.pivot_table(index="group", columns="period", values="Figure", aggfunc="first", sort=False)
        wide = wide.reindex(columns=periods).reset_index().rename(columns={"group": "Group"})
        wide.columns = ["Group"] + [_plabel(p, bl.loc[bl["period"] == p, "period_type"].iloc[0]) for p in periods]
        ctx.table(wide, f"{ind}", f"{label} ({_UNIT_WORDS.get(unit, unit).lower()}).",
                  note=_supp_note(res, wide))
        ctx.say(_sentences(breakdown_sentences(b, thr)))
    singles = shown[~shown["indicator"].isin(grouped[grouped].index)]
    if not singles.empty:
        ctx.say("### Single figures")
        disp = pd.DataFrame({"Indicator": singles["indicator_label"], "Period": singles["period"],
                             "Figure": singles["Figure"], "Comparator": singles["comparator"].fillna(""),
                             "In words": singles["Sentence"]})
        if not disp["Comparator"].astype(bool).any():
            disp = disp.drop(columns="Comparator")
        ctx.table(disp, "single_figures", "Other single published figures.",
                  note=_supp_note(res, disp))


def breakdown_sentences(b: pd.DataFrame, threshold: int) -> list[str]:
    """One sentence per period of a breakdown: every group's figure, suppressed ones named."""
    out = []
    local = b[b["comparator"].isna()]
    for per, g in local.groupby("period", sort=False):
        label = g["indicator_label"].iloc[0]
        when = _plabel(per, g["period_type"].iloc[0])
        items = [f"{r['group']} {MARK if r['suppressed'] else fmt_value(r['value'], r['unit'])}"
                 for _, r in g.iterrows()]
        text = f"{label}, {when}: " + "; ".join(items) + "."
        if g["suppressed"].any():
            text += (f" {MARK}: suppressed, a count of children below {threshold}"
                     + (" or a second figure that a total would reveal" if g.get("secondary", pd.Series(False)).any()
                        else "") + ".")
        out.append(text)
    for _, r in b[b["comparator"].notna()].iterrows():
        out.append(_row_sentence(r, threshold))
    return out


def _breakdown_bars(ctx, b: pd.DataFrame, unit: str, thr: int) -> None:
    b = b.iloc[::-1]
    label = b["indicator_label"].iloc[0]
    fig, ax = plt.subplots(figsize=(9, 0.4 * len(b) + 1.6))
    y = np.arange(len(b))
    vals = b["value"].astype(float)
    ax.barh(y, vals.fillna(0), color="#9ecae1")
    for yi, (_, r) in zip(y, b.iterrows()):
        txt = f"{MARK} suppressed" if r["suppressed"] else fmt_value(r["value"], unit)
        ax.text((0 if r["suppressed"] else r["value"]) + vals.max() * 0.01, yi, txt, va="center", fontsize=8)
    ax.set_yticks(y)
    ax.set_yticklabels([_wrap(g) for g in b["group"]], fontsize=8)
    ax.set_xlabel(_ylabel_count(unit))
    ax.set_ylabel("Group")
    ax.set_xlim(0, vals.max() * 1.15 if vals.notna().any() else 1)
    ax.set_title(f"{label}, {_plabel(b['period'].iloc[0], b['period_type'].iloc[0])}")
    _tight(fig)
    ctx.show(fig)


# --------------------------------------------------------------------------- rendering: notes and sources


def data_notes(ctx, res: LocalResult) -> None:
    """Inconsistencies in the source document, figures left out, analyses not possible."""
    if not res.ok:
        return
    parts = []
    if not res.discrepancies.empty:
        parts.append("**Inconsistencies in the source document.** The figures are transcribed as published and "
                     "never corrected; where an inconsistency would distort a statistic, the figure is left out of "
                     "it (as said where it applies).\n\n"
                     + _sentences(f"{r.indicator_label} ({r.period}): {r.discrepancy}."
                                  for r in res.discrepancies.itertuples()))
    if not res.outside_window.empty:
        parts.append("**Outside the analysis window** (left out): "
                     + "; ".join(f"{r.indicator_label}{_group_part(r.group)}, {_plabel(r.period, r.period_type)}"
                                 for r in res.outside_window.itertuples()) + ".")
    if res.notes:
        parts.append("**Not computed:**\n\n" + _sentences(res.notes))
    if parts:
        ctx.say("## Data notes\n\n" + "\n\n".join(parts))


def sources_section(ctx, res: LocalResult) -> None:
    """Where the figures come from: the files, the documents, and every figure's source note (CSV)."""
    if res.status in ("none",):
        return
    lines = [f"- `{f}`" + (f": {res.descriptions.get(f)}" if res.descriptions.get(f) else "") for f in res.files]
    text = "## Sources\n\nLocal indicators file(s), listed under `local_data` in the parameters:\n\n" + "\n".join(lines)
    if not res.ok:
        ctx.say(text)
        return
    docs = res.df["source"].map(lambda s: s.split(";")[0].strip()).value_counts()
    text += ("\n\nSource documents: " + "; ".join(f"{d} ({n} figure{'s' if n != 1 else ''})"
                                                 for d, n in docs.items())
             + ". Every figure carries a source note (document, section, table, and anything odd about the figure); "
               "the table below has them all (download the CSV), except the notes of suppressed figures, which are "
               f"{WITHHELD.split(' (')[0]} because they may quote the hidden number.")
    ctx.say(text)
    shown = _display_values(res, res.df)
    withheld = (shown["suppressed"] | shown["denominator_suppressed"]) & shown["comparator"].isna()
    disp = pd.DataFrame({
        "Indicator": shown["indicator"], "Period": shown["period"], "Group": shown["group"].fillna(""),
        "Comparator": shown["comparator"].fillna(""), "Figure": shown.apply(_figure_text, axis=1),
        "Unit": shown["unit"], "Source note": shown["source"].where(~withheld, WITHHELD),
    })
    ctx.table(disp, "all_figures_with_sources", "Every local figure used in this report, with its source note.",
              max_rows=8, note=_supp_note(res, disp))

"""The local-indicators analysis: pure functions from the partnership's figures to a :class:`LocalResult`.

No output here (no ``ctx.say``, no matplotlib, no HTML). :func:`load` reads the figures
(the store's copy through :func:`csp_analysis.data.local_indicator_rows` when it matches
the files, else the validated files) and keeps those in the analysis window;
:func:`run_analyses` then chooses, indicator by indicator, the analyses the data's shape
allows and fills the result's tables:

* counts in two or more years or quarters: the change between the latest two
  (:func:`csp_analysis.local_stats.indicator_change`);
* monthly counts in two financial years: like months a year apart
  (:func:`~csp_analysis.local_stats.monthly_year_on_year`); in one year: a c-chart;
* figures with a denominator: shares with Wilson intervals and a p-chart for months
  (:func:`~csp_analysis.local_stats.indicator_proportions`), and the change in share
  between the latest two years (Fisher's exact test, Holm within the breakdown);
* comparator rows: :func:`~csp_analysis.local_stats.compare_with_comparators`;
* process changes named in the params: :func:`~csp_analysis.local_stats.before_after`.

The one suppression decision (:func:`csp_analysis.local_indicators.suppress_small_counts`
on all the figures) is kept in ``LocalResult.published``; every analysis table follows it
(:func:`_apply_published`, :func:`_apply_published_changes`). The sentences of the
findings, the share changes and the published checks are written afterwards by
:mod:`.wording`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ... import data
from ... import local_stats as ls
from ...formatting import not_enough_data
from ...local_indicators import (
    FRAME_COLUMNS,
    TABLE,
    LocalIndicatorError,
    period_bounds,
    read_local_indicators,
    suppressed_change_sentence,
)
from ...store import PROJECT_ROOT
from .common import (
    CONFIDENCE,
    MIN_CHART_POINTS,
    MIN_SERIES_MONTHS,
    WITHHELD,
    discrepancy,
    financial_year_of,
    group_part,
    period_text,
    period_type_of,
    quietly,
    suppressed_sentence,
)


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
    mine = _read_files(res, p)
    if mine is None:
        return res
    df = _choose_copy(res, store_rows(ctx.con, p.slug), mine)
    return _keep_window(res, df, p)


def _read_files(res: LocalResult, p) -> pd.DataFrame | None:
    """The validated rows of the params' files for this partnership (None, with the status set, if none)."""
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
        return None
    files = pd.concat(frames, ignore_index=True)
    mine = files[files["partnership"] == p.slug]
    if mine.empty:
        others = sorted(set(files["partnership"]))
        res.status = "empty"
        res.message = (f"The local indicators file(s) ({', '.join(res.files)}) hold no figures for this partnership: "
                       f"their `partnership` column reads {', '.join(f'`{o}`' for o in others)}, "
                       f"not `{p.slug}` (the slug of the parameters file).")
        return None
    return _normalise(mine)


def _choose_copy(res: LocalResult, stored: pd.DataFrame | None, mine: pd.DataFrame) -> pd.DataFrame:
    """The store's copy when it matches the files, else the files (``read_from``/``read_note`` say which)."""
    if stored is not None and not stored.empty and _keyset(stored) == _keyset(mine):
        res.read_from = "store"
        res.read_note = "read from the data store (loaded from the file(s) listed under Sources)"
        return stored
    res.read_from = "files"
    if stored is None or stored.empty:
        res.read_note = "read directly from the file(s) listed under Sources (the data store does not hold them)"
    else:
        res.read_note = ("read directly from the file(s) listed under Sources: the data store holds an "
                         "older copy, which was not used")
    return mine


def _keep_window(res: LocalResult, df: pd.DataFrame, p) -> LocalResult:
    """Local figures whose period overlaps the analysis window (comparators always kept), in the files' order."""
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


# --------------------------------------------------------------------------- the one suppression decision


def _flags(res: LocalResult) -> dict:
    """(indicator, period, group) -> (suppressed, secondary, denominator withheld), from ``res.published``."""
    pub = res.published
    if pub is None or pub.empty:
        return {}
    loc = pub[pub["comparator"].isna()]
    return {(r.indicator, r.period, r.group if isinstance(r.group, str) else ""):
            (bool(r.suppressed), bool(r.secondary), bool(r.denominator_suppressed)) for r in loc.itertuples()}

def hidden_flags(res: LocalResult, indicator, period, group) -> tuple[bool, bool, bool]:
    """Whether a published figure is suppressed (and as secondary), and whether its denominator is withheld."""
    if not isinstance(period, str):
        return (False, False, False)
    g = group if isinstance(group, str) else ""
    return res.hidden.get((indicator, period, g), (False, False, False))

def _note_withheld(res: LocalResult, r) -> bool:
    """Whether a figure's source note must be withheld: the figure, or its denominator, is suppressed."""
    if isinstance(r["comparator"], str):
        return False
    sup, _, den = hidden_flags(res, r["indicator"], r["period"], r["group"])
    return sup or den

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
        sup, sec, _ = hidden_flags(res, r["indicator"], r[period], r["group"])
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
            sup, sec, _ = hidden_flags(res, r["indicator"], r[f"{side}_period"], r["group"])
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
            t.at[i, "sentence"] = suppressed_change_sentence(
                r["indicator_label"], r["group"], r[x], period_text(r[f"{x}_period"], period_type_of(r[f"{x}_period"])),
                period_text(r[f"{y}_period"], period_type_of(r[f"{y}_period"])), thr, secondary=newly.get(y, False))
        else:
            when = f", {r['month']}" if isinstance(r.get("month"), str) else ""
            t.at[i, "sentence"] = suppressed_sentence(f"{r['indicator_label']}{group_part(r['group'])}{when}", thr, sec)
    t["secondary"] = t["secondary"].astype(bool)
    return t

# --------------------------------------------------------------------------- analysis


def run_analyses(res: LocalResult) -> LocalResult:
    """Run the analyses that fit each indicator of ``res.df`` (filled in place; sentences of the
    share changes and published checks, and the findings, are left to :mod:`.wording`)."""
    from ...local_indicators import suppress_small_counts

    df = res.df
    res.published = suppress_small_counts(df, res.threshold)
    res.hidden = _flags(res)
    comp_inds = set(df.loc[df["comparator"].notna(), "indicator"])
    changes, shares = [], []
    for ind, rows in res.local().groupby("indicator", sort=False):
        unit = rows["unit"].iloc[0]
        if unit == "count":
            changes.extend(_count_changes(res, ind, rows))
        monthly = rows[(rows["period_type"] == "month") & rows["denominator"].isna()]
        if unit == "count" and len(monthly) >= 2:
            _monthly(res, ind, monthly)
        if unit in ("count", "percent") and rows["denominator"].notna().any():
            shares.extend(_shares(res, ind, rows))
        if ind in comp_inds:
            _comparators(res, ind, rows)
    res.changes = pd.concat(changes, ignore_index=True) if changes else pd.DataFrame()
    res.share_changes = _holm_share_changes(pd.DataFrame(shares))
    _published_checks(res)
    _process_changes(res)
    _discrepancies(res)
    return res


def _count_changes(res: LocalResult, ind: str, rows: pd.DataFrame) -> list[pd.DataFrame]:
    """A. Change in counts between the latest two years (or quarters), as published."""
    out = []
    for cur, prev in _count_change_plan(rows):
        try:
            t = quietly(ls.indicator_change, res.df, ind, cur, prev, partnership=res.slug,
                       small_number_threshold=res.threshold)
        except (KeyError, ValueError) as exc:
            res.notes.append(f"{rows['indicator_label'].iloc[0]}: no change computed ({exc}).")
            continue
        out.append(_apply_published_changes(t, res))
        res.used.add(ind)
    return out


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

def _shares(res: LocalResult, ind: str, rows: pd.DataFrame) -> list[dict]:
    """C. Shares with Wilson intervals (a p-chart for months); the change in share between years."""
    thr = res.threshold
    monthly_den = rows[(rows["period_type"] == "month") & rows["denominator"].notna()]
    try:
        t = quietly(ls.indicator_proportions, res.df, ind, partnership=res.slug,
                   p_chart=not_enough_data(len(monthly_den), MIN_CHART_POINTS, "months", "a p-chart") is None,
                   small_number_threshold=thr)
    except (KeyError, ValueError) as exc:
        res.notes.append(f"{rows['indicator_label'].iloc[0]}: no shares computed ({exc}).")
        return []
    t = _apply_published(t, res, ["numerator", "percent", "lower", "upper", "chart_value"],
                         lambda r: suppressed_sentence(f"{r['indicator_label']}{group_part(r['group'])}, "
                                                  f"{period_text(r['period'], r['period_type'])}", thr,
                                                  bool(r["secondary"])))
    res.proportions[ind] = t
    res.used.add(ind)
    shares = []
    annual = t[(t["period_type"] != "month") & t["denominator"].notna()]
    for _, g in annual.groupby(annual["group"].fillna(""), sort=False):
        for ptype, gg in g.groupby("period_type", sort=False):
            rec = _share_change(gg, thr)
            if rec:
                shares.append(rec)
    return shares


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
        label = f"{cur['indicator_label']}{group_part(cur['group'])}"
        rec["sentence"] = suppressed_sentence(label, threshold)
        for c in ("previous_numerator", "current_numerator"):
            rec[c] = np.nan
        return rec
    tp = ls.two_proportions(xc, nc, xp, n_p, confidence=confidence)
    rec.update(previous_percent=tp["percent0"], current_percent=tp["percent1"], difference_points=tp["difference"],
               lower=tp["lower"], upper=tp["upper"], p_value=tp["p_value"])
    return rec

def _holm_share_changes(shares: pd.DataFrame) -> pd.DataFrame:
    """Holm-adjust the share changes within each breakdown (``p_value_holm``); the sentences are
    written by :func:`.wording.share_change_sentences`."""
    from statsmodels.stats.multitest import multipletests

    if shares.empty:
        return shares
    out = shares.copy()
    out["p_value_holm"] = np.nan
    key = ["indicator", "previous_period", "current_period"]
    for _, idx in out.groupby(key, sort=False).groups.items():
        ok = [i for i in idx if pd.notna(out.at[i, "p_value"])]
        if ok:
            out.loc[ok, "p_value_holm"] = multipletests(out.loc[ok, "p_value"].to_numpy(dtype=float),
                                                        method="holm")[1]
    return out


def _monthly(res: LocalResult, ind: str, monthly: pd.DataFrame) -> None:
    thr, slug = res.threshold, res.slug
    label = monthly["indicator_label"].iloc[0]
    fys = monthly.assign(fy=monthly["period_start"].map(financial_year_of))
    order = sorted(set(fys["fy"]))
    if len(order) >= 2:
        cur = order[-1]
        prev = f"{int(cur[:4]) - 1}/{int(cur[:4]) % 100:02d}"
        common = (set(fys.loc[fys["fy"] == cur, "period_start"].dt.month)
                  & set(fys.loc[fys["fy"] == prev, "period_start"].dt.month))
        if prev in order and common:
            try:
                t = quietly(ls.monthly_year_on_year, res.df, ind, cur, prev, partnership=slug,
                           small_number_threshold=thr)
            except (KeyError, ValueError) as exc:
                res.notes.append(f"{label}: no month-by-month comparison ({exc}).")
            else:
                t = _apply_published_changes(t, res)
                res.monthly_yoy[ind] = (t, cur, prev)
                res.used.add(ind)
                return
    # the one "not enough data" guard decides; its sentence is not shown, as the report has always
    # left such a series out without a word (the 04 report must stay as it is)
    if monthly["group"].notna().any() or not_enough_data(len(monthly), MIN_SERIES_MONTHS, "months",
                                                         "a monthly chart"):
        return
    s = monthly.sort_values("period_start").reset_index(drop=True)
    from ...local_indicators import suppression_mask

    canonical = [hidden_flags(res, ind, per, None)[0] for per in s["period"]]
    s["suppressed"] = suppression_mask(s["value"].to_numpy(), counts_children=bool(s["counts_children"].iloc[0]),
                                       threshold=thr).to_numpy() | np.array(canonical, dtype=bool)
    s.attrs = {}
    if not_enough_data(len(s), MIN_CHART_POINTS, "months", "a c-chart") is None and not s["suppressed"].any():
        from ...trends import control_chart

        values = pd.Series(s["value"].to_numpy(dtype=float),
                           index=pd.PeriodIndex(s["period_start"], freq="M"))
        chart = quietly(control_chart, values, kind="c")
        s = s.join(pd.DataFrame(chart).reset_index(drop=True).add_prefix("chart_"))
        s.attrs["chart"] = chart
    res.monthly_series[ind] = s
    res.used.add(ind)

def _comparators(res: LocalResult, ind: str, rows: pd.DataFrame) -> None:
    """D. Each group against each comparator (a test each, Holm), or side by side when no test is possible."""
    with_den = rows[rows["denominator"].notna()]
    pick = with_den if not with_den.empty else rows
    period = pick.sort_values("period_start")["period"].iloc[-1]
    try:
        t = quietly(ls.compare_with_comparators, res.df, ind, period, partnership=res.slug,
                   small_number_threshold=res.threshold)
    except (KeyError, ValueError) as exc:
        res.comparisons_descriptive[ind] = (_side_by_side(res, ind, rows, period), str(exc).strip("'\""))
    else:
        t = _apply_published(t, res, ["numerator", "local_percent", "lower", "upper", "difference_points",
                                      "expected", "p_value", "p_value_holm"],
                             lambda r: suppressed_sentence(f"{r['indicator_label']}{group_part(r['group'])}",
                                                      res.threshold, bool(r["secondary"])))
        res.comparisons[ind] = t
    res.used.add(ind)


def _side_by_side(res: LocalResult, ind: str, rows: pd.DataFrame, period: str) -> pd.DataFrame:
    """The partnership's figure beside each comparator's, for an indicator no test applies to."""
    label = rows["indicator_label"].iloc[0]
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
    return pd.DataFrame(recs)


def published_dp(published: float) -> int:
    """Decimal places of a published percentage change (at most 3; 0 for a whole number)."""
    dp = max(0, len(repr(published).split(".")[1]) if "." in repr(published) else 0)
    return min(dp, 3) if not published.is_integer() else 0


def _published_checks(res: LocalResult) -> None:
    """Published ``<indicator>_percent_change`` figures against the change computed from the counts
    (the ``sentence`` column is written by :func:`.wording.published_check_sentences`)."""
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
        dp = published_dp(published)
        computed = float(r["percent_change"])
        agrees = abs(round(computed, dp) - published) < 10 ** (-dp) / 2 + 1e-9
        recs.append({
            "indicator": r["indicator"], "indicator_label": r["indicator_label"],
            "previous_period": r["previous_period"], "current_period": r["current_period"],
            "previous": r["previous"], "current": r["current"], "published_percent_change": published,
            "computed_percent_change": computed, "agrees": bool(agrees), "sentence": None,
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
                    t = quietly(ls.before_after, res.df, ind, change_period, partnership=res.slug, group=g,
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
                         "period": period_text(r["period"], r["period_type"]), "discrepancy": d})
    res.discrepancies = pd.DataFrame(recs, columns=["indicator", "indicator_label", "period", "discrepancy"])

def pooled_share(t: pd.DataFrame) -> dict:
    """The pooled share of the months in a p-chart, with its Wilson interval."""
    from ...rates import proportion_ci

    inc = t[t["in_chart"].fillna(False).astype(bool)]
    x, n = inc["numerator"].sum(), inc["denominator"].sum()
    ci = proportion_ci(x, n, confidence=CONFIDENCE, multiplier=100)
    return {"x": x, "n": n, "percent": float(ci["value"].iloc[0]), "lower": float(ci["lower"].iloc[0]),
            "upper": float(ci["upper"].iloc[0]), "months": len(inc)}

"""Build the monthly series an intervention evaluation needs, straight from the store.

For one intervention declared in a partnership's parameters (``params.Intervention``),
:func:`build_intervention_data` returns an :class:`InterventionData` holding

* the **treated area**'s monthly counts of the target crime types,
* the **buffer** ring around it (for displacement / diffusion of benefits),
* the **comparison** area(s) (other LSOAs of the partnership, other partnerships of the
  same police force area, or an explicit list),
* a **donor pool** for a synthetic control (comparison LSOAs grouped into their MSOA, or
  other districts of the force area),
* the months the store covers, months flagged by the data-quality checks, and the
  coverage assessment (:func:`assess_coverage`): whether there are enough months before
  and after the start for each design to be trusted.

LSOA vintages
-------------
data.police.uk street files up to 2022 carry 2011 LSOA codes, later files 2021 codes.
Most LSOAs kept their code; some 2011 LSOAs were split (or merged, or re-drawn) and have
new codes. :func:`harmonise_lsoas` builds *places* that are the same on both sides of the
switch: a code present in both vintages is its own place; a changed 2021 code is linked
to the nearest changed 2011 code of the same district (by centroid, preferring the same
MSOA name) and vice versa, and linked codes form one place (e.g. a 2011 LSOA and the two
2021 LSOAs it was split into). Every count in this module is by place, so a series does
not jump at the vintage switch. An area given by LSOA names or codes of either vintage is
mapped to its places, and the report says which LSOAs were mapped and how.

Centroids come from the store's supplied lookup when there is one, else they are
estimated as the mean of the records' own (anonymised, snapped) coordinates
(:func:`csp_analysis.data.lsoa_centroids`).

Rules for "the data cannot answer" (module constants, used by :func:`assess_coverage`)
-------------------------------------------------------------------------------------
* The *before* period is the stretch of usable months before the start, walking back
  from the month before the start and stopping at a gap longer than ``MAX_GAP`` months
  (a month is unusable when the store has no file for it, or the data-quality checks
  mark it for exclusion). The *after* period is the same walking forward from the end of
  any phase-in, up to the scheme's end (temporary schemes) or the last month.
* Any model needs at least ``MIN_PRE`` (12) usable months before and ``MIN_POST`` (6)
  after, and at least ``MIN_PRE_TOTAL`` crimes in the treated area before the start.
* Seasonal terms (Fourier) in the interrupted time series, and placebo-in-time checks,
  need ``MIN_PRE_SEASONAL`` (24) months before: two full years, so that a seasonal
  pattern is not mistaken for an effect. With 12-23 months the time series is fitted
  without seasonal terms and the report says its estimate may be confounded by season
  (the comparison-area designs are not, because both areas share the season).
* A synthetic control needs ``MIN_DONORS`` (5) donors with at least ``MIN_DONOR_MEAN``
  target crimes a month on average before the start.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from . import data, quality
from .data import month_range_text  # noqa: F401  (re-exported: part of this module's API)
from .params import LSOA_CODE_RE, SLUG_RE, Intervention, Partnership, load_params

ASB = "Anti-social behaviour"
ALL_CRIME = "All crime"

#: Usable months needed before the start for any model (no seasonal terms).
MIN_PRE = 12
#: Usable months needed before the start for seasonal terms and placebo-in-time checks.
MIN_PRE_SEASONAL = 24
#: Usable months needed after the start (after any phase-in).
MIN_POST = 6
#: Longest run of missing/unusable months tolerated inside the before or after period.
MAX_GAP = 2
#: Fewest target crimes in the treated area before the start for any model.
MIN_PRE_TOTAL = 20
#: Fewest donors for a synthetic control, and their least mean monthly count before the start.
MIN_DONORS = 5
MIN_DONOR_MEAN = 5.0

_KM_PER_DEG = 111.32


# ============================================================================ small helpers
def _mi(m: pd.Timestamp) -> int:
    return m.year * 12 + m.month - 1


def _from_mi(i: int) -> pd.Timestamp:
    return pd.Timestamp(year=i // 12, month=i % 12 + 1, day=1)


def target_crime_types(types: Sequence[str]) -> tuple[list[str] | None, str]:
    """The crime types to count (None = every type except ASB) and a label for sentences."""
    types = list(types)
    if not types or ALL_CRIME in types:
        extra = [t for t in types if t == ASB]
        if extra:
            return None, "all crime and anti-social behaviour"
        return [], "all crime (excluding ASB)"
    low = [t if t == ASB else t[0].lower() + t[1:] for t in types]
    low = ["anti-social behaviour (ASB)" if t == ASB else t for t in low]
    label = low[0] if len(low) == 1 else ", ".join(low[:-1]) + " and " + low[-1]
    return types, label


def _msoa(name: str) -> str:
    """The MSOA part of an LSOA name ('Riverton 005' from 'Riverton 005B')."""
    m = re.match(r"^(.*\d{3})[A-Z]$", str(name or ""))
    return m.group(1) if m else str(name)


def _km(lon1, lat1, lon2, lat2) -> np.ndarray:
    kx = np.cos(np.radians((np.asarray(lat1) + np.asarray(lat2)) / 2.0))
    return np.hypot((np.asarray(lon1) - np.asarray(lon2)) * _KM_PER_DEG * kx,
                    (np.asarray(lat1) - np.asarray(lat2)) * _KM_PER_DEG)


# ============================================================================ LSOA vintages
def harmonise_lsoas(con, lad_codes: Sequence[str]) -> pd.DataFrame:
    """Map every LSOA code (2011 or 2021) in these LADs to a place that is stable across vintages.

    Returns
    -------
    DataFrame
        One row per LSOA code: ``lsoa_code``, ``lsoa_name``, ``lad_code``, ``in_2011``,
        ``in_2021`` (the code is in that vintage's lookup), ``status`` ("unchanged",
        "changed"), ``unit`` (the place id: the code itself when unchanged, else the
        first code of its linked group), ``unit_name`` (the place's name: its 2021
        LSOA names joined with '+'), ``msoa`` (the MSOA name part), ``longitude``,
        ``latitude``, ``centroid_source`` ("lookup" or "records").
    """
    lads = list(lad_codes)
    lk = data.lsoa_vintage_links(con, lads)
    cols = ["lsoa_code", "lsoa_name", "lad_code", "in_2011", "in_2021", "status", "unit", "unit_name",
            "msoa", "longitude", "latitude", "centroid_source"]
    if lk.empty:
        return pd.DataFrame(columns=cols)
    lk["in_2011"] = lk["in_2011"].fillna(False).astype(bool)
    lk["in_2021"] = lk["in_2021"].fillna(False).astype(bool)
    cen = data.lsoa_centroids(con, lads).drop_duplicates("lsoa_code").set_index("lsoa_code")
    lk["longitude"] = lk["lsoa_code"].map(cen["longitude"])
    lk["latitude"] = lk["lsoa_code"].map(cen["latitude"])
    lk["centroid_source"] = lk["lsoa_code"].map(cen["source"])
    both_vintages = lk["in_2011"].any() and lk["in_2021"].any()
    changed = (lk["in_2011"] != lk["in_2021"]) if both_vintages else pd.Series(False, index=lk.index)
    lk["status"] = np.where(changed, "changed", "unchanged")
    lk["msoa"] = lk["lsoa_name"].map(_msoa)

    # union-find over changed codes: link each to its nearest changed code of the other vintage
    parent = {c: c for c in lk["lsoa_code"]}

    def find(c):
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    def union(a, b):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    ch = lk[changed & lk["longitude"].notna()]
    for lad, grp in ch.groupby("lad_code"):
        old = grp[grp["in_2011"]]
        new = grp[grp["in_2021"]]
        if old.empty or new.empty:
            continue
        for src, dst in ((new, old), (old, new)):
            for r in src.itertuples():
                cand = dst[dst["msoa"] == r.msoa]
                if cand.empty:
                    cand = dst
                d = _km(r.longitude, r.latitude, cand["longitude"].to_numpy(), cand["latitude"].to_numpy())
                union(r.lsoa_code, cand["lsoa_code"].to_numpy()[int(np.argmin(d))])
    lk["unit"] = [find(c) for c in lk["lsoa_code"]]
    names = {}
    for u, grp in lk.groupby("unit"):
        nm = grp.loc[grp["in_2021"], "lsoa_name"].tolist() or grp["lsoa_name"].tolist()
        names[u] = " + ".join(sorted(nm))
    lk["unit_name"] = lk["unit"].map(names)
    return lk[cols].sort_values(["unit", "lsoa_code"]).reset_index(drop=True)


def unit_centroids(lsoas: pd.DataFrame) -> pd.DataFrame:
    """One row per place: ``unit``, ``unit_name``, ``lad_code``, ``msoa``, mean centroid."""
    if lsoas.empty:
        return pd.DataFrame(columns=["unit", "unit_name", "lad_code", "msoa", "longitude", "latitude"])
    # prefer 2021 codes' centroids (the current geography), else any
    cur = lsoas[lsoas["in_2021"] | ~lsoas.groupby("unit")["in_2021"].transform("any")]
    g = cur.groupby("unit").agg(unit_name=("unit_name", "first"), lad_code=("lad_code", "first"),
                                msoa=("msoa", "first"), longitude=("longitude", "mean"),
                                latitude=("latitude", "mean"))
    return g.reset_index()


def vintage_notes(lsoas: pd.DataFrame, units: Sequence[str]) -> list[str]:
    """Plain-English notes on how the given places were mapped across LSOA vintages."""
    sub = lsoas[lsoas["unit"].isin(list(units))]
    if sub.empty:
        return []
    notes = []
    unchanged = sub[sub["status"] == "unchanged"]
    changed = sub[sub["status"] == "changed"]
    n_units = sub["unit"].nunique()
    if changed.empty:
        notes.append(f"All {len(unchanged)} LSOAs of the area have the same code in the 2011 and 2021 "
                     "LSOA vintages, so the series is the same place before and after the switch of "
                     "codes in the published files.")
        return notes
    notes.append(f"{len(unchanged)} LSOA(s) of the area kept their code between the 2011 and 2021 vintages.")
    unlinked_old, unlinked_new = [], []
    for u, grp in changed.groupby("unit"):
        old = grp[grp["in_2011"]]["lsoa_name"].tolist()
        new = grp[grp["in_2021"]]["lsoa_name"].tolist()
        if not old or not new:  # no position in the store to link it by: it stays a place of its own
            (unlinked_old if old else unlinked_new).extend(old or new)
            continue
        if len(old) == 1 and len(new) > 1:
            kind = "was split into"
        elif len(old) > 1 and len(new) == 1:
            kind = "were merged into"
        else:
            kind = "were redrawn as"
        notes.append(f"2011 LSOA(s) {', '.join(sorted(old)) or '(none)'} {kind} 2021 LSOA(s) "
                     f"{', '.join(sorted(new)) or '(none)'}; they are counted together as one place "
                     "throughout (linked by nearest centroid within the district).")
    if unlinked_old or unlinked_new:
        notes.append(f"{len(unlinked_old)} 2011-only and {len(unlinked_new)} 2021-only LSOA(s) could not be linked "
                     "across the change of codes because the store has no position for them (no supplied "
                     "centroid and no located records); each stays a place of its own, so its counts before "
                     "and after the switch of codes in the published files are not comparable: "
                     + ", ".join(sorted(unlinked_old + unlinked_new)) + ".")
    notes.append(f"The area is analysed as {n_units} place(s)"
                 + (" that are stable across the change of codes." if not (unlinked_old or unlinked_new) else "."))
    return notes


# ============================================================================ coverage rules
@dataclass
class Coverage:
    """Which months can be used before and after the start, and which designs may be fitted."""

    start: pd.Timestamp
    effective_start: pd.Timestamp
    end: pd.Timestamp | None
    last: pd.Timestamp | None
    phase_in: list[pd.Timestamp]
    pre: list[pd.Timestamp]
    post: list[pd.Timestamp]
    pre_gap_months: list[pd.Timestamp]
    post_gap_months: list[pd.Timestamp]
    can_model: bool
    seasonal: bool
    reasons: list[str] = field(default_factory=list)
    cautions: list[str] = field(default_factory=list)

    @property
    def n_pre(self) -> int:
        return len(self.pre)

    @property
    def n_post(self) -> int:
        return len(self.post)

    @property
    def can_placebo(self) -> bool:
        return self.can_model and self.n_pre >= MIN_PRE_SEASONAL

    def pre_longest_run(self) -> list[pd.Timestamp]:
        """The longest run of consecutive months inside the before period (for the MDE)."""
        runs: list[list[pd.Timestamp]] = []
        for m in sorted(self.pre):
            if runs and _mi(m) == _mi(runs[-1][-1]) + 1:
                runs[-1].append(m)
            else:
                runs.append([m])
        if not runs:
            return []
        best = max(len(r) for r in runs)
        return [r for r in runs if len(r) == best][-1]


def _walk(usable: set[int], first: int, step: int, stop: int) -> tuple[list[int], list[int], int | None]:
    """Usable months from ``first`` in direction ``step`` until a gap > MAX_GAP or ``stop``.

    Returns (months found, gap months inside the stretch, first month of the gap that ended it).
    """
    found, gaps, pending = [], [], []
    i = first
    while (i >= stop) if step < 0 else (i <= stop):
        if i in usable:
            found.append(i)
            gaps.extend(pending)
            pending = []
        else:
            pending.append(i)
            if len(pending) > MAX_GAP:
                return found, gaps, pending[0]
        i += step
    return found, gaps, None


def _before_reasons(usable: set[int], start: pd.Timestamp, pre: list[int], pre_break: int | None, w0: int,
                    cov: Coverage) -> list[str]:
    """Why the before period cannot be used (empty when it can): no data, no months before
    the start, or fewer than ``MIN_PRE`` joined usable months."""
    if not usable:
        return ["The store holds no usable months of data for this area."]
    first_use = _from_mi(min(usable))
    if _mi(start) <= min(usable):
        rel = "before" if _mi(start) < min(usable) else "in"
        return [f"The scheme started in {start:%B %Y}, {rel} the first month of usable data "
                f"({first_use:%B %Y}): there is no 'before' period at all to compare with."]
    if len(pre) >= MIN_PRE:
        return []
    txt = (f"Only {len(pre)} usable month(s) before the start ({month_range_text(cov.pre)})"
           if pre else "No usable months immediately before the start")
    if pre_break is not None and pre_break >= w0:
        gap_to = max([i for i in usable if i < pre_break], default=None)
        if gap_to is not None:
            txt += (f"; before that the data have a gap back to {_from_mi(gap_to + 1):%B %Y}, so earlier "
                    "months cannot be joined on")
        else:
            txt += f"; the usable data begin in {first_use:%B %Y}"
    else:
        txt += f"; the usable data begin in {first_use:%B %Y}"
    return [txt + f". At least {MIN_PRE} are needed ({MIN_PRE_SEASONAL} to allow for seasonal "
            "patterns) to know what would have happened without the scheme."]


def _after_reasons(usable: set[int], eff: pd.Timestamp, end_ts: pd.Timestamp | None, post: list[int],
                   stop_post: int, w1: int, no_before: bool, cov: Coverage) -> list[str]:
    """Why the after period cannot be used (empty when it can): the data end before it, no
    usable months right after the start, or fewer than ``MIN_POST``."""
    if not usable:
        return []
    last_use = max(usable)
    later = sorted(i for i in usable if _mi(eff) <= i <= stop_post)
    if last_use < _mi(eff):
        return [f"The data end in {_from_mi(last_use):%B %Y}, before the scheme's effect period "
                f"begins ({eff:%B %Y}): there is no 'after' period yet."]
    if not post and not no_before:
        if later:
            return [f"No usable months right after the start: the first is {_from_mi(later[0]):%B %Y}, "
                    f"{later[0] - _mi(eff)} months later. A trend cannot be projected across such a gap."]
        return ["No usable months after the start within the scheme's period."]
    if post and len(post) < MIN_POST:
        txt = f"Only {len(post)} usable month(s) after the start ({month_range_text(cov.post)})"
        rest = [i for i in later if i > max(post)]
        if rest:
            txt += (f"; then the data have a gap until {_from_mi(rest[0]):%B %Y}, and months after a long gap "
                    "are not used (a trend cannot be projected across it)")
        elif _mi(end_ts) > max(post) if end_ts is not None else w1 > max(post):
            txt += "; then the data stop"
        return [txt + f". At least {MIN_POST} are needed."]
    return []


def _cautions(cov: Coverage, usable: set[int], pre_break: int | None, post_break: int | None, w0: int,
              stop_post: int) -> list[str]:
    """What a modelled result must be read with: no seasonal terms, periods cut at a gap,
    short gaps left out."""
    out = []
    n_pre = len(cov.pre)
    if cov.can_model and not cov.seasonal:
        out.append(f"Only {n_pre} months before the start (fewer than {MIN_PRE_SEASONAL}): the time "
                   "series is fitted without seasonal terms, so a seasonal swing could be mistaken for "
                   "an effect; the comparison-area estimate does not have this problem.")
    if cov.can_model and post_break is not None and post_break <= stop_post:
        later = [i for i in usable if post_break <= i <= stop_post]
        if later:
            out.append(f"The after period stops at a gap in the data ({_from_mi(post_break):%B %Y}); "
                       f"{len(later)} later month(s) are not used.")
    if cov.can_model and pre_break is not None and pre_break >= w0:
        earlier = [i for i in usable if w0 <= i < pre_break]
        if earlier:
            out.append(f"The before period starts after a gap in the data; {len(earlier)} earlier "
                       "month(s) are not used.")
    if cov.pre_gap_months or cov.post_gap_months:
        out.append("Short gaps (missing or excluded months) inside the periods are left out, never "
                   f"filled in: {month_range_text(cov.pre_gap_months + cov.post_gap_months)}.")
    return out


def assess_coverage(usable_months: Sequence[pd.Timestamp], start, phase_in_months: int = 0, end=None,
                    window_start=None, window_end=None, pre_total: float | None = None) -> Coverage:
    """Apply the module's rules to the usable months around an intervention.

    The before and after periods are walked from the start (:func:`_walk`); the reasons a
    model cannot be fitted come from :func:`_before_reasons`, :func:`_after_reasons` and the
    ``MIN_PRE_TOTAL`` rule, the cautions from :func:`_cautions`.

    Parameters
    ----------
    usable_months : months with data that passed the quality checks.
    start : the scheme's first month; ``phase_in_months`` after it are left out.
    end : last month of a temporary scheme (the after period stops there).
    window_start, window_end : the analysis window (default: the usable months' range).
    pre_total : target crimes in the treated area over the before period (checked against
        ``MIN_PRE_TOTAL``).
    """
    start = pd.Timestamp(start).to_period("M").to_timestamp()
    eff = _from_mi(_mi(start) + int(phase_in_months))
    end_ts = pd.Timestamp(end).to_period("M").to_timestamp() if end is not None else None
    ms = sorted({pd.Timestamp(m) for m in usable_months})
    usable = {_mi(m) for m in ms}
    w0 = _mi(pd.Timestamp(window_start)) if window_start is not None else (min(usable) if usable else _mi(start))
    w1 = _mi(pd.Timestamp(window_end)) if window_end is not None else (max(usable) if usable else _mi(start))
    last_use = max(usable) if usable else None
    stop_post = min(w1, _mi(end_ts)) if end_ts is not None else w1
    pre, pre_gaps, pre_break = _walk(usable, _mi(start) - 1, -1, w0)
    post, post_gaps, post_break = (_walk(usable, _mi(eff), 1, stop_post) if _mi(eff) <= stop_post
                                   else ([], [], None))
    phase = [_from_mi(i) for i in range(_mi(start), _mi(eff))]
    cov = Coverage(start=start, effective_start=eff, end=end_ts,
                   last=_from_mi(last_use) if last_use is not None else None, phase_in=phase,
                   pre=[_from_mi(i) for i in sorted(pre)], post=[_from_mi(i) for i in sorted(post)],
                   pre_gap_months=[_from_mi(i) for i in sorted(pre_gaps)],
                   post_gap_months=[_from_mi(i) for i in sorted(post_gaps)],
                   can_model=False, seasonal=False)
    reasons = cov.reasons
    reasons += _before_reasons(usable, start, pre, pre_break, w0, cov)
    reasons += _after_reasons(usable, eff, end_ts, post, stop_post, w1, bool(reasons), cov)
    if pre_total is not None and not reasons and pre_total < MIN_PRE_TOTAL:
        reasons.append(f"Only {pre_total:,.0f} target crimes were recorded in the area in the {len(pre)} months "
                       f"before the start; at least {MIN_PRE_TOTAL} are needed for any model.")
    cov.can_model = not reasons
    cov.seasonal = cov.can_model and len(pre) >= MIN_PRE_SEASONAL
    cov.cautions += _cautions(cov, usable, pre_break, post_break, w0, stop_post)
    return cov


# ============================================================================ the series
@dataclass
class InterventionData:
    """Everything the intervention report needs for one intervention (see module docstring)."""

    intervention: Intervention
    crime_types: list[str] | None
    type_label: str
    lsoas: pd.DataFrame               # harmonised LSOAs of the study area (all codes)
    places: pd.DataFrame              # one row per place with its ``role``
    panel: pd.DataFrame               # month x place counts (usable months only), long: month, unit, n, role, lad_code
    treated: pd.Series                # monthly totals, usable months only
    buffer: pd.Series | None
    comparison: pd.Series | None
    comparison_kind: str              # "lsoas" | "partnerships" | "none"
    comparison_label: str
    cluster: str                      # "unit" or "lad_code": the level at which treatment was assigned
    donors: pd.DataFrame | None       # wide: month x donor (monthly counts), usable months only
    donor_kind: str
    months: list[pd.Timestamp]        # covered months in the window
    usable: list[pd.Timestamp]        # covered and not flagged
    flagged: pd.DataFrame             # months excluded by the quality checks
    coverage: Coverage
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)   # the area could not be defined

    @property
    def ok(self) -> bool:
        return not self.problems


def _partnership_pfas(con, lad_codes: Sequence[str]) -> list[str]:
    info = data.lad_info(con, lad_codes)
    return sorted(set(info["pfa_code"].dropna()))


def _resolve_treated(p: Partnership, iv: Intervention, lsoas: pd.DataFrame, con) -> tuple[list[str], list[str], list[str]]:
    """Treated places, notes and problems."""
    notes, problems = [], []
    own = lsoas[lsoas["lad_code"].isin(p.lad_codes)]
    if iv.area.type == "partnership":
        return sorted(own["unit"].unique()), [f"The treated area is the whole partnership ({own['unit'].nunique()} places)."], []
    if iv.area.type == "lads":
        codes = iv.area.codes or p.lad_codes
        sub = own[own["lad_code"].isin(codes)]
        names = data.lad_info(con, codes)
        nm = ", ".join(names["lad_name"]) if len(names) else ", ".join(codes)
        return sorted(sub["unit"].unique()), [f"The treated area is the district(s) {nm}."], []
    wanted_codes = set(iv.area.codes)
    found_by_name: dict[str, list[str]] = {}
    for name in iv.area.names:
        hits = lsoas.loc[lsoas["lsoa_name"] == name, "lsoa_code"].tolist()
        if not hits:
            hits = data.lsoas_by_name(con, [name])
        found_by_name[name] = hits
        wanted_codes.update(hits)
    missing_names = [n for n, h in found_by_name.items() if not h]
    if missing_names:
        problems.append("These LSOA names are not in the store's lookups: " + ", ".join(missing_names) + ".")
    outside = sorted(c for c in wanted_codes if c not in set(lsoas["lsoa_code"]))
    if outside:
        problems.append("These LSOA codes are not in the partnership's force area(s): " + ", ".join(outside) + ".")
    sub = lsoas[lsoas["lsoa_code"].isin(wanted_codes)]
    units = sorted(sub["unit"].unique())
    if units:
        n_given = len(iv.area.codes) + len(iv.area.names)
        notes.append(f"The treated area was given as {n_given} LSOA name(s)/code(s); they were looked up in both "
                     "the 2011 and 2021 LSOA lookups.")
        extra = lsoas[lsoas["unit"].isin(units) & ~lsoas["lsoa_code"].isin(wanted_codes)]
        if len(extra):
            notes.append("To keep the area the same on both sides of the change of LSOA codes, these linked LSOAs "
                         "are included too: " + ", ".join(sorted(extra["lsoa_name"])) + ".")
    return units, notes, problems


def _auto_buffer(places: pd.DataFrame, treated: list[str], km: float) -> tuple[list[str], float]:
    """Places whose centroid lies within ``km`` of a treated place's centroid."""
    t = places[places["unit"].isin(treated) & places["longitude"].notna()]
    o = places[~places["unit"].isin(treated) & places["longitude"].notna()]
    if t.empty or o.empty:
        return [], km
    d = _km(o["longitude"].to_numpy()[:, None], o["latitude"].to_numpy()[:, None],
            t["longitude"].to_numpy()[None, :], t["latitude"].to_numpy()[None, :]).min(axis=1)
    return sorted(o.loc[d <= km, "unit"]), km


def _study_area(con, p: Partnership, iv: Intervention, params_dir: str | Path | None
                ) -> tuple[list[str], pd.DataFrame, dict[str, Partnership], list[str]]:
    """The study area: the partnership's force area(s), any comparison partnerships named in
    the parameters and the districts of any comparison LSOAs named there.

    Returns ``(study_lads, lsoas, explicit_slugs, problems)`` with ``lsoas`` harmonised
    (:func:`harmonise_lsoas`).
    """
    problems: list[str] = []
    pfas = _partnership_pfas(con, p.lad_codes)
    study_lads = set(p.lad_codes)
    for pfa in pfas:
        study_lads.update(data.lads_in_pfa(con, pfa))
    explicit_slugs: dict[str, Partnership] = {}
    if isinstance(iv.comparison, list):
        pdir = Path(params_dir) if params_dir else None
        for item in iv.comparison:
            if SLUG_RE.match(item) and not LSOA_CODE_RE.match(item):
                f = (pdir / f"{item}.yaml") if pdir else None
                if f is not None and f.exists():
                    try:
                        other = load_params(f, check_files=False)
                    except Exception as exc:  # noqa: BLE001 - reported in the report
                        problems.append(f"Comparison partnership {item!r}: its parameters could not be read ({exc}).")
                        continue
                    explicit_slugs[item] = other
                    study_lads.update(other.lad_codes)
                else:
                    problems.append(f"Comparison partnership {item!r}: no parameters file params/{item}.yaml.")
    study_lads = sorted(study_lads)
    lsoas = harmonise_lsoas(con, study_lads)
    if isinstance(iv.comparison, list):
        codes = [c for c in iv.comparison if LSOA_CODE_RE.match(c)]
        more = sorted(set(data.lads_of_lsoas(con, codes)) - set(study_lads))
        if more:
            study_lads = sorted(set(study_lads) | set(more))
            lsoas = harmonise_lsoas(con, study_lads)
    return study_lads, lsoas, explicit_slugs, problems


def _buffer(iv: Intervention, lsoas: pd.DataFrame, places: pd.DataFrame, treated_units: list[str]
            ) -> tuple[list[str], list[str]]:
    """The buffer places (for displacement) and a note on how they were chosen."""
    buffer_units: list[str] = []
    notes: list[str] = []
    if iv.buffer == "auto" and iv.area.type == "lsoas":
        buffer_units, km = _auto_buffer(places, treated_units, iv.buffer_km)
        src = lsoas.loc[lsoas["unit"].isin(treated_units + buffer_units), "centroid_source"]
        how = ("supplied LSOA centroids" if (src == "lookup").all() else
               "LSOA centroids estimated from the records' own coordinates" if (src != "lookup").all() else
               "supplied LSOA centroids where available, else centroids estimated from the records")
        notes.append(f"Buffer (for displacement): the {len(buffer_units)} place(s) whose centroid lies within "
                     f"{km:g} km of a treated LSOA's centroid ({how}).")
    elif iv.buffer == "auto":
        notes.append("No buffer: the treated area is a whole partnership or district, so displacement is not "
                     "checked (name a buffer explicitly to check it).")
    elif isinstance(iv.buffer, list):
        sub = lsoas[lsoas["lsoa_code"].isin(iv.buffer) | lsoas["lsoa_name"].isin(iv.buffer)]
        buffer_units = sorted(set(sub["unit"]) - set(treated_units))
        notes.append(f"Buffer (for displacement): {len(buffer_units)} place(s) named in the parameters.")
    return buffer_units, notes


@dataclass
class _Comparison:
    units: list[str]
    kind: str       # "lsoas" | "partnerships" | "none"
    label: str
    cluster: str    # "unit" or "lad_code"
    notes: list[str]


def _comparison(con, p: Partnership, iv: Intervention, places: pd.DataFrame, lsoas: pd.DataFrame,
                study_lads: list[str], explicit_slugs: dict[str, Partnership], treated_units: list[str],
                buffer_units: list[str]) -> _Comparison:
    """The comparison places: other LSOAs of the partnership, other partnerships of the force
    area, or those named in the parameters; and the level at which treatment was assigned."""
    notes: list[str] = []
    cluster = "unit"
    comp_units: list[str] = []
    comp_kind = "none"
    comp_label = ""
    comparison = iv.comparison
    if comparison == "auto-lsoas" and iv.area.type != "lsoas":
        notes.append("The comparison was set to other LSOAs of the partnership, but the scheme covers whole "
                     "district(s); other partnerships of the same police force area are used instead.")
        comparison = "auto-partnerships"
    own_lads = set(p.lad_codes)
    if comparison == "auto-lsoas":
        pool = places[places["lad_code"].isin(own_lads)]
        comp_units = sorted(set(pool["unit"]) - set(treated_units) - set(buffer_units))
        comp_kind, comp_label = "lsoas", (f"the other {len(comp_units)} LSOAs (places) of the partnership"
                                          + (", leaving out the buffer" if buffer_units else ""))
    elif comparison == "auto-partnerships":
        info = data.lad_info(con, study_lads)[["lad_code", "lad_name", "csp_name"]]
        others = info[~info["lad_code"].isin(own_lads)]
        comp_units = sorted(set(places.loc[places["lad_code"].isin(others["lad_code"]), "unit"]) - set(buffer_units))
        comp_kind = "partnerships"
        comp_label = ("the other partnerships of the same police force area (" +
                      ", ".join(sorted(set(others["csp_name"].dropna()))) + ")") if len(others) else ""
        if iv.area.type != "lsoas":
            cluster = "lad_code"
    else:
        lsoa_items = [c for c in comparison if LSOA_CODE_RE.match(c)]
        sub = lsoas[lsoas["lsoa_code"].isin(lsoa_items)]
        comp_units = sorted(set(sub["unit"]))
        for slug, other in explicit_slugs.items():
            comp_units += sorted(set(places.loc[places["lad_code"].isin(other.lad_codes), "unit"]))
        comp_units = sorted(set(comp_units) - set(treated_units) - set(buffer_units))
        comp_kind = "partnerships" if explicit_slugs and not lsoa_items else "lsoas"
        parts = []
        if lsoa_items:
            parts.append(f"{len(lsoa_items)} LSOA(s) named in the parameters")
        if explicit_slugs:
            parts.append("the partnership(s) " + ", ".join(o.name for o in explicit_slugs.values()))
        comp_label = " and ".join(parts)
        if explicit_slugs and iv.area.type != "lsoas":
            cluster = "lad_code"
    if comp_units:
        notes.append(f"Comparison area: {comp_label}.")
    else:
        comp_kind = "none"
        notes.append("No comparison area with data could be formed, so only the single-series designs can be used.")
    return _Comparison(comp_units, comp_kind, comp_label, cluster, notes)


def _place_panel(con, p: Partnership, types: list[str] | None, lsoas: pd.DataFrame, places: pd.DataFrame,
                 roles: dict[str, str], months: list[pd.Timestamp]) -> pd.DataFrame:
    """Counts by month (covered months) and place of every place with a role, long:
    ``month``, ``unit``, ``n``, ``role``, ``lad_code``, ``msoa``."""
    code_unit = lsoas.set_index("lsoa_code")["unit"]
    wanted_units = set(roles)
    lad_filter = sorted(set(lsoas.loc[lsoas["unit"].isin(wanted_units), "lad_code"]))
    raw = (data.lsoa_month_counts(con, lad_filter, types, start=p.start, end=p.end) if lad_filter
           else pd.DataFrame(columns=["month", "lsoa_code", "n"]))
    raw["month"] = pd.to_datetime(raw["month"]).astype("datetime64[ns]")
    raw["unit"] = raw["lsoa_code"].map(code_unit)
    raw = raw[raw["unit"].isin(wanted_units) & raw["month"].isin(months)]
    agg = raw.groupby(["month", "unit"], as_index=False)["n"].sum()
    grid = pd.MultiIndex.from_product([pd.DatetimeIndex(months, dtype="datetime64[ns]"), sorted(wanted_units)],
                                      names=["month", "unit"]).to_frame(index=False)
    panel = grid.merge(agg, on=["month", "unit"], how="left").fillna({"n": 0})
    panel["n"] = panel["n"].astype(np.int64)
    panel["role"] = panel["unit"].map(roles)
    return panel.merge(places[["unit", "lad_code", "msoa"]], on="unit", how="left")


def _quality_flags(con, p: Partnership, types: list[str] | None, months: list[pd.Timestamp]) -> pd.DataFrame:
    """Months the data-quality checks exclude (extract errors) in the partnership's monthly
    counts of the target crime types (missing months are not flags: they are simply absent)."""
    flagged = pd.DataFrame(columns=["month", "series", "n", "reference", "ratio", "flag", "exclude", "reason"])
    if months:
        mc = data.monthly_counts(con, p.lad_codes, p.start, p.end, forces=p.forces)
        if types is not None:
            mc = mc[mc["crime_type"].isin(types)] if types else mc[mc["crime_type"] != ASB]
        if len(mc):
            try:
                f = quality.flag_anomalous_months(mc[["month", "crime_type", "n"]])
                flagged = f[f["exclude"].astype(bool) & (f["flag"] != "missing_month")].copy()
            except ValueError:
                pass
    return flagged


def _coverage(p: Partnership, iv: Intervention, usable: list[pd.Timestamp], treated: pd.Series,
              flagged: pd.DataFrame, problems: list[str]) -> Coverage:
    """The before/after periods and whether (and which) models can be fitted."""
    start = pd.Timestamp(iv.start)
    cov = assess_coverage(usable, start, iv.phase_in_months, iv.end, window_start=p.start, window_end=p.end)
    # the before period depends on the coverage rules; its crime total is checked once it is known
    pre_total = float(treated.reindex(cov.pre).fillna(0).sum())
    if cov.can_model and pre_total < MIN_PRE_TOTAL:
        cov = assess_coverage(usable, start, iv.phase_in_months, iv.end, window_start=p.start, window_end=p.end,
                              pre_total=pre_total)
    if not cov.can_model and len(flagged):
        fm = sorted(set(pd.to_datetime(flagged["month"].astype(str))))
        near = [m for m in fm if cov.start - pd.DateOffset(months=MIN_PRE_SEASONAL) <= m
                <= (cov.end or p.end)]
        if near:
            cov.reasons.append("Months left out by the data-quality checks (e.g. " +
                               str(flagged["reason"].iloc[0]).rstrip(".") + "): " + month_range_text(near) + ".")
    if problems:
        cov.can_model = cov.seasonal = False
        cov.reasons.insert(0, "The treated area could not be defined: " + " ".join(problems))
    return cov


def _donor_pool(con, panel: pd.DataFrame, comp_kind: str, usable: list[pd.Timestamp], cov: Coverage
                ) -> tuple[pd.DataFrame, str]:
    """Donors for a synthetic control (month x donor counts) and what a donor is: MSOAs of
    comparison LSOAs, or districts of comparison partnerships, with at least
    ``MIN_DONOR_MEAN`` crimes a month before the start."""
    cp = panel[panel["role"] == "comparison"]
    if comp_kind == "lsoas":
        key, donor_kind = "msoa", "MSOAs (groups of neighbouring comparison LSOAs sharing an MSOA name)"
    else:
        key, donor_kind = "lad_code", "districts of the comparison partnerships"
    wide = cp.pivot_table(index="month", columns=key, values="n", aggfunc="sum").reindex(usable).fillna(0)
    if cov.pre:
        pre_mean = wide.reindex(cov.pre).mean()
        wide = wide.loc[:, pre_mean >= MIN_DONOR_MEAN]
    if key == "lad_code" and wide.shape[1]:
        nm = data.lad_info(con, list(wide.columns)).set_index("lad_code")["lad_name"]
        wide.columns = [nm.get(c, c) for c in wide.columns]
    return wide, donor_kind


def build_intervention_data(con, p: Partnership, iv: Intervention, params_dir: str | Path | None = None
                            ) -> InterventionData:
    """Build the treated, buffer, comparison and donor series for one intervention.

    The steps, each a function of this module: the study area (:func:`_study_area`), the
    treated places (:func:`_resolve_treated`), the buffer (:func:`_buffer`), the comparison
    (:func:`_comparison`), counts by place and month (:func:`_place_panel`), data-quality
    exclusions (:func:`_quality_flags`), coverage rules (:func:`_coverage`) and the donor pool
    (:func:`_donor_pool`).

    Parameters
    ----------
    con : DuckDB connection to the store.
    p : the partnership's parameters.
    iv : one of ``p.interventions``.
    params_dir : folder of the params files (to resolve partnership slugs in an explicit
        ``comparison`` list).
    """
    types, type_label = target_crime_types(iv.target_crime_types)
    notes: list[str] = []

    study_lads, lsoas, explicit_slugs, problems = _study_area(con, p, iv, params_dir)
    places = unit_centroids(lsoas)

    treated_units, tnotes, tprob = _resolve_treated(p, iv, lsoas, con)
    notes += tnotes
    problems += tprob
    if not treated_units and not problems:
        problems.append("The treated area could not be matched to any LSOA in the store.")
    notes += vintage_notes(lsoas, treated_units)

    buffer_units, bnotes = _buffer(iv, lsoas, places, treated_units)
    notes += bnotes
    comp = _comparison(con, p, iv, places, lsoas, study_lads, explicit_slugs, treated_units, buffer_units)
    notes += comp.notes

    # ---- counts by place and month (covered months of the partnership's force files)
    months = data.covered_months(con, lad_codes=p.lad_codes, forces=p.forces, start=p.start, end=p.end)
    roles = {u: "comparison" for u in comp.units}
    roles.update({u: "buffer" for u in buffer_units})
    roles.update({u: "treated" for u in treated_units})
    places["role"] = places["unit"].map(roles).fillna("other")
    panel = _place_panel(con, p, types, lsoas, places, roles, months)

    # ---- data-quality flags on the partnership's monthly counts of the target types
    flagged = _quality_flags(con, p, types, months)
    bad = set(pd.to_datetime(flagged["month"].astype(str)).tolist()) if len(flagged) else set()
    usable = [m for m in months if m not in bad]
    if bad:
        notes.append("Months left out because the data-quality checks found an extract error in a target crime "
                     f"type: {month_range_text(sorted(bad))}.")
    panel = panel[panel["month"].isin(usable)].reset_index(drop=True)

    def total(role):
        s = panel[panel["role"] == role].groupby("month")["n"].sum()
        s = s.reindex(pd.DatetimeIndex(usable, name="month")).fillna(0).astype(np.int64)
        return s

    treated = total("treated")
    buffer = total("buffer") if buffer_units else None
    comparison = total("comparison") if comp.units else None
    cov = _coverage(p, iv, usable, treated, flagged, problems)
    donors, donor_kind = _donor_pool(con, panel, comp.kind, usable, cov) if comp.units else (None, "")
    return InterventionData(
        intervention=iv, crime_types=types, type_label=type_label, lsoas=lsoas, places=places, panel=panel,
        treated=treated, buffer=buffer, comparison=comparison, comparison_kind=comp.kind,
        comparison_label=comp.label, cluster=comp.cluster, donors=donors, donor_kind=donor_kind,
        months=list(months), usable=usable, flagged=flagged, coverage=cov, notes=notes, problems=problems,
    )


def days_in_month(months: Sequence[pd.Timestamp]) -> np.ndarray:
    """Number of days in each month (an exposure for monthly counts)."""
    return np.array([calendar.monthrange(m.year, m.month)[1] for m in pd.to_datetime(list(months))], dtype=float)

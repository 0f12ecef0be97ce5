"""The disproportionality report (02_disproportionality): who and where bears more than
its share, with honest uncertainty.

The notebook first computes everything (:func:`analyse`, no output), so that the
plain-English summary can come first, and then renders each part:

>>> res = analyse(ctx)            # doctest: +SKIP
>>> summary(ctx, res)             # doctest: +SKIP
>>> stop_search_section(ctx, res) # doctest: +SKIP
>>> places_section(ctx, res)      # doctest: +SKIP
>>> comparison_section(ctx, res)  # doctest: +SKIP
>>> outcomes_section(ctx, res)    # doctest: +SKIP

The compute functions (:func:`stop_search_analysis`, :func:`places_analysis`,
:func:`comparison_analysis`, :func:`outcomes_analysis`) take the report context and
return plain dataclasses of DataFrames, so they can be tested without a notebook.

Choices made here (and said in the report):

* Stop and search: searches of people (``Type`` other than "Vehicle search") by
  officer-defined ethnicity, against Census 2021 usual residents of the broad group
  (White, Black, Asian, Other; officer-defined ethnicity has no Mixed group, so Mixed
  residents are shown but are not a denominator). The months of the analysis window are
  pooled (all months in the store only when the window has none, and the report says so) and
  rates are per 1,000 residents per year. Searches are placed in the partnership with
  :func:`csp_analysis.geo.locate_stop_search`; where a force publishes no coordinates,
  or the store has nothing to place them against, figures are for the force area (its
  LADs from ``lad_lookup``).
* Places: recorded crime excluding anti-social behaviour, in months whose files use 2021
  LSOA codes (the residents are Census 2021 by 2021 LSOA; the store has no 2011-to-2021
  best-fit lookup, so 2011-coded months are not mapped). Funnel limits use Spiegelhalter's
  additive random-effects over-dispersion adjustment (tau-squared from 10% Winsorised
  z-scores, debiased).
* Deprivation: IoD 2019 deciles are keyed by 2011 LSOA codes; only 2021 LSOAs whose code is
  unchanged between the vintages are matched (the count is reported).
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from .. import data, geo
from .. import params as params_mod
from .. import disproportionality as dp
from ..funnels import funnel_outliers, plot_funnel
from ..formatting import format_percent
from ..rates import format_p_value, proportion_ci
from ..data import month_range_text as _ranges

#: Groups compared (officer-defined ethnicity has no Mixed group).
SEARCH_GROUPS = ("White", "Black", "Asian", "Other")
REFERENCE = "White"
#: Fewer searches than this in a group (or the reference) and the ratio is called unstable.
STABLE_MIN = 20
#: Outcome strings.
NO_SUSPECT = "Investigation complete; no suspect identified"
NFA = "A no further action disposal"
#: If more than this share of 'no further action' searches are flagged as linked to the object,
#: the force's flag is treated as unreliable (see stop_search_analysis).
NFA_LINKED_MAX = 0.2
ASB = "Anti-social behaviour"
#: Later data.police.uk outcomes that imply a charge (a court stage).
COURT_OUTCOMES = (
    "Awaiting court outcome", "Court result unavailable", "Court case unable to proceed",
    "Defendant found not guilty", "Defendant sent to Crown Court", "Offender sent to prison",
    "Offender given suspended prison sentence", "Offender given community sentence", "Offender fined",
    "Offender given conditional discharge", "Offender given absolute discharge",
    "Offender ordered to pay compensation", "Offender otherwise dealt with", "Offender deprived of property",
)
#: A month in which the store holds street files of at least this many forces is a "national month".
NATIONAL_MIN_FORCES = 10
FUNNEL_CONFIDENCE = 0.998
TOP_FRACTION = 0.1


# ============================================================================ small helpers
def _months_text(months) -> str:
    months = sorted(pd.to_datetime(list(months)))
    if not months:
        return "no months"
    n = len(months)
    return f"{n} month{'s' if n != 1 else ''} ({_ranges(months)})"


def _pct(x: float, dp_: int = 1) -> str:
    return format_percent(x, dp_, scale=100, missing="–")


#: Ratio for text (two decimals below 0.95, one above) and the people of a group, worded as in
#: csp_analysis.disproportionality's own sentences.
_r = dp._fmt_ratio
_who = dp._who


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _pfa_codes(con, lad_codes) -> list[str]:
    info = data.lad_info(con, lad_codes)
    return sorted(set(info["pfa_code"].dropna()))


def _pfa_names(con, pfa_codes) -> list[str]:
    return data.pfa_names(con, pfa_codes)


def _table_exists_with_rows(con, table: str) -> bool:
    return data.table_has_rows(con, table)


def suppress_people(df: pd.DataFrame, count_cols: list[str], derived_cols: list[str], threshold: int,
                    totals: str = "columns") -> tuple[pd.DataFrame, pd.Series]:
    """Suppress small counts of people (primary and secondary) and blank what reveals them.

    Counts from 1 to ``threshold - 1`` in ``count_cols`` become "[c]", with secondary
    suppression (:func:`csp_analysis.disproportionality.suppress_small_numbers`) so that
    totals cannot reveal them. In every row with a suppressed count, the ``derived_cols``
    (rates, ratios, excess: anything the count could be worked out from) are set to NaN.

    Returns the table and a boolean Series: True for rows with a suppressed count.
    """
    if threshold <= 1 or df.empty:
        return df.copy(), pd.Series(False, index=df.index)
    base = df.copy()
    for c in count_cols:
        base[c] = pd.to_numeric(base[c], errors="coerce")
    with _quiet_ctx():
        out, mask = dp.suppress_small_numbers(base, count_cols, threshold=threshold, totals=totals)
    rows = mask[count_cols].any(axis=1)
    for c in count_cols:  # whole numbers stay whole in the CSV
        out[c] = out[c].map(lambda v: int(v) if isinstance(v, (int, float, np.integer, np.floating))
                            and np.isfinite(v) and float(v).is_integer() else v)
    for c in derived_cols:
        if c in out.columns:
            out[c] = out[c].astype(float)
            out.loc[rows, c] = np.nan
    return out, rows


def _supp_note(ctx) -> str:
    thr = ctx.params.small_number_threshold
    if thr <= 1:
        return ""
    return (f" Counts of people from 1 to {thr - 1} are suppressed ([c]), with further counts suppressed where a "
            "total would reveal them; rates and ratios worked out from a suppressed count are left blank.")


class _quiet_ctx:
    """Silence expected numerical warnings (they would otherwise reach the HTML)."""

    def __enter__(self):
        self._cm = warnings.catch_warnings()
        self._cm.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)


# ============================================================================ population
def ethnic_population(con, lad_codes) -> tuple[pd.DataFrame, list[str]]:
    """Census 2021 usual residents by broad ethnic group, summed over ``lad_codes``.

    Returns ``(table, missing)``: ``table`` has ``group`` (White, Black, Asian, Mixed, Other)
    and ``residents``; ``missing`` lists LADs without census rows in the store.
    """
    empty = pd.DataFrame({"group": list(dp.BROAD_GROUPS), "residents": 0.0})
    if not _table_exists_with_rows(con, "population_ethnicity") or not lad_codes:
        return empty, list(lad_codes)
    df = data.ethnic_population_rows(con, lad_codes)
    if df.empty:
        return empty, list(lad_codes)
    sex = df["sex"].astype(str).str.strip().str.casefold()
    totals = sex.isin(["all persons", "all", "total", "persons", "all usual residents"])
    if totals.any():  # avoid counting persons twice when a total row exists
        df = df[totals]
    df = df[~df["ethnic_group"].astype(str).str.casefold().str.startswith(("total", "all "))]
    df = df.assign(group=dp.broad_ethnic_group(df["ethnic_group"], errors="unknown").to_numpy())
    df = df[df["group"].isin(dp.BROAD_GROUPS)]
    pop = df.groupby("group")["population"].sum()
    table = pd.DataFrame({"group": list(dp.BROAD_GROUPS)})
    table["residents"] = table["group"].map(pop).fillna(0.0).astype(float)
    missing = sorted(set(lad_codes) - set(df["area_code"]))
    return table, missing


# ============================================================================ stop and search
@dataclass
class StopSearchResult:
    """Stop and search by ethnicity (see :func:`stop_search_analysis`)."""

    available: bool
    reason: str = ""
    scope: str = "none"                 # "partnership" or "force"
    area: str = ""                      # words: "Safer Riverton" or "the South Yorkshire force area"
    forces: list = field(default_factory=list)
    months: list = field(default_factory=list)
    months_outside_window: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    n_rows: int = 0                     # all records of the forces
    n_vehicle_only: int = 0
    n_person_force: int = 0
    n_person: int = 0                   # person searches analysed (in scope)
    n_unplaced: int = 0
    population: pd.DataFrame | None = None   # group, residents (incl. Mixed)
    missing_population: list = field(default_factory=list)
    table: pd.DataFrame | None = None        # relative_rate_index output
    find: pd.DataFrame | None = None         # find_rate_by_group output
    find_reason: str = ""
    find_definition: str = "linked"     # or "linked_and_action" when the force's flag is unreliable
    nfa_linked_share: float = float("nan")
    force_table: pd.DataFrame | None = None  # force-area context when scope is partnership
    force_area: str = ""
    unplaced_by_group: pd.DataFrame | None = None
    unstable: list = field(default_factory=list)
    suppressed_groups: list = field(default_factory=list)


def _ratio_method(t: pd.DataFrame) -> str:
    """How the ratio intervals were made, for the table note."""
    phi = float(t["dispersion"].iloc[0]) if "dispersion" in t and len(t) else 1.0
    if phi > 1:
        return (f"quasi-Poisson across months: searches vary {phi:.1f} times as much from month to month as "
                f"chance alone would give (allowing for neighbouring months being alike), so the intervals are "
                f"about {np.sqrt(phi):.1f} times as wide as exact "
                f"Poisson ones (score test, t on {t['dispersion_df'].iloc[0]:.0f} df).")
    return ("exact conditional Poisson method (the month-to-month variation is no more than chance would "
            "give, or the months are not known).")


def _rri(person: pd.DataFrame, pop: pd.DataFrame, years: float, small: int) -> pd.DataFrame:
    """RRI table; with the month of each search known, one row per group and month, so that the
    intervals allow for searches that vary from month to month more than chance (quasi-Poisson
    across months, see :func:`csp_analysis.disproportionality.relative_rate_index`)."""
    months = sorted(person["month"].dropna().unique()) if "month" in person and len(person) else []
    residents = pop.set_index("group")["residents"]
    if len(months) >= 2:
        counts = person.groupby(["group", "month"]).size()
        share = years / len(months)
        rows = [{"group": g, "month": m, "count": float(counts.get((g, m), 0)),
                 "population": float(residents.at[g]) * share} for g in SEARCH_GROUPS for m in months]
        n_unknown = float(sum(counts.get(("Unknown", m), 0) for m in months))
        rows.append({"group": "Unknown", "month": months[0], "count": n_unknown, "population": np.nan})
        period = "month"
    else:
        counts = person["group"].value_counts()
        rows = [{"group": g, "count": float(counts.get(g, 0)), "population": float(residents.at[g]) * years}
                for g in SEARCH_GROUPS]
        rows.append({"group": "Unknown", "count": float(counts.get("Unknown", 0)), "population": np.nan})
        period = None
    d = pd.DataFrame(rows)
    with _quiet_ctx():
        out = dp.relative_rate_index(d, "group", "count", "population", reference=REFERENCE,
                                     small_number=max(small, 1), action="were searched", period=period)
    # the population in the table is person-years; give residents back as well
    out["residents"] = out["population"] / years
    return out


def stop_search_analysis(ctx) -> StopSearchResult:
    """Stop-and-search rates by broad officer-defined ethnic group, ratio to White,
    excess searches, unknown-ethnicity bounds and find rates, pooled over the months of
    the analysis window (every month of the partnership's forces in the store when the
    window holds none; ``months_outside_window`` then lists them).

    The searches are placed in the partnership where coordinates allow; otherwise the
    figures are for the force area (population: the force area's LADs).
    """
    p, con = ctx.params, ctx.con
    res = StopSearchResult(available=False, forces=list(p.forces))
    with _quiet_ctx():
        rec = data.stop_search_records(con, p.forces)
    if rec.empty:
        res.reason = (f"The store holds no stop-and-search records for {', '.join(p.forces)}, so this section is "
                      "empty. Download the force's stop-and-search files from data.police.uk and ingest them.")
        return res
    in_window = rec[(rec["month"] >= p.start) & (rec["month"] <= p.end)]
    if len(in_window):  # follow the analysis window; only when it has no month pool what there is (and say so)
        rec = in_window
    res.n_rows = len(rec)
    res.months = sorted(pd.to_datetime(rec["month"].unique()))
    res.months_outside_window = [m for m in res.months if m < p.start or m > p.end]
    years = len(res.months) / 12.0

    with _quiet_ctx():
        loc, notes = geo.locate_stop_search(con, rec)
    res.notes = notes
    vehicle = loc["type"].fillna("").str.strip().str.casefold().eq("vehicle search")
    res.n_vehicle_only = int(vehicle.sum())
    person = loc[~vehicle].copy()
    person["group"] = dp.broad_ethnic_group(person["officer_defined_ethnicity"], errors="unknown").to_numpy()
    person.loc[~person["group"].isin(SEARCH_GROUPS), "group"] = "Unknown"  # Mixed never occurs; be safe
    res.n_person_force = len(person)
    small = p.small_number_threshold

    placed_any = person["lad_code"].notna().any()
    pfa = _pfa_codes(con, p.lad_codes)
    pfa_lads = sorted({l for code in pfa for l in data.lads_in_pfa(con, code)})
    res.force_area = "the " + " and ".join(_pfa_names(con, pfa) or p.forces) + " force area"
    if placed_any:
        res.scope, res.area = "partnership", p.name
        scope_rows = person[person["lad_code"].isin(p.lad_codes)]
        res.n_unplaced = int(person["lad_code"].isna().sum())
        pop, missing = ethnic_population(con, p.lad_codes)
        # does placement depend on the group? (it would bias the ratios)
        ub = person.groupby("group")["lad_code"].apply(lambda s: s.isna().mean()).rename("share_unplaced")
        res.unplaced_by_group = ub.reset_index()
        # force-area context
        fpop, _ = ethnic_population(con, pfa_lads)
        if fpop.set_index("group").loc[list(SEARCH_GROUPS), "residents"].gt(0).all():
            res.force_table = _rri(person, fpop, years, small)
    else:
        res.scope, res.area = "force", res.force_area
        scope_rows = person
        pop, missing = ethnic_population(con, pfa_lads)
    res.population, res.missing_population = pop, missing
    res.n_person = len(scope_rows)
    if res.n_person == 0:
        res.reason = (f"None of the {res.n_person_force:,} searches of people by {', '.join(p.forces)} could be "
                      f"placed in {p.name}, so no partnership rates can be given.")
        return res
    if not pop.set_index("group").loc[list(SEARCH_GROUPS), "residents"].gt(0).all():
        res.reason = ("The store has no Census 2021 population by ethnic group for "
                      f"{'the partnership' if res.scope == 'partnership' else res.area} "
                      "(table population_ethnicity), so rates per resident cannot be computed. Load "
                      "census2021_ethnic_group_19cat_by_sex_lad_region.csv with `csp ingest-lookup`.")
        return res
    res.available = True
    res.table = _rri(scope_rows, pop, years, small)
    known = res.table[~res.table["unknown"]]
    ref_n = float(known.loc[known["group"] == REFERENCE, "count"].iloc[0])
    res.unstable = [g for g, n in zip(known["group"], known["count"])
                    if g != REFERENCE and (n < STABLE_MIN or ref_n < STABLE_MIN)]
    # Some forces mark 'no further action' searches as linked to the object: then the flag
    # cannot mean a find, and a find is counted only when the outcome is also an action.
    nfa = person["outcome"].fillna("").str.casefold().eq(NFA.casefold())
    linked = person["outcome_linked_to_object"].astype("boolean")
    if nfa.sum() >= STABLE_MIN:
        res.nfa_linked_share = float(linked[nfa].fillna(False).mean())
    rows = scope_rows.copy()
    if np.isfinite(res.nfa_linked_share) and res.nfa_linked_share > NFA_LINKED_MAX:
        res.find_definition = "linked_and_action"
        has_outcome = rows["outcome"].notna() & rows["outcome_linked_to_object"].notna()
        found = rows["outcome_linked_to_object"].astype("boolean").fillna(False) & \
            ~rows["outcome"].fillna("").str.casefold().eq(NFA.casefold())
        rows["find"] = found.astype(object).where(has_outcome, None)
    else:
        rows["find"] = rows["outcome_linked_to_object"]
    try:
        with _quiet_ctx():
            f = dp.find_rate_by_group(rows, "group", outcome="find", reference=REFERENCE, small_number=STABLE_MIN)
        order = {g: i for i, g in enumerate([*SEARCH_GROUPS, "Unknown"])}
        res.find = (f.sort_values("group", key=lambda c: c.map(order).fillna(99), kind="mergesort")
                    .reset_index(drop=True))
    except ValueError as e:
        res.find, res.find_reason = None, str(e)
    return res


# ============================================================================ places (LSOAs)
@dataclass
class PlacesResult:
    """Crime by LSOA: rates, funnel, deprivation gradient, share of burden."""

    available: bool
    reason: str = ""
    months: list = field(default_factory=list)            # months used
    months_2011: list = field(default_factory=list)       # covered months excluded (2011 codes)
    mapped_2011: bool = False                             # fallback: 2011-coded months, unchanged codes only
    n_records: int = 0                                    # crimes used
    n_dropped_codes: int = 0                              # crimes in used months whose code has no 2021 population
    lsoa: pd.DataFrame | None = None                      # lsoa_code, lsoa_name, population, crimes, rate, ...
    overall_rate: float = float("nan")                    # per 1,000 residents per year
    funnel: pd.DataFrame | None = None
    gradient: Any = None
    gradient_reason: str = ""
    decile_table: pd.DataFrame | None = None
    n_matched: int = 0
    n_lsoas: int = 0
    share_residents_matched: float = float("nan")
    burden: pd.DataFrame | None = None
    burden_split: dict | None = None


def _vintage_by_month(con, lad_codes, months) -> pd.DataFrame:
    """Per month: crimes with 2011-only, 2021-only codes and codes in the 2021 population table."""
    if not months:
        return pd.DataFrame(columns=["month", "n", "n11", "n21", "n_pop"])
    return data.crime_vintage_by_month(con, lad_codes, months)


def _street_months(ctx, res) -> list:
    """The covered months of street-level data for the partnership, or [] with ``res.reason``
    set (no street data at all, or none in the analysis window). Shared opening of the
    places, comparison and outcomes analyses."""
    p = ctx.params
    if not ctx.has_street_data:
        res.reason = "The store holds no street-level crime records for this partnership."
        return []
    covered = data.covered_months(ctx.con, p.lad_codes, p.forces, p.start, p.end)
    if not covered:
        res.reason = "No month in the analysis window has the force's street-level file loaded."
        return []
    return list(covered)


def _lsoa_counts(con, lad_codes, months) -> pd.DataFrame:
    return data.lsoa_crime_counts(con, lad_codes, months)


def places_analysis(ctx) -> PlacesResult:
    """Crime (excluding ASB) per 1,000 residents by 2021 LSOA, funnel outliers, the
    deprivation gradient and the share of crime in the most affected 10% of LSOAs."""
    p, con = ctx.params, ctx.con
    res = PlacesResult(available=False)
    covered = _street_months(ctx, res)
    if not covered:
        return res
    vint = _vintage_by_month(con, p.lad_codes, covered)
    is2021 = vint["n11"] <= vint["n21"]  # months with no vintage-specific codes count as 2021 (codes unchanged)
    res.months = list(vint.loc[is2021, "month"])
    res.months_2011 = list(vint.loc[~is2021, "month"])
    if not res.months:  # fallback: 2011-coded months, keeping codes unchanged between the vintages
        res.months, res.months_2011, res.mapped_2011 = list(vint["month"]), [], True
    pop = data.lsoa_population(con, p.lad_codes)
    if pop.empty:
        res.reason = "The store has no Census 2021 residents by LSOA (population_lsoa) for this partnership."
        return res
    counts = _lsoa_counts(con, p.lad_codes, res.months)
    in_pop = counts["lsoa_code"].isin(pop["lsoa_code"])
    res.n_dropped_codes = int(counts.loc[~in_pop, "crimes"].sum())
    counts = counts[in_pop]
    years = len(res.months) / 12.0
    per = counts.groupby("lsoa_code")["crimes"].sum()
    lsoa = pop.copy()
    lsoa["crimes"] = lsoa["lsoa_code"].map(per).fillna(0).astype(int)
    lsoa = lsoa[lsoa["population"] > 0].reset_index(drop=True)
    lsoa["rate"] = lsoa["crimes"] / (lsoa["population"] * years) * 1000
    res.n_records = int(lsoa["crimes"].sum())
    if res.n_records == 0 or len(lsoa) < 3:
        res.reason = "Too few LSOAs or crimes with 2021 codes to compare places."
        return res
    res.available = True
    rate = lsoa["crimes"].sum() / lsoa["population"].sum()
    res.overall_rate = rate / years * 1000
    lsoa["expected"] = lsoa["population"] * rate
    with _quiet_ctx():
        f = funnel_outliers(pd.Series(lsoa["crimes"].to_numpy(), index=lsoa["lsoa_name"]),
                            pd.Series(lsoa["expected"].to_numpy(), index=lsoa["lsoa_name"]),
                            confidence=FUNNEL_CONFIDENCE, overdispersion="additive", debias=True)
    res.funnel = f
    with _quiet_ctx():
        f95 = funnel_outliers(lsoa["crimes"].to_numpy(), lsoa["expected"].to_numpy(), confidence=0.95,
                              overdispersion="additive", debias=True)
    lsoa["outlier_95"] = f95["direction"].to_numpy()
    lsoa["ratio"] = f["ratio"].to_numpy()
    lsoa["lower"] = f["lower"].to_numpy()
    lsoa["upper"] = f["upper"].to_numpy()
    lsoa["outlier"] = f["direction"].to_numpy()
    res.lsoa = lsoa

    # ---- deprivation (IoD 2019, 2011 codes): match codes unchanged between vintages
    res.n_lsoas = len(lsoa)
    if _table_exists_with_rows(con, "deprivation"):
        dep = data.deprivation_deciles(con, list(lsoa["lsoa_code"]))
        m = lsoa.merge(dep.drop_duplicates("lsoa_code"), on="lsoa_code", how="inner")
        m = m[m["imd_decile"].notna()]
        res.n_matched = len(m)
        res.share_residents_matched = m["population"].sum() / lsoa["population"].sum()
        if m["imd_decile"].nunique() >= 3:
            m = m.assign(person_years=m["population"] * years, imd_decile=m["imd_decile"].astype(int))
            with _quiet_ctx():
                g = dp.deprivation_gradient(m, "imd_decile", "crimes", "person_years", multiplier=1000)
            res.gradient = g
            bd = g.by_decile.copy()
            n_lsoa = m.groupby("imd_decile").size()
            residents = m.groupby("imd_decile")["population"].sum()
            bd["lsoas"] = bd["decile"].map(n_lsoa)
            bd["residents"] = bd["decile"].map(residents)
            # ratios to the least deprived decile present (the last row), from the quasi-Poisson
            # decile-factor model of deprivation_gradient: Poisson intervals would treat the large
            # differences between LSOAs as chance and be far too narrow
            res.decile_table = bd
        else:
            res.gradient_reason = (f"the matched LSOAs fall in only {m['imd_decile'].nunique()} deprivation decile(s); "
                                   "at least three are needed to estimate a gradient")
    else:
        res.gradient_reason = "the store holds no deprivation (IoD 2019) table"

    # ---- share of burden, and a check against regression to the mean
    with _quiet_ctx():
        res.burden = dp.share_of_burden(lsoa, "lsoa_name", "crimes", "population", top_fraction=TOP_FRACTION,
                                        place_word="LSOAs")
    if len(res.months) >= 2:
        ms = sorted(res.months)
        half = len(ms) // 2
        first, second = set(ms[:half]), set(ms[half:])
        c = counts.assign(month=pd.to_datetime(counts["month"]))
        a = c[c["month"].isin(first)].groupby("lsoa_code")["crimes"].sum()
        b = c[c["month"].isin(second)].groupby("lsoa_code")["crimes"].sum()
        t = lsoa[["lsoa_code", "population"]].copy()
        t["a"] = t["lsoa_code"].map(a).fillna(0)
        t["b"] = t["lsoa_code"].map(b).fillna(0)
        n_top = int(res.burden["n_top"].iloc[0])
        top = t.assign(r=t["a"] / t["population"]).sort_values(["r", "a"], ascending=False).head(n_top)
        if t["b"].sum() > 0:
            res.burden_split = {
                "first": (ms[0], ms[half - 1]), "second": (ms[half], ms[-1]),
                "share_of_count": float(top["b"].sum() / t["b"].sum()),
                "share_of_population": float(top["population"].sum() / t["population"].sum()),
            }
    return res


# ============================================================================ partnerships compared
@dataclass
class ComparisonResult:
    """The partnership against other partnerships (CSPs) on a funnel plot."""

    available: bool
    reason: str = ""
    kind: str = ""                  # "national" or "force"
    months: list = field(default_factory=list)
    units: pd.DataFrame | None = None   # unit, name, crimes, population, rate, is_partnership
    funnel: pd.DataFrame | None = None
    partnership_row: pd.Series | None = None
    uncovered_pfas: list = field(default_factory=list)      # force areas with no file in the months
    reorganised_pfas: list = field(default_factory=list)    # file loaded, but districts not in the 2017 lookup
    n_unassigned: int = 0           # crimes in covered areas that no CSP in the lookup holds
    comparators_missing: list = field(default_factory=list)  # named comparators not among the areas compared


def _home_pfas(con, month) -> dict:
    """force -> the police force area holding most of its records in that month."""
    df = data.force_pfa_counts(con, month)
    if df.empty:
        return {}
    df = df.sort_values("n", ascending=False).drop_duplicates("force")
    return dict(zip(df["force"], df["pfa_code"]))


def _loaded_forces(con, months) -> dict:
    """month -> set of forces whose street file for that month is loaded."""
    df = data.street_file_months(con, list(months))
    out = {pd.Timestamp(m): set() for m in months}
    for m, f in zip(df["month"], df["force"]):
        out[pd.Timestamp(m)].add(f)
    return out


def _national_pool(con, nat_months) -> list:
    """The national months to pool: every one whose loaded forces include all the forces of
    the latest national month (so every partnership has the same months), oldest first."""
    loaded = _loaded_forces(con, nat_months)
    latest = max(nat_months)
    return sorted(m for m in nat_months if loaded[m] >= loaded[latest])


def comparison_analysis(ctx) -> ComparisonResult:
    """Crime (excluding ASB) per 1,000 residents a year for every partnership (CSP) the
    store covers: every CSP in the country, pooled over the months in the window with a
    national set of files (at least ``NATIONAL_MIN_FORCES`` forces, and every force of the
    latest such month), else the CSPs of the partnership's force area(s) pooled over the
    months covered. Rates are crimes / (residents x months / 12) x 1,000. The partnership's
    LADs form one unit."""
    p, con = ctx.params, ctx.con
    res = ComparisonResult(available=False)
    covered = _street_months(ctx, res)
    if not covered:
        return res
    nat = data.national_street_months(con, NATIONAL_MIN_FORCES)
    nat_months = [pd.Timestamp(m) for m in nat["month"] if pd.Timestamp(m) in set(covered)]
    if nat_months:
        # pool every national month in the window whose files include all the forces of the latest
        # one, so that each partnership is counted over the same months
        res.kind, res.months = "national", _national_pool(con, nat_months)
        home = _home_pfas(con, max(res.months))
        pfas, forces = sorted(set(home.values())), sorted(home)
    else:
        res.kind, res.months = "force", covered
        pfas, forces = _pfa_codes(con, p.lad_codes), list(p.forces)
    all_pfas = data.pfa_list(con)
    missing = sorted(all_pfas.loc[~all_pfas["pfa_code"].isin(pfas), "pfa_name"].dropna())
    if res.kind == "national":
        loaded = _loaded_forces(con, [max(res.months)])[max(res.months)]
        slug = {n: re.sub(r"[^a-z0-9]+", "-", n.lower().replace("&", "and")).strip("-") for n in missing}
        res.reorganised_pfas = [n for n in missing if slug[n] in loaded]
        res.uncovered_pfas = [n for n in missing if slug[n] not in loaded]
    lads = data.lads_in_pfas(con, pfas)
    lads = lads[~lads["lad_code"].isin(p.lad_codes)]
    mine = data.lad_info(con, p.lad_codes)
    # population: Census 2021 residents by LSOA, summed to LAD
    lpop = data.lad_populations(con)
    cnt = data.lad_crime_counts(con, res.months, pfas)
    lads["crimes"] = lads["lad_code"].map(cnt).fillna(0)
    lads["population"] = lads["lad_code"].map(lpop)
    lads = lads[lads["population"].notna() & (lads["population"] > 0)]
    units = (lads.groupby(["csp_code", "csp_name"], dropna=False)[["crimes", "population"]].sum().reset_index()
             .rename(columns={"csp_code": "unit", "csp_name": "name"}))
    units["is_partnership"] = False
    own_pop = float(sum(lpop.get(c, np.nan) for c in p.lad_codes))
    own = pd.DataFrame([{"unit": "+".join(p.lad_codes), "name": p.name,
                         "crimes": float(sum(cnt.get(c, 0) for c in p.lad_codes)),
                         "population": own_pop, "is_partnership": True}])
    if not np.isfinite(own_pop) or own_pop <= 0:
        res.reason = "The store has no Census 2021 residents for the partnership's LADs."
        return res
    units = pd.concat([units, own], ignore_index=True)
    # crimes placed in districts the (2017) partnership lookup does not know (reorganised since)
    res.n_unassigned = data.unassigned_crimes(con, res.months, forces)
    if len(units) < 3:
        res.reason = (f"Only {len(units)} partnership(s) in the store share the months covered, too few for a "
                      "funnel plot.")
        return res
    years = len(res.months) / 12.0
    units["rate"] = units["crimes"] / (units["population"] * years) * 1000
    r = units["crimes"].sum() / units["population"].sum()
    units["expected"] = units["population"] * r
    with _quiet_ctx():
        f = funnel_outliers(pd.Series(units["crimes"].to_numpy(), index=units["name"]),
                            pd.Series(units["expected"].to_numpy(), index=units["name"]),
                            confidence=FUNNEL_CONFIDENCE, overdispersion="additive", debias=True)
    units["ratio"], units["lower"], units["upper"] = f["ratio"].to_numpy(), f["lower"].to_numpy(), f["upper"].to_numpy()
    units["outlier"] = f["direction"].to_numpy()
    units["is_comparator"], res.comparators_missing = _mark_comparators(ctx, units, lads)
    res.units, res.funnel = units, f
    res.partnership_row = units[units["is_partnership"]].iloc[0]
    res.available = True
    return res


def _mark_comparators(ctx, units: pd.DataFrame, lads: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Flag the areas that hold the partnerships named in the parameters' ``comparators``.

    A comparator (a slug with its own parameters file) is matched to the 2017 partnership
    (CSP) units holding its LADs; returns the flags and the comparators that could not be
    matched (no parameters file, or none of its LADs among the areas compared), by name.
    """
    flags = np.zeros(len(units), dtype=bool)
    missing = []
    csp_of = dict(zip(lads["lad_code"], lads["csp_code"]))
    for slug in ctx.params.comparators:
        f = ctx.params_file.parent / f"{slug}.yaml"
        try:
            other = params_mod.load_params(f, check_files=False)
        except (FileNotFoundError, params_mod.ParamsError):
            missing.append(f"{slug} (no valid parameters file {f.name})")
            continue
        hit = units["unit"].isin({csp_of[c] for c in other.lad_codes if c in csp_of}).to_numpy()
        if hit.any():
            flags |= hit
        else:
            missing.append(other.name)
    return flags, missing


# ============================================================================ outcomes
@dataclass
class OutcomesResult:
    """Outcome shares by crime type, partnership against its force area."""

    available: bool
    reason: str = ""
    months: list = field(default_factory=list)
    force_area: str = ""
    table: pd.DataFrame | None = None     # long: crime_type, measure, counts, shares, CIs, difference, p
    court_share: tuple | None = None       # (partnership, force) share of crimes at a court stage
    pending_share: float = float("nan")


def _compare_props(x1, n1, x2, n2):
    """Difference of two proportions: Newcombe CI and Fisher's exact p-value."""
    from statsmodels.stats.proportion import confint_proportions_2indep

    if n1 <= 0 or n2 <= 0:
        return np.nan, np.nan, np.nan, np.nan
    with _quiet_ctx():
        lo, hi = confint_proportions_2indep(x1, n1, x2, n2, method="newcomb", compare="diff")
        pv = stats.fisher_exact([[int(x1), int(n1 - x1)], [int(x2), int(n2 - x2)]]).pvalue
    return x1 / n1 - x2 / n2, lo, hi, pv


def outcomes_analysis(ctx) -> OutcomesResult:
    """By crime type: the share of crimes whose latest outcome is "Investigation complete;
    no suspect identified", and the share charged (outcome contains "charged"), for the
    partnership and its force area, with Wilson CIs; each partnership share is tested
    against the rest of the force area (Fisher's exact test, Holm-adjusted across crime
    types)."""
    from statsmodels.stats.multitest import multipletests

    p, con = ctx.params, ctx.con
    res = OutcomesResult(available=False)
    covered = _street_months(ctx, res)
    if not covered:
        return res
    pfas = _pfa_codes(con, p.lad_codes)
    res.force_area = "the " + " and ".join(_pfa_names(con, pfas) or p.forces) + " force area"
    res.months = covered
    df = data.outcome_counts(con, p.lad_codes, pfas, covered, NO_SUSPECT, COURT_OUTCOMES)
    if df.empty or not df["mine"].any():
        res.reason = "No crimes with outcomes in the partnership in the months covered."
        return res
    mine, rest = df[df["mine"]].set_index("crime_type"), df[~df["mine"]].set_index("crime_type")
    rest = rest.reindex(mine.index).fillna(0)
    rows = []
    for measure, col in (("No suspect identified", "no_suspect"), ("Charged", "charged"),
                         ("Charged or court stage", "charged_or_court")):
        for ct in mine.index:
            x1, n1 = float(mine.at[ct, col]), float(mine.at[ct, "n"])
            x2, n2 = float(rest.at[ct, col]), float(rest.at[ct, "n"])
            xf, nf = x1 + x2, n1 + n2
            d, lo, hi, pv = _compare_props(x1, n1, x2, n2)
            rows.append({"crime_type": ct, "measure": measure, "crimes": n1, "count": x1,
                         "force_crimes": nf, "force_count": xf, "rest_crimes": n2, "rest_count": x2,
                         "difference": d, "difference_lower": lo, "difference_upper": hi, "p_value": pv})
    t = pd.DataFrame(rows)
    ci = proportion_ci(t["count"], t["crimes"])
    t["share"], t["lower"], t["upper"] = ci["value"], ci["lower"], ci["upper"]
    cf = proportion_ci(t["force_count"], t["force_crimes"])
    t["force_share"], t["force_lower"], t["force_upper"] = cf["value"], cf["lower"], cf["upper"]
    t["p_holm"] = np.nan
    for measure, idx in t.groupby("measure").groups.items():
        pv = t.loc[idx, "p_value"]
        ok = pv.notna()
        if ok.any():
            t.loc[pv[ok].index, "p_holm"] = multipletests(pv[ok], method="holm")[1]
    t["clear_difference"] = (t["p_holm"] < 0.05) & t["rest_crimes"].gt(0)
    res.table = t
    tot_m, tot_r = mine.sum(numeric_only=True), rest.sum(numeric_only=True)
    res.court_share = (float(tot_m["court"] / tot_m["n"]), float((tot_m["court"] + tot_r["court"]) /
                                                                 (tot_m["n"] + tot_r["n"])))
    res.pending_share = float(tot_m["pending"] / tot_m["n"])
    res.available = True
    return res


# ============================================================================ everything
@dataclass
class DisproportionalityResults:
    stop_search: StopSearchResult
    places: PlacesResult
    comparison: ComparisonResult
    outcomes: OutcomesResult


def analyse(ctx) -> DisproportionalityResults:
    """Compute every part of the report (no output)."""
    return DisproportionalityResults(stop_search=stop_search_analysis(ctx), places=places_analysis(ctx),
                                     comparison=comparison_analysis(ctx), outcomes=outcomes_analysis(ctx))


# ============================================================================ rendering
@dataclass
class _View:
    """A table as published: suppressed counts, and what they blank."""

    table: pd.DataFrame
    rows: pd.Series            # True where the row's own count is suppressed
    ref_suppressed: bool       # the reference (White) count is suppressed: no ratio can be shown
    unknown_suppressed: bool   # the unknown count is suppressed: no sensitivity bounds


_RATIO_COLS = ["Ratio to White", "Ratio: lower 95% CI", "Ratio: upper 95% CI", "Excess searches"]
_BOUND_COLS = ["Ratio if every unknown were this group", "Ratio if every unknown were White"]


def _search_view(ctx, t: pd.DataFrame) -> _View:
    """The relative-rate table as shown: suppressed, rounded, with plain column names.

    A suppressed count blanks its own rate and ratio; a suppressed reference (White)
    count blanks every ratio (each is worked out from it); a suppressed unknown count
    blanks the sensitivity bounds.
    """
    thr = ctx.params.small_number_threshold
    d = pd.DataFrame({
        "Group (officer-defined)": t["group"],
        "Searches": t["count"].astype(float),
        "Residents (Census 2021)": t["residents"].round(),
        "Searches per 1,000 residents a year": t["rate"],
        "Rate: lower 95% CI": t["rate_lower"],
        "Rate: upper 95% CI": t["rate_upper"],
        "Ratio to White": t["ratio"],
        "Ratio: lower 95% CI": t["lower"],
        "Ratio: upper 95% CI": t["upper"],
        "Excess searches": t["excess"].round(),
        "Ratio if every unknown were this group": t["ratio_if_all_unknown"],
        "Ratio if every unknown were White": t["ratio_if_no_unknown"],
    })
    derived = [c for c in d.columns if c not in ("Group (officer-defined)", "Searches", "Residents (Census 2021)")]
    out, rows = suppress_people(d, ["Searches"], derived, thr)
    ref_supp = bool(rows[(t["group"] == REFERENCE).to_numpy()].any())
    unk_supp = bool(rows[t["unknown"].to_numpy()].any())
    if ref_supp:
        out[_RATIO_COLS + _BOUND_COLS] = np.nan
    if unk_supp:
        out[_BOUND_COLS] = np.nan
    known = ~t["unknown"].to_numpy()
    ref_n = float(t.loc[t["group"] == REFERENCE, "count"].iloc[0])
    notes = []
    for i, (g, n, k) in enumerate(zip(t["group"], t["count"], known)):
        if rows.iloc[i]:
            notes.append("suppressed (small number)")
        elif not k:
            notes.append("not recorded")
        elif g == REFERENCE:
            notes.append("reference group")
        elif ref_supp:
            notes.append("ratio not shown (White count suppressed)")
        elif n < STABLE_MIN or ref_n < STABLE_MIN:
            notes.append(f"fewer than {STABLE_MIN} searches: ratio unstable")
        else:
            notes.append("")
    out["Note"] = notes
    out["Residents (Census 2021)"] = out["Residents (Census 2021)"].astype("Int64")
    out["Excess searches"] = out["Excess searches"].round().astype("Int64")
    return _View(out, rows, ref_supp, unk_supp)


def _find_view(ctx, f: pd.DataFrame) -> _View:
    thr = ctx.params.small_number_threshold
    d = pd.DataFrame({
        "Group (officer-defined)": f["group"],
        "Searches with a recorded outcome": f["searches"].astype(float),
        "Finds": f["finds"].astype(float),
        "Find rate %": f["value"] * 100,
        "Lower 95% CI %": f["lower"] * 100,
        "Upper 95% CI %": f["upper"] * 100,
        "Ratio to White": f["ratio"],
        "Ratio: lower 95% CI": f["ratio_lower"],
        "Ratio: upper 95% CI": f["ratio_upper"],
        "Difference (points)": f["difference"] * 100,
        "p-value (Fisher)": f["p_value"],
    })
    counts = ["Searches with a recorded outcome", "Finds"]
    derived = [c for c in d.columns if c not in ["Group (officer-defined)", *counts]]
    out, rows = suppress_people(d, counts, derived, thr)
    ref_supp = bool(rows[(f["group"] == REFERENCE).to_numpy()].any())
    if ref_supp:
        out[["Ratio to White", "Ratio: lower 95% CI", "Ratio: upper 95% CI", "Difference (points)",
             "p-value (Fisher)"]] = np.nan
    out["p-value (Fisher)"] = [format_p_value(v) if np.isfinite(v) else "–" for v in out["p-value (Fisher)"]]
    return _View(out, rows, ref_supp, False)


def _publishable(t: pd.DataFrame, v: _View) -> list[str]:
    """Non-reference known groups whose ratio to White can be published."""
    if v.ref_suppressed:
        return []
    return [g for i, (g, u) in enumerate(zip(t["group"], t["unknown"]))
            if not u and g != REFERENCE and not v.rows.iloc[i]]


def _when(months) -> str:
    months = sorted(pd.to_datetime(list(months)))
    return f"in {_ranges(months)}" if len(months) == 1 else f"pooled over {_ranges(months)}"


def _search_sentence(row, area: str, months, unstable: bool) -> str:
    if row["count"] == 0:
        return (f"No searches of {_who(row['group'])} were recorded in {area} {_when(months)}; with so few searches "
                f"the data are consistent with a ratio to White people anywhere from 0 to {_r(row['upper'])} "
                "(95% CI).")
    s = (f"In {area}, {_who(row['group'])} were searched at {_r(row['ratio'])} times the rate of White people "
         f"(95% CI {_r(row['lower'])} to {_r(row['upper'])}), {_when(months)}")
    if row["lower"] > 1:
        s += "; unlikely to be chance."
    elif row["upper"] < 1:
        s += "; a lower rate, unlikely to be chance."
    else:
        s += f"; the difference could be chance ({format_p_value(row['p_value'])})."
    if unstable:
        s += f" Fewer than {STABLE_MIN} searches: too few for a stable ratio."
    return s


def _ratio_phrase(r) -> str:
    return f"{_who(r['group'])} **{_r(r['ratio'])} times** (95% CI {_r(r['lower'])} to {_r(r['upper'])})"


def _stop_search_summary(ctx, ss: StopSearchResult) -> tuple[list[str], list[str]]:
    p = ctx.params
    bullets, missing = [], []
    if not ss.available:
        missing.append("Stop and search: " + ss.reason)
        return bullets, missing
    t = ss.table
    v = _search_view(ctx, t)
    mt = _months_text(ss.months)
    where = p.name if ss.scope == "partnership" else ss.area
    ok = _publishable(t, v)
    stable = [g for g in ok if g not in ss.unstable]
    weak = [g for g in SEARCH_GROUPS if g != REFERENCE and g not in stable]
    text = f"**Stop and search ({where}, {mt}):** "
    if stable:
        text += ("compared with White people, " + "; ".join(_ratio_phrase(t[t["group"] == g].iloc[0]) for g in stable)
                 + " as likely to be searched, per resident.")
    if weak:
        text += (" " if stable else "") + (f"Too few searches of {', '.join(_who(g) for g in weak)} for a stable "
                                           f"ratio (fewer than {STABLE_MIN}, or suppressed).")
    if weak and ss.force_table is not None:
        ft = ss.force_table
        fv = _search_view(ctx, ft)
        fok = [g for g in _publishable(ft, fv) if g in weak]
        if fok:
            text += (f" Across {ss.force_area}: " + "; ".join(_ratio_phrase(ft[ft["group"] == g].iloc[0]) for g in fok)
                     + " the White rate.")
    bullets.append(text)
    if ss.scope == "force":
        missing.append(f"Searches cannot be placed in {p.name}: the stop-and-search figures are for {ss.area}.")
    if len(ss.months) < 3:
        missing.append(f"Stop and search: only {mt} in the store, too few for stable ratios in small groups.")
    if ss.find is not None:
        fv = _find_view(ctx, ss.find)
        if fv.ref_suppressed:
            bullets.append("**Find rate:** too few searches to compare find rates.")
        else:
            ref = ss.find[ss.find["group"] == REFERENCE].iloc[0]
            lows = [f"{_who(r['group'])} {_pct(r['value'], 0)} (95% CI {_pct(r['lower'], 0)} to {_pct(r['upper'], 0)})"
                    for i, r in ss.find.iterrows()
                    if not (r["unknown"] or r["group"] == REFERENCE or fv.rows.loc[i]) and r["difference_upper"] < 0]
            if lows:
                bullets.append("**Find rate:** searches found what was looked for less often for " + "; ".join(lows)
                               + f" than for White people ({_pct(ref['value'], 0)}), which suggests a lower threshold "
                                 "for searching these groups.")
            else:
                bullets.append("**Find rate:** no group's find rate was clearly lower than White people's "
                               f"({_pct(ref['value'], 0)}).")
    return bullets, missing


def summary(ctx, res: DisproportionalityResults) -> None:
    """The plain-English summary: what stands out, with numbers and uncertainty."""
    p = ctx.params
    bullets, missing = _stop_search_summary(ctx, res.stop_search)
    pl = res.places
    if pl.available:
        f = pl.funnel
        hi = f[f["direction"] == "high"].sort_values("z_adjusted", ascending=False)
        b = pl.burden.iloc[0]
        txt = (f"**Places:** {len(hi)} of {len(f)} LSOAs have crime rates above the 99.8% funnel limits"
               + (f" (highest: {', '.join(hi.index[:3])})" if len(hi) else "") + ". "
               f"The {int(b['n_top'])} LSOAs with the highest rates (the top 10%) had **{_pct(b['share_of_count'], 0)} "
               f"of crime** but {_pct(b['share_of_population'], 0)} of residents.")
        if pl.gradient is not None:
            r = pl.gradient.summary.iloc[1]
            txt += (f" Crime rates in the most deprived areas are modelled at **{r['value']:.1f} times** those in the "
                    f"least deprived (relative index of inequality, 95% CI {r['lower']:.1f} to {r['upper']:.1f}).")
        bullets.append(txt)
    else:
        missing.append("Places: " + pl.reason)
    cm = res.comparison
    if cm.available:
        r = cm.partnership_row
        pos = {"high": "above the upper limit", "low": "below the lower limit"}.get(r["outlier"], "within the limits")
        scope = ("every partnership with data " + (f"in {cm.months[0]:%B %Y}" if len(cm.months) == 1 else
                                                   f"pooled over {_months_text(cm.months)}")
                 if cm.kind == "national" else "the other partnerships of its force area")
        bullets.append(f"**Against other partnerships** ({scope}; {len(cm.units)} areas): {r['rate']:.0f} crimes per "
                       f"1,000 residents a year, {_r(r['ratio'])} times the average, {pos}.")
    elif pl.available:
        missing.append("Comparison with other partnerships: " + cm.reason)
    oc = res.outcomes
    if oc.available:
        ns = oc.table[oc.table["measure"] == "No suspect identified"]
        share = ns["count"].sum() / ns["crimes"].sum()
        f_all = ns["force_count"].sum() / ns["force_crimes"].sum()
        clear = ns[ns["clear_difference"]].assign(ad=lambda d: d["difference"].abs()).sort_values("ad", ascending=False)
        txt = (f"**Outcomes:** {_pct(share, 0)} of crimes ended with no suspect identified "
               f"({oc.force_area}: {_pct(f_all, 0)}).")
        if len(clear):
            txt += (f" {len(clear)} crime type(s) differ clearly from the rest of the force; the largest: " + "; ".join(
                f"{ct} ({_pct(s, 0)} against {_pct(fs, 0)})" for ct, s, fs in
                zip(clear["crime_type"][:3], clear["share"][:3], clear["force_share"][:3])) + ".")
        else:
            txt += " No crime type differs clearly from the rest of the force."
        bullets.append(txt)
    elif pl.available:
        missing.append("Outcomes: " + oc.reason)
    ctx.say("## Summary\n\n" + ("\n".join(f"- {b}" for b in bullets) if bullets else
                                "The store holds too little data for this partnership to show disproportionality.")
            + ("\n\n**Missing or limited data.** " + " ".join(missing) if missing else ""))
    ctx.say("Ratios come with 95% confidence intervals (CI): the range of values consistent with the data. "
            "A ratio describes how often something is recorded; it does not, on its own, say why.")


# ---------------------------------------------------------------------------- stop and search
def stop_search_section(ctx, res: DisproportionalityResults) -> None:
    """Stop and search by ethnic group: rates, ratios, excess, unknowns, find rates."""
    p = ctx.params
    ss = res.stop_search
    ctx.say("## Stop and search by ethnic group")
    if not ss.available and not ss.n_rows:
        ctx.say(ss.reason)
        return
    mt = _months_text(ss.months)
    if len(ss.months) == 1:
        text = (f"The store holds stop-and-search records of {', '.join(ss.forces)} for one month only "
                f"({ss.months[0]:%B %Y}); one month is too few for stable ratios in small groups, so read the "
                "intervals.")
    else:
        text = (f"Stop-and-search records of {', '.join(ss.forces)} are used for {mt}"
                + ("" if ss.months_outside_window else f", the months of the analysis window ({p.start:%B %Y} to "
                   f"{p.end:%B %Y}) that the store holds")
                + "; they are pooled (single months are too few for stable ratios).")
    n_out = len(ss.months_outside_window)
    if n_out:
        text += (f" {'That month lies' if n_out == 1 and len(ss.months) == 1 else f'{n_out} of these months lie'} "
                 f"outside the report's analysis window ({p.start:%B %Y} to {p.end:%B %Y}); "
                 f"{'it is' if len(ss.months) == 1 else 'they are'} the only stop-and-search data available.")
    text += (f" Of {ss.n_rows:,} searches, {ss.n_vehicle_only:,} were of vehicles only (no person) and are left out. "
             "Rates are searches per 1,000 residents a year (annualised) by **officer-defined ethnicity** (the "
             "officer's view; self-defined ethnicity is often not given) against Census 2021 usual residents in the "
             "same broad group. Officer-defined ethnicity has no Mixed group, so Mixed residents are not a "
             "denominator (officers record people of Mixed ethnicity in one of the four groups, which slightly "
             "inflates all four rates).")
    ctx.say(text)
    for n in ss.notes:
        if ss.scope == "partnership" and "are not placed" in n:
            continue  # said below, for searches of people
        ctx.say(f"*Placing searches:* {n}")
    if ss.scope == "force":
        ctx.say(f"> **Force-level figures.** Searches cannot be placed in {p.name}, so every stop-and-search figure "
                f"below is for {ss.area} (residents of all its local authority districts).")
    elif ss.unplaced_by_group is not None and ss.n_unplaced:
        ub = ss.unplaced_by_group.set_index("group")["share_unplaced"]
        parts = ", ".join(f"{g} {_pct(ub[g], 0)}" for g in SEARCH_GROUPS if g in ub.index)
        ctx.say(f"{ss.n_unplaced:,} of {ss.n_person_force:,} searches of people by the force "
                f"({ss.n_unplaced / ss.n_person_force:.0%}) have no usable coordinates and could not be placed, so the "
                f"partnership's rates are somewhat too low. The ratios are unbiased if the share not placed is similar "
                f"in every group; force-wide it was {parts}.")
    if not ss.available:
        ctx.say(ss.reason)
        return
    where = p.name if ss.scope == "partnership" else ss.area
    ctx.say(f"### Searches per 1,000 residents, {where}")
    t = ss.table
    v = _search_view(ctx, t)
    ctx.table(v.table, "stop_search_rates", f"Searches of people by officer-defined ethnic group, {where}, {mt}: "
              "rates per 1,000 residents a year, ratio to White with 95% CI, excess searches (searches above "
              "what the White rate would give) and the bounds if every search with unknown ethnicity belonged to "
              "the group, or to White people.", float_dp=2,
              note="Residents: Census 2021 usual residents (summed over the districts). Ratios: " + _ratio_method(t)
                   + " Rates: exact Poisson (fewer than 10 searches) or Byar's method." + _supp_note(ctx))
    for g in _publishable(t, v):
        r = t[t["group"] == g].iloc[0]
        s = _search_sentence(r, where, ss.months, g in ss.unstable)
        extra = (f" That is about {r['excess']:,.0f} more searches than at the White rate."
                 if r["count"] > 0 and r["lower"] > 1 else "")
        ctx.say("- " + s + extra)
        if r["count"] > 0:
            ctx.headline(f"stop_search_ratio_{g.lower()}", f"Stop and search: {g} to White ratio",
                         round(float(r["ratio"]), 2), s, lower=round(float(r["lower"]), 2),
                         upper=round(float(r["upper"]), 2), scope=ss.scope)
    unstable = [g for g in ss.unstable if g in _publishable(t, v)]
    if unstable:
        ctx.say(f"**Too few searches for stable ratios:** {', '.join(_who(g) for g in unstable)} "
                f"(fewer than {STABLE_MIN} searches in {mt}). Read the intervals, not the point estimates; more "
                "months are needed" + (", or see the force-wide figures below." if ss.force_table is not None else "."))
    supp = [g for g, r in zip(t["group"], v.rows) if r]
    if supp:
        ctx.say(f"Figures for {', '.join(supp)} are suppressed: fewer than {p.small_number_threshold} people, or "
                "suppressed so that a total cannot reveal a small number."
                + (" Because the White count is suppressed, no ratio to White can be shown." if v.ref_suppressed
                   else ""))
    total = float(t["count"].sum())
    n_unknown = float(t.loc[t["unknown"], "count"].sum())
    if total > 0:
        if n_unknown == 0:
            ctx.say("**Unknown ethnicity.** Every search of a person has an officer-defined ethnicity.")
        elif v.unknown_suppressed:
            ctx.say("**Unknown ethnicity.** A few searches of people have no officer-defined ethnicity (number "
                    "suppressed).")
        else:
            ctx.say(f"**Unknown ethnicity.** {n_unknown:,.0f} of {total:,.0f} searches of people "
                    f"({n_unknown / total:.1%}) have no officer-defined ethnicity. Wherever they belong, each ratio "
                    "lies between the two bounds in the table.")
    _rate_chart(ctx, t, v, where)
    if ss.force_table is not None:
        fv = _search_view(ctx, ss.force_table)
        ctx.table(fv.table, "stop_search_rates_force", f"For context: the same figures for {ss.force_area} (all "
                  f"searches of people by the force, Census 2021 residents of its districts), {mt}.", float_dp=2,
                  note=_supp_note(ctx).strip() or None)
    # ---- find rates
    ctx.say("### Did the search find what it was looking for?")
    if ss.find is None:
        ctx.say("Find rates cannot be computed: " + (ss.find_reason or "no searches with a recorded outcome") + ".")
        return
    fv = _find_view(ctx, ss.find)
    ctx.say("The *find rate* is the share of searches whose outcome was linked to the object searched for "
            "(data.police.uk 'Outcome linked to object of search'). A lower find rate for a group suggests that "
            "its members are searched on weaker grounds (a lower threshold for searching).")
    if ss.find_definition == "linked_and_action":
        ctx.say(f"> **Data quality.** {_pct(ss.nfa_linked_share, 0)} of this force's searches that ended in 'A no "
                "further action disposal' are marked as linked to the object searched for, so here the flag cannot "
                "mean that the object was found. Finds are therefore counted as searches linked to the object "
                "**and** ending in action (arrest, summons, caution, warning, penalty notice or community "
                "resolution). Compare these find rates with other forces' with care.")
    ctx.table(fv.table, "stop_search_find_rates", f"Find rate by officer-defined ethnic group, {where}, {mt}, with "
              "Wilson 95% CIs, the ratio to White (score CI) and the difference in percentage points (Fisher's exact "
              "test).", float_dp=2, note=_supp_note(ctx).strip() or None)
    if fv.ref_suppressed:
        ctx.say("Too few searches of White people to compare find rates.")
        return
    ref_value = float(ss.find.loc[ss.find["group"] == REFERENCE, "value"].iloc[0])
    for i, r in ss.find.iterrows():
        if r["unknown"] or fv.rows.loc[i]:
            continue
        ctx.say("- " + r["sentence"])
        if r["group"] != REFERENCE:
            ctx.headline(f"find_rate_{str(r['group']).lower()}", f"Find rate: {r['group']} (White {ref_value:.0%})",
                         round(float(r["value"]), 3), r["sentence"], lower=round(float(r["lower"]), 3),
                         upper=round(float(r["upper"]), 3), scope=ss.scope)
    _find_chart(ctx, ss.find, fv, where)


def _rate_chart(ctx, t, v: _View, where) -> None:
    k = t[~t["unknown"].to_numpy() & ~v.rows.to_numpy()]
    if k.empty:
        return
    fig, ax = plt.subplots(figsize=(8, 3.8))
    y = np.arange(len(k))
    ax.barh(y, k["rate"], color=["#7F7F7F" if g == REFERENCE else "#1F77B4" for g in k["group"]])
    ax.errorbar(k["rate"], y, xerr=[k["rate"] - k["rate_lower"], k["rate_upper"] - k["rate"]], fmt="none",
                ecolor="black", capsize=3, linewidth=1)
    ax.set_yticks(y, k["group"])
    ax.invert_yaxis()
    ax.set_xlabel("Searches per 1,000 residents a year (95% CI)")
    ax.set_ylabel("Officer-defined ethnic group")
    ax.set_title(f"Stop and search rate by ethnic group, {where}")
    ctx.show(fig)


def _find_chart(ctx, f, v: _View, where) -> None:
    k = f[~f["unknown"].to_numpy() & ~v.rows.to_numpy()]
    if k.empty:
        return
    fig, ax = plt.subplots(figsize=(8, 3.5))
    y = np.arange(len(k))
    ax.errorbar(k["value"] * 100, y, xerr=[(k["value"] - k["lower"]) * 100, (k["upper"] - k["value"]) * 100],
                fmt="o", color="#1F77B4", ecolor="black", capsize=3)
    ref = f[f["group"] == REFERENCE]
    if len(ref):
        ax.axvline(float(ref["value"].iloc[0]) * 100, color="#7F7F7F", linestyle="--", linewidth=1,
                   label="White find rate")
        ax.legend(frameon=False, fontsize=8)
    ax.set_yticks(y, k["group"])
    ax.invert_yaxis()
    ax.set_xlabel("Searches that found the object searched for (%, Wilson 95% CI)")
    ax.set_ylabel("Officer-defined ethnic group")
    ax.set_title(f"Find rate by ethnic group, {where}")
    ctx.show(fig)


# ---------------------------------------------------------------------------- places
def places_section(ctx, res: DisproportionalityResults) -> None:
    """Crime rates by LSOA on a funnel plot, the deprivation gradient and the share of burden."""
    p = ctx.params
    pl = res.places
    ctx.say("## Places: which neighbourhoods bear more crime")
    if not pl.available:
        ctx.say(pl.reason + " This section is empty.")
        return
    text = (f"Recorded crime (excluding anti-social behaviour) per 1,000 residents a year in each LSOA "
            f"(2021 boundaries; Census 2021 usual residents), pooled over {_months_text(pl.months)}.")
    if pl.mapped_2011:
        text += (" No month in the window uses 2021 LSOA codes, so the 2011-coded months are used and only crimes in "
                 "LSOAs whose code is the same in both vintages are kept.")
    elif pl.months_2011:
        text += (f" The {len(pl.months_2011)} earlier month(s) ({_ranges(pl.months_2011)}) were published with 2011 "
                 "LSOA codes and are left out: residents are counted on 2021 LSOAs, and some 2011 LSOAs were split "
                 "or merged in 2021, so mixing vintages would put crimes and residents on different areas (the "
                 "store has no official best-fit lookup to map them).")
    if pl.n_dropped_codes:
        text += (f" {pl.n_dropped_codes:,} crimes in these months carry an LSOA code with no 2021 population and are "
                 "not used.")
    text += (f" In all, {pl.n_records:,} crimes in {len(pl.lsoa)} LSOAs; the partnership rate is "
             f"{pl.overall_rate:.1f} per 1,000 a year.")
    ctx.say(text)
    # ---- funnel
    f = pl.funnel
    tau2 = float(f["tau2"].iloc[0])
    out = pl.lsoa[pl.lsoa["outlier"] != ""].copy()
    ctx.say("### Funnel plot of LSOA crime rates")
    ctx.say("Each dot is an LSOA: its crimes divided by the crimes expected at the partnership-wide rate for its "
            "residents (1 = the partnership average). Small LSOAs scatter more by chance, so the limits widen "
            "towards the left. Crime differs between neighbourhoods far more than chance alone allows, so the "
            "limits are widened with **Spiegelhalter's additive (random-effects) over-dispersion adjustment** "
            f"(between-LSOA variance tau² = {tau2:.3f} on the square-root scale, estimated from 10% Winsorised "
            "z-scores and corrected for the bias of Winsorising). Points outside the 99.8% limits differ by more "
            "than ordinary variation between neighbourhoods would explain.")
    fig, ax = plt.subplots(figsize=(9, 5))
    plot_funnel(f, ax=ax, title=f"{p.name}: crime by LSOA against the partnership average",
                xlabel="Expected crimes in the period (residents x partnership rate)",
                ylabel="Observed / expected crimes (1 = average)", label_outliers=False)
    _show_limits(ax, pl.lsoa)
    top = f[f["outlier"]].assign(az=lambda d: d["z_adjusted"].abs()).sort_values("az", ascending=False).head(8)
    for name, r in top.iterrows():
        ax.annotate(str(name), (r["expected"], r["ratio"]), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ctx.show(fig)
    if len(out):
        out = out.sort_values("ratio", ascending=False)
        ctx.table(pd.DataFrame({
            "LSOA code": out["lsoa_code"], "LSOA": out["lsoa_name"], "Residents": out["population"].astype(int),
            "Crimes": out["crimes"].astype(int), "Crimes per 1,000 a year": out["rate"],
            "Ratio to average": out["ratio"], "Lower 99.8% limit": out["lower"], "Upper 99.8% limit": out["upper"],
            "Direction": out["outlier"].map({"high": "above", "low": "below"}),
        }), "lsoa_outliers", "LSOAs outside the 99.8% over-dispersion-adjusted funnel limits.", float_dp=2)
        hi = out[out["outlier"] == "high"]
        lo = out[out["outlier"] == "low"]
        named = ", ".join(f"{n} ({r:.0f} per 1,000 a year, {_r(x)} times average)"
                          for n, r, x in zip(hi["lsoa_name"][:5], hi["rate"][:5], hi["ratio"][:5]))
        ctx.say(f"**{len(hi)} LSOA(s) above and {len(lo)} below the 99.8% limits.**"
                + (f" Highest: {named}." if len(hi) else ""))
    else:
        ctx.say("No LSOA lies outside the 99.8% limits: the differences between neighbourhoods are within what "
                "ordinary variation between neighbourhoods explains.")
    w95 = pl.lsoa[(pl.lsoa["outlier_95"] != "") & (pl.lsoa["outlier"] == "")].sort_values("ratio", ascending=False)
    if len(w95):
        ctx.say(f"A further {len(w95)} LSOA(s) lie outside the 95% limits only (about 1 in 20 LSOAs would by "
                "chance alone): " + ", ".join(f"{n} ({_r(x)} times average)" for n, x in
                                              zip(w95["lsoa_name"][:8], w95["ratio"][:8]))
                + ("; see the full table" if len(w95) > 8 else "") + ".")
    n_high = int((pl.lsoa["outlier"] == "high").sum())
    ctx.headline("lsoa_outliers_high", "LSOAs with crime rates above the funnel limits", n_high,
                 f"{n_high} of {len(pl.lsoa)} LSOAs have crime rates above the 99.8% over-dispersion-adjusted "
                 "funnel limits (Spiegelhalter additive adjustment).")
    allt = pl.lsoa.sort_values("rate", ascending=False)
    ctx.table(pd.DataFrame({
        "LSOA code": allt["lsoa_code"], "LSOA": allt["lsoa_name"], "Residents": allt["population"].astype(int),
        "Crimes": allt["crimes"].astype(int), "Crimes per 1,000 a year": allt["rate"],
        "Ratio to average": allt["ratio"],
        "Outside 99.8% limits": allt["outlier"].replace({"": "no", "high": "above", "low": "below"}),
        "Outside 95% limits": allt["outlier_95"].replace({"": "no", "high": "above", "low": "below"}),
    }), "lsoa_rates", "Crime rate for every LSOA (highest first; the CSV holds all LSOAs).", float_dp=2, max_rows=10)
    _deprivation(ctx, pl)
    _burden(ctx, pl)


def _show_limits(ax, units: pd.DataFrame) -> None:
    """Widen the y-axis so that the 99.8% limits at the units' sizes are visible."""
    lo, hi = ax.get_ylim()
    ax.set_ylim(max(0.0, min(lo, float(np.nanmin(units["lower"])) * 0.9)),
                max(hi, float(np.nanmax(units["upper"])) * 1.05))


def _cap_off_scale(ax, units: pd.DataFrame, factor: float = 1.6) -> None:
    """Keep the funnel readable when a few areas are far above it: cut the y-axis and
    mark those areas at the top with their values."""
    cap = float(np.nanmax(units["upper"])) * factor
    far = units[units["ratio"] > cap]
    if far.empty:
        return
    ax.set_ylim(top=cap)
    ax.scatter(far["expected"], np.full(len(far), cap * 0.97), marker="^", s=40, color="#D62728", zorder=6)
    for _, r in far.iterrows():
        ax.annotate(f"{r['name']} ({r['ratio']:.1f}, off scale)", (r["expected"], cap * 0.97),
                    textcoords="offset points", xytext=(6, -4), fontsize=7)


def _deprivation(ctx, pl: PlacesResult) -> None:
    ctx.say("### Crime and deprivation")
    if pl.n_matched == 0 and pl.gradient is None:
        ctx.say(f"The deprivation gradient cannot be shown: {pl.gradient_reason or 'no LSOA could be matched'}.")
        return
    ctx.say(f"Deprivation deciles come from the English Indices of Deprivation 2019, published for 2011 LSOAs. "
            f"{pl.n_matched} of the {pl.n_lsoas} LSOAs (2021) keep the same code as in 2011 and could be matched "
            f"({_pct(pl.share_residents_matched, 0)} of residents); LSOAs created or changed in 2021 are left out "
            "of this part. Decile 1 is the most deprived 10% of LSOAs in England.")
    if pl.gradient is None:
        ctx.say(f"No gradient is estimated: {pl.gradient_reason}.")
        return
    bd = pl.decile_table
    disp = float(bd["dispersion"].iloc[0])
    ctx.say(dispersion_sentence(disp))
    ctx.table(pd.DataFrame({
        "IMD decile (1 = most deprived)": bd["decile"], "LSOAs": bd["lsoas"].astype(int),
        "Residents": bd["residents"].astype(int), "Crimes": bd["count"].astype(int),
        "Crimes per 1,000 a year": bd["value"], "Lower 95% CI": bd["rate_lower_adjusted"],
        "Upper 95% CI": bd["rate_upper_adjusted"],
        f"Ratio to decile {int(bd['decile'].iloc[-1])}": bd["ratio"], "Ratio: lower 95% CI": bd["ratio_lower"],
        "Ratio: upper 95% CI": bd["ratio_upper"],
    }), "deprivation_deciles", "Crime rate by deprivation decile, with the rate ratio to the least deprived decile "
       "present (95% CIs from a quasi-Poisson model of the LSOA counts with a term for each decile, which allows "
       "for LSOAs varying more than chance).", float_dp=2,
        note=f"Intervals are widened by the square root of the dispersion ({disp:,.0f}), so they reflect how much "
             "LSOAs in the same decile differ, not just chance.")
    s = pl.gradient.summary
    for _, r in s.iterrows():
        ctx.say("- " + r["sentence"] + f" ({format_p_value(r['p_value'])}; quasi-Poisson model, dispersion "
                f"{r['dispersion']:,.0f}.)")
    g, rii = s.iloc[0], s.iloc[1]
    ctx.headline("deprivation_rii", "Relative index of inequality (crime by deprivation)",
                 round(float(rii["value"]), 2), rii["sentence"], lower=round(float(rii["lower"]), 2), upper=round(float(rii["upper"]), 2))
    ctx.headline("deprivation_rate_ratio_per_decile", "Crime rate ratio per deprivation decile",
                 round(float(g["value"]), 3), g["sentence"], lower=round(float(g["lower"]), 3),
                 upper=round(float(g["upper"]), 3))
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar(bd["decile"].astype(str), bd["value"], color="#1F77B4")
    ax.errorbar(np.arange(len(bd)), bd["value"], yerr=[bd["value"] - bd["rate_lower_adjusted"],
                                                       bd["rate_upper_adjusted"] - bd["value"]],
                fmt="none", ecolor="black", capsize=3, linewidth=1)
    ax.set_xlabel("IMD 2019 decile (1 = most deprived)")
    ax.set_ylabel("Crimes per 1,000 residents a year")
    ax.set_title(f"{ctx.params.name}: crime rate by deprivation decile (95% CI, allowing for over-dispersion)")
    ctx.show(fig)


def dispersion_sentence(dispersion: float) -> str:
    """What the quasi-Poisson dispersion means, in words."""
    if not np.isfinite(dispersion):
        return ("The intervals below assume that crime counts vary between LSOAs only by chance (there are too "
                "few LSOAs per decile to check).")
    if dispersion <= 1.5:
        return (f"LSOAs in the same decile differ about as much as chance alone would give (dispersion "
                f"{dispersion:.1f}), so the intervals below are close to simple Poisson intervals.")
    return (f"LSOAs in the same decile differ far more than chance alone would give: the variation in their crime "
            f"counts is about {dispersion:,.0f} times what a pure-chance (Poisson) model expects (the "
            f"*dispersion*). So the intervals below come from a quasi-Poisson model and are about "
            f"{np.sqrt(dispersion):,.0f} times as wide as simple Poisson intervals; the Poisson ones would make "
            "small differences between deciles look certain.")


def _burden(ctx, pl: PlacesResult) -> None:
    ctx.say("### Share of crime in the most affected places")
    b = pl.burden.iloc[0]
    ctx.say(b["sentence"] + f" They carry {b['concentration']:.1f} times their share of residents.")
    text = ""
    if pl.burden_split:
        sp = pl.burden_split
        text = (f" Choosing the LSOAs with the highest rates also picks some that were unlucky by chance, so the "
                f"share is a little overstated. As a check, ranking LSOAs on {sp['first'][0]:%b %Y} to "
                f"{sp['first'][1]:%b %Y} and measuring {sp['second'][0]:%b %Y} to {sp['second'][1]:%b %Y}, the "
                f"same LSOAs had {_pct(sp['share_of_count'])} of crime and {_pct(sp['share_of_population'])} of "
                "residents.")
    ctx.say(("The concentration is descriptive (no interval)." + text).strip())
    ctx.table(pd.DataFrame({
        "Most affected LSOAs": [int(b["n_top"])], "Of LSOAs": [int(b["n_places"])],
        "Their crimes": [int(b["count_top"])], "All crimes": [int(b["count_total"])],
        "Share of crime %": [b["share_of_count"] * 100], "Share of residents %": [b["share_of_population"] * 100],
        "Concentration (ratio)": [b["concentration"]],
        "LSOAs": ["; ".join(map(str, b["top_places"]))],
    }), "share_of_burden", "Share of crime borne by the 10% of LSOAs with the highest crime rates.", float_dp=1)
    ctx.headline("share_of_crime_top10pc_lsoas", "Share of crime in the top 10% of LSOAs",
                 round(float(b["share_of_count"]), 3), b["sentence"],
                 share_of_residents=round(float(b["share_of_population"]), 3))


# ---------------------------------------------------------------------------- comparison
def comparison_section(ctx, res: DisproportionalityResults) -> None:
    """The partnership against other partnerships in the store on a funnel plot."""
    p = ctx.params
    cm = res.comparison
    ctx.say("## The partnership against other partnerships")
    if not cm.available:
        ctx.say(cm.reason + " This comparison is not shown.")
        return
    u = cm.units
    if cm.kind == "national":
        n_m = len(cm.months)
        if n_m == 1:
            text = (f"Recorded crime (excluding anti-social behaviour) per 1,000 residents a year (one month, "
                    f"{cm.months[0]:%B %Y}, times 12: the only month in the window with files from at least "
                    f"{NATIONAL_MIN_FORCES} forces, so the level carries that month's seasonal high or low) in every partnership (Community Safety "
                    f"Partnership, 2017 boundaries) whose force published a file for that month: {len(u)} areas.")
        else:
            text = (f"Recorded crime (excluding anti-social behaviour) per 1,000 residents a year in every partnership "
                    f"(Community Safety Partnership, 2017 boundaries) whose force published files for the months "
                    f"compared: {len(u)} areas, pooled over {_months_text(cm.months)}, every month in the window "
                    f"with files from the same forces (crimes in those {n_m} months divided by {n_m}, times 12).")
        if cm.uncovered_pfas:
            text += (f" Force areas with no file for {'that month' if n_m == 1 else 'these months'} are missing: "
                     f"{', '.join(cm.uncovered_pfas)}.")
        if cm.reorganised_pfas:
            text += (f" {' and '.join(cm.reorganised_pfas)} are missing too: their districts were reorganised after "
                     "the 2017 partnership lookup, so their crimes cannot be assigned to a partnership.")
    else:
        text = (f"Recorded crime (excluding anti-social behaviour) per 1,000 residents a year in the partnerships "
                f"of the same force area, pooled over {_months_text(cm.months)}: {len(u)} areas. (The store holds "
                "no month with files from most forces, so a national comparison is not possible.)")
    if cm.n_unassigned > 0:
        text += (f" {cm.n_unassigned:,} crimes lie in districts reorganised since the 2017 partnership lookup and "
                 "are not assigned to a partnership.")
    text += (" Residents: Census 2021. Limits: 99.8% and 95%, widened with Spiegelhalter's additive over-dispersion "
             "adjustment, because areas differ by more than chance.")
    if len(u) < 20:
        text += (f" With only {len(u)} areas the over-dispersion estimate is very uncertain (Spiegelhalter suggests "
                 "at least 20): treat the limits as a rough guide.")
    ctx.say(text)
    f = cm.funnel
    fig, ax = plt.subplots(figsize=(9, 5))
    when = f"{cm.months[0]:%B %Y}" if len(cm.months) == 1 else _ranges(cm.months)
    plot_funnel(f, ax=ax, title=f"Crime rate: partnerships compared ({when})", label_outliers=False,
                xlabel="Expected crimes in the period (residents x average rate)",
                ylabel="Observed / expected crimes (1 = average)")
    _show_limits(ax, u)
    _cap_off_scale(ax, u)
    r = cm.partnership_row
    ax.scatter([r["expected"]], [r["ratio"]], s=90, facecolors="none", edgecolors="#FF7F0E", linewidths=2,
               label=p.name, zorder=5)
    ax.annotate(p.name, (r["expected"], r["ratio"]), textcoords="offset points", xytext=(6, -12), fontsize=8,
                color="#FF7F0E")
    comp = u[u["is_comparator"]]
    if len(comp):
        ax.scatter(comp["expected"], comp["ratio"], s=70, marker="D", facecolors="none", edgecolors="#6A3D9A",
                   linewidths=1.5, label="Named comparators", zorder=5)
        for _, c in comp.iterrows():
            ax.annotate(c["name"], (c["expected"], c["ratio"]), textcoords="offset points", xytext=(6, 4),
                        fontsize=7, color="#6A3D9A")
    ax.legend(frameon=False, fontsize=8)
    ctx.show(fig)
    pos = {"high": "above the upper 99.8% limit", "low": "below the lower 99.8% limit"}.get(r["outlier"],
                                                                                           "within the 99.8% limits")
    sentence = (f"{p.name}: {r['rate']:.1f} crimes per 1,000 residents a year, {_r(r['ratio'])} times the average "
                f"of the {len(u)} areas compared (limits {r['lower']:.2f} to {r['upper']:.2f}), {pos}.")
    ctx.say(sentence)
    if len(comp) or cm.comparators_missing:
        parts = [f"{c['name']} {c['rate']:.1f} ({_r(c['ratio'])} times the average, "
                 + {"high": "above the limits", "low": "below the limits"}.get(c["outlier"], "within the limits") + ")"
                 for _, c in comp.sort_values("rate", ascending=False).iterrows()]
        txt = ("The partnerships named as comparators in the parameters: " + "; ".join(parts) + " crimes per 1,000 "
               "residents a year." if parts else "")
        if cm.comparators_missing:
            txt += (" Named comparators not among the areas compared: " + ", ".join(cm.comparators_missing) + ".")
        ctx.say(txt.strip())
    ctx.headline("crime_rate_vs_partnerships", "Crime rate relative to other partnerships", round(float(r["ratio"]), 2),
                 sentence, rate_per_1000=round(float(r["rate"]), 1))
    tbl = u.sort_values("rate", ascending=False).reset_index(drop=True)
    tbl["Rank"] = np.arange(1, len(tbl) + 1)
    ctx.table(pd.DataFrame({
        "Rank (highest rate first)": tbl["Rank"], "Partnership": tbl["name"],
        "Residents": tbl["population"].astype(int),
        "Crimes": tbl["crimes"].astype(int), "Crimes per 1,000 a year": tbl["rate"], "Ratio to average": tbl["ratio"],
        "Lower 99.8% limit": tbl["lower"], "Upper 99.8% limit": tbl["upper"],
        "Outside limits": tbl["outlier"].replace({"": "no", "high": "above", "low": "below"}),
        "This partnership": np.where(tbl["is_partnership"], "yes", ""),
        "Named comparator": np.where(tbl["is_comparator"], "yes", ""),
    }), "partnerships_compared", "Partnerships compared (highest rate first; the CSV holds every area).",
        float_dp=2, max_rows=15)


# ---------------------------------------------------------------------------- outcomes
def outcomes_section(ctx, res: DisproportionalityResults) -> None:
    """Outcome shares by crime type against the force area."""
    p = ctx.params
    oc = res.outcomes
    ctx.say("## Outcomes: no suspect identified, and charges")
    if not oc.available:
        ctx.say(oc.reason + " This section is empty.")
        return
    ctx.say(f"For crimes recorded in {_months_text(oc.months)}, the share whose latest published outcome is "
            f"'{NO_SUSPECT}', and the share charged (an outcome naming a charge), in {p.name} and in "
            f"{oc.force_area}, with Wilson 95% CIs. Each partnership share is tested against the rest of the force "
            "area (Fisher's exact test); 'clear difference' means p < 0.05 after Holm's correction for testing "
            "every crime type. Outcomes are updated every month, so recent crimes are still open "
            f"({_pct(oc.pending_share, 0)} of the partnership's crimes are under investigation or have no outcome "
            "yet); the partnership and the force are compared on the same months and downloads.")
    t = oc.table
    for measure, name, caption in (
            ("No suspect identified", "outcome_no_suspect", "Share of crimes ending 'Investigation complete; no "
                                                           "suspect identified', partnership against force area."),
            ("Charged", "outcome_charged", "Share of crimes whose latest outcome says the suspect was charged "
                                           "(the outcome contains 'charged')."),
            ("Charged or court stage", "outcome_charged_or_court",
             "Share of crimes charged or at a court stage (an outcome naming a charge, or a court outcome such as "
             "'Awaiting court outcome', which follows a charge).")):
        if measure == "Charged":
            ctx.say("*On charges:* data.police.uk replaces 'suspect charged' with the court stage once a case "
                    "reaches court ('Awaiting court outcome', 'Court result unavailable', a sentence), so few crimes "
                    "keep an outcome naming a charge. The second table counts both, which is closer to the share of "
                    "crimes that led to a charge.")
        m = t[t["measure"] == measure].sort_values("crimes", ascending=False)
        ctx.table(pd.DataFrame({
            "Crime type": m["crime_type"], "Crimes": m["crimes"].astype(int), "Count": m["count"].astype(int),
            "Partnership %": m["share"] * 100, "Lower 95% CI %": m["lower"] * 100, "Upper 95% CI %": m["upper"] * 100,
            "Force area %": m["force_share"] * 100, "Force: lower %": m["force_lower"] * 100,
            "Force: upper %": m["force_upper"] * 100,
            "Difference from rest of force (points)": m["difference"] * 100,
            "p-value (Holm)": [format_p_value(v) if np.isfinite(v) else "–" for v in m["p_holm"]],
            "Clear difference": np.where(m["clear_difference"], "yes", ""),
        }), name, caption, float_dp=1)
        clear = m[m["clear_difference"]]
        if len(clear):
            ctx.say(f"**{measure}, clear differences:** " + "; ".join(
                f"{ct} {_pct(s)} (95% CI {_pct(lo)} to {_pct(hi)}) against {_pct(fs)} in the force area"
                for ct, s, lo, hi, fs in zip(clear["crime_type"], clear["share"], clear["lower"], clear["upper"],
                                             clear["force_share"])) + ".")
        else:
            ctx.say(f"**{measure}:** no crime type differs clearly from the rest of the force area.")
    ns = t[t["measure"] == "No suspect identified"]
    share, fshare = ns["count"].sum() / ns["crimes"].sum(), ns["force_count"].sum() / ns["force_crimes"].sum()
    d, lo, hi, pv = _compare_props(ns["count"].sum(), ns["crimes"].sum(), ns["rest_count"].sum(),
                                   ns["rest_crimes"].sum())
    sentence = (f"{_pct(share)} of crimes in {p.name} ended with no suspect identified, against {_pct(fshare)} in "
                f"{oc.force_area} (difference from the rest of the force {d * 100:+.1f} points, 95% CI "
                f"{lo * 100:+.1f} to {hi * 100:+.1f}; {format_p_value(pv)}).")
    ctx.say(sentence)
    ctx.headline("share_no_suspect_identified", "Crimes ending with no suspect identified", round(float(share), 3),
                 sentence, force_share=round(float(fshare), 3))
    ch = t[t["measure"] == "Charged or court stage"]
    cs, cfs = ch["count"].sum() / ch["crimes"].sum(), ch["force_count"].sum() / ch["force_crimes"].sum()
    ctx.say(f"{_pct(cs)} of crimes in {p.name} were charged or reached a court stage, against {_pct(cfs)} in "
            f"{oc.force_area}.")
    ctx.headline("share_charged_or_court", "Crimes charged or at a court stage", round(float(cs), 3),
                 f"{_pct(cs)} of crimes in {p.name} were charged or reached a court stage (latest published outcome), "
                 f"against {_pct(cfs)} in {oc.force_area}.", force_share=round(float(cfs), 3))
    _outcome_chart(ctx, ns, oc.force_area)


def _outcome_chart(ctx, ns: pd.DataFrame, force_area: str) -> None:
    m = ns[ns["crimes"] > 0].sort_values("share")
    if m.empty:
        return
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(m) + 1.5))
    y = np.arange(len(m))
    ax.errorbar(m["share"] * 100, y + 0.15, xerr=[(m["share"] - m["lower"]) * 100, (m["upper"] - m["share"]) * 100],
                fmt="o", color="#1F77B4", capsize=2, label=ctx.params.name)
    ax.errorbar(m["force_share"] * 100, y - 0.15, xerr=[(m["force_share"] - m["force_lower"]) * 100,
                                                       (m["force_upper"] - m["force_share"]) * 100],
                fmt="s", color="#7F7F7F", capsize=2, label=_cap(force_area))
    ax.set_yticks(y, m["crime_type"])
    ax.set_xlabel("Crimes ending 'no suspect identified' (%, Wilson 95% CI)")
    ax.set_ylabel("Crime type")
    ax.set_title("No suspect identified, by crime type")
    ax.legend(frameon=False, fontsize=8)
    ctx.show(fig)

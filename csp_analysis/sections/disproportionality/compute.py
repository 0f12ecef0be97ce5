"""The analysis of the disproportionality report: load (data layer) -> compute (pure) -> result.

Each part has three steps:

* ``load_*(ctx)`` asks the store, only through :mod:`csp_analysis.data` (and
  :func:`csp_analysis.geo.locate_stop_search`, the parameters files of named comparators),
  and returns a plain dataclass of DataFrames (``*Data``);
* ``compute_*(data, params)`` is pure: DataFrames and parameters in, a result dataclass
  out; every statistic comes from the package's statistics modules
  (:mod:`csp_analysis.disproportionality`, :mod:`csp_analysis.rates`,
  :mod:`csp_analysis.funnels`, :func:`csp_analysis.local_stats.two_proportions`,
  :func:`csp_analysis.multiplicity.adjust_p_values`), none is worked out here;
* ``*_analysis(ctx)`` is the two in sequence, and :func:`analyse` runs every part.

No output here: no ``ctx.say``, no matplotlib, no HTML (see ``wording``, ``charts`` and the
package's ``__init__`` for those).

The method choices (said in the report) are listed in the package docstring.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ... import data, geo
from ... import disproportionality as dp
from ... import params as params_mod
from ...formatting import not_enough_data
from ...funnels import funnel_outliers
from ...local_stats import two_proportions
from ...multiplicity import adjust_p_values
from ...rates import proportion_ci

#: Groups compared (officer-defined ethnicity has no Mixed group).
SEARCH_GROUPS = ("White", "Black", "Asian", "Other")
REFERENCE = "White"
#: Fewer searches than this in a group (or the reference) and the ratio is called unstable.
STABLE_MIN = 20
#: Outcome strings.
NO_SUSPECT = "Investigation complete; no suspect identified"
NFA = "A no further action disposal"
#: If more than this share of 'no further action' searches are flagged as linked to the object,
#: the force's flag is treated as unreliable (see compute_stop_search).
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
#: The least number of places (LSOAs, partnerships) for a funnel plot, and of deprivation
#: deciles for a gradient.
MIN_PLACES = 3
MIN_DECILES = 3


class _quiet_ctx:
    """Silence expected numerical warnings (they would otherwise reach the HTML)."""

    def __enter__(self):
        self._cm = warnings.catch_warnings()
        self._cm.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)


# ============================================================================ small load helpers
def _pfa_codes(con, lad_codes) -> list[str]:
    info = data.lad_info(con, lad_codes)
    return sorted(set(info["pfa_code"].dropna()))


def _pfa_names(con, pfa_codes) -> list[str]:
    return data.pfa_names(con, pfa_codes)


def _table_exists_with_rows(con, table: str) -> bool:
    return data.table_has_rows(con, table)


def _force_area(force_names, forces) -> str:
    """'the South Yorkshire force area' (the forces' own names when the lookup has none)."""
    return "the " + " and ".join(force_names or forces) + " force area"


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


# ============================================================================ population
def ethnic_population_table(rows: pd.DataFrame, lad_codes) -> tuple[pd.DataFrame, list[str]]:
    """Census 2021 usual residents by broad ethnic group from the store's rows (pure).

    ``rows`` as :func:`csp_analysis.data.ethnic_population_rows` returns them
    (``area_code``, ``sex``, ``ethnic_group``, ``population``). Returns ``(table, missing)``
    as :func:`ethnic_population`.
    """
    empty = pd.DataFrame({"group": list(dp.BROAD_GROUPS), "residents": 0.0})
    if rows is None or rows.empty:
        return empty, list(lad_codes)
    df = rows
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


def ethnic_population(con, lad_codes) -> tuple[pd.DataFrame, list[str]]:
    """Census 2021 usual residents by broad ethnic group, summed over ``lad_codes``.

    Returns ``(table, missing)``: ``table`` has ``group`` (White, Black, Asian, Mixed, Other)
    and ``residents``; ``missing`` lists LADs without census rows in the store.
    """
    if not _table_exists_with_rows(con, "population_ethnicity") or not lad_codes:
        return ethnic_population_table(None, lad_codes)
    return ethnic_population_table(data.ethnic_population_rows(con, lad_codes), lad_codes)


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


@dataclass
class StopSearchData:
    """What :func:`compute_stop_search` needs from the store (see :func:`load_stop_search`)."""

    records: pd.DataFrame                    # the forces' records, in the window (all when it has none)
    located: pd.DataFrame | None = None      # records with lad_code (geo.locate_stop_search)
    notes: list = field(default_factory=list)
    force_names: list = field(default_factory=list)
    population: tuple | None = None          # ethnic_population of the partnership's LADs
    force_population: tuple | None = None    # ethnic_population of the force area's LADs


def records_in_window(rec: pd.DataFrame, start, end) -> pd.DataFrame:
    """The records of the analysis window; all records when the window holds none (the report says so)."""
    in_window = rec[(rec["month"] >= start) & (rec["month"] <= end)]
    return in_window if len(in_window) else rec


def load_stop_search(ctx) -> StopSearchData:
    """Stop-and-search records of the partnership's forces, placed in LADs, and the Census 2021
    residents by ethnic group of the partnership and of its force area(s)."""
    p, con = ctx.params, ctx.con
    with _quiet_ctx():
        rec = data.stop_search_records(con, p.forces)
    if rec.empty:
        return StopSearchData(records=rec)
    rec = records_in_window(rec, p.start, p.end)
    with _quiet_ctx():
        loc, notes = geo.locate_stop_search(con, rec)
    pfa = _pfa_codes(con, p.lad_codes)
    pfa_lads = sorted({lad for code in pfa for lad in data.lads_in_pfa(con, code)})
    return StopSearchData(records=rec, located=loc, notes=notes, force_names=_pfa_names(con, pfa),
                          population=ethnic_population(con, p.lad_codes),
                          force_population=ethnic_population(con, pfa_lads))


def _ratio_counts(person: pd.DataFrame, pop: pd.DataFrame, years: float) -> tuple[pd.DataFrame, str | None]:
    """Searches and person-years per group (and month, when the months are known) for
    :func:`csp_analysis.disproportionality.relative_rate_index`."""
    months = sorted(person["month"].dropna().unique()) if "month" in person and len(person) else []
    residents = pop.set_index("group")["residents"]
    if len(months) >= 2:
        counts = person.groupby(["group", "month"]).size()
        share = years / len(months)
        rows = [{"group": g, "month": m, "count": float(counts.get((g, m), 0)),
                 "population": float(residents.at[g]) * share} for g in SEARCH_GROUPS for m in months]
        n_unknown = float(sum(counts.get(("Unknown", m), 0) for m in months))
        rows.append({"group": "Unknown", "month": months[0], "count": n_unknown, "population": np.nan})
        return pd.DataFrame(rows), "month"
    counts = person["group"].value_counts()
    rows = [{"group": g, "count": float(counts.get(g, 0)), "population": float(residents.at[g]) * years}
            for g in SEARCH_GROUPS]
    rows.append({"group": "Unknown", "count": float(counts.get("Unknown", 0)), "population": np.nan})
    return pd.DataFrame(rows), None


def _rri(person: pd.DataFrame, pop: pd.DataFrame, years: float, small: int) -> pd.DataFrame:
    """RRI table; with the month of each search known, one row per group and month, so that the
    intervals allow for searches that vary from month to month more than chance (quasi-Poisson
    across months, see :func:`csp_analysis.disproportionality.relative_rate_index`)."""
    d, period = _ratio_counts(person, pop, years)
    with _quiet_ctx():
        out = dp.relative_rate_index(d, "group", "count", "population", reference=REFERENCE,
                                     small_number=max(small, 1), action="were searched", period=period)
    # the population in the table is person-years; give residents back as well
    out["residents"] = out["population"] / years
    return out


def person_searches(located: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Searches of people (vehicle-only searches left out) with their broad ``group``
    (``Unknown`` where officer-defined ethnicity is missing); returns them and the number of
    vehicle-only searches."""
    vehicle = located["type"].fillna("").str.strip().str.casefold().eq("vehicle search")
    person = located[~vehicle].copy()
    person["group"] = dp.broad_ethnic_group(person["officer_defined_ethnicity"], errors="unknown").to_numpy()
    person.loc[~person["group"].isin(SEARCH_GROUPS), "group"] = "Unknown"  # Mixed never occurs; be safe
    return person, int(vehicle.sum())


def _has_residents(pop: pd.DataFrame) -> bool:
    return bool(pop.set_index("group").loc[list(SEARCH_GROUPS), "residents"].gt(0).all())


def _search_scope(res: StopSearchResult, person: pd.DataFrame, d: StopSearchData, p, years: float):
    """Partnership figures when searches can be placed (with the force area for context),
    else force-area figures; returns the searches in scope and their residents."""
    if person["lad_code"].notna().any():
        res.scope, res.area = "partnership", p.name
        scope_rows = person[person["lad_code"].isin(p.lad_codes)]
        res.n_unplaced = int(person["lad_code"].isna().sum())
        pop, missing = d.population
        # does placement depend on the group? (it would bias the ratios)
        ub = person.groupby("group")["lad_code"].apply(lambda s: s.isna().mean()).rename("share_unplaced")
        res.unplaced_by_group = ub.reset_index()
        fpop, _ = d.force_population
        if _has_residents(fpop):
            res.force_table = _rri(person, fpop, years, p.small_number_threshold)
    else:
        res.scope, res.area = "force", res.force_area
        scope_rows = person
        pop, missing = d.force_population
    return scope_rows, pop, missing


def _unstable_groups(table: pd.DataFrame) -> list[str]:
    """Groups whose ratio rests on fewer than ``STABLE_MIN`` searches (theirs or White people's)."""
    known = table[~table["unknown"]]
    ref_n = float(known.loc[known["group"] == REFERENCE, "count"].iloc[0])
    return [g for g, n in zip(known["group"], known["count"])
            if g != REFERENCE and (n < STABLE_MIN or ref_n < STABLE_MIN)]


def _find_rates(res: StopSearchResult, person: pd.DataFrame, scope_rows: pd.DataFrame) -> None:
    """Find rates by group (:func:`csp_analysis.disproportionality.find_rate_by_group`).

    Some forces mark 'no further action' searches as linked to the object: then the flag
    cannot mean a find, and a find is counted only when the outcome is also an action.
    """
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


def compute_stop_search(d: StopSearchData, p) -> StopSearchResult:
    """Stop-and-search rates by broad officer-defined ethnic group, ratio to White, excess
    searches, unknown-ethnicity bounds and find rates (pure: ``d`` from
    :func:`load_stop_search`, ``p`` the partnership's parameters)."""
    res = StopSearchResult(available=False, forces=list(p.forces))
    rec = d.records
    if rec.empty:
        res.reason = (f"The store holds no stop-and-search records for {', '.join(p.forces)}, so this section is "
                      "empty. Download the force's stop-and-search files from data.police.uk and ingest them.")
        return res
    res.n_rows = len(rec)
    res.months = sorted(pd.to_datetime(rec["month"].unique()))
    res.months_outside_window = [m for m in res.months if m < p.start or m > p.end]
    years = len(res.months) / 12.0
    res.notes = d.notes
    person, res.n_vehicle_only = person_searches(d.located)
    res.n_person_force = len(person)
    res.force_area = _force_area(d.force_names, p.forces)
    scope_rows, pop, missing = _search_scope(res, person, d, p, years)
    res.population, res.missing_population = pop, missing
    res.n_person = len(scope_rows)
    if res.n_person == 0:
        res.reason = (f"None of the {res.n_person_force:,} searches of people by {', '.join(p.forces)} could be "
                      f"placed in {p.name}, so no partnership rates can be given.")
        return res
    if not _has_residents(pop):
        res.reason = ("The store has no Census 2021 population by ethnic group for "
                      f"{'the partnership' if res.scope == 'partnership' else res.area} "
                      "(table population_ethnicity), so rates per resident cannot be computed. Load "
                      "census2021_ethnic_group_19cat_by_sex_lad_region.csv with `csp ingest-lookup`.")
        return res
    res.available = True
    res.table = _rri(scope_rows, pop, years, p.small_number_threshold)
    res.unstable = _unstable_groups(res.table)
    _find_rates(res, person, scope_rows)
    return res


def stop_search_analysis(ctx) -> StopSearchResult:
    """Stop-and-search rates by broad officer-defined ethnic group, ratio to White,
    excess searches, unknown-ethnicity bounds and find rates, pooled over the months of
    the analysis window (every month of the partnership's forces in the store when the
    window holds none; ``months_outside_window`` then lists them).

    The searches are placed in the partnership where coordinates allow; otherwise the
    figures are for the force area (population: the force area's LADs).
    """
    return compute_stop_search(load_stop_search(ctx), ctx.params)


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


@dataclass
class PlacesData:
    """What :func:`compute_places` needs from the store (see :func:`load_places`)."""

    reason: str = ""                          # no street data (then nothing else is loaded)
    vintage: pd.DataFrame | None = None       # crime_vintage_by_month of the covered months
    population: pd.DataFrame | None = None    # lsoa_population (Census 2021 by 2021 LSOA)
    counts: pd.DataFrame | None = None        # lsoa_crime_counts of every covered month
    deprivation: pd.DataFrame | None = None   # deprivation_deciles; None when the store has no IoD table


def _vintage_by_month(con, lad_codes, months) -> pd.DataFrame:
    """Per month: crimes with 2011-only, 2021-only codes and codes in the 2021 population table."""
    if not months:
        return pd.DataFrame(columns=["month", "n", "n11", "n21", "n_pop"])
    return data.crime_vintage_by_month(con, lad_codes, months)


def _lsoa_counts(con, lad_codes, months) -> pd.DataFrame:
    return data.lsoa_crime_counts(con, lad_codes, months)


def load_places(ctx) -> PlacesData:
    """Street-level crime counts by LSOA and month, the LSOA vintage of each covered month,
    Census 2021 residents by LSOA and IoD 2019 deciles."""
    p, con = ctx.params, ctx.con
    probe = PlacesResult(available=False)
    covered = _street_months(ctx, probe)
    if not covered:
        return PlacesData(reason=probe.reason)
    pop = data.lsoa_population(con, p.lad_codes)
    dep = None
    if _table_exists_with_rows(con, "deprivation") and not pop.empty:
        dep = data.deprivation_deciles(con, list(pop["lsoa_code"]))
    return PlacesData(vintage=_vintage_by_month(con, p.lad_codes, covered), population=pop,
                      counts=_lsoa_counts(con, p.lad_codes, covered), deprivation=dep)


def split_vintages(vint: pd.DataFrame) -> tuple[list, list, bool]:
    """``(months, months_2011, mapped_2011)``: the months whose files use 2021 LSOA codes and
    the 2011-coded ones left out; when no month uses 2021 codes, every month (2011 codes,
    only codes unchanged between the vintages will match) and ``mapped_2011`` True."""
    is2021 = vint["n11"] <= vint["n21"]  # months with no vintage-specific codes count as 2021 (codes unchanged)
    months, months_2011 = list(vint.loc[is2021, "month"]), list(vint.loc[~is2021, "month"])
    if not months:  # fallback: 2011-coded months, keeping codes unchanged between the vintages
        return list(vint["month"]), [], True
    return months, months_2011, False


def lsoa_rates(pop: pd.DataFrame, counts: pd.DataFrame, years: float) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Crimes and crimes per 1,000 residents a year per LSOA with residents.

    Returns the LSOA table, the month-level counts of LSOAs with residents and the number
    of crimes whose LSOA code has no 2021 population (left out).
    """
    in_pop = counts["lsoa_code"].isin(pop["lsoa_code"])
    n_dropped = int(counts.loc[~in_pop, "crimes"].sum())
    counts = counts[in_pop]
    per = counts.groupby("lsoa_code")["crimes"].sum()
    lsoa = pop.copy()
    lsoa["crimes"] = lsoa["lsoa_code"].map(per).fillna(0).astype(int)
    lsoa = lsoa[lsoa["population"] > 0].reset_index(drop=True)
    lsoa["rate"] = lsoa["crimes"] / (lsoa["population"] * years) * 1000
    return lsoa, counts, n_dropped


def _lsoa_funnels(lsoa: pd.DataFrame, rate: float) -> pd.DataFrame:
    """Spiegelhalter funnels (99.8%, and 95% for the 'outside the 95% limits only' list) of the
    LSOAs against the partnership rate; adds expected, ratio, limits and outlier columns."""
    lsoa["expected"] = lsoa["population"] * rate
    with _quiet_ctx():
        f = funnel_outliers(pd.Series(lsoa["crimes"].to_numpy(), index=lsoa["lsoa_name"]),
                            pd.Series(lsoa["expected"].to_numpy(), index=lsoa["lsoa_name"]),
                            confidence=FUNNEL_CONFIDENCE, overdispersion="additive", debias=True)
    with _quiet_ctx():
        f95 = funnel_outliers(lsoa["crimes"].to_numpy(), lsoa["expected"].to_numpy(), confidence=0.95,
                              overdispersion="additive", debias=True)
    lsoa["outlier_95"] = f95["direction"].to_numpy()
    lsoa["ratio"] = f["ratio"].to_numpy()
    lsoa["lower"] = f["lower"].to_numpy()
    lsoa["upper"] = f["upper"].to_numpy()
    lsoa["outlier"] = f["direction"].to_numpy()
    return f


def _deprivation_part(res: PlacesResult, lsoa: pd.DataFrame, dep: pd.DataFrame | None, years: float) -> None:
    """IoD 2019 (2011 codes): match codes unchanged between vintages; the gradient from
    :func:`csp_analysis.disproportionality.deprivation_gradient`."""
    res.n_lsoas = len(lsoa)
    if dep is None:
        res.gradient_reason = "the store holds no deprivation (IoD 2019) table"
        return
    m = lsoa.merge(dep.drop_duplicates("lsoa_code"), on="lsoa_code", how="inner")
    m = m[m["imd_decile"].notna()]
    res.n_matched = len(m)
    res.share_residents_matched = m["population"].sum() / lsoa["population"].sum()
    guard = not_enough_data(m["imd_decile"].nunique(), MIN_DECILES, "deprivation deciles (matched LSOAs)",
                            "a deprivation gradient")
    if guard:
        res.gradient_reason = guard
        return
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


def _burden_part(res: PlacesResult, lsoa: pd.DataFrame, counts: pd.DataFrame) -> None:
    """Share of crime in the top 10% of LSOAs, and a check against regression to the mean
    (rank on the first half of the months, measure on the second)."""
    with _quiet_ctx():
        res.burden = dp.share_of_burden(lsoa, "lsoa_name", "crimes", "population", top_fraction=TOP_FRACTION,
                                        place_word="LSOAs")
    if len(res.months) < 2:
        return
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


def compute_places(d: PlacesData) -> PlacesResult:
    """Crime (excluding ASB) per 1,000 residents by 2021 LSOA, funnel outliers, the
    deprivation gradient and the share of crime in the most affected 10% of LSOAs (pure:
    ``d`` from :func:`load_places`)."""
    res = PlacesResult(available=False)
    if d.reason:
        res.reason = d.reason
        return res
    res.months, res.months_2011, res.mapped_2011 = split_vintages(d.vintage)
    if d.population.empty:
        res.reason = "The store has no Census 2021 residents by LSOA (population_lsoa) for this partnership."
        return res
    used = pd.to_datetime(d.counts["month"]).isin(pd.to_datetime(pd.Series(res.months, dtype=object)))
    years = len(res.months) / 12.0
    lsoa, counts, res.n_dropped_codes = lsoa_rates(d.population, d.counts[used.to_numpy()], years)
    res.n_records = int(lsoa["crimes"].sum())
    guard = (not_enough_data(len(lsoa), MIN_PLACES, "LSOAs with residents", "a comparison of places")
             or not_enough_data(res.n_records, 1, "crimes with 2021 LSOA codes", "a comparison of places"))
    if guard:
        res.reason = guard
        return res
    res.available = True
    rate = lsoa["crimes"].sum() / lsoa["population"].sum()
    res.overall_rate = rate / years * 1000
    res.funnel = _lsoa_funnels(lsoa, rate)
    res.lsoa = lsoa
    _deprivation_part(res, lsoa, d.deprivation, years)
    _burden_part(res, lsoa, counts)
    return res


def places_analysis(ctx) -> PlacesResult:
    """Crime (excluding ASB) per 1,000 residents by 2021 LSOA, funnel outliers, the
    deprivation gradient and the share of crime in the most affected 10% of LSOAs."""
    return compute_places(load_places(ctx))


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


@dataclass
class Comparator:
    """A partnership named in the parameters' ``comparators``: its name and LADs, or why it
    could not be read."""

    slug: str
    name: str = ""
    lad_codes: list = field(default_factory=list)
    error: str = ""


@dataclass
class ComparisonData:
    """What :func:`compute_comparison` needs from the store (see :func:`load_comparison`)."""

    reason: str = ""
    kind: str = ""                                 # "national" or "force"
    months: list = field(default_factory=list)     # the months pooled
    pfas: list = field(default_factory=list)       # police force areas compared
    all_pfas: pd.DataFrame | None = None           # every PFA of the lookup (pfa_code, pfa_name)
    loaded_latest: set = field(default_factory=set)  # forces with a file for the latest month (national)
    lads: pd.DataFrame | None = None               # LADs of the PFAs with their CSP
    lad_population: pd.Series | None = None        # Census 2021 residents by LAD
    lad_crimes: pd.Series | None = None            # crimes in the months by LAD
    n_unassigned: int = 0
    comparators: list = field(default_factory=list)  # Comparator


def home_pfas(force_pfa_counts: pd.DataFrame) -> dict:
    """force -> the police force area holding most of its records (rows of
    :func:`csp_analysis.data.force_pfa_counts`)."""
    df = force_pfa_counts
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


def national_pool(loaded: dict) -> list:
    """The national months to pool (``loaded``: month -> forces with a file): every one whose
    loaded forces include all the forces of the latest national month (so every partnership
    has the same months), oldest first."""
    latest = max(loaded)
    return sorted(m for m in loaded if loaded[m] >= loaded[latest])


def load_comparators(ctx) -> list[Comparator]:
    """The partnerships named in the parameters' ``comparators``, from their parameters files."""
    out = []
    for slug in ctx.params.comparators:
        f = ctx.params_file.parent / f"{slug}.yaml"
        try:
            other = params_mod.load_params(f, check_files=False)
        except (FileNotFoundError, params_mod.ParamsError):
            out.append(Comparator(slug, error=f"{slug} (no valid parameters file {f.name})"))
            continue
        out.append(Comparator(slug, name=other.name, lad_codes=list(other.lad_codes)))
    return out


def load_comparison(ctx) -> ComparisonData:
    """Crimes and residents by LAD for every partnership the comparison covers: the months
    with a national set of files (at least ``NATIONAL_MIN_FORCES`` forces) in the window,
    else the partnership's force area(s) over the covered months."""
    p, con = ctx.params, ctx.con
    probe = ComparisonResult(available=False)
    covered = _street_months(ctx, probe)
    if not covered:
        return ComparisonData(reason=probe.reason)
    nat = data.national_street_months(con, NATIONAL_MIN_FORCES)
    nat_months = [pd.Timestamp(m) for m in nat["month"] if pd.Timestamp(m) in set(covered)]
    d = ComparisonData()
    if nat_months:
        # pool every national month in the window whose files include all the forces of the latest
        # one, so that each partnership is counted over the same months
        d.kind, d.months = "national", national_pool(_loaded_forces(con, nat_months))
        home = home_pfas(data.force_pfa_counts(con, max(d.months)))
        d.pfas, forces = sorted(set(home.values())), sorted(home)
        d.loaded_latest = _loaded_forces(con, [max(d.months)])[max(d.months)]
    else:
        d.kind, d.months = "force", covered
        d.pfas, forces = _pfa_codes(con, p.lad_codes), list(p.forces)
    d.all_pfas = data.pfa_list(con)
    d.lads = data.lads_in_pfas(con, d.pfas)
    d.lad_population = data.lad_populations(con)  # Census 2021 residents by LSOA, summed to LAD
    d.lad_crimes = data.lad_crime_counts(con, d.months, d.pfas)
    # crimes placed in districts the (2017) partnership lookup does not know (reorganised since)
    d.n_unassigned = data.unassigned_crimes(con, d.months, forces)
    d.comparators = load_comparators(ctx)
    return d


def _missing_pfas(res: ComparisonResult, d: ComparisonData) -> None:
    """Force areas not compared: with no file for the months, or (national) with a file whose
    districts were reorganised after the 2017 partnership lookup."""
    missing = sorted(d.all_pfas.loc[~d.all_pfas["pfa_code"].isin(d.pfas), "pfa_name"].dropna())
    if res.kind != "national":
        return
    # a force's file name from its area's name (data.police.uk's force slugs); not formatting.slugify,
    # which joins words with "_"
    slug = {n: re.sub(r"[^a-z0-9]+", "-", n.lower().replace("&", "and")).strip("-") for n in missing}
    res.reorganised_pfas = [n for n in missing if slug[n] in d.loaded_latest]
    res.uncovered_pfas = [n for n in missing if slug[n] not in d.loaded_latest]


def partnership_units(d: ComparisonData, p) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """Crimes and residents per partnership (CSP) unit; the partnership's own LADs form one unit.

    Returns the units, the LADs of the other partnerships and the partnership's residents.
    """
    lads = d.lads[~d.lads["lad_code"].isin(p.lad_codes)]
    lpop, cnt = d.lad_population, d.lad_crimes
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
    return pd.concat([units, own], ignore_index=True), lads, own_pop


def mark_comparators(units: pd.DataFrame, lads: pd.DataFrame,
                     comparators: list[Comparator]) -> tuple[np.ndarray, list[str]]:
    """Flag the areas that hold the partnerships named in the parameters' ``comparators``.

    A comparator is matched to the 2017 partnership (CSP) units holding its LADs; returns the
    flags and the comparators that could not be matched (no parameters file, or none of its
    LADs among the areas compared), by name.
    """
    flags = np.zeros(len(units), dtype=bool)
    missing = []
    csp_of = dict(zip(lads["lad_code"], lads["csp_code"]))
    for c in comparators:
        if c.error:
            missing.append(c.error)
            continue
        hit = units["unit"].isin({csp_of[code] for code in c.lad_codes if code in csp_of}).to_numpy()
        if hit.any():
            flags |= hit
        else:
            missing.append(c.name)
    return flags, missing


def _compare_units(units: pd.DataFrame, months) -> pd.DataFrame:
    """Rates per 1,000 residents a year and Spiegelhalter funnel (99.8%, additive) of the units."""
    years = len(months) / 12.0
    units["rate"] = units["crimes"] / (units["population"] * years) * 1000
    r = units["crimes"].sum() / units["population"].sum()
    units["expected"] = units["population"] * r
    with _quiet_ctx():
        f = funnel_outliers(pd.Series(units["crimes"].to_numpy(), index=units["name"]),
                            pd.Series(units["expected"].to_numpy(), index=units["name"]),
                            confidence=FUNNEL_CONFIDENCE, overdispersion="additive", debias=True)
    units["ratio"], units["lower"], units["upper"] = f["ratio"].to_numpy(), f["lower"].to_numpy(), f["upper"].to_numpy()
    units["outlier"] = f["direction"].to_numpy()
    return f


def compute_comparison(d: ComparisonData, p) -> ComparisonResult:
    """Crime (excluding ASB) per 1,000 residents a year for every partnership (CSP) the
    data cover, on a funnel plot (pure: ``d`` from :func:`load_comparison`, ``p`` the
    partnership's parameters). Rates are crimes / (residents x months / 12) x 1,000."""
    res = ComparisonResult(available=False)
    if d.reason:
        res.reason = d.reason
        return res
    res.kind, res.months = d.kind, d.months
    _missing_pfas(res, d)
    units, lads, own_pop = partnership_units(d, p)
    if not np.isfinite(own_pop) or own_pop <= 0:
        res.reason = "The store has no Census 2021 residents for the partnership's LADs."
        return res
    res.n_unassigned = d.n_unassigned
    guard = not_enough_data(len(units), MIN_PLACES, "partnerships", "a funnel plot of partnerships")
    if guard:
        res.reason = guard
        return res
    f = _compare_units(units, res.months)
    units["is_comparator"], res.comparators_missing = mark_comparators(units, lads, d.comparators)
    res.units, res.funnel = units, f
    res.partnership_row = units[units["is_partnership"]].iloc[0]
    res.available = True
    return res


def comparison_analysis(ctx) -> ComparisonResult:
    """Crime (excluding ASB) per 1,000 residents a year for every partnership (CSP) the
    store covers: every CSP in the country, pooled over the months in the window with a
    national set of files (at least ``NATIONAL_MIN_FORCES`` forces, and every force of the
    latest such month), else the CSPs of the partnership's force area(s) pooled over the
    months covered. Rates are crimes / (residents x months / 12) x 1,000. The partnership's
    LADs form one unit."""
    return compute_comparison(load_comparison(ctx), ctx.params)


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
    #: All crime types together, per measure: partnership ``share``, ``force_share`` and (no
    #: suspect) the difference from the rest of the force with its interval and p-value.
    overall: dict = field(default_factory=dict)


@dataclass
class OutcomesData:
    """What :func:`compute_outcomes` needs from the store (see :func:`load_outcomes`)."""

    reason: str = ""
    months: list = field(default_factory=list)
    force_names: list = field(default_factory=list)
    counts: pd.DataFrame | None = None    # data.outcome_counts


def load_outcomes(ctx) -> OutcomesData:
    """Crimes by latest outcome and crime type, in the partnership and the rest of its force area."""
    p, con = ctx.params, ctx.con
    probe = OutcomesResult(available=False)
    covered = _street_months(ctx, probe)
    if not covered:
        return OutcomesData(reason=probe.reason)
    pfas = _pfa_codes(con, p.lad_codes)
    return OutcomesData(months=covered, force_names=_pfa_names(con, pfas),
                        counts=data.outcome_counts(con, p.lad_codes, pfas, covered, NO_SUSPECT, COURT_OUTCOMES))


def compare_shares(x1, n1, x2, n2) -> tuple[float, float, float, float]:
    """Difference of two proportions (0-1 scale), Newcombe's 95% interval and Fisher's exact
    p-value, from :func:`csp_analysis.local_stats.two_proportions`; all NaN when either
    total is zero."""
    if n1 <= 0 or n2 <= 0:
        return np.nan, np.nan, np.nan, np.nan
    with _quiet_ctx():
        r = two_proportions(x1, n1, x2, n2)
    return r["difference"] / 100, r["lower"] / 100, r["upper"] / 100, r["p_value"]


#: Measures of the outcome tables: (name, column of data.outcome_counts).
MEASURES = (("No suspect identified", "no_suspect"), ("Charged", "charged"),
            ("Charged or court stage", "charged_or_court"))


def outcome_table(mine: pd.DataFrame, rest: pd.DataFrame) -> pd.DataFrame:
    """Per measure and crime type: partnership and force-area shares (Wilson 95% CIs), the
    difference from the rest of the force (Newcombe CI, Fisher's exact p), Holm-adjusted
    across crime types within each measure (:func:`csp_analysis.multiplicity.adjust_p_values`)."""
    rows = []
    for measure, col in MEASURES:
        for ct in mine.index:
            x1, n1 = float(mine.at[ct, col]), float(mine.at[ct, "n"])
            x2, n2 = float(rest.at[ct, col]), float(rest.at[ct, "n"])
            xf, nf = x1 + x2, n1 + n2
            d, lo, hi, pv = compare_shares(x1, n1, x2, n2)
            rows.append({"crime_type": ct, "measure": measure, "crimes": n1, "count": x1,
                         "force_crimes": nf, "force_count": xf, "rest_crimes": n2, "rest_count": x2,
                         "difference": d, "difference_lower": lo, "difference_upper": hi, "p_value": pv})
    t = pd.DataFrame(rows)
    ci = proportion_ci(t["count"], t["crimes"])
    t["share"], t["lower"], t["upper"] = ci["value"], ci["lower"], ci["upper"]
    cf = proportion_ci(t["force_count"], t["force_crimes"])
    t["force_share"], t["force_lower"], t["force_upper"] = cf["value"], cf["lower"], cf["upper"]
    t["p_holm"] = np.nan
    for _, idx in t.groupby("measure").groups.items():  # one family per measure (table)
        t.loc[idx, "p_holm"] = adjust_p_values(t.loc[idx, "p_value"], method="holm")["p_adjusted"].to_numpy()
    t["clear_difference"] = (t["p_holm"] < 0.05) & t["rest_crimes"].gt(0)
    return t


def overall_outcomes(t: pd.DataFrame) -> dict:
    """All crime types together: partnership and force-area shares per measure, and for 'no
    suspect identified' the difference from the rest of the force (:func:`compare_shares`)."""
    out = {}
    for measure, _ in MEASURES:
        m = t[t["measure"] == measure]
        out[measure] = {"share": m["count"].sum() / m["crimes"].sum(),
                        "force_share": m["force_count"].sum() / m["force_crimes"].sum()}
    ns = t[t["measure"] == "No suspect identified"]
    d, lo, hi, pv = compare_shares(ns["count"].sum(), ns["crimes"].sum(), ns["rest_count"].sum(),
                                   ns["rest_crimes"].sum())
    out["No suspect identified"].update(difference=d, difference_lower=lo, difference_upper=hi, p_value=pv)
    return out


def compute_outcomes(d: OutcomesData, p) -> OutcomesResult:
    """Outcome shares by crime type, partnership against force area (pure: ``d`` from
    :func:`load_outcomes`, ``p`` the partnership's parameters)."""
    res = OutcomesResult(available=False)
    if d.reason:
        res.reason = d.reason
        return res
    res.force_area = _force_area(d.force_names, p.forces)
    res.months = d.months
    df = d.counts
    if df.empty or not df["mine"].any():
        res.reason = "No crimes with outcomes in the partnership in the months covered."
        return res
    mine, rest = df[df["mine"]].set_index("crime_type"), df[~df["mine"]].set_index("crime_type")
    rest = rest.reindex(mine.index).fillna(0)
    res.table = t = outcome_table(mine, rest)
    tot_m, tot_r = mine.sum(numeric_only=True), rest.sum(numeric_only=True)
    res.court_share = (float(tot_m["court"] / tot_m["n"]), float((tot_m["court"] + tot_r["court"]) /
                                                                 (tot_m["n"] + tot_r["n"])))
    res.pending_share = float(tot_m["pending"] / tot_m["n"])
    res.overall = overall_outcomes(t)
    res.available = True
    return res


def outcomes_analysis(ctx) -> OutcomesResult:
    """By crime type: the share of crimes whose latest outcome is "Investigation complete;
    no suspect identified", and the share charged (outcome contains "charged"), for the
    partnership and its force area, with Wilson CIs; each partnership share is tested
    against the rest of the force area (Fisher's exact test, Holm-adjusted across crime
    types)."""
    return compute_outcomes(load_outcomes(ctx), ctx.params)


# ============================================================================ everything
@dataclass
class DisproportionalityResults:
    stop_search: StopSearchResult
    places: PlacesResult
    comparison: ComparisonResult
    outcomes: OutcomesResult


def analyse(ctx) -> DisproportionalityResults:
    """Compute every part of the report (no output): load -> compute for each part."""
    return DisproportionalityResults(stop_search=stop_search_analysis(ctx), places=places_analysis(ctx),
                                     comparison=comparison_analysis(ctx), outcomes=outcomes_analysis(ctx))

"""County level: the two-tier county a partnership's districts belong to.

The store learns counties from the ONS *Local Authority District to County* lookup
(``LAD23CD, LAD23NM, CTY23CD, CTY23NM``; any year), loaded by ``csp ingest-lookup`` into the
``lad_county`` table (:mod:`csp_analysis.lookups`). That lookup lists only the districts of
two-tier (shire) counties: unitary authorities, metropolitan and London boroughs and Welsh
principal areas have no county tier, so they have no county row.

Partnership ``lad_codes`` are LAD 2021 codes (what police records resolve to). A county
lookup of a later vintage is matched through the LSOA lookup's LAD 2023 successor codes,
so e.g. a 2023 lookup no longer places Allerdale in Cumbria (Cumberland is unitary).
"""
from __future__ import annotations

from typing import Sequence

#: The file that adds the county level, named in reports when it is missing.
COUNTY_LOOKUP_HINT = (
    "the ONS 'Local Authority District to County' lookup (e.g. LAD23_CTY23_EN_LU.csv, columns LAD23CD, "
    "LAD23NM, CTY23CD, CTY23NM, from the ONS Open Geography Portal), loaded with `csp ingest-lookup FILE`"
)


def has_county_lookup(con) -> bool:
    """Whether the store holds a LAD -> county lookup (table ``lad_county`` with rows)."""
    t = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'lad_county'").fetchone()[0]
    return bool(t) and con.execute("SELECT count(*) FROM lad_county").fetchone()[0] > 0


def _lad_aliases(con, lad_codes: Sequence[str]) -> dict[str, set[str]]:
    """Each LAD 2021 code with its LAD 2023 successor (from the LSOA lookup), as a set of codes."""
    out = {c: {c} for c in lad_codes}
    if not lad_codes:
        return out
    rows = con.execute(
        "SELECT DISTINCT lad_code, lad23_code FROM lsoa_lookup WHERE lad_code IN (SELECT unnest(?)) "
        "AND lad23_code IS NOT NULL", [list(lad_codes)]).fetchall()
    for a, b in rows:
        out[a].add(b)
    return out


def county_of(con, lad_codes: Sequence[str]) -> dict | None:
    """The county of a partnership's districts, or None.

    Parameters
    ----------
    con : duckdb connection (read-only is fine)
    lad_codes : list of str
        The partnership's LAD codes (LAD 2021, as in params).

    Returns
    -------
    dict or None
        ``county_code``, ``county_name``, ``lad_codes`` (every district of the county as the
        store assigns records: LAD codes of the lookup plus LAD 2021 codes whose 2023
        successor is in it), ``partnership_lads`` (the partnership's districts in it),
        ``population`` (mid-year estimate of the county if loaded, else the sum of its
        districts' populations, else None), ``vintage`` and ``source`` (the lookup file).
        None when there is no county lookup, when no district of the partnership is in a
        two-tier county, or when its districts lie in more than one county (see
        :func:`county_note` for the sentence to show instead).
    """
    if not has_county_lookup(con) or not lad_codes:
        return None
    aliases = _lad_aliases(con, lad_codes)
    rows = con.execute(
        "SELECT lad_code, county_code, county_name, vintage, source FROM lad_county "
        "WHERE lad_code IN (SELECT unnest(?))", [sorted(set().union(*aliases.values()))]).fetchall()
    by_lad = {r[0]: r for r in rows}
    hits = {c: next((by_lad[a] for a in sorted(aliases[c]) if a in by_lad), None) for c in lad_codes}
    counties = {r[1] for r in hits.values() if r is not None}
    if len(counties) != 1:
        return None
    code = counties.pop()
    first = next(r for r in hits.values() if r is not None)
    members = [r[0] for r in con.execute(
        "SELECT lad_code FROM lad_county WHERE county_code = ? ORDER BY lad_code", [code]).fetchall()]
    older = [r[0] for r in con.execute(
        "SELECT DISTINCT lad_code FROM lsoa_lookup WHERE lad23_code IN (SELECT unnest(?)) "
        "AND lad_code <> lad23_code", [members]).fetchall()] if members else []
    county_lads = sorted(set(members) | set(older))
    return {
        "county_code": code, "county_name": first[2], "lad_codes": county_lads,
        "partnership_lads": [c for c, r in hits.items() if r is not None],
        "population": county_population(con, code, county_lads),
        "vintage": first[3], "source": first[4],
    }


def county_population(con, county_code: str, lad_codes: Sequence[str]) -> float | None:
    """Residents of a county: its own mid-year estimate row if loaded, else the sum over its
    districts (:func:`csp_analysis.data.population`)."""
    row = con.execute("SELECT population FROM population_area WHERE area_code = ? ORDER BY rowid DESC LIMIT 1",
                      [county_code]).fetchall()
    if row and row[0][0] is not None:
        return float(row[0][0])
    from . import data

    return data.population(con, list(lad_codes)) if lad_codes else None


def county_note(con, lad_codes: Sequence[str], partnership: str = "The partnership") -> str:
    """One sentence about the county row: which county is shown, why none is, or which file adds it."""
    if not has_county_lookup(con):
        return f"The county level is not shown: the store has no district-to-county lookup. Add {COUNTY_LOOKUP_HINT}."
    c = county_of(con, lad_codes)
    if c is not None:
        part = "" if len(c["partnership_lads"]) == len(lad_codes) else \
            f" ({len(c['partnership_lads'])} of its {len(lad_codes)} districts)"
        return (f"The county row is {c['county_name']} ({c['county_code']}), {len(c['lad_codes'])} districts, "
                f"from {c['source']}{part}.")
    aliases = _lad_aliases(con, lad_codes)
    rows = con.execute("SELECT DISTINCT county_name FROM lad_county WHERE lad_code IN (SELECT unnest(?)) "
                       "ORDER BY 1", [sorted(set().union(*aliases.values()))]).fetchall()
    if len(rows) > 1:
        return (f"No county row: {partnership}'s districts lie in more than one county "
                f"({', '.join(r[0] for r in rows)}).")
    return (f"No county row: {partnership} is not part of a two-tier county (a unitary authority, metropolitan "
            "or London borough, or Welsh principal area has no county council).")

"""A national synthetic data set: 40 fictional forces, 314 partnerships, 36 months.

``generate_national(out_dir)`` writes, in the exact published file formats (the writers and
vocabularies of :mod:`csp_analysis.synthetic`), a fictional England and Wales for scale
benchmarks and tests:

* 40 police forces (slugs ``xn-<name>``) and 314 Community Safety Partnerships made of about
  350 districts (London boroughs, metropolitan districts, unitary authorities and the
  districts of two-tier counties), about 36,000 LSOAs (2021 codes) and 59.6 million
  residents, with force sizes like the real ones (one capital force of 8.9 million, the
  smallest around half a million);
* monthly street-level crime files for 2023-01 ... 2025-12, about 300,000 rows a month
  nationally at ``scale=1`` (the real 2025-12 total for 36 forces was 316,358), and
  stop-and-search files (about 45,000 rows a month);
* the lookups and denominators for those areas: LAD -> CSP -> PFA, LSOA 2021 -> LAD
  2021/2023, LAD -> county, LSOA centroids, Census 2021 residents by LSOA and age, Census 2021
  ethnic group by LAD and sex, mid-2022 estimates, IoD-shaped deprivation ranks;
* params for every partnership (group ``national-demo``, ``synthetic: true``), written by
  :func:`csp_analysis.init_params.write_params` from the generated lookups, under
  ``<out>/params`` (never the committed ``params/`` folder);
* ``PLANTED_EFFECTS.md`` / ``planted_effects.json`` describing the planted effects.

Model: the expected count of crime type *k* in LSOA *u* in month *m* is
``rate_k * residents_u / 1000 * place_u * 1.12 ** (10 - decile_u) * trend_k ** (t_m / 12)
* season_k(m) * days_m / 30.4375 * effect_{k,u,m}``, times a gamma unit-month noise (shape
30, mean 1) and a force-month log-normal shock (sd 0.03); counts are Poisson given that
(over-dispersed, seasonal). Every code starts with ``X``, so nothing can be joined to real
data; names are made up. The same seed and scale always give byte-identical files.
"""
from __future__ import annotations

import calendar
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from . import init_params
from .synthetic import (
    AGE_GROUPS, ETHNIC_COLUMNS, IOD_COLUMNS, OUTCOMES, SEASONALITY, STOP_SEARCH_COLUMNS, STREET_COLUMNS,
    TYPE_SHARES, POI, SS_OUTCOME_FIND, SS_OUTCOME_NOFIND, STREET_FIRST,
    STREET_SUFFIX, choose, largest_remainder, write_csv, draw_ss_person_fields, draw_ss_search_fields,
)
from .synthetic import CRIME_TYPES

__all__ = ["NATIONAL_SEED", "MONTHS", "N_FORCES", "N_PARTNERSHIPS", "GROUP", "generate_national"]

NATIONAL_SEED = 20260301
MONTHS: tuple[str, ...] = tuple(f"{y}-{m:02d}" for y in (2023, 2024, 2025) for m in range(1, 13))
N_FORCES = 40
N_PARTNERSHIPS = 314
GROUP = "national-demo"
EW_POPULATION = 59_600_000
CAPITAL_POPULATION = 8_900_000
CAPITAL_PARTNERSHIPS = 33
N_METROPOLITAN_FORCES = 7
LSOA_SIZE = 1650
#: Street rows per 1,000 residents a month, nationally, before trend, season and noise.
ROWS_PER_1000 = 5.3
#: Stop-and-search rows per 1,000 residents a month.
SEARCHES_PER_1000 = 0.75
NO_LOCATION_SHARE = 0.02
SS_NO_COORDS = 0.12
UNIT_MONTH_GAMMA_SHAPE = 30.0
FORCE_MONTH_SD = 0.03
DEPRIVATION_RR_PER_DECILE = 1.12
PLACE_GAMMA_SHAPE = 2.5
POINTS_PER_LSOA = 4

#: National multiplicative change per 12 months.
TRENDS = {k: 1.02 for k in CRIME_TYPES}
TRENDS.update({"Violence and sexual offences": 1.04, "Burglary": 0.95, "Shoplifting": 1.10,
               "Anti-social behaviour": 0.95})
SS_RATE_RATIO = {"White": 1.0, "Black": 3.5, "Asian": 1.4, "Other": 1.3}
SS_FIND_RATE = {"White": 0.28, "Black": 0.20, "Asian": 0.25, "Other": 0.26}

# Planted effects (indices into the sorted force / partnership lists; see _planted()).
SHOPLIFTING_STEP = {"force_index": 6, "start": "2024-07", "ratio": 1.30, "crime_type": "Shoplifting"}
BURGLARY_DROP = {"partnership_index": 20, "start": "2024-04", "ratio": 0.75, "crime_type": "Burglary"}
RISING_VIOLENCE = {"partnership_index": 50, "trend_per_year": 1.20, "crime_type": "Violence and sexual offences",
                   "level": 1.30}
MISSING_FORCE_MONTH = {"force_index": 11, "month": "2024-03"}
ASB_CAP = {"force_index": 15, "month": "2023-09", "rows": 300}

_SYL1 = ("Alder", "Bram", "Cald", "Dun", "Elm", "Fen", "Glen", "Hart", "Ivel", "Kes", "Lark", "Marl", "Nor",
         "Oak", "Pen", "Quen", "Ross", "Stan", "Thorn", "Ulls", "Vel", "Wold", "Yar", "Ash", "Birch", "Cole",
         "Dray", "Eden", "Frith", "Gars", "Holm", "Ings", "Kirk", "Lyn", "Mere", "Ness", "Orm", "Pike", "Rye",
         "Sken", "Tarn", "Wens")
_SYL2 = ("ford", "ton", "ham", "by", "mouth", "wick", "dale", "moor", "field", "bury", "ley", "stow", "worth",
         "caster", "minster", "haven", "combe", "mere", "holt", "thwaite")
_FORCE_SUFFIX = ("shire", "land", "mark", "vale")


def _write_plain_csv(df: pd.DataFrame, path: Path) -> None:
    """Write a CSV whose fields need no quoting, byte-identical to :func:`synthetic.write_csv`.

    Written by hand because pandas' ``to_csv`` was 60% of the generation time; when any
    field holds a comma, quote or line break (so quoting would be needed) the pandas writer
    is used instead, so the output is the same either way.
    """
    cols = [df[c].to_numpy() for c in df.columns]
    cols = [c if c.dtype == object else c.astype(str) for c in cols]
    body = "\n".join(map(",".join, zip(*cols)))
    n = len(df)
    if (body.count(",") != (len(cols) - 1) * n or body.count("\n") != max(n - 1, 0) or '"' in body
            or "\r" in body):
        write_csv(df, path)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(",".join(df.columns) + "\n" + body + ("\n" if n else ""), encoding="utf-8")


def _month_index(month: str) -> int:
    return MONTHS.index(month)


def _names(rng, n: int, taken: set[str]) -> list[str]:
    out = []
    while len(out) < n:
        name = _SYL1[rng.integers(len(_SYL1))] + _SYL2[rng.integers(len(_SYL2))]
        if rng.random() < 0.15:
            name = ("North ", "South ", "East ", "West ", "Upper ", "Lower ")[rng.integers(6)] + name
        if name not in taken:
            taken.add(name)
            out.append(name)
    return out


# ============================================================================= geography
def _build(rng, scale: float) -> dict:
    """The national geography: forces, partnerships, districts, LSOAs, snap points, ethnic mix.
    The steps draw from ``rng`` in this order (the order fixes the files byte for byte)."""
    taken: set[str] = set()
    fnames, fpop, n_csp, metro = _draw_forces(rng, taken)
    forces, csps, lads = _draw_districts(rng, fnames, fpop, n_csp, metro, taken)
    lad = pd.DataFrame(lads)
    fr = pd.DataFrame(forces)
    u = _draw_lsoas(rng, lad, fr)
    points = _draw_points(rng, u)
    eth = _draw_ethnic_mix(rng, lad)
    return {"forces": fr, "csps": pd.DataFrame(csps), "lad": lad, "units": u, "points": points, "eth": eth,
            "scale": scale}


def _draw_forces(rng, taken: set) -> tuple[list, np.ndarray, np.ndarray, set]:
    """Force names and populations (one capital, the rest log-normal) and partnerships per force."""
    # forces: one capital, the rest log-normal, scaled to the national population
    fnames = []
    while len(fnames) < N_FORCES - 1:
        nm = _SYL1[rng.integers(len(_SYL1))] + _FORCE_SUFFIX[rng.integers(len(_FORCE_SUFFIX))]
        if nm not in taken:
            taken.add(nm)
            fnames.append(nm)
    fnames = ["Capital"] + sorted(fnames)
    w = np.exp(rng.normal(0, 0.55, N_FORCES - 1))
    fpop = np.concatenate([[CAPITAL_POPULATION], largest_remainder(w, EW_POPULATION - CAPITAL_POPULATION)])
    # partnerships per force: the capital's boroughs, the rest in proportion to population (>= 2)
    rest = N_PARTNERSHIPS - CAPITAL_PARTNERSHIPS
    n_csp = np.concatenate([[CAPITAL_PARTNERSHIPS], 2 + largest_remainder(fpop[1:].astype(float),
                                                                            rest - 2 * (N_FORCES - 1))])
    metro = set(np.argsort(-fpop[1:])[:N_METROPOLITAN_FORCES] + 1)
    return fnames, fpop, n_csp, metro


def _draw_districts(rng, fnames: list, fpop: np.ndarray, n_csp: np.ndarray, metro: set,
                    taken: set) -> tuple[list, list, list]:
    """Per force: its partnerships, their districts (1-3 each; two-tier counties in about half
    of the non-metropolitan forces) and populations. Returns forces, partnerships, districts."""
    forces, csps, lads = [], [], []
    lad_no = {"X06": 100, "X07": 100, "X08": 100, "X09": 100}
    county_no = 100
    for f in range(N_FORCES):
        slug = "xn-" + fnames[f].lower()
        fname = f"{fnames[f]} Police (SYNTHETIC)"
        pfa = f"X23{100 + f:06d}"
        forces.append({"index": f, "slug": slug, "name": fname, "pfa_code": pfa, "pfa_name": fnames[f],
                       "population": int(fpop[f]), "col": f % 8, "row": f // 8})
        cw = rng.gamma(4.0, 1.0, n_csp[f])
        cpop = largest_remainder(cw, int(fpop[f]))
        cnames = _names(rng, n_csp[f], taken)
        # two-tier counties: about half of the districts of a non-metropolitan force
        counties = []
        if f != 0 and f not in metro:
            counties = [(f"X10{county_no + i:06d}", fnames[f] + ("" if i == 0 else " Minor")) for i in
                        range(1 if n_csp[f] < 8 else 2)]
            county_no += len(counties)
        for j in range(n_csp[f]):
            n_lad = 1 if f == 0 else int(rng.choice([1, 2, 3], p=[0.88, 0.09, 0.03]))
            if f == 0:
                kind, geog = "X09", "London Borough"
            elif f in metro:
                kind, geog = "X08", "Metropolitan District"
            elif counties and (n_lad > 1 or rng.random() < 0.5):
                kind, geog = "X07", "Non-metropolitan District"
            else:
                kind, geog = "X06", "Unitary Authority"
            county = counties[j % len(counties)] if kind == "X07" else None
            lnames = [cnames[j]] if n_lad == 1 else _names(rng, n_lad, taken)
            lpop = largest_remainder(rng.gamma(6.0, 1.0, n_lad), int(cpop[j]))
            csp_code = f"X22{100 + len(csps):06d}"
            csp_name = cnames[j] if n_lad == 1 else f"{cnames[j]} Community Safety Partnership"
            csps.append({"code": csp_code, "name": csp_name, "force": f})
            for k in range(n_lad):
                lad_no[kind] += 1
                lads.append({"code": f"{kind}{lad_no[kind]:06d}", "name": lnames[k], "geography": geog,
                             "csp_code": csp_code, "csp_name": csp_name, "force": f, "population": int(lpop[k]),
                             "county_code": county[0] if county else "", "county_name": county[1] if county else "",
                             "dep": rng.normal(0, 0.5)})
    return forces, csps, lads


def _draw_lsoas(rng, lad: pd.DataFrame, fr: pd.DataFrame) -> pd.DataFrame:
    """LSOAs of each district: names, codes, populations, coordinates, deprivation, place effects."""
    n_lsoa = np.maximum(30, np.round(lad["population"] / LSOA_SIZE)).astype(int)
    li = np.repeat(np.arange(len(lad)), n_lsoa)
    seq = np.concatenate([np.arange(n) for n in n_lsoa])
    n_u = len(li)
    upop = np.zeros(n_u, dtype=np.int64)
    start = 0
    for i, n in enumerate(n_lsoa):
        upop[start:start + n] = largest_remainder(rng.gamma(20.0, 1.0, n), int(lad.at[i, "population"]))
        start += n
    letters = np.array(list("ABCDE"))
    unames = [f"{lad.at[i, 'name']} {s // 4 + 1:03d}{letters[s % 4]}" for i, s in zip(li, seq)]
    u = pd.DataFrame({"lad": li, "name": unames, "pop": upop})
    u["code"] = [f"X01{500001 + i:06d}" for i in range(n_u)]
    f_of = lad["force"].to_numpy()[li]
    # coordinates: forces on an 8 x 5 grid, districts around the force centre, LSOAs around the district
    fx = -5.0 + 0.8 * fr["col"].to_numpy() + 0.4
    fy = 50.3 + 1.0 * fr["row"].to_numpy() + 0.5
    lx = fx[lad["force"]] + rng.uniform(-0.3, 0.3, len(lad))
    ly = fy[lad["force"]] + rng.uniform(-0.35, 0.35, len(lad))
    u["lon"] = lx[li] + rng.normal(0, 0.05, n_u)
    u["lat"] = ly[li] + rng.normal(0, 0.04, n_u)
    # deprivation: latent score (district effect + LSOA noise) -> national rank and decile (1 = most deprived)
    z = lad["dep"].to_numpy()[li] + rng.normal(0, 1.0, n_u)
    rank = np.empty(n_u, dtype=np.int64)
    rank[np.argsort(z, kind="stable")] = np.arange(1, n_u + 1)
    u["imd_rank"] = rank
    u["imd_decile"] = np.minimum(10, (rank - 1) * 10 // n_u + 1)
    u["place"] = rng.gamma(PLACE_GAMMA_SHAPE, 1 / PLACE_GAMMA_SHAPE, n_u)
    u["force"] = f_of
    return u


def _draw_points(rng, u: pd.DataFrame) -> dict:
    """:data:`POINTS_PER_LSOA` named snap points per LSOA (streets and points of interest)."""
    first = np.array(STREET_FIRST, dtype=object)
    suff = np.array(STREET_SUFFIX, dtype=object)
    n_u = len(u)
    n_p = n_u * POINTS_PER_LSOA
    is_poi = rng.random(n_p) < 0.2
    loc = np.char.add(np.char.add(first[rng.integers(len(first), size=n_p)].astype(str), " "),
                      suff[rng.integers(len(suff), size=n_p)].astype(str)).astype(object)
    poi = choose(rng, POI, int(is_poi.sum()))
    loc[is_poi] = poi
    loc = np.char.add("On or near ", loc.astype(str)).astype(object)
    plon = np.repeat(u["lon"].to_numpy(), POINTS_PER_LSOA) + rng.normal(0, 0.004, n_p)
    plat = np.repeat(u["lat"].to_numpy(), POINTS_PER_LSOA) + rng.normal(0, 0.003, n_p)
    points = {"lon": np.array([f"{v:.6f}" for v in plon], dtype=object),
              "lat": np.array([f"{v:.6f}" for v in plat], dtype=object), "location": loc}
    return points


def _draw_ethnic_mix(rng, lad: pd.DataFrame) -> np.ndarray:
    """Ethnic mix by district (5 broad groups); the capital is more diverse."""
    eth = np.zeros((len(lad), 5))
    for i, f in enumerate(lad["force"]):
        mu = np.log([0.85, 0.08, 0.03, 0.025, 0.015]) if f != 0 else np.log([0.54, 0.2, 0.13, 0.06, 0.07])
        e = np.exp(mu + rng.normal(0, 0.4, 5))
        eth[i] = e / e.sum()
    return eth


# ============================================================================= crime
def _expected(geo, scale: float) -> tuple[np.ndarray, dict]:
    """Expected counts (months x types x LSOAs) before noise; also the planted-effect masks."""
    u, lad, csps = geo["units"], geo["lad"], geo["csps"]
    nM, nK = len(MONTHS), len(CRIME_TYPES)
    share = np.array([TYPE_SHARES[t] for t in CRIME_TYPES])
    dep = DEPRIVATION_RR_PER_DECILE ** (10 - u["imd_decile"].to_numpy())
    base = u["pop"].to_numpy() / 1000 * u["place"].to_numpy() * dep
    base = base / base.sum() * u["pop"].sum() / 1000  # national level set by ROWS_PER_1000
    t = np.arange(nM)
    cal = np.array([int(m[5:]) for m in MONTHS])
    days = np.array([calendar.monthrange(int(m[:4]), int(m[5:]))[1] for m in MONTHS]) / 30.4375
    tk = np.array([TRENDS[k] for k in CRIME_TYPES])
    amp = np.array([SEASONALITY.get(k, (0.0, 7))[0] for k in CRIME_TYPES])
    peak = np.array([SEASONALITY.get(k, (0.0, 7))[1] for k in CRIME_TYPES])
    season = 1 + amp[None, :] * np.cos(2 * np.pi * (cal[:, None] - peak[None, :]) / 12)
    mk = (tk[None, :] ** (t[:, None] / 12)) * season * days[:, None]  # months x types
    lam = (ROWS_PER_1000 * scale) * share[None, :, None] * mk[:, :, None] * base[None, None, :]
    # planted effects
    K = {k: i for i, k in enumerate(CRIME_TYPES)}
    f_u = u["force"].to_numpy()
    csp_u = lad["csp_code"].to_numpy()[u["lad"].to_numpy()]
    e = SHOPLIFTING_STEP
    lam[_month_index(e["start"]):, K[e["crime_type"]], f_u == e["force_index"]] *= e["ratio"]
    e = BURGLARY_DROP
    code = csps.at[e["partnership_index"], "code"]
    lam[_month_index(e["start"]):, K[e["crime_type"]], csp_u == code] *= e["ratio"]
    e = RISING_VIOLENCE
    code_v = csps.at[e["partnership_index"], "code"]
    lam[:, K[e["crime_type"]], csp_u == code_v] *= (e["level"] * e["trend_per_year"] ** (t / 12))[:, None]
    return lam, {"shoplifting_csp_codes": sorted(set(csp_u[f_u == SHOPLIFTING_STEP["force_index"]])),
                 "burglary_csp": code, "violence_csp": code_v}


def _outcome_tables():
    tables = {}
    for t in CRIME_TYPES:
        if t == "Anti-social behaviour":
            continue
        d = OUTCOMES[t]
        tables[t] = (np.array(list(d), dtype=object), np.array(list(d.values()), dtype=float) / sum(d.values()))
    return tables


def _street_month(rng, geo, lam_m: np.ndarray, f: int, month: str, outcomes: dict,
                  asb_cap: int | None = None) -> pd.DataFrame:
    """One force's street file for one month (rows ordered by LSOA name, then crime type)."""
    u, P, fr = geo["units"], geo["points"], geo["forces"]
    idx = geo["force_units"][f]  # this force's LSOAs, sorted by name
    counts = rng.poisson(lam_m[:, idx].T)  # LSOA x type
    asb = CRIME_TYPES.index("Anti-social behaviour")
    if asb_cap is not None and counts[:, asb].sum() > asb_cap:  # a capped ASB extract
        keep = np.zeros(counts[:, asb].sum(), dtype=np.int64)
        keep[rng.choice(len(keep), asb_cap, replace=False)] = 1
        counts[:, asb] = np.bincount(np.repeat(np.arange(len(idx)), counts[:, asb]), weights=keep,
                                     minlength=len(idx)).astype(np.int64)
    cell = np.repeat(np.arange(counts.size), counts.ravel())
    ui, k = np.divmod(cell, len(CRIME_TYPES))
    unit = idx[ui]
    n = len(cell)
    noloc = rng.random(n) < NO_LOCATION_SHARE
    order = np.concatenate([np.flatnonzero(~noloc), np.flatnonzero(noloc)])  # no-location rows last
    unit, k, noloc = unit[order], k[order], noloc[order]
    pt = unit * POINTS_PER_LSOA + rng.integers(0, POINTS_PER_LSOA, n)
    code = u["code"].to_numpy()[unit].astype(object)
    name = u["name"].to_numpy()[unit].astype(object)
    lon, lat, loc = P["lon"][pt], P["lat"][pt], P["location"][pt]
    code[noloc] = name[noloc] = lon[noloc] = lat[noloc] = ""
    loc[noloc] = "No Location"
    types = np.array(CRIME_TYPES, dtype=object)[k]
    outc = np.full(n, "", dtype=object)
    ids = np.full(n, "", dtype=object)
    crime = k != asb
    n_ids = int(crime.sum())
    ids[crime] = np.frombuffer(rng.bytes(32 * n_ids).hex().encode(), dtype="S64").astype(str)
    for t, (vals, p) in outcomes.items():
        sel = np.flatnonzero(k == CRIME_TYPES.index(t))
        outc[sel] = vals[rng.choice(len(vals), len(sel), p=p)]
    fname = fr.at[f, "name"]
    return pd.DataFrame({
        "Crime ID": ids, "Month": month, "Reported by": fname, "Falls within": fname, "Longitude": lon,
        "Latitude": lat, "Location": loc, "LSOA code": code, "LSOA name": name, "Crime type": types,
        "Last outcome category": outc, "Context": "",
    }, columns=list(STREET_COLUMNS))


def _stop_search_month(rng, geo, f: int, month: str, scale: float) -> pd.DataFrame:
    """One force's stop-and-search file for one month (format of :mod:`csp_analysis.synthetic`)."""
    u, P, lad = geo["units"], geo["points"], geo["lad"]
    groups = tuple(SS_RATE_RATIO)
    lads = np.flatnonzero(lad["force"].to_numpy() == f)
    eth = geo["eth"][lads]  # White, Asian, Black, Mixed, Other
    broad = {"White": eth[:, 0], "Asian": eth[:, 1], "Black": eth[:, 2], "Other": eth[:, 3] + eth[:, 4]}
    pop = lad["population"].to_numpy()[lads]
    w = np.array([[pop[i] * broad[g][i] * SS_RATE_RATIO[g] for g in groups] for i in range(len(lads))]).ravel()
    n = int(rng.poisson(SEARCHES_PER_1000 * scale * pop.sum() / 1000))
    cell = rng.choice(len(w), size=n, p=w / w.sum())
    li, gi = np.divmod(cell, len(groups))
    unit = np.empty(n, dtype=np.int64)
    for j, L in enumerate(lads):
        sel = np.flatnonzero(li == j)
        cand = geo["lad_units"][L]
        unit[sel] = cand[rng.integers(0, len(cand), len(sel))]
    pt = unit * POINTS_PER_LSOA + rng.integers(0, POINTS_PER_LSOA, n)
    lat, lon = P["lat"][pt], P["lon"][pt]
    nocoord = rng.random(n) < SS_NO_COORDS
    lat[nocoord] = lon[nocoord] = ""
    vehicle, typ, officer, self_def = draw_ss_search_fields(rng, n, groups, gi)
    officer[vehicle] = ""
    gender, agev, legislation, obj = draw_ss_person_fields(rng, n, vehicle, self_def)
    found = rng.random(n) < np.array([SS_FIND_RATE[g] for g in groups])[gi]
    outcome = np.empty(n, dtype=object)
    outcome[found] = choose(rng, SS_OUTCOME_FIND, int(found.sum()))
    outcome[~found] = choose(rng, SS_OUTCOME_NOFIND, int((~found).sum()))
    linked = np.where(found, "True", "False").astype(object)
    removal = choose(rng, {"False": 0.94, "True": 0.04, "": 0.02}, n)
    removal[vehicle] = ""
    part_op = np.where(rng.random(n) < 0.07, "True", "False").astype(object)
    ndays = calendar.monthrange(int(month[:4]), int(month[5:]))[1]
    t0 = np.datetime64(f"{month}-01T00:00", "m").astype(np.int64)
    ts = np.sort(t0 + rng.integers(0, ndays * 1440, n))  # rows in time order, like the published files
    date = np.char.add(np.datetime_as_string(ts.astype("datetime64[m]"), unit="s"), "+00:00").astype(object)
    df = pd.DataFrame({
        "Type": typ, "Date": date, "Part of a policing operation": part_op, "Policing operation": "",
        "Latitude": lat, "Longitude": lon, "Gender": gender, "Age range": agev,
        "Self-defined ethnicity": self_def, "Officer-defined ethnicity": officer,
        "Legislation": legislation, "Object of search": obj, "Outcome": outcome,
        "Outcome linked to object of search": linked, "Removal of more than just outer clothing": removal,
    }, columns=list(STOP_SEARCH_COLUMNS))
    return df


# ============================================================================= small tables
def _tables(geo) -> dict[str, pd.DataFrame]:
    fr, lad, u = geo["forces"], geo["lad"], geo["units"]
    lad_lookup = pd.DataFrame({
        "LAD17CD": lad["code"], "LAD17NM": lad["name"], "CSP17CD": lad["csp_code"], "CSP17NM": lad["csp_name"],
        "PFA17CD": fr["pfa_code"].to_numpy()[lad["force"]], "PFA17NM": fr["pfa_name"].to_numpy()[lad["force"]],
        "FID": np.arange(1, len(lad) + 1)})
    ln = lad["name"].to_numpy()[u["lad"]]
    lc = lad["code"].to_numpy()[u["lad"]]
    lsoa21 = pd.DataFrame({"lsoa21cd": u["code"], "lsoa21nm": u["name"], "lad21cd": lc, "lad21nm": ln,
                           "lad23cd": lc, "lad23nm": ln})
    cent = pd.DataFrame({"lsoa21cd": u["code"], "longitude": [f"{v:.6f}" for v in u["lon"]],
                         "latitude": [f"{v:.6f}" for v in u["lat"]]})
    tiers = lad[lad["county_code"] != ""]
    county = pd.DataFrame({"LAD23CD": tiers["code"], "LAD23NM": tiers["name"], "CTY23CD": tiers["county_code"],
                           "CTY23NM": tiers["county_name"], "ObjectId": np.arange(1, len(tiers) + 1)})
    # Census 2021 residents by LSOA and age band (shares of the synthetic module)
    shares = np.array([0.185, 0.105, 0.130, 0.190, 0.195, 0.195])
    ages = np.floor(u["pop"].to_numpy()[:, None] * shares[None, :]).astype(np.int64)
    ages[:, -1] += u["pop"].to_numpy() - ages.sum(axis=1)
    age_df = pd.DataFrame({"lsoa21_code": np.repeat(u["code"].to_numpy(), 6),
                           "lsoa21_name": np.repeat(u["name"].to_numpy(), 6),
                           "age_group": np.tile(np.array(AGE_GROUPS, dtype=object), len(u)),
                           "usual_residents": ages.ravel()})
    # Census 2021 ethnic group by LAD and sex (19 categories, rounded to 5, blank for zero)
    cols = [c for c, _, _ in ETHNIC_COLUMNS]
    gidx = {"White": 0, "Asian": 1, "Black": 2, "Mixed": 3, "Other": 4}
    rows = []
    for i, r in lad.iterrows():
        wv = np.array([[s * geo["eth"][i, gidx[g]] * within for _, g, within in ETHNIC_COLUMNS]
                       for s in (0.508, 0.492)]).ravel()
        cells = largest_remainder(wv, int(r["population"])).reshape(2, -1)
        for sex, vals in zip(("Female", "Male"), cells):
            rec = {"Geography Code": r["code"], "Geography Name": r["name"], "Sex": sex}
            rec.update({c: (int(5 * np.round(v / 5)) or "") for c, v in zip(cols, vals)})
            rows.append(rec)
    eth = pd.DataFrame(rows)
    mye = [{"Code": "X92000001", "Name": "ENGLAND AND WALES (SYNTHETIC)", "Geography": "Country",
            "Population": int(lad["population"].sum())}]
    cty = tiers.groupby(["county_code", "county_name"], sort=True)["population"].sum()
    mye += [{"Code": c, "Name": n, "Geography": "County", "Population": int(p)} for (c, n), p in cty.items()]
    mye += [{"Code": r["code"], "Name": r["name"], "Geography": r["geography"], "Population": int(r["population"])}
            for _, r in lad.sort_values("code").iterrows()]
    iod = pd.DataFrame({"lsoa11_code": u["code"], "lsoa11_name": u["name"], "lad19_code": lc, "lad19_name": ln,
                        "index_of_multiple_deprivation_imd_rank": u["imd_rank"]})
    n_u = len(u)
    for c in IOD_COLUMNS[5:12]:  # domain ranks: the IMD rank with noise, re-ranked
        z = u["imd_rank"].to_numpy() + (np.arange(n_u) * 7919 % 4001 - 2000)
        r_ = np.empty(n_u, dtype=np.int64)
        r_[np.argsort(z, kind="stable")] = np.arange(1, n_u + 1)
        iod[c] = r_
    for c in IOD_COLUMNS[4:12]:
        iod[c.replace("_rank", "_decile")] = np.minimum(10, (iod[c].to_numpy() - 1) * 10 // n_u + 1)
    iod = iod[list(IOD_COLUMNS)]
    return {
        "geography/lad_csp_pfa_lookup.csv": lad_lookup,
        "geography/lsoa21_lookup.csv": lsoa21,
        "geography/lsoa21_centroids.csv": cent,
        "geography/lad23_cty23_lookup.csv": county,
        "population/census2021_lsoa21_usual_residents_by_age_group.csv": age_df,
        "population/census2021_ethnic_group_19cat_by_sex_lad_region.csv": eth,
        "population/ons_mye_mid2022.csv": pd.DataFrame(mye),
        "deprivation/iod2019_lsoa11_ranks_deciles.csv": iod,
    }


def _planted(geo, meta: dict, realised: dict, seed: int, scale: float) -> dict:
    fr, csps = geo["forces"], geo["csps"]
    name = dict(zip(csps["code"], csps["name"]))
    return {
        "seed": seed, "scale": scale, "months": [MONTHS[0], MONTHS[-1]],
        "national_trend_per_year": TRENDS,
        "seasonality": {k: {"amplitude": a, "peak_month": p} for k, (a, p) in SEASONALITY.items()},
        "deprivation_rate_ratio_per_decile": DEPRIVATION_RR_PER_DECILE,
        "shoplifting_step": {**SHOPLIFTING_STEP, "force": fr.at[SHOPLIFTING_STEP["force_index"], "slug"],
                             "partnerships": [init_params.slugify(name[c]) for c in meta["shoplifting_csp_codes"]],
                             "realised_ratio_12m": realised["shoplifting_ratio"]},
        "burglary_drop": {**BURGLARY_DROP, "partnership": init_params.slugify(name[meta["burglary_csp"]]),
                          "realised_ratio_vs_rest_of_force": realised["burglary_ratio"]},
        "rising_violence": {**RISING_VIOLENCE, "partnership": init_params.slugify(name[meta["violence_csp"]])},
        "missing_force_month": {**MISSING_FORCE_MONTH, "force": fr.at[MISSING_FORCE_MONTH["force_index"], "slug"]},
        "asb_capped_extract": {**ASB_CAP, "force": fr.at[ASB_CAP["force_index"], "slug"]},
    }


def _fmt(x) -> str:
    return "not measured: fewer months generated" if x is None else f"{x:.3f}"


def _effects_markdown(pe: dict) -> str:
    s, b, v = pe["shoplifting_step"], pe["burglary_drop"], pe["rising_violence"]
    mf, ac = pe["missing_force_month"], pe["asb_capped_extract"]
    return f"""# Planted effects in the national synthetic data (SYNTHETIC, seed {pe['seed']}, scale {pe['scale']})

Months {pe['months'][0]} ... {pe['months'][1]}. Counts are Poisson given an over-dispersed mean
(gamma unit-month noise, shape {UNIT_MONTH_GAMMA_SHAPE:g}; force-month log-normal shock, sd {FORCE_MONTH_SD}).

| effect | where | size | how to see it |
|---|---|---|---|
| national trends | everywhere | per year: violence x{TRENDS['Violence and sexual offences']}, shoplifting x{TRENDS['Shoplifting']}, burglary x{TRENDS['Burglary']}, ASB x{TRENDS['Anti-social behaviour']}, others x1.02 | trends report, Mann-Kendall / count-model trend |
| seasonality | everywhere | e.g. ASB amplitude {SEASONALITY['Anti-social behaviour'][0]}, peak July | seasonal decomposition |
| deprivation gradient | every LSOA | rate ratio {DEPRIVATION_RR_PER_DECILE} per IMD decile | deprivation gradient |
| shoplifting step | force `{s['force']}` ({len(s['partnerships'])} partnerships) | x{s['ratio']} from {s['start']} (realised 12-month ratio {_fmt(s['realised_ratio_12m'])}) | year-on-year change, control charts |
| burglary drop | partnership `{b['partnership']}` | x{b['ratio']} from {b['start']} (realised, against the rest of its force: {_fmt(b['realised_ratio_vs_rest_of_force'])}) | intervention report (ITS / DiD) if declared |
| worse and getting worse | partnership `{v['partnership']}` | violence x{v['level']} level and x{v['trend_per_year']} a year | national index flag |
| missing force-month | force `{mf['force']}` | no street or stop-and-search file for {mf['month']} | coverage notes; month never filled |
| capped ASB extract | force `{ac['force']}` | exactly {ac['rows']} ASB rows in {ac['month']} | extract-artefact flag |

Everything is fictional; every code starts with `X`.
"""


# ============================================================================= entry point
def generate_national(out_dir: str | Path = "data/demo/national", seed: int = NATIONAL_SEED, scale: float = 1.0,
                      months: int | None = None, write_params: bool = True, progress: bool = False) -> dict:
    """Write the national synthetic data set under ``out_dir``.

    Parameters
    ----------
    out_dir : path
        Folder to write into (``police_uk/``, ``geography/``, ``population/``,
        ``deprivation/``, ``params/`` and the effects / README files).
    seed : int
        Random seed; the same seed and scale give byte-identical files.
    scale : float
        Multiplies every expected count (1 = realistic national volumes; tests use ~0.002).
    months : int, optional
        Write only the first ``months`` months (default all 36); the geography is unchanged.
    write_params : bool
        Also write a params file per partnership under ``out_dir/params`` (group
        ``national-demo``).
    progress : bool
        Print a line per month.

    Returns
    -------
    dict
        ``out_dir``, ``seed``, ``scale``, ``forces``, ``partnerships``, ``lads``, ``lsoas``,
        ``population``, ``street_rows``, ``street_rows_by_month``, ``stop_search_rows``,
        ``files`` (count), ``bytes``, ``params`` (count), ``planted_effects`` and ``seconds``.
    """
    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ss_geo, ss_street, ss_ss = np.random.SeedSequence(seed).spawn(3)
    geo = _build(np.random.default_rng(ss_geo), scale)
    _index_units(geo)
    u, lad = geo["units"], geo["lad"]
    lam, meta = _expected(geo, scale)
    month_list = MONTHS[: months or len(MONTHS)]
    written = _write_months(out, geo, lam, meta, month_list, scale, np.random.default_rng(ss_street),
                            np.random.default_rng(ss_ss), progress)
    for rel, df in _tables(geo).items():
        write_csv(df, out / rel)
        written["files"] += 1
    pe = _planted(geo, meta, written["realised"].ratios(), seed, scale)
    (out / "planted_effects.json").write_text(json.dumps(pe, indent=2, default=float) + "\n", encoding="utf-8")
    (out / "PLANTED_EFFECTS.md").write_text(_effects_markdown(pe), encoding="utf-8")
    n_params = _write_national_params(out, geo, month_list) if write_params else 0
    rows_by_month, ss_rows = written["rows_by_month"], written["ss_rows"]
    street_rows = int(sum(rows_by_month.values()))
    _write_readme(out, geo, seed, scale, month_list, street_rows, ss_rows)
    return {
        "out_dir": str(out), "seed": seed, "scale": scale, "forces": N_FORCES, "partnerships": len(geo["csps"]),
        "lads": int(len(lad)), "lsoas": int(len(u)), "population": int(lad["population"].sum()),
        "street_rows": street_rows, "street_rows_by_month": rows_by_month, "stop_search_rows": int(ss_rows),
        "files": written["files"], "bytes": written["bytes"], "params": n_params, "planted_effects": pe,
        "seconds": round(time.perf_counter() - t0, 2),
    }


def _index_units(geo: dict) -> None:
    """Each force's units in name order and each district's units (added to ``geo``)."""
    u, lad = geo["units"], geo["lad"]
    by_name = np.argsort(u["name"].to_numpy().astype(str), kind="stable")
    f_sorted = u["force"].to_numpy()[by_name]
    geo["force_units"] = [by_name[f_sorted == f] for f in range(N_FORCES)]
    lad_sorted = u["lad"].to_numpy()
    geo["lad_units"] = [np.flatnonzero(lad_sorted == i) for i in range(len(lad))]


class _Realised:
    """Counts of located rows behind the realised planted effects (shoplifting step in one force,
    burglary drop in one partnership against the rest of its force)."""

    def __init__(self, geo: dict, meta: dict):
        u, lad = geo["units"], geo["lad"]
        self.b_code, self.s_force = meta["burglary_csp"], SHOPLIFTING_STEP["force_index"]
        self.csp_of_unit = lad["csp_code"].to_numpy()[u["lad"].to_numpy()]
        self.b_force = dict(zip(geo["csps"]["code"], geo["csps"]["force"]))[self.b_code]
        self.s_start = _month_index(SHOPLIFTING_STEP["start"])
        self.b_start = _month_index(BURGLARY_DROP["start"])
        self.code_to_unit = pd.Series(np.arange(len(u)), index=u["code"].to_numpy())
        self.shop_pre = self.shop_post = 0
        self.burg = {"pre_t": 0, "post_t": 0, "pre_c": 0, "post_c": 0}

    def add(self, f: int, mi: int, df: pd.DataFrame) -> None:
        if f not in (self.s_force, self.b_force):
            return
        loc = df[df["LSOA code"] != ""]
        units = self.code_to_unit[loc["LSOA code"].to_numpy()].to_numpy()
        s_start = self.s_start
        if f == self.s_force and (mi in range(s_start - 12, s_start) or mi in range(s_start, s_start + 12)):
            n_shop = int((loc["Crime type"] == "Shoplifting").sum())
            if mi < s_start:
                self.shop_pre += n_shop
            else:
                self.shop_post += n_shop
        if f == self.b_force:
            isb = (loc["Crime type"] == "Burglary").to_numpy()
            tr = self.csp_of_unit[units] == self.b_code
            key = "pre" if mi < self.b_start else "post"
            self.burg[f"{key}_t"] += int((isb & tr).sum())
            self.burg[f"{key}_c"] += int((isb & ~tr).sum())

    def ratios(self) -> dict:
        burg = self.burg
        return {
            "shoplifting_ratio": (self.shop_post / self.shop_pre) if self.shop_pre and self.shop_post else None,
            "burglary_ratio": ((burg["post_t"] / burg["pre_t"]) / (burg["post_c"] / burg["pre_c"])
                               if min(burg.values()) > 0 else None),
        }


def _write_months(out: Path, geo: dict, lam: np.ndarray, meta: dict, month_list: list, scale: float,
                  rng_s: np.random.Generator, rng_ss: np.random.Generator, progress: bool) -> dict:
    """Draw and write every force-month's street and stop-and-search file (the draws' order fixes
    the files byte for byte). Returns counts of files, bytes and rows, and the realised effects."""
    u = geo["units"]
    outcomes = _outcome_tables()
    realised = _Realised(geo, meta)
    n_files, n_bytes, rows_by_month, ss_rows = 0, 0, {}, 0
    for mi, mo in enumerate(month_list):
        tm = time.perf_counter()
        noise = rng_s.gamma(UNIT_MONTH_GAMMA_SHAPE, 1 / UNIT_MONTH_GAMMA_SHAPE, (1, len(u)))
        shock = np.exp(rng_s.normal(0, FORCE_MONTH_SD, N_FORCES))[u["force"].to_numpy()][None, :]
        lam_m = lam[mi] * noise * shock
        total = 0
        for f in range(N_FORCES):
            slug = geo["forces"].at[f, "slug"]
            if f == MISSING_FORCE_MONTH["force_index"] and mo == MISSING_FORCE_MONTH["month"]:
                rng_s.poisson(1.0)  # keep the stream aligned whatever is skipped
                continue
            cap = ASB_CAP["rows"] if f == ASB_CAP["force_index"] and mo == ASB_CAP["month"] else None
            df = _street_month(rng_s, geo, lam_m, f, mo, outcomes, cap)
            ss = _stop_search_month(rng_ss, geo, f, mo, scale)
            # data.police.uk publishes no file for a force-month without rows (tiny scales only)
            for frame, rel in ((df, f"street/{mo}/{mo}-{slug}-street.csv"),
                               (ss, f"stop_and_search/{mo}/{mo}-{slug}-stop-and-search.csv")):
                if len(frame):
                    p = out / "police_uk" / rel
                    _write_plain_csv(frame, p)
                    n_files += 1
                    n_bytes += p.stat().st_size
            total += len(df)
            ss_rows += len(ss)
            realised.add(f, mi, df)
        rows_by_month[mo] = total
        if progress:
            print(f"  {mo}: {total:,} street rows ({time.perf_counter() - tm:.1f} s)", flush=True)
    return {"files": n_files, "bytes": n_bytes, "rows_by_month": rows_by_month, "ss_rows": ss_rows,
            "realised": realised}


def _write_national_params(out: Path, geo: dict, month_list: list) -> int:
    """A params file per partnership (group :data:`GROUP`) from the synthetic lookups."""
    slugs = dict(zip(geo["forces"]["pfa_name"], geo["forces"]["slug"]))
    plans = init_params.plan_partnerships(out / "geography", force_slugs=slugs)
    res = init_params.write_params(plans, out / "params", group=GROUP, end=month_list[-1],
                                   months=len(month_list), force=True, synthetic=True,
                                   source="national synthetic lookup (SYNTHETIC)")
    return len(res)


def _write_readme(out: Path, geo: dict, seed: int, scale: float, month_list: list, street_rows: int,
                  ss_rows: int) -> None:
    u, lad = geo["units"], geo["lad"]
    (out / "SYNTHETIC_README.md").write_text(
        f"# SYNTHETIC NATIONAL DATA - NOT REAL\n\nGenerated by `csp setup-demo --national` "
        f"(`csp_analysis.synthetic_national.generate_national`, seed {seed}, scale {scale}).\n\n"
        f"{N_FORCES} fictional forces, {len(geo['csps'])} partnerships, {len(lad)} districts, {len(u):,} LSOAs, "
        f"{int(lad['population'].sum()):,} residents; {len(month_list)} months {month_list[0]} ... "
        f"{month_list[-1]}; {street_rows:,} street rows and {ss_rows:,} stop-and-search rows in the exact "
        "data.police.uk formats. Every code starts with `X`. Params for every partnership (group "
        f"`{GROUP}`) are in `params/`; planted effects in `PLANTED_EFFECTS.md`.\n", encoding="utf-8")

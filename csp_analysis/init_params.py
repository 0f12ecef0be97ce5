"""Write partnership parameters (``params/<slug>.yaml``) from the ONS lookups.

``csp init-params`` builds one params file per Community Safety Partnership from

* the ONS *LAD17 -> CSP17 -> PFA17* lookup (which districts make up each CSP, and its
  police force area),
* the LSOA 2011 -> LAD 2019 / LAD 2021 lookup (IoD 2019 file 1, with the 2020-2021
  successor codes: Buckinghamshire, North and West Northamptonshire), and
* the LSOA 2021 -> LAD 2021 / LAD 2023 lookup (the April-2023 unitary authorities:
  Cumberland, Westmorland and Furness, North Yorkshire, Somerset),

all recognised by their headers (:func:`csp_analysis.lookups.detect_kind`).

Local-government reorganisations since 2017
-------------------------------------------
The store assigns each police record to the **LAD 2021** code of its LSOA (both LSOA
vintages resolve to LAD 2021 codes), so generated ``lad_codes`` are LAD 2021 codes. A
2017 district maps to its LAD 2021 successor (itself when unchanged). The partnership a
district belongs to is decided by its *final* (LAD 2023) authority ``S``:

* when ``S`` is a new authority formed from districts of **more than one** 2017 CSP, ``S``
  becomes one partnership, named after it, with the LAD 2021 codes of all its districts
  (*merged*: Buckinghamshire, North / West Northamptonshire, Bournemouth, Christchurch
  and Poole, East Suffolk, Cumberland, Westmorland and Furness);
* otherwise the district stays in its 2017 CSP, whose codes are updated to the successor
  codes (*codes updated*: Dorset, Western Suffolk, Somerset, North Yorkshire).

Every change is listed in :attr:`Plan.changes` and printed by the command.

The 2019 changes (Dorset / BCP, East and West Suffolk, Somerset West and Taunton) predate
both LSOA lookups' first LAD vintage (2019, already reorganised), and the LSOA 2011 names in
the IoD file use the 2019 district names, so the 2017 -> 2019 step cannot be derived from
the shared files; it is the small statutory table :data:`REORGANISED_2019` below (the
structural change orders of 2018), applied only to 2017 codes absent from the 2019 lookup.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd
import yaml

from . import params as params_mod
from .lookups import detect_kind

#: 2017 district -> 2019 successor, from the structural change orders (SI 2018/648
#: Bournemouth, Dorset and Poole; SI 2018/639 East Suffolk and West Suffolk; SI 2018/649
#: Somerset West and Taunton). Hand-written because no shared ONS file carries the step.
REORGANISED_2019: dict[str, str] = {
    "E06000028": "E06000058", "E06000029": "E06000058", "E07000048": "E06000058",  # Bournemouth, Poole, Christchurch
    "E07000049": "E06000059", "E07000050": "E06000059", "E07000051": "E06000059",  # East / North Dorset, Purbeck
    "E07000052": "E06000059", "E07000053": "E06000059",  # West Dorset, Weymouth and Portland
    "E07000201": "E07000245", "E07000204": "E07000245",  # Forest Heath, St Edmundsbury -> West Suffolk
    "E07000205": "E07000244", "E07000206": "E07000244",  # Suffolk Coastal, Waveney -> East Suffolk
    "E07000190": "E07000246", "E07000191": "E07000246",  # Taunton Deane, West Somerset
}

#: PFA names whose data.police.uk slug is not the plain slug of the name.
FORCE_SLUG_EXCEPTIONS = {
    "metropolitan police": "metropolitan",
    "london, city of": "city-of-london",
    "city of london": "city-of-london",
    "devon & cornwall": "devon-and-cornwall",
}

DEFAULT_GROUP = "national"
DEFAULT_MONTHS = 36


class InitParamsError(ValueError):
    """The lookups are missing or inconsistent, or a partnership cannot be found."""


def slugify(text: str) -> str:
    """Lower-case slug: ``'Bristol, City of'`` -> ``'bristol-city-of'``, ``&`` -> ``and``."""
    s = text.lower().replace("&", " and ").replace("'", "").replace("\u2019", "")
    return re.sub(r"[^a-z0-9]+", "-", s).strip("-")


def force_slug(pfa_name: str) -> str:
    """The data.police.uk force slug of a police force area name (``'South Yorkshire'`` ->
    ``'south-yorkshire'``, ``'Metropolitan Police'`` -> ``'metropolitan'``)."""
    key = pfa_name.strip().lower()
    return FORCE_SLUG_EXCEPTIONS.get(key, slugify(pfa_name))


@dataclass
class Plan:
    """One partnership to write."""

    name: str
    slug: str
    code: str  # the CSP17 code, or the successor LAD code of a merged partnership
    lad_codes: list[str]
    lad_names: list[str]
    forces: list[str]
    force_names: list[str]
    csp17_codes: list[str]
    changes: list[str] = field(default_factory=list)
    lad17_codes: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if len(self.csp17_codes) > 1 or self.code not in self.csp17_codes:
            return "merged"
        return "codes updated" if self.changes else "unchanged"


def _read(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    df.columns = [c.strip() for c in df.columns]
    return df


def find_lookups(geography_dir: str | os.PathLike) -> dict[str, Path]:
    """Find the LAD17-CSP17-PFA17, LSOA21 and LSOA11 lookups in a folder by their headers.

    Returns
    -------
    dict
        ``lad_lookup`` (required), ``lsoa21`` and ``lsoa11`` (optional) -> file.
    """
    d = Path(geography_dir)
    if not d.is_dir():
        raise InitParamsError(f"{d}: no such folder (expected the ONS geography lookups)")
    found: dict[str, Path] = {}
    for f in sorted(d.iterdir()):
        if not f.name.endswith((".csv", ".csv.gz")):
            continue
        try:
            head = pd.read_csv(f, nrows=0, encoding="utf-8-sig").columns
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError):
            continue
        kind = detect_kind([c.strip() for c in head])
        if kind in ("lad_lookup", "lsoa21", "lsoa11") and kind not in found:
            found[kind] = f
    if "lad_lookup" not in found:
        raise InitParamsError(f"{d}: no LAD17 -> CSP17 -> PFA17 lookup (columns LAD17CD, CSP17CD, PFA17CD)")
    return found


def plan_partnerships(geography_dir: str | os.PathLike, force_slugs: dict[str, str] | None = None) -> list[Plan]:
    """Every partnership of the lookups, with the reorganisations since 2017 applied.

    Parameters
    ----------
    geography_dir : path
        Folder holding the ONS lookups (recognised by header).
    force_slugs : dict, optional
        PFA name -> data.police.uk slug, overriding :func:`force_slug`.

    Returns
    -------
    list of Plan
        Sorted by force then name; slugs are unique.
    """
    files = find_lookups(geography_dir)
    lad = _read(files["lad_lookup"])
    names, to21, to23 = _successor_codes(files, lad)
    df, forming = _assign_units(lad, files, names, to21, to23)
    plans = [_plan_unit(unit, g, df, forming, names, force_slugs or {})
             for unit, g in df.groupby("unit", sort=False)]
    _make_slugs_unique(plans)
    plans.sort(key=lambda p: (p.forces[0], p.name))
    return plans


def _successor_codes(files: dict, lad: pd.DataFrame) -> tuple[dict, dict, dict]:
    """Area names by code, and the LAD19/LAD21 -> LAD21 and LAD21 -> LAD23 successors that the
    LSOA lookups hold."""
    names: dict[str, str] = dict(zip(lad["LAD17CD"], lad["LAD17NM"]))
    to21: dict[str, str] = {}  # LAD19 or LAD21 code -> LAD21 code
    to23: dict[str, str] = {}
    if "lsoa11" in files:
        l11 = _read(files["lsoa11"])
        if "lad19cd" in l11:
            to21.update(dict(zip(l11["lad19cd"], l11["lad21cd"])))
            names.update(dict(zip(l11["lad19cd"], l11.get("lad19nm", l11["lad19cd"]))))
        to21.update({c: c for c in l11["lad21cd"]})
        names.update(dict(zip(l11["lad21cd"], l11.get("lad21nm", l11["lad21cd"]))))
    if "lsoa21" in files:
        l21 = _read(files["lsoa21"])
        to21.update({c: c for c in l21["lad21cd"]})
        names.update(dict(zip(l21["lad21cd"], l21.get("lad21nm", l21["lad21cd"]))))
        if "lad23cd" in l21:
            to23.update(dict(zip(l21["lad21cd"], l21["lad23cd"])))
            names.update(dict(zip(l21["lad23cd"], l21.get("lad23nm", l21["lad23cd"]))))
    return names, to21, to23


def _assign_units(lad: pd.DataFrame, files: dict, names: dict, to21: dict,
                  to23: dict) -> tuple[pd.DataFrame, set]:
    """One row per 2017 LAD with its 2021/2023 successors and the partnership ("unit") it
    belongs to now; and the new authorities formed from districts of more than one 2017 CSP."""
    rows = []
    for r in lad.itertuples(index=False):
        c17 = r.LAD17CD
        if c17 in to21 or not to21:
            c21 = to21.get(c17, c17)
        elif c17 in REORGANISED_2019 and REORGANISED_2019[c17] in to21:
            c21 = to21[REORGANISED_2019[c17]]
        else:
            raise InitParamsError(
                f"{files['lad_lookup']}: LAD {c17} ({r.LAD17NM}) has no successor in the LSOA lookups "
                f"({', '.join(str(p) for k, p in files.items() if k != 'lad_lookup') or 'none found'})")
        rows.append({"lad17": c17, "lad17nm": r.LAD17NM, "lad21": c21, "lad23": to23.get(c21, c21),
                     "csp": r.CSP17CD, "cspnm": r.CSP17NM, "pfa": r.PFA17NM})
    df = pd.DataFrame(rows)
    lad17_codes = set(df["lad17"])
    # a new authority formed from districts of more than one 2017 CSP becomes one partnership
    n_csp = df.groupby("lad23")["csp"].nunique()
    forming = {s for s, n in n_csp.items() if n > 1 and s not in lad17_codes}
    df["unit"] = [s if s in forming else c for s, c in zip(df["lad23"], df["csp"])]
    return df, forming


def _plan_unit(unit: str, g: pd.DataFrame, df: pd.DataFrame, forming: set, names: dict,
               slugs: dict) -> Plan:
    """The plan of one partnership (rows ``g`` of ``df``), with the changes since 2017 in words."""
    lad21 = sorted(dict.fromkeys(g["lad21"]))
    pfas = sorted(dict.fromkeys(g["pfa"]))
    csps = list(dict.fromkeys(g["csp"]))
    changes = []
    if unit in forming:
        name = names.get(unit, unit)
        parts = []
        for c in csps:
            whole = set(df.loc[df["csp"] == c, "lad17"]) <= set(g["lad17"])
            cn = g.loc[g["csp"] == c, "cspnm"].iloc[0]
            parts.append(f"{cn} ({c})" + ("" if whole else " in part"))
        changes.append(f"merged into {name} ({unit}) from 2017 CSPs " + ", ".join(parts))
    else:
        name = g["cspnm"].iloc[0]
    for c21, h in g.groupby("lad21", sort=True):
        olds = list(h["lad17"])
        if olds != [c21]:
            changes.append(" + ".join(f"{o} {names.get(o, o)}" for o in olds)
                           + f" -> {c21} {names.get(c21, c21)}")
    if unit not in forming:
        for c23, h in g[g["lad23"] != g["lad21"]].groupby("lad23", sort=True):
            parts = sorted(dict.fromkeys(h["lad21"]))
            changes.append(", ".join(f"{c} {names.get(c, c)}" for c in parts)
                           + f" form {c23} {names.get(c23, c23)} since April 2023 (the police files' "
                           "LSOAs resolve to the 2021 codes kept here)")
    return Plan(
        name=name, slug=slugify(name), code=unit, lad_codes=lad21,
        lad_names=[names.get(c, c) for c in lad21],
        forces=[slugs.get(p) or force_slug(p) for p in pfas], force_names=pfas,
        csp17_codes=csps, changes=changes, lad17_codes=list(g["lad17"]),
    )


def _make_slugs_unique(plans: list[Plan]) -> None:
    """Two partnerships of the same name get their code appended to the slug."""
    seen: dict[str, int] = {}
    for p in plans:
        seen[p.slug] = seen.get(p.slug, 0) + 1
    for p in plans:
        if seen[p.slug] > 1:
            p.slug = f"{p.slug}-{p.code.lower()}"


def select(plans: list[Plan], queries: list[str]) -> list[Plan]:
    """The plans matching each query: a slug, a CSP/LAD code, or a name (case-insensitive;
    a unique prefix of a name also matches)."""
    out: list[Plan] = []
    for q in queries:
        ql = q.strip().lower()
        hits = [p for p in plans if ql in (p.slug, p.code.lower(), p.name.lower())
                or ql in (c.lower() for c in p.csp17_codes + p.lad_codes + p.lad17_codes)
                or ql in (n.lower() for n in p.lad_names)]
        if not hits:
            hits = [p for p in plans if p.name.lower().startswith(ql) or slugify(q) == p.slug]
        if len(hits) != 1:
            near = [p.name for p in plans if ql[:4] and ql[:4] in p.name.lower()][:8]
            what = "no partnership" if not hits else f"{len(hits)} partnerships ({', '.join(h.name for h in hits)})"
            raise InitParamsError(f"{q!r}: {what} match" + (f"; similar: {', '.join(near)}" if near and not hits else ""))
        if hits[0] not in out:
            out.append(hits[0])
    return out


def default_end(today: date | None = None) -> str:
    """The latest month data.police.uk has usually published: two months before this one."""
    t = today or date.today()
    m = t.year * 12 + t.month - 1 - 2
    return f"{m // 12}-{m % 12 + 1:02d}"


def _month_minus(month: str, n: int) -> str:
    y, m = map(int, month.split("-"))
    k = y * 12 + m - 1 - n
    return f"{k // 12}-{k % 12 + 1:02d}"


def render_yaml(p: Plan, group: str, end: str, months: int = DEFAULT_MONTHS, synthetic: bool = False,
                source: str = "ONS LAD17-CSP17-PFA17 lookup") -> str:
    """The text of one params file (comments say where each value came from)."""
    start = _month_minus(end, months - 1)
    body = {
        "name": p.name,
        "slug": p.slug,
        "group": group,
        "description": f"Generated by `csp init-params` from the {source}; edit freely.",
        "lad_codes": p.lad_codes,
        "forces": p.forces,
        "window": {"start": start, "end": end},
        "priority_crime_types": ["Anti-social behaviour", "Burglary", "Violence and sexual offences"],
        "small_number_threshold": 5,
        "comparators": [],
        "interventions": [],
        "local_data": [],
    }
    if synthetic:
        body["synthetic"] = True
    head = [f"# {p.name}: generated by `csp init-params` ({p.status}).",
            f"# Districts (LAD 2021 codes, as the store assigns police records): "
            + ", ".join(f"{c} {n}" for c, n in zip(p.lad_codes, p.lad_names)),
            f"# Police force area(s): {', '.join(p.force_names)}; 2017 CSP code(s): {', '.join(p.csp17_codes)}"]
    head += [f"# Change since 2017: {c}" for c in p.changes]
    text = yaml.safe_dump(body, sort_keys=False, default_flow_style=None, allow_unicode=True, width=110)
    return "\n".join(head) + "\n" + text


def write_params(plans: list[Plan], out_dir: str | os.PathLike, *, group: str = DEFAULT_GROUP,
                 end: str | None = None, months: int = DEFAULT_MONTHS, force: bool = False,
                 synthetic: bool = False, source: str = "ONS LAD17-CSP17-PFA17 lookup") -> list[dict]:
    """Write and validate one params file per plan.

    An existing file is kept (``status='exists'``) unless ``force``. Each written file is
    validated by :func:`csp_analysis.params.load_params` before it replaces anything.

    Returns
    -------
    list of dict
        ``slug``, ``path``, ``status`` (``written``, ``overwritten``, ``exists``), ``change``
        (``merged``, ``codes updated``, ``unchanged``) and ``changes`` (sentences).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    end = f"{params_mod.to_month(end or default_end()):%Y-%m}"  # raises ValueError on a bad month
    if months < 1:
        raise ValueError(f"months must be at least 1 (got {months})")
    results = []
    for p in plans:
        path = out / f"{p.slug}.yaml"
        existed = path.exists()
        if existed and not force:
            results.append({"slug": p.slug, "path": str(path), "status": "exists", "change": p.status,
                            "changes": p.changes})
            continue
        # validated under its own name (the schema checks slug == file name) before it replaces anything
        tmp_dir = out / ".init-params.tmp"
        tmp_dir.mkdir(exist_ok=True)
        tmp = tmp_dir / f"{p.slug}.yaml"
        tmp.write_text(render_yaml(p, group, end, months, synthetic, source), encoding="utf-8")
        try:
            params_mod.load_params(tmp, check_files=False)
        except params_mod.ParamsError:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, path)
        results.append({"slug": p.slug, "path": str(path), "status": "overwritten" if existed else "written",
                        "change": p.status, "changes": p.changes})
    if (out / ".init-params.tmp").is_dir():
        (out / ".init-params.tmp").rmdir()
    return results


def summarise(results: list[dict]) -> str:
    """Lines for the command's output: counts, then each merged / renamed partnership."""
    n = {s: sum(r["status"] == s for r in results) for s in ("written", "overwritten", "exists")}
    lines = [f"{n['written']} written, {n['overwritten']} overwritten, {n['exists']} kept "
             "(already there; --force overwrites)"]
    for r in results:
        if r["change"] != "unchanged":
            lines.append(f"  {r['slug']} ({r['change']}): " + "; ".join(r["changes"]))
    for r in results:
        if r["status"] == "exists":
            lines.append(f"  kept existing {r['path']}")
    return "\n".join(lines)

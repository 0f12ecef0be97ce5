"""Partnership parameters: one YAML file per partnership in ``params/``, validated
by a typed schema (pydantic) before any notebook starts.

Errors name the file, the line and the field, e.g.
``params/riverton.yaml: line 9: field 'window.start': not a month ('2023-13'); use YYYY-MM``.

Parameters are untrusted input (edited by many hands), so besides the schema:

* the file is at most :data:`MAX_PARAMS_BYTES` and a key may not appear twice in one
  mapping (YAML would otherwise keep the last silently);
* text fields have bounded length (``name`` 200 characters, descriptions 5,000);
* ``small_number_threshold`` is a whole number >= 0 (``true`` is refused, not read as 1);
* months lie between :data:`EARLIEST_MONTH` (data.police.uk starts in December 2010) and
  a year from today;
* ``notebooks`` names only notebooks shipped in ``notebooks/``; ``comparators`` and
  partnership slugs in an intervention's ``comparison`` name params files that exist;
* ``local_data`` paths resolve relative to the params file and must stay, after
  symbolic links are resolved, inside the params folder, the ``data/local`` folder
  beside it, or a data root the user names (``data_roots`` of :func:`load_params`,
  ``$CSP_DATA_ROOT``, the command line's ``--data-root``);
* :func:`check_against_store` checks codes and LSOA names against the store and the
  intervention dates against the months the store holds.
"""
from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, Sequence

import pandas as pd
import yaml
from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, ValidationError,
                      field_validator, model_validator)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PARAMS_DIR = REPO_ROOT / "params"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"

#: largest params file read (a params file is a few kB; this refuses a 50 MB one at once)
MAX_PARAMS_BYTES = 256 * 1024
MAX_NAME_CHARS = 200
MAX_TEXT_CHARS = 5_000
#: first month of data.police.uk street-level data
EARLIEST_MONTH = date(2010, 12, 1)
#: earliest month a local indicator's process change may start
EARLIEST_LOCAL_MONTH = date(2000, 1, 1)
#: environment variable naming extra data roots (separated by os.pathsep)
DATA_ROOT_ENV = "CSP_DATA_ROOT"

CRIME_TYPES = (
    "Anti-social behaviour", "Bicycle theft", "Burglary", "Criminal damage and arson", "Drugs",
    "Other crime", "Other theft", "Possession of weapons", "Public order", "Robbery", "Shoplifting",
    "Theft from the person", "Vehicle crime", "Violence and sexual offences",
)
LAD_CODE_RE = re.compile(r"^[EWSNX]\d{8}$")
LSOA_CODE_RE = re.compile(r"^[EWX]0[12]\d{6}$")
SLUG_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class ParamsError(ValueError):
    """Invalid partnership parameters; the message names the file and field."""


def _check_crime_types(v: list[str]) -> list[str]:
    for t in v:
        if t != "All crime" and t not in CRIME_TYPES:
            raise ValueError(f"unknown crime type {t!r}; use one of: All crime, {', '.join(CRIME_TYPES)}")
    return v


def to_month(v: Any) -> date:
    """``2024-03``, ``2024-3``, ``2024-03-15``, a date or a Timestamp -> the first day of that month.

    Raises ``ValueError`` naming the value when it is not a month.
    """
    if isinstance(v, (date, pd.Timestamp)):
        return date(v.year, v.month, 1)
    s = str(v).strip()
    m = re.fullmatch(r"(\d{4})-(\d{1,2})(?:-\d{1,2})?", s)
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"not a month ({s!r}); use YYYY-MM")
    return date(int(m.group(1)), int(m.group(2)), 1)


def _latest_month() -> date:
    t = date.today()
    return date(t.year + 1, t.month, 1)


def _police_month(v: date) -> date:
    if not EARLIEST_MONTH <= v <= _latest_month():
        raise ValueError(f"{v:%Y-%m} is outside {EARLIEST_MONTH:%Y-%m} (the first data.police.uk month) to "
                         f"{_latest_month():%Y-%m} (a year from today)")
    return v


def _local_month(v: date) -> date:
    if not EARLIEST_LOCAL_MONTH <= v <= _latest_month():
        raise ValueError(f"{v:%Y-%m} is outside {EARLIEST_LOCAL_MONTH:%Y-%m} to {_latest_month():%Y-%m} "
                         "(a year from today)")
    return v


Month = Annotated[date, BeforeValidator(to_month), AfterValidator(_police_month)]
LocalMonth = Annotated[date, BeforeValidator(to_month), AfterValidator(_local_month)]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)]
Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]
ShortStr = Annotated[str, Field(max_length=MAX_NAME_CHARS)]


def available_notebooks(notebooks_dir: str | Path | None = None) -> list[str]:
    """Names of the report notebooks shipped in ``notebooks/`` (e.g. ``01_trends``)."""
    return sorted(f.stem for f in Path(notebooks_dir or NOTEBOOKS_DIR).glob("*.ipynb"))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class Window(_Strict):
    """The analysis window (inclusive months)."""

    start: Month
    end: Month

    @model_validator(mode="after")
    def _order(self):
        if self.end < self.start:
            raise ValueError(f"end {self.end:%Y-%m} is before start {self.start:%Y-%m}")
        return self


class Area(_Strict):
    """An area: the whole partnership, some of its LADs, or a list of LSOAs."""

    type: Literal["partnership", "lads", "lsoas"] = "partnership"
    codes: list[ShortStr] = Field(default_factory=list, max_length=5_000)
    names: list[ShortStr] = Field(default_factory=list, max_length=5_000,
                                  description="LSOA names, resolved to codes via the store")

    @model_validator(mode="after")
    def _codes(self):
        if self.type == "lads":
            for c in self.codes:
                if not LAD_CODE_RE.match(c):
                    raise ValueError(f"not a LAD code: {c!r}")
        if self.type == "lsoas":
            if not self.codes and not self.names:
                raise ValueError("an LSOA area needs 'codes' or 'names'")
            for c in self.codes:
                if not LSOA_CODE_RE.match(c):
                    raise ValueError(f"not an LSOA code: {c!r}")
        return self


class Intervention(_Strict):
    """A scheme to evaluate (CCTV, Safer Streets, a PSPO, a new process)."""

    name: Name
    description: Text = ""
    start: Month
    end: Month | None = None
    phase_in_months: StrictInt = Field(0, ge=0, le=24)
    area: Area = Field(default_factory=Area)
    target_crime_types: list[str] = Field(default_factory=lambda: ["All crime"])
    comparison: Literal["auto-lsoas", "auto-partnerships"] | list[ShortStr] = "auto-lsoas"
    buffer: Literal["auto", "none"] | list[ShortStr] = "auto"
    buffer_km: float = Field(1.0, gt=0, le=20)

    @field_validator("target_crime_types")
    @classmethod
    def _types(cls, v):
        return _check_crime_types(v)

    @field_validator("comparison")
    @classmethod
    def _comparison(cls, v):
        if isinstance(v, list):
            for c in v:
                if not (LSOA_CODE_RE.match(c) or SLUG_RE.match(c)):
                    raise ValueError(f"{c!r} is neither an LSOA code nor a partnership slug")
        return v

    @field_validator("buffer")
    @classmethod
    def _buffer(cls, v):
        if isinstance(v, list):
            for c in v:
                if not LSOA_CODE_RE.match(c):
                    raise ValueError(f"not an LSOA code: {c!r}")
        return v

    @model_validator(mode="after")
    def _order(self):
        if self.end is not None and self.end < self.start:
            raise ValueError(f"end {self.end:%Y-%m} is before start {self.start:%Y-%m}")
        return self


class ProcessChange(_Strict):
    """A change in how a service works (e.g. a new triage process) around which the
    local-indicators report compares the named indicators before and after."""

    name: Name
    start: LocalMonth = Field(description="first month under the new process")
    indicators: list[ShortStr] = Field(min_length=1, max_length=500,
                                       description="ids of local indicators the change should move")
    description: Text = ""


class LocalData(_Strict):
    """A local-indicators CSV (see docs/local_indicators_format.md)."""

    path: Path
    description: Text = ""
    process_changes: list[ProcessChange] = Field(default_factory=list, max_length=100)


class Partnership(_Strict):
    """The parameters of one partnership's reports."""

    name: Name
    slug: ShortStr
    group: ShortStr = Field("demo", description="run group, e.g. 'demo' (synthetic data) or 'seed' (real data)")
    description: Text = ""
    lad_codes: list[ShortStr] = Field(min_length=1, max_length=500)
    forces: list[ShortStr] = Field(min_length=1, max_length=50, description="data.police.uk force slugs")
    window: Window
    priority_crime_types: list[str] = Field(default_factory=lambda: ["Anti-social behaviour"])
    small_number_threshold: StrictInt = Field(5, ge=0, le=100)
    comparators: list[ShortStr] = Field(default_factory=list, max_length=500,
                                        description="slugs of partnerships to compare with")
    interventions: list[Intervention] = Field(default_factory=list, max_length=100)
    local_data: list[LocalData] = Field(default_factory=list, max_length=100)
    notebooks: list[ShortStr] | None = Field(None, description="notebooks to run (default: the three police-data reports)")
    synthetic: bool = False

    @field_validator("comparators")
    @classmethod
    def _comparators(cls, v):
        for c in v:
            if not SLUG_RE.match(c):
                raise ValueError(f"not a partnership slug: {c!r} (lower-case letters, digits and hyphens)")
        return v

    @field_validator("notebooks")
    @classmethod
    def _notebooks(cls, v):
        if v is None:
            return v
        valid = available_notebooks()
        for n in v:
            if n not in valid:
                raise ValueError(f"unknown notebook {n!r}; use one of: {', '.join(valid)}")
        return v

    @field_validator("slug")
    @classmethod
    def _slug(cls, v):
        if not SLUG_RE.match(v):
            raise ValueError(f"not a slug ({v!r}): lower-case letters, digits and hyphens")
        return v

    @field_validator("lad_codes")
    @classmethod
    def _lads(cls, v):
        for c in v:
            if not LAD_CODE_RE.match(c):
                raise ValueError(f"not a LAD code: {c!r} (expected e.g. E08000016)")
        return v

    @field_validator("forces")
    @classmethod
    def _forces(cls, v):
        for f in v:
            if not SLUG_RE.match(f):
                raise ValueError(f"not a data.police.uk force slug: {f!r} (e.g. south-yorkshire)")
        return v

    @field_validator("priority_crime_types")
    @classmethod
    def _types(cls, v):
        return _check_crime_types(v)

    # -- conveniences for notebooks
    @property
    def start(self) -> pd.Timestamp:
        return pd.Timestamp(self.window.start)

    @property
    def end(self) -> pd.Timestamp:
        return pd.Timestamp(self.window.end)


def _format_loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (("." if out else "") + str(part))
    return out


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a key repeated in one mapping (PyYAML keeps the last
    silently); the error names both lines."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    hash(key)
                except TypeError:
                    raise yaml.constructor.ConstructorError(
                        None, None, "a mapping key must be a plain value", key_node.start_mark) from None
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r} (first on line {seen[key]}, again on line {line})",
                        key_node.start_mark)
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _read_yaml(path: Path) -> tuple[Any, Any]:
    """(data, node tree) of a params file, with duplicate keys refused."""
    text = path.read_text(encoding="utf-8")
    loader = _UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    return data, node


def _line_of(node, loc: tuple) -> int | None:
    """Line (1-based) of the YAML node at pydantic location ``loc`` (or of the nearest
    enclosing node that exists)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if getattr(k, "value", None) == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            nxt = node.value[part]
        else:
            nxt = None
        if nxt is None:
            break
        node = nxt
        line = node.start_mark.line + 1
    return line


def data_roots_from_env() -> list[Path]:
    """Data roots named by ``$CSP_DATA_ROOT`` (several separated by ``os.pathsep``)."""
    return [Path(x) for x in os.environ.get(DATA_ROOT_ENV, "").split(os.pathsep) if x.strip()]


def allowed_roots(params_file: str | Path, data_roots: Sequence[str | Path] | None = None) -> list[Path]:
    """The folders a params file's ``local_data`` may point into (resolved): the params
    folder, the ``data/local`` folder beside it, ``data_roots`` and ``$CSP_DATA_ROOT``."""
    pdir = Path(params_file).resolve().parent
    roots = [pdir, pdir.parent / "data" / "local"]
    roots += [Path(r).expanduser() for r in (data_roots or [])] + data_roots_from_env()
    out = []
    for r in roots:
        r = r.resolve()
        if r not in out:
            out.append(r)
    return out


def resolve_local_path(raw: str | Path, params_file: str | Path,
                       data_roots: Sequence[str | Path] | None = None) -> Path:
    """Resolve a ``local_data`` path and check that it stays inside an allowed root.

    A relative path is looked up beside the params file first and then (the project's
    layout, ``data/local/<file>.csv``) in the params folder's parent; symbolic links are
    resolved before the check, so neither ``..`` nor a link can lead outside the roots.

    Raises
    ------
    ValueError
        When the resolved path lies outside every allowed root (the message lists them).
    """
    raw = Path(raw)
    pdir = Path(params_file).resolve().parent
    if raw.is_absolute():
        candidates = [raw]
    else:
        candidates = [pdir / raw, pdir.parent / raw]
    full = next((c for c in candidates if c.exists()), candidates[0]).resolve()
    roots = allowed_roots(params_file, data_roots)
    if not any(full.is_relative_to(r) for r in roots):
        raise ValueError(f"{str(raw)!r} resolves to {full}, outside the allowed folders "
                         f"({', '.join(str(r) for r in roots)}); put the file in the params folder or "
                         f"name its folder with --data-root / ${DATA_ROOT_ENV}")
    return full


def load_params(path: str | Path, base_dir: str | Path | None = None, check_files: bool = True,
                data_roots: Sequence[str | Path] | None = None, check_references: bool | None = None) -> Partnership:
    """Read and validate one partnership's YAML file.

    Parameters
    ----------
    path : path
        ``params/<slug>.yaml``.
    base_dir : path, optional
        Deprecated and ignored for confinement: relative ``local_data`` paths resolve
        beside the params file (then in its folder's parent). Kept for compatibility;
        when given it is one more allowed data root.
    check_files : bool
        Check that files the parameters point at exist (local data, the params files
        of named comparators and comparison partnerships). Path confinement is checked
        either way.
    data_roots : list of path, optional
        Folders outside the params folder that ``local_data`` files may live in
        (``$CSP_DATA_ROOT`` adds more; the CLI's ``--data-root`` fills this).
    check_references : bool, optional
        Check that named comparators and comparison partnerships have params files
        (default: ``check_files``). The runner checks them before any notebook starts;
        a notebook's :func:`csp_analysis.report.start_report` does not, and its
        sections say which named partnerships could not be read.

    Returns
    -------
    Partnership

    Raises
    ------
    ParamsError
        Naming the file, line and field for unknown or repeated keys, bad dates, bad
        codes, oversized text, unknown notebooks or comparators, missing files or
        paths outside the allowed folders.
    """
    path = Path(path)
    raw, tree = _read_params_file(path)

    def where(loc: tuple) -> str:
        line = _line_of(tree, loc)
        return f"{path}: " + (f"line {line}: " if line else "") + f"field '{_format_loc(loc) or '(top level)'}'"

    p = _validate_fields(raw, path, where)
    roots = list(data_roots or []) + ([base_dir] if base_dir else [])
    problems = _check_local_files(p, path, roots, check_files, where)
    if check_files if check_references is None else check_references:
        problems += _check_references(p, path, where)
    if problems:
        raise ParamsError("\n".join(problems))
    return p


def _read_params_file(path: Path) -> tuple[Any, Any]:
    """The YAML file's data and node tree (for line numbers); refuses missing, oversized,
    non-UTF-8 and non-mapping files and invalid YAML, naming the file and line."""
    if not path.exists():
        raise ParamsError(f"{path}: no such parameters file")
    size = path.stat().st_size
    if size > MAX_PARAMS_BYTES:
        raise ParamsError(f"{path}: file is {size:,} bytes; a parameters file may be at most "
                          f"{MAX_PARAMS_BYTES:,} bytes (is a description pasted in by mistake?)")
    try:
        raw, tree = _read_yaml(path)
    except UnicodeDecodeError as exc:
        raise ParamsError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        what = getattr(exc, "problem", None) or str(exc)
        raise ParamsError(f"{path}: {where}not valid YAML ({what})") from None
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping of fields at the top level")
    return raw, tree


def _validate_fields(raw: dict, path: Path, where) -> Partnership:
    """The schema's checks (every error with its line and field) and the slug = file name rule."""
    try:
        p = Partnership.model_validate(raw)
    except ValidationError as exc:
        msgs = []
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown field (check the spelling; see params/README.md)"
            msgs.append(f"{where(tuple(err['loc']))}: {msg}")
        raise ParamsError("\n".join(msgs)) from None
    if p.slug != path.stem:
        raise ParamsError(f"{where(('slug',))}: {p.slug!r} does not match the file name {path.stem!r}")
    return p


def _check_local_files(p: Partnership, path: Path, roots: list, check_files: bool, where) -> list[str]:
    """Resolve each ``local_data`` path inside the allowed folders (in place); the problems found."""
    problems = []
    for i, ld in enumerate(p.local_data):
        try:
            full = resolve_local_path(ld.path, path, roots)
        except ValueError as exc:
            problems.append(f"{where(('local_data', i, 'path'))}: {exc}")
            continue
        if check_files and not full.is_file():
            problems.append(f"{where(('local_data', i, 'path'))}: file not found ({full})")
        ld.path = full
    return problems


def _check_references(p: Partnership, path: Path, where) -> list[str]:
    """Named comparators and comparison partnerships that have no params file beside this one."""
    problems = []
    for i, c in enumerate(p.comparators):
        if not (path.parent / f"{c}.yaml").is_file():
            problems.append(f"{where(('comparators', i))}: unknown partnership {c!r} (no {c}.yaml in "
                            f"{path.parent})")
    for j, iv in enumerate(p.interventions):
        if isinstance(iv.comparison, list):
            for i, c in enumerate(iv.comparison):
                if not LSOA_CODE_RE.match(c) and not (path.parent / f"{c}.yaml").is_file():
                    problems.append(f"{where(('interventions', j, 'comparison', i))}: unknown partnership "
                                    f"{c!r} (no {c}.yaml in {path.parent})")
    return problems


def check_against_store(p: Partnership, con, path: str | Path = "params") -> list[str]:
    """Check the parameters against the store, before any notebook starts.

    Raises :class:`ParamsError` (naming file and field) for LAD codes not in the
    lookups, intervention LAD codes outside the partnership, and intervention LSOA
    names or codes not in the store's LSOA lookups.

    Returns a list of warnings: forces with no data in the store, a window holding no
    month of the data, intervention starts not after the first month of data (no
    before-period) or after the latest (no after-period), no data to check them with.
    """
    known = {r[0] for r in con.execute("SELECT lad_code FROM lad_lookup").fetchall()}
    known |= {r[0] for r in con.execute("SELECT DISTINCT lad_code FROM lsoa_lookup").fetchall()}
    if not known:
        raise ParamsError(f"{path}: the store has no LAD lookup yet: run `csp ingest-lookup` first")
    bad = [(i, c) for i, c in enumerate(p.lad_codes) if c not in known]
    if bad:
        raise ParamsError("\n".join(
            f"{path}: field 'lad_codes[{i}]': unknown LAD code {c!r} (not in the store's lookups)" for i, c in bad
        ))
    for j, iv in enumerate(p.interventions):
        if iv.area.type == "lads":
            for i, c in enumerate(iv.area.codes):
                if c not in p.lad_codes:
                    raise ParamsError(
                        f"{path}: field 'interventions[{j}].area.codes[{i}]': {c!r} is not one of the "
                        "partnership's lad_codes"
                    )
    problems = []
    lsoa_codes = {r[0] for r in con.execute("SELECT DISTINCT lsoa_code FROM lsoa_lookup").fetchall()}
    lsoa_names = {r[0] for r in con.execute("SELECT DISTINCT lsoa_name FROM lsoa_lookup").fetchall()}
    for j, iv in enumerate(p.interventions):
        if iv.area.type == "lsoas":
            for i, n in enumerate(iv.area.names):
                if n not in lsoa_names:
                    problems.append(f"{path}: field 'interventions[{j}].area.names[{i}]': LSOA name {n!r} is not "
                                    "in the store's lookups (check the spelling, e.g. 'Barnsley 001A')")
            for i, c in enumerate(iv.area.codes):
                if c not in lsoa_codes:
                    problems.append(f"{path}: field 'interventions[{j}].area.codes[{i}]': LSOA code {c!r} is not "
                                    "in the store's lookups")
    if problems:
        raise ParamsError("\n".join(problems))
    warnings = []
    if p.notebooks is not None and all(n == "04_local_indicators" for n in p.notebooks):
        return warnings  # a local-indicators-only partnership reads no police data: nothing to warn about
    forces = {r[0] for r in con.execute("SELECT DISTINCT force FROM street").fetchall()}
    for f in p.forces:
        if f not in forces:
            warnings.append(f"no street-level data for force {f!r} in the store")
    first, last = con.execute(
        f"SELECT min(month), max(month) FROM street WHERE force IN ({', '.join('?' for _ in p.forces)})",
        list(p.forces)).fetchone()
    if first is None:
        if p.interventions:
            warnings.append("the store holds no street-level data for this partnership's forces, so the "
                            "interventions' start months could not be checked against the data")
        return warnings
    first, last = date(first.year, first.month, 1), date(last.year, last.month, 1)
    if p.window.end < first or p.window.start > last:
        warnings.append(f"the window {p.window.start:%Y-%m} to {p.window.end:%Y-%m} holds no month of the store's "
                        f"data for these forces ({first:%Y-%m} to {last:%Y-%m})")
    # An intervention outside the data is a warning, not an error: the report says plainly that it
    # cannot be estimated (the Barnsley seed's CCTV began before the store's South Yorkshire data).
    for j, iv in enumerate(p.interventions):
        if iv.start <= first:
            warnings.append(f"interventions[{j}].start: intervention {iv.name!r} starts {iv.start:%Y-%m}, not after "
                            f"the first month of data ({first:%Y-%m}): there is no before-period to compare with")
        elif iv.start > last:
            warnings.append(f"interventions[{j}].start: intervention {iv.name!r} starts {iv.start:%Y-%m}, after the "
                            f"latest month of data ({last:%Y-%m}): there is no after-period yet")
    return warnings


def find_params(params_dir: str | Path | None = None) -> dict[str, Path]:
    """Map slug -> params file for every ``*.yaml`` in the params folder."""
    d = Path(params_dir) if params_dir else DEFAULT_PARAMS_DIR
    return {f.stem: f for f in sorted(d.glob("*.yaml"))}


_to_month = to_month  # the old private name, kept for existing imports

"""Partnership parameters: one YAML file per partnership in ``params/``, validated
by a typed schema (pydantic) before any notebook starts.

Errors name the file and the field, e.g.
``params/riverton.yaml: field 'window.start': not a month ('2023-13'); use YYYY-MM``.
"""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PARAMS_DIR = REPO_ROOT / "params"

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


def _to_month(v: Any) -> date:
    if isinstance(v, (date, pd.Timestamp)):
        return date(v.year, v.month, 1)
    s = str(v).strip()
    m = re.fullmatch(r"(\d{4})-(\d{1,2})(?:-\d{1,2})?", s)
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"not a month ({s!r}); use YYYY-MM")
    return date(int(m.group(1)), int(m.group(2)), 1)


Month = Annotated[date, BeforeValidator(_to_month)]


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
    codes: list[str] = Field(default_factory=list)
    names: list[str] = Field(default_factory=list, description="LSOA names, resolved to codes via the store")

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

    name: str
    description: str = ""
    start: Month
    end: Month | None = None
    phase_in_months: int = Field(0, ge=0, le=24)
    area: Area = Field(default_factory=Area)
    target_crime_types: list[str] = Field(default_factory=lambda: ["All crime"])
    comparison: Literal["auto-lsoas", "auto-partnerships"] | list[str] = "auto-lsoas"
    buffer: Literal["auto", "none"] | list[str] = "auto"
    buffer_km: float = Field(1.0, gt=0, le=20)

    @field_validator("target_crime_types")
    @classmethod
    def _types(cls, v):
        return _check_crime_types(v)

    @model_validator(mode="after")
    def _order(self):
        if self.end is not None and self.end < self.start:
            raise ValueError(f"end {self.end:%Y-%m} is before start {self.start:%Y-%m}")
        return self


class ProcessChange(_Strict):
    """A change in how a service works (e.g. a new triage process) around which the
    local-indicators report compares the named indicators before and after."""

    name: str
    start: Month = Field(description="first month under the new process")
    indicators: list[str] = Field(min_length=1, description="ids of local indicators the change should move")
    description: str = ""


class LocalData(_Strict):
    """A local-indicators CSV (see docs/local_indicators_format.md)."""

    path: Path
    description: str = ""
    process_changes: list[ProcessChange] = Field(default_factory=list)


class Partnership(_Strict):
    """The parameters of one partnership's reports."""

    name: str
    slug: str
    group: str = Field("demo", description="run group, e.g. 'demo' (synthetic data) or 'seed' (real data)")
    description: str = ""
    lad_codes: list[str] = Field(min_length=1)
    forces: list[str] = Field(min_length=1, description="data.police.uk force slugs")
    window: Window
    priority_crime_types: list[str] = Field(default_factory=lambda: ["Anti-social behaviour"])
    small_number_threshold: int = Field(5, ge=0, le=100)
    comparators: list[str] = Field(default_factory=list, description="slugs of partnerships to compare with")
    interventions: list[Intervention] = Field(default_factory=list)
    local_data: list[LocalData] = Field(default_factory=list)
    notebooks: list[str] | None = Field(None, description="notebooks to run (default: the three police-data reports)")
    synthetic: bool = False

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


def load_params(path: str | Path, base_dir: str | Path | None = None, check_files: bool = True) -> Partnership:
    """Read and validate one partnership's YAML file.

    Parameters
    ----------
    path : path
        ``params/<slug>.yaml``.
    base_dir : path, optional
        Folder that relative ``local_data`` paths are resolved against (default: the
        repository root, i.e. the parent of the params folder).
    check_files : bool
        Check that files the parameters point at exist.

    Returns
    -------
    Partnership

    Raises
    ------
    ParamsError
        Naming the file and field for unknown keys, bad dates, bad codes, missing files.
    """
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"{path}: no such parameters file")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping of fields at the top level")
    try:
        p = Partnership.model_validate(raw)
    except ValidationError as exc:
        msgs = []
        for err in exc.errors():
            field = _format_loc(err["loc"]) or "(top level)"
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown field (check the spelling; see params/README.md)"
            msgs.append(f"{path}: field '{field}': {msg}")
        raise ParamsError("\n".join(msgs)) from None
    if p.slug != path.stem:
        raise ParamsError(f"{path}: field 'slug': {p.slug!r} does not match the file name {path.stem!r}")
    base = Path(base_dir) if base_dir else path.resolve().parent.parent
    for i, ld in enumerate(p.local_data):
        full = ld.path if ld.path.is_absolute() else base / ld.path
        if check_files and not full.exists():
            raise ParamsError(f"{path}: field 'local_data[{i}].path': file not found ({full})")
        ld.path = full
    return p


def check_against_store(p: Partnership, con, path: str | Path = "params") -> list[str]:
    """Check codes against the store's lookups; raise for unknown LAD codes.

    Returns a list of warnings (e.g. forces with no data in the store).
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
    warnings = []
    forces = {r[0] for r in con.execute("SELECT DISTINCT force FROM street").fetchall()}
    for f in p.forces:
        if f not in forces:
            warnings.append(f"no street-level data for force {f!r} in the store")
    return warnings


def find_params(params_dir: str | Path | None = None) -> dict[str, Path]:
    """Map slug -> params file for every ``*.yaml`` in the params folder."""
    d = Path(params_dir) if params_dir else DEFAULT_PARAMS_DIR
    return {f.stem: f for f in sorted(d.glob("*.yaml"))}

"""Local (non-police) indicators: the CSV format, its validation, and the store.

Much of what a partnership reports is not police data: referrals by source,
children in need by month, missing-children reports, return-home interviews,
the share of contacts processed within 24 hours. This module reads such figures
from a tidy CSV (specified in ``docs/local_indicators_format.md``), validates
every row, loads the result into the DuckDB table ``local_indicators`` and
offers a few shaping helpers. The statistics live in
:mod:`csp_analysis.local_stats`.

One row holds one published figure. A *local* row (``comparator`` empty) holds
the partnership's own figure in ``value``; a *comparator* row holds a benchmark
(e.g. the statistical-neighbour average) in ``comparator_value`` and leaves
``value`` empty.

Errors name the file, the data row, the line and the column, e.g.::

    data/local/x.csv, row 4 (line 5), column 'value': not a number ('3,133'); write 3133

and a file either loads whole or the error lists every problem in it.
"""
from __future__ import annotations

import csv
import difflib
import io
import math
import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from .formatting import format_count

# --------------------------------------------------------------------------- format

#: Every column of the format, in canonical order.
COLUMNS = (
    "partnership",
    "indicator",
    "indicator_label",
    "period",
    "period_type",
    "value",
    "unit",
    "denominator",
    "group",
    "comparator",
    "comparator_value",
    "counts_children",
    "source",
)
#: Columns that must be present in the header (cells may still be empty where the
#: format allows, e.g. ``value`` on a comparator row).
REQUIRED_COLUMNS = (
    "partnership",
    "indicator",
    "indicator_label",
    "period",
    "period_type",
    "value",
    "unit",
    "counts_children",
    "source",
)
#: Columns that may be left out of the header altogether.
OPTIONAL_COLUMNS = ("denominator", "group", "comparator", "comparator_value")

#: Period types and the pattern each ``period`` must follow.
PERIOD_TYPES = {
    "month": ("YYYY-MM, e.g. 2022-04", re.compile(r"^(\d{4})-(\d{2})$")),
    "quarter": ("YYYY-Qn (calendar quarter), e.g. 2022-Q2 for April to June 2022",
                re.compile(r"^(\d{4})-Q([1-4])$")),
    "financial_year": ("YYYY/YY (April to March), e.g. 2022/23", re.compile(r"^(\d{4})/(\d{2})$")),
    "year": ("YYYY (calendar year), e.g. 2022", re.compile(r"^(\d{4})$")),
}

#: Units and what they mean.
UNITS = {
    "count": "a whole number of people, events or cases",
    "percent": "a percentage, 0 to 100",
    "percent_change": "a published percentage change (e.g. -30 for a 30% fall)",
    "rate": "a rate; the label states the base (e.g. per 10,000 children)",
    "mean": "an average, e.g. the average number per month",
    "ratio": "a ratio or multiple (e.g. 4 for 'four-fold')",
    "score": "a score on a scale the label or source note explains",
    "gbp": "an amount in pounds sterling",
}

#: The columns that identify a figure: no two rows of a file may share them.
KEY_COLUMNS = ("partnership", "indicator", "period", "group", "comparator")

#: The DuckDB table.
TABLE = "local_indicators"

TABLE_COLUMNS = {
    "partnership": "VARCHAR NOT NULL",
    "indicator": "VARCHAR NOT NULL",
    "indicator_label": "VARCHAR NOT NULL",
    "period": "VARCHAR NOT NULL",
    "period_type": "VARCHAR NOT NULL",
    "period_start": "DATE NOT NULL",
    "period_end": "DATE NOT NULL",
    "value": "DOUBLE",
    "unit": "VARCHAR NOT NULL",
    "denominator": "DOUBLE",
    '"group"': "VARCHAR",
    "comparator": "VARCHAR",
    "comparator_value": "DOUBLE",
    "counts_children": "BOOLEAN NOT NULL",
    "source": "VARCHAR NOT NULL",
    "source_file": "VARCHAR NOT NULL",
    "source_row": "INTEGER NOT NULL",
    "line": "INTEGER NOT NULL",
}

#: Columns of the DataFrame returned by :func:`read_local_indicators`.
FRAME_COLUMNS = COLUMNS + ("period_start", "period_end", "source_row", "line")

SLUG_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
SNAKE_RE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
_NOT_AVAILABLE = {"n/a", "na", "nan", "-", "--", "..", "x", "c", "null", "none", ":", "*"}
_TRUE = {"true"}
_FALSE = {"false"}


class LocalIndicatorError(ValueError):
    """A local-indicators file or frame that cannot be used.

    Attributes
    ----------
    problems : list of str
        Every problem found, one line each, naming file, row, line and column.
    """

    def __init__(self, problems: list[str] | str, path: str | None = None):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        self.path = path
        if len(self.problems) == 1:
            msg = self.problems[0]
        else:
            head = f"{path}: " if path else ""
            msg = f"{head}{len(self.problems)} problems:\n  " + "\n  ".join(self.problems)
        super().__init__(msg)


# --------------------------------------------------------------------------- periods


def period_bounds(period: str, period_type: str) -> tuple[date, date]:
    """Return the first and last day of a period.

    Parameters
    ----------
    period : str
        The period as written in the format, e.g. ``"2022-04"``, ``"2022-Q2"``,
        ``"2022/23"`` or ``"2022"``.
    period_type : {"month", "quarter", "financial_year", "year"}
        How ``period`` is to be read.

    Returns
    -------
    (datetime.date, datetime.date)
        First and last day, inclusive.

    Raises
    ------
    ValueError
        If the period does not follow the pattern of its type; the message says
        what the pattern is.
    """
    if period_type not in PERIOD_TYPES:
        raise ValueError(f"unknown period_type {period_type!r}; use one of {', '.join(PERIOD_TYPES)}")
    hint, pattern = PERIOD_TYPES[period_type]
    m = pattern.match(period)
    if not m:
        guess = guess_period_type(period)
        extra = f" (it looks like a {guess.replace('_', ' ')}: is period_type wrong?)" if guess else ""
        raise ValueError(f"{period!r} is not a {period_type.replace('_', ' ')}; write {hint}{extra}")
    year = int(m.group(1))
    if not 1900 <= year <= 2100:
        raise ValueError(f"{period!r}: year {year} is out of range (1900 to 2100)")
    if period_type == "month":
        month = int(m.group(2))
        if not 1 <= month <= 12:
            raise ValueError(f"{period!r}: month {month:02d} does not exist; write {hint}")
        start = date(year, month, 1)
        end = (pd.Timestamp(start) + pd.offsets.MonthEnd(0)).date()
    elif period_type == "quarter":
        q = int(m.group(2))
        start = date(year, 3 * q - 2, 1)
        end = (pd.Timestamp(date(year, 3 * q, 1)) + pd.offsets.MonthEnd(0)).date()
    elif period_type == "financial_year":
        if int(m.group(2)) != (year + 1) % 100:
            raise ValueError(
                f"{period!r} is not a financial year: the second part must be the following year "
                f"({year}/{(year + 1) % 100:02d})"
            )
        start, end = date(year, 4, 1), date(year + 1, 3, 31)
    else:
        start, end = date(year, 1, 1), date(year, 12, 31)
    return start, end


def guess_period_type(period: str) -> str | None:
    """Return the period type whose pattern ``period`` follows, or None.

    Parameters
    ----------
    period : str
        E.g. ``"2023-01"`` (month) or ``"2022/23"`` (financial year).

    Returns
    -------
    str or None
    """
    for name, (_, pattern) in PERIOD_TYPES.items():
        if pattern.match(period):
            return name
    return None


def period_label(period: str, period_type: str) -> str:
    """Return a plain-English label for a period, e.g. ``"December 2022"``.

    Parameters
    ----------
    period : str
        The period as written in the format.
    period_type : str
        Its type (see :data:`PERIOD_TYPES`).

    Returns
    -------
    str
    """
    start, end = period_bounds(period, period_type)
    if period_type == "month":
        return f"{start:%B %Y}"
    if period_type == "quarter":
        return f"{start:%B} to {end:%B %Y}"
    return period


# --------------------------------------------------------------------------- reading


@dataclass
class _Row:
    number: int  # data row, 1-based
    line: int  # physical line where the row starts
    cells: dict[str, str]


#: largest local-indicators file read (the Barnsley file is 60 kB)
MAX_FILE_BYTES = 20 * 1024 * 1024
#: longest cell: labels, groups, comparator names...; sources and notes may be longer
MAX_CELL_CHARS = 300
MAX_NOTE_CHARS = 2_000


def _where(path: str, row: _Row | None = None, column: str | None = None) -> str:
    out = path
    if row is not None:
        out += f", row {row.number} (line {row.line})"
    if column is not None:
        out += f", column '{column}'"
    return out


def _read_text(path: Path, name: str) -> str:
    if not path.exists():
        raise LocalIndicatorError(f"{name}: file not found", name)
    if path.is_dir():
        raise LocalIndicatorError(f"{name}: is a folder, not a CSV file", name)
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise LocalIndicatorError(f"{name}: the file is {size:,} bytes; a local-indicators file may be at most "
                                  f"{MAX_FILE_BYTES:,} bytes", name)
    data = path.read_bytes()
    if not data.strip():
        raise LocalIndicatorError(f"{name}: the file is empty (expected a header row and data rows)", name)
    if data[:4] == b"PK\x03\x04":
        raise LocalIndicatorError(
            f"{name}: not a CSV file (it is a zip archive, probably an Excel workbook); "
            "save it as 'CSV UTF-8 (comma delimited)'",
            name,
        )
    if b"\x00" in data:
        raise LocalIndicatorError(f"{name}: not a CSV file (it contains binary data)", name)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise LocalIndicatorError(
            f"{name}, line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); "
            "save the file as 'CSV UTF-8'",
            name,
        ) from None


def _parse(text: str, name: str) -> tuple[list[str], int, list[tuple[int, list[str]]]]:
    """Split CSV text into header and rows, keeping the physical start line of each."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    last = 0
    try:
        for fields in reader:
            start = last + 1
            last = reader.line_num
            records.append((start, fields))
    except csv.Error as exc:
        # the record that failed starts on the line after the last good one; an unbalanced quote
        # otherwise reports the end of the file (or "field larger than field limit") with no useful line
        raise LocalIndicatorError(
            f"{name}, line {last + 1}: not a readable CSV ({exc}); the record starting on this line has a "
            "quote (\") that is never closed or text after a closing quote: check the quoting", name
        ) from None
    # skip leading blank lines to find the header
    while records and not any(f.strip() for f in records[0][1]):
        records.pop(0)
    if not records:
        raise LocalIndicatorError(f"{name}: the file is empty (expected a header row and data rows)", name)
    header_line, header = records[0]
    if len(header) == 1:
        for delim, word in ((";", "semicolons"), ("\t", "tabs"), ("|", "vertical bars")):
            if delim in header[0]:
                raise LocalIndicatorError(
                    f"{name}, line {header_line}: not a comma-separated file (the header is separated by "
                    f"{word}); save it as CSV with commas",
                    name,
                )
    return [h.strip() for h in header], header_line, records[1:]


def _check_header(header: list[str], header_line: int, name: str) -> list[str]:
    problems = []
    seen: set[str] = set()
    known = set(COLUMNS)
    for col in header:
        if col == "":
            problems.append(f"{name}, line {header_line}: a header cell is empty (every column needs a name)")
            continue
        if col in seen:
            problems.append(f"{name}, column '{col}': appears twice in the header")
        seen.add(col)
        if col not in known:
            close = difflib.get_close_matches(col.lower(), COLUMNS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f"; the format's columns are: {', '.join(COLUMNS)}"
            problems.append(f"{name}, column '{col}': unknown column{hint}")
    if not seen & known:
        problems.insert(
            0,
            f"{name}: not a local-indicators CSV (none of its columns is one of the format's: "
            f"{', '.join(COLUMNS)})",
        )
        return problems
    for col in REQUIRED_COLUMNS:
        if col not in seen:
            problems.append(f"{name}, column '{col}': required column missing")
    if ("comparator" in seen) != ("comparator_value" in seen):
        have, lack = ("comparator", "comparator_value") if "comparator" in seen else ("comparator_value", "comparator")
        problems.append(f"{name}, column '{lack}': required when the file has a '{have}' column")
    return problems


def _number(text: str) -> float:
    """Parse a plain number or raise ValueError with advice."""
    s = text.strip()
    if s.lower() in _NOT_AVAILABLE:
        raise ValueError(
            f"not a number ({text!r}); leave the figure out (and say why in a source note) "
            "when it is not available"
        )
    if "%" in s:
        raise ValueError(f"not a number ({text!r}); write the percentage without '%' and set unit to percent")
    if s[:1] in "£$€" or s[-1:] in "£$€":
        raise ValueError(f"not a number ({text!r}); write the amount without a currency sign and set unit to gbp")
    if re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", s):
        raise ValueError(f"not a number ({text!r}); write {s.replace(',', '')} without thousands separators")
    try:
        x = float(s)
    except ValueError:
        raise ValueError(f"not a number ({text!r})") from None
    if not math.isfinite(x):
        raise ValueError(f"not a finite number ({text!r})")
    return x


def _validate_row(row: _Row, name: str) -> tuple[dict, list[str]]:
    """One data row checked column by column: the parsed record and every problem (file, row, line, column)."""
    c = row.cells
    out: dict = {}
    problems: list[str] = []

    def bad(col: str, msg: str) -> None:
        problems.append(f"{_where(name, row, col)}: {msg}")

    _check_filled(c, bad)
    _parse_ids(c, out, bad)
    _parse_period(c, out, bad)
    _parse_unit_and_children(c, out, bad)
    for col in ("group", "comparator"):
        out[col] = c.get(col, "") or None
    out["source"] = c.get("source", "")
    nums = _parse_numbers(c, bad)
    out.update(nums)
    is_comp = out["comparator"] is not None
    _check_row_kind(c, out, is_comp, bad)
    if out["unit"] in UNITS:
        _check_figures(out["unit"], nums, is_comp, bad)
    return out, problems


def _check_filled(c: dict, bad) -> None:
    """Required cells filled, and no cell longer than allowed."""
    for col in ("partnership", "indicator", "indicator_label", "period", "period_type", "unit",
                "counts_children", "source"):
        if c.get(col, "") == "":
            bad(col, "is empty; every row needs a value here")
    for col, v in c.items():
        limit = MAX_NOTE_CHARS if col in ("source", "notes") else MAX_CELL_CHARS
        if v is not None and len(v) > limit:
            bad(col, f"is {len(v):,} characters long; at most {limit:,} are allowed")


def _parse_ids(c: dict, out: dict, bad) -> None:
    """``partnership`` (a slug), ``indicator`` (snake_case) and its label."""
    p = c.get("partnership", "")
    if p and not SLUG_RE.match(p):
        bad("partnership", f"{p!r} is not a slug (lower-case letters, digits and hyphens, e.g. barnsley)")
    out["partnership"] = p
    ind = c.get("indicator", "")
    if ind and not SNAKE_RE.match(ind):
        bad("indicator", f"{ind!r} is not a snake_case id (lower-case letters, digits and underscores, "
                         "starting with a letter, e.g. referrals_by_source)")
    out["indicator"] = ind
    out["indicator_label"] = c.get("indicator_label", "")


def _parse_period(c: dict, out: dict, bad) -> None:
    """``period`` and ``period_type``, and the period's first and last day."""
    period, ptype = c.get("period", ""), c.get("period_type", "")
    out["period"], out["period_type"] = period, ptype
    out["period_start"] = out["period_end"] = None
    if ptype and ptype not in PERIOD_TYPES:
        guess = guess_period_type(period)
        hint = f" ('{period}' looks like a {guess})" if guess else ""
        bad("period_type", f"{ptype!r} is not a period type; use one of {', '.join(PERIOD_TYPES)}{hint}")
    elif ptype and period:
        try:
            out["period_start"], out["period_end"] = period_bounds(period, ptype)
        except ValueError as exc:
            bad("period", str(exc))


def _parse_unit_and_children(c: dict, out: dict, bad) -> None:
    """``unit`` (one of :data:`UNITS`, with a close match suggested) and ``counts_children`` (true/false)."""
    unit = c.get("unit", "")
    if unit and unit not in UNITS:
        close = difflib.get_close_matches(unit.lower(), UNITS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        bad("unit", f"{unit!r} is not a unit{hint}; use one of {', '.join(UNITS)}")
    out["unit"] = unit
    cc = c.get("counts_children", "")
    if cc:
        if cc.lower() in _TRUE:
            out["counts_children"] = True
        elif cc.lower() in _FALSE:
            out["counts_children"] = False
        else:
            bad("counts_children", f"{cc!r} is not true or false")
    out.setdefault("counts_children", None)


def _parse_numbers(c: dict, bad) -> dict[str, float | None]:
    """``value``, ``denominator`` and ``comparator_value`` as numbers (None when empty)."""
    nums: dict[str, float | None] = {}
    for col in ("value", "denominator", "comparator_value"):
        text = c.get(col, "")
        nums[col] = None
        if text != "":
            try:
                nums[col] = _number(text)
            except ValueError as exc:
                bad(col, str(exc))
    return nums


def _check_row_kind(c: dict, out: dict, is_comp: bool, bad) -> None:
    """A comparator row has ``comparator_value`` and no ``value``; a local row the other way round."""
    raw = {col: c.get(col, "") for col in ("value", "comparator_value")}
    if is_comp:
        if raw["value"] != "":
            bad("value", "must be empty on a comparator row: the comparator's figure goes in "
                         "comparator_value (the partnership's own figure goes on its own row)")
        if raw["comparator_value"] == "":
            bad("comparator_value", f"is empty, but the row names a comparator ({out['comparator']!r})")
    else:
        if raw["comparator_value"] != "":
            bad("comparator", "is empty, but comparator_value is filled; name the comparator "
                              "(e.g. 'National average (England)')")
        if raw["value"] == "":
            bad("value", "is empty; a local row needs a value (only a comparator row leaves it empty)")


def _check_figures(unit: str, nums: dict, is_comp: bool, bad) -> None:
    """Unit-specific checks on the figure and its denominator."""
    figure_col = "comparator_value" if is_comp else "value"
    fig, den = nums[figure_col], nums["denominator"]
    if fig is not None:
        if unit == "count":
            if fig < 0:
                bad(figure_col, f"a count cannot be negative ({fig:g})")
            elif fig != int(fig):
                bad(figure_col, f"a count must be a whole number ({fig:g})")
        elif unit == "percent" and not 0 <= fig <= 100:
            bad(figure_col, f"a percentage must be between 0 and 100 ({fig:g})")
        elif unit == "percent_change" and fig < -100:
            bad(figure_col, f"a fall cannot be more than 100% ({fig:g})")
        elif unit in ("rate", "ratio") and fig < 0:
            bad(figure_col, f"a {unit} cannot be negative ({fig:g})")
    if den is not None:
        if unit in ("percent_change", "ratio", "score", "gbp"):
            bad("denominator", f"does not apply to unit {unit}; leave it empty")
        elif den <= 0:
            bad("denominator", f"must be greater than zero ({den:g})")
        elif unit in ("count", "percent") and den != int(den):
            bad("denominator", f"must be a whole number of cases ({den:g})")
        elif unit == "count" and fig is not None and fig > den:
            bad("denominator", f"is smaller than the count ({den:g} < {fig:g}); the denominator is "
                               "the total the count is part of")


def read_local_indicators(path: str | os.PathLike) -> pd.DataFrame:
    """Read and validate a local-indicators CSV.

    Parameters
    ----------
    path : str or PathLike
        The CSV file (UTF-8, comma-separated, header row; see
        ``docs/local_indicators_format.md``).

    Returns
    -------
    pandas.DataFrame
        One row per data row, columns :data:`FRAME_COLUMNS`: the format's columns
        (numbers as floats, ``counts_children`` as bool, empty optional cells as
        missing), ``period_start`` and ``period_end`` (first and last day of the
        period), ``source_row`` (data row number, 1 for the first) and ``line``
        (the file line where the row starts).

    Raises
    ------
    LocalIndicatorError
        If anything is wrong: the error lists every problem, each naming the file,
        the row and its line, and the column. Nothing is partly loaded.
    """
    path = Path(path)
    name = str(path)
    text = _read_text(path, name)
    header, header_line, records = _parse(text, name)
    problems = _check_header(header, header_line, name)
    if problems:
        raise LocalIndicatorError(problems, name)

    rows: list[_Row] = []
    number = 0
    for line, fields in records:
        if not any(f.strip() for f in fields):
            continue  # blank line, or an empty row from a spreadsheet
        number += 1
        row = _Row(number, line, {})
        if len(fields) != len(header):
            problems.append(
                f"{_where(name, row)}: expected {len(header)} fields but found {len(fields)} "
                "(a value containing a comma must be in double quotes)"
            )
            continue
        row.cells = {h: f.strip() for h, f in zip(header, fields)}
        rows.append(row)
    if number == 0:
        raise LocalIndicatorError(f"{name}: the file has a header but no data rows", name)

    records_out = []
    for row in rows:
        rec, row_problems = _validate_row(row, name)
        problems.extend(row_problems)
        rec["source_row"], rec["line"] = row.number, row.line
        records_out.append((row, rec))

    problems.extend(_cross_row_checks(records_out, name))
    if problems:
        raise LocalIndicatorError(problems, name)
    return _frame([rec for _, rec in records_out])


def _cross_row_checks(records: list[tuple[_Row, dict]], name: str) -> list[str]:
    problems = []
    first_key: dict[tuple, _Row] = {}
    first_label: dict[tuple, tuple[str, _Row]] = {}
    first_unit: dict[tuple, tuple[str, _Row]] = {}
    first_children: dict[tuple, tuple[bool, _Row]] = {}
    for row, rec in records:
        key = tuple(rec[k] or "" for k in KEY_COLUMNS)
        if all(rec[k] for k in ("partnership", "indicator", "period")):
            if key in first_key:
                other = first_key[key]
                problems.append(
                    f"{_where(name, row, ', '.join(KEY_COLUMNS))}: duplicates row {other.number} "
                    f"(line {other.line}): the same partnership, indicator, period, group and comparator "
                    "may appear only once"
                )
            else:
                first_key[key] = row
        ind = (rec["partnership"], rec["indicator"])
        if not rec["indicator"]:
            continue
        label = rec["indicator_label"]
        if label:
            if ind in first_label and first_label[ind][0] != label:
                prev, prow = first_label[ind]
                problems.append(
                    f"{_where(name, row, 'indicator_label')}: {label!r} differs from {prev!r} in row "
                    f"{prow.number} (line {prow.line}); an indicator has one label"
                )
            first_label.setdefault(ind, (label, row))
        if rec["comparator"] is None and rec["unit"] in UNITS:
            if ind in first_unit and first_unit[ind][0] != rec["unit"]:
                prev, prow = first_unit[ind]
                problems.append(
                    f"{_where(name, row, 'unit')}: {rec['unit']!r} differs from {prev!r} in row "
                    f"{prow.number} (line {prow.line}); the partnership's own figures for one indicator "
                    "share a unit (use a second indicator id for a second unit)"
                )
            first_unit.setdefault(ind, (rec["unit"], row))
        if rec["counts_children"] is not None:
            if ind in first_children and first_children[ind][0] != rec["counts_children"]:
                prev, prow = first_children[ind]
                problems.append(
                    f"{_where(name, row, 'counts_children')}: {str(rec['counts_children']).lower()} differs "
                    f"from row {prow.number} (line {prow.line}); an indicator either counts children or not"
                )
            first_children.setdefault(ind, (rec["counts_children"], row))
    return problems


def _frame(records: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame.from_records(records)
    for col in FRAME_COLUMNS:
        if col not in df:
            df[col] = None
    df = df[list(FRAME_COLUMNS)]
    for col in ("value", "denominator", "comparator_value"):
        df[col] = pd.to_numeric(df[col], errors="raise").astype("float64")
    df["counts_children"] = df["counts_children"].astype(bool)
    for col in ("period_start", "period_end"):
        df[col] = pd.to_datetime(df[col])
    for col in ("source_row", "line"):
        df[col] = df[col].astype("int64")
    for col in ("group", "comparator"):
        df[col] = df[col].astype(object).where(df[col].notna(), None)
    return df.reset_index(drop=True)


# --------------------------------------------------------------------------- store


def _table_sql() -> str:
    cols = ",\n  ".join(f"{c} {t}" for c, t in TABLE_COLUMNS.items())
    return f"CREATE TABLE IF NOT EXISTS {TABLE} (\n  {cols}\n)"


def ensure_table(con) -> None:
    """Create the ``local_indicators`` table if it is missing (idempotent).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    """
    con.execute(_table_sql())


def load_local_indicators(con, df: pd.DataFrame, source_file: str | os.PathLike) -> int:
    """Write validated local indicators into the store, replacing those of the same file.

    The rows previously loaded from ``source_file`` are deleted and the new ones
    inserted in one transaction, so loading the same file twice leaves the table
    as loading it once, and a failure leaves the table as it was.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        An open store connection (not inside a transaction).
    df : pandas.DataFrame
        The output of :func:`read_local_indicators`.
    source_file : str or PathLike
        Where the rows came from (use the same spelling each time, e.g. the path
        relative to the repository as written in the params file).

    Returns
    -------
    int
        The number of rows loaded.

    Raises
    ------
    LocalIndicatorError
        If ``df`` lacks the format's columns, or a row has the same key
        (partnership, indicator, period, group, comparator) as a row already loaded
        from a different file.
    """
    source_file = Path(source_file).as_posix() if isinstance(source_file, os.PathLike) else str(source_file)
    missing = [c for c in FRAME_COLUMNS if c not in df.columns]
    if missing:
        raise LocalIndicatorError(
            f"{source_file}: the frame lacks column(s) {', '.join(missing)}; "
            "pass the output of read_local_indicators()",
            source_file,
        )
    frame = df[list(FRAME_COLUMNS)].copy()
    frame["source_file"] = source_file
    frame["period_start"] = pd.to_datetime(frame["period_start"]).dt.date
    frame["period_end"] = pd.to_datetime(frame["period_end"]).dt.date
    frame["group"] = frame["group"].astype(object).where(frame["group"].notna(), None)
    frame["comparator"] = frame["comparator"].astype(object).where(frame["comparator"].notna(), None)
    cols = [c.strip('"') for c in TABLE_COLUMNS]
    frame = frame[cols]
    view = "_local_indicators_incoming"
    ensure_table(con)
    con.register(view, frame)
    quoted = ", ".join(f'"{c}"' for c in cols)
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            clash = con.execute(
                f"""SELECT i.source_row, i.line, t.source_file, t.source_row
                FROM {view} i JOIN {TABLE} t
                  ON i.partnership = t.partnership AND i.indicator = t.indicator AND i.period = t.period
                 AND coalesce(i."group", '') = coalesce(t."group", '')
                 AND coalesce(i.comparator, '') = coalesce(t.comparator, '')
                WHERE t.source_file <> ?
                ORDER BY i.source_row""",
                [source_file],
            ).fetchall()
            if clash:
                raise LocalIndicatorError(
                    [
                        f"{source_file}, row {r} (line {ln}), columns '{', '.join(KEY_COLUMNS)}': already "
                        f"loaded from {other} (row {orow}); a figure may come from one file only"
                        for r, ln, other, orow in clash
                    ],
                    source_file,
                )
            con.execute(f"DELETE FROM {TABLE} WHERE source_file = ?", [source_file])
            con.execute(f"INSERT INTO {TABLE} ({quoted}) SELECT {quoted} FROM {view}")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.unregister(view)
    return len(frame)


def load_local_indicator_files(con, paths, base_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Read, validate and load several local-indicators files (e.g. from a params entry).

    Every file is read and validated before any is loaded, so one bad file loads
    nothing.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        An open store connection.
    paths : iterable of str or PathLike
        The files, as written in the params file.
    base_dir : str or PathLike, optional
        Folder that relative paths are relative to (default: the working folder).
        The path is recorded in the store as given.

    Returns
    -------
    pandas.DataFrame
        One row per file: ``source_file``, ``rows``.

    Raises
    ------
    LocalIndicatorError
        Listing the problems of every bad file.
    """
    frames, problems = [], []
    for p in paths:
        as_given = Path(p).as_posix()
        full = Path(base_dir) / p if base_dir is not None and not Path(p).is_absolute() else Path(p)
        try:
            frames.append((as_given, read_local_indicators(full)))
        except LocalIndicatorError as exc:
            problems.extend(exc.problems)
    if problems:
        raise LocalIndicatorError(problems)
    out = [{"source_file": f, "rows": load_local_indicators(con, df, f)} for f, df in frames]
    return pd.DataFrame(out, columns=["source_file", "rows"])


def query_local_indicators(con, partnership: str | None = None, indicator: str | None = None) -> pd.DataFrame:
    """Read local indicators back from the store.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    partnership, indicator : str, optional
        Restrict to one partnership and/or indicator.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`read_local_indicators` plus ``source_file``, ordered
        by partnership, indicator, comparator (local rows first), group and period.
    """
    ensure_table(con)
    where, args = [], []
    if partnership is not None:
        where.append("partnership = ?")
        args.append(partnership)
    if indicator is not None:
        where.append("indicator = ?")
        args.append(indicator)
    sql = f"SELECT * FROM {TABLE}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += ' ORDER BY partnership, indicator, comparator NULLS FIRST, "group" NULLS FIRST, period_start'
    df = con.execute(sql, args).df()
    for col in ("period_start", "period_end"):
        df[col] = pd.to_datetime(df[col])
    for col in ("group", "comparator"):
        df[col] = df[col].astype(object).where(df[col].notna(), None)
    df["counts_children"] = df["counts_children"].astype(bool)
    return df[list(FRAME_COLUMNS) + ["source_file"]]


# --------------------------------------------------------------------------- shaping


def select_indicator(
    df: pd.DataFrame,
    indicator: str,
    partnership: str | None = None,
    comparators: bool = False,
) -> pd.DataFrame:
    """Return the rows of one indicator, local rows (default) or comparator rows.

    Parameters
    ----------
    df : pandas.DataFrame
        Local indicators (from :func:`read_local_indicators` or the store).
    indicator : str
        The indicator id.
    partnership : str, optional
        Needed when ``df`` holds the indicator for more than one partnership.
    comparators : bool
        ``False`` for the partnership's own figures, ``True`` for comparator rows.

    Returns
    -------
    pandas.DataFrame
        The rows, sorted by group and period start.

    Raises
    ------
    KeyError
        If the indicator (or partnership) is not in ``df``.
    ValueError
        If several partnerships have the indicator and none was named.
    """
    rows = df[df["indicator"] == indicator]
    if rows.empty:
        known = ", ".join(sorted(df["indicator"].unique()))
        raise KeyError(f"indicator {indicator!r} not found; the data have: {known}")
    if partnership is not None:
        rows = rows[rows["partnership"] == partnership]
        if rows.empty:
            raise KeyError(f"partnership {partnership!r} has no indicator {indicator!r}")
    elif rows["partnership"].nunique() > 1:
        raise ValueError(
            f"indicator {indicator!r} is held for several partnerships "
            f"({', '.join(sorted(rows['partnership'].unique()))}); name one"
        )
    mask = rows["comparator"].notna() if comparators else rows["comparator"].isna()
    rows = rows[mask]
    order = rows.assign(_g=rows["group"].fillna("")).sort_values(["_g", "comparator", "period_start"],
                                                                  na_position="first")
    return order.drop(columns="_g").reset_index(drop=True)


# one implementation for the package: csp_analysis.suppression (kept importable from here)
from .suppression import secondary_suppression, suppression_mask  # noqa: E402,F401


def suppress_small_counts(df: pd.DataFrame, threshold: int = 5) -> pd.DataFrame:
    """Blank small counts of children in a local-indicators table before publication.

    The one suppression path of the local-indicators report: every table,
    chart, sentence and source note it publishes hides exactly the figures
    flagged here. A local row (no comparator) with ``counts_children`` true is
    a count of children when its unit is ``count``, or ``percent`` with a
    denominator (its count is then worked back from the percentage). Such a
    figure is suppressed when

    * primary: the count is from 1 to ``threshold - 1``, or it has a
      denominator and the remainder (denominator minus count) is (see
      :func:`suppression_mask`);
    * secondary: it is the smallest other count of a breakdown (same
      partnership, indicator and period) in which exactly one figure is
      suppressed (see :func:`secondary_suppression`).

    A denominator is withheld (``denominator_suppressed``) when it is itself a
    small count of children, or when it equals a suppressed figure of another
    indicator for the same partnership, period and group: a total reused as a
    denominator (e.g. all modern slavery incidents, the base of the modern
    slavery non-crimes) would otherwise print the figure that the breakdown hides.

    Parameters
    ----------
    df : pandas.DataFrame
        Local indicators (from :func:`read_local_indicators` or the store).
    threshold : int
        Smallest publishable count (default 5); ``0`` or ``None`` switches
        suppression off.

    Returns
    -------
    pandas.DataFrame
        A copy (same index) with boolean columns ``suppressed``, ``secondary``
        (suppressed only to protect another figure) and
        ``denominator_suppressed``; suppressed values and withheld denominators
        are missing.
    """
    out = df.copy()
    out["suppressed"] = False
    out["secondary"] = False
    out["denominator_suppressed"] = False
    if not threshold or out.empty:
        return out
    local = out["comparator"].isna() & out["counts_children"].astype(bool)
    den = pd.to_numeric(out["denominator"], errors="coerce")
    is_pct = out["unit"] == "percent"
    eligible = local & ((out["unit"] == "count") | (is_pct & den.notna()))
    x = out["value"].where(~is_pct, (out["value"] / 100 * den).round())
    part = pd.DataFrame({
        "partnership": out["partnership"], "indicator": out["indicator"], "period": out["period"], "x": x,
    })[eligible]
    part["suppressed"] = suppression_mask(part["x"], den[eligible], True, threshold).to_numpy()
    extra = secondary_suppression(part, ["partnership", "indicator", "period"], value="x")
    out.loc[part.index, "suppressed"] = part["suppressed"] | extra
    out.loc[part.index, "secondary"] = extra
    # denominators: small ones, and those that print a figure hidden elsewhere
    small_den = local & (den > 0) & (den < threshold)
    hidden = out["suppressed"]
    hidden_keys = {(p, per, g, float(v)): ind
                   for p, per, g, v, ind in zip(out.loc[hidden, "partnership"], out.loc[hidden, "period"],
                                                out.loc[hidden, "group"], x[hidden], out.loc[hidden, "indicator"])
                   if isinstance(g, str) and pd.notna(v)}
    reused = pd.Series([
        isinstance(g, str) and pd.notna(d) and hidden_keys.get((p, per, g, float(d)), ind) != ind
        for p, per, g, d, ind in zip(out["partnership"], out["period"], out["group"], den, out["indicator"])
    ], index=out.index)
    out["denominator_suppressed"] = (small_den | (local & reused)).astype(bool)
    out.loc[out["suppressed"], "value"] = float("nan")
    out.loc[out["denominator_suppressed"], "denominator"] = float("nan")
    return out


def suppressed_change_sentence(label: str, group, shown_value, shown_label: str | None, hidden_label: str,
                               threshold: int, secondary: bool = False) -> str:
    """The sentence of a change whose count in one period is suppressed (the other is shown).

    Used by :func:`csp_analysis.local_stats.indicator_change` (primary suppression) and by
    the report, which follows :func:`suppress_small_counts` (secondary suppression too).

    Parameters
    ----------
    label : str
        The indicator's label.
    group : str or None
        The group, if any.
    shown_value : float
        The count that is published.
    shown_label, hidden_label : str
        The periods of the published and the suppressed count, in words.
    threshold : int
        The suppression threshold.
    secondary : bool
        The hidden count is suppressed only to protect another figure.

    Returns
    -------
    str
    """
    why = (f"so that a count of children below {threshold} cannot be worked out from a total" if secondary
           else f"a count of children below {threshold}")
    group_part = f" ({group})" if isinstance(group, str) and group else ""
    return (f"{label}{group_part}: {format_count(shown_value)} in {shown_label}; the figure for {hidden_label} is "
            f"suppressed ({why}), so no change is shown.")

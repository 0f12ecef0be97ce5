"""Small-number suppression: the package's one implementation.

Two shapes of table are published, and both go through the rules here:

* a **cross-table** of counts of people (rows x columns, totals derivable across
  rows and/or down columns): :func:`suppress_small_numbers` (the stop-and-search and
  disproportionality tables, and every ``ctx.table(..., suppress=[...])``);
* a **long table** of figures, one row per figure, grouped into breakdowns whose total
  is (or may later be) published: :func:`suppression_mask` (primary) and
  :func:`secondary_suppression` (secondary), used by
  :func:`csp_analysis.local_indicators.suppress_small_counts` for the local-indicators
  report.

Both use the same two rules:

* **primary** (:func:`primary_mask`): a count from 1 to ``threshold - 1`` is hidden
  (zero is shown: a true zero discloses nobody; ``suppress_zeros`` hides it too);
  a long-table figure with a denominator is also hidden when the remainder
  (denominator minus count) is small, because it could be recovered by subtraction;
* **secondary** (:func:`_smallest_free`): wherever a line that has a total holds exactly
  one hidden figure, the smallest other figure in the line is hidden too (a non-zero
  one preferred; the long-table form never picks a zero, which would hide nothing).
  The cross-table form then also audits the whole table by linear algebra
  (:func:`determined_cells`) because a hidden cell can still be pinned down by the
  row and column totals together.

The old import paths keep working: ``csp_analysis.disproportionality.suppress_small_numbers``
and ``csp_analysis.local_indicators.suppression_mask`` / ``secondary_suppression`` are
these functions.

References
----------
Government Statistical Service (2021). Disclosure control guidance for tables produced
from administrative sources.
Hundepool A et al. (2012). Statistical Disclosure Control. Wiley, ch. 4.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

__all__ = ["primary_mask", "suppress_small_numbers", "suppression_mask", "secondary_suppression"]


def primary_mask(values, threshold: int, suppress_zeros: bool = False) -> np.ndarray:
    """Primary suppression: True for counts from 1 (0 with ``suppress_zeros``) to ``threshold - 1``.

    Missing values are never flagged. ``threshold`` 0 or None flags nothing.
    """
    v = np.asarray(values, dtype=float)
    if not threshold:
        return np.zeros(v.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        low = (v >= 0) if suppress_zeros else (v > 0)
        return low & (v < threshold)


def _smallest_free(m_line: np.ndarray, v_line: np.ndarray, allow_zero: bool = True):
    """Index of the smallest unsuppressed, non-missing figure in a line (the secondary pick).

    Non-zero figures are preferred; with ``allow_zero`` a zero is taken when nothing else
    is left (the cross-table form, whose audit then knows the line is covered), without it
    the line gets no pick (the long-table form). None when there is no candidate.
    """
    m_line = np.asarray(m_line, dtype=bool)
    v_line = np.asarray(v_line, dtype=float)
    candidates = np.where(~m_line & ~np.isnan(v_line))[0]
    if len(candidates) == 0:
        return None
    nonzero = candidates[v_line[candidates] > 0]
    if len(nonzero):
        pool = nonzero
    elif allow_zero:
        pool = candidates
    else:
        return None
    return pool[np.argmin(v_line[pool])]


def determined_cells(mask: np.ndarray, rows: bool, cols: bool) -> list[tuple[int, int]]:
    """Suppressed cells whose values follow exactly from row and/or column totals.

    Unknowns are the suppressed cells; each published total gives one linear
    equation in them. A cell is determined exactly when its unit vector is
    orthogonal to the null space of the equations.
    """
    from scipy.linalg import null_space

    cells = list(zip(*np.where(mask)))
    if not cells or not (rows or cols):  # no published total: nothing can be worked out
        return []
    equations = []
    if rows:
        equations += [[1.0 if r == i else 0.0 for r, _ in cells] for i in range(mask.shape[0])]
    if cols:
        equations += [[1.0 if c == j else 0.0 for _, c in cells] for j in range(mask.shape[1])]
    free = null_space(np.array(equations))
    if free.size == 0:
        return cells
    return [cell for cell, row in zip(cells, free) if np.abs(row).max() < 1e-9]


_determined_cells = determined_cells  # private name kept for importers written before the public one


def suppress_small_numbers(
    table: pd.DataFrame,
    columns=None,
    threshold: int = 5,
    secondary: bool = True,
    totals: str = "both",
    total_row=None,
    total_column=None,
    suppress_zeros: bool = False,
    marker: str | None = "[c]",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Suppress small counts of people, with secondary suppression.

    Parameters
    ----------
    table : DataFrame
        Table of counts (rows x columns).
    columns : list of str, optional
        Columns holding the counts to protect. Default: every numeric column
        except ``total_column``.
    threshold : int, default 5
        Primary suppression of counts from 1 to ``threshold - 1`` (and 0 as
        well when ``suppress_zeros``).
    secondary : bool, default True
        Apply secondary suppression so that published or derivable totals
        cannot reveal a suppressed cell: wherever a row or column has exactly
        one suppressed cell, the next smallest cell in it is suppressed too
        (non-zero cells preferred, because a suppressed zero does not hide
        anything from a total), repeated until stable; then any suppressed
        cell whose value still follows exactly from the totals (checked by
        linear algebra) gets a further complementary suppression.
    totals : {"both", "rows", "columns"}, default "both"
        Which totals are published or derivable: row totals (across
        ``columns``), column totals (down rows) or both.
    total_row : label, optional
        Index label of a row holding column totals; it is never suppressed
        and not treated as a cell.
    total_column : str, optional
        Column holding row totals; never suppressed.
    suppress_zeros : bool, default False
        Also suppress zeros in primary suppression.
    marker : str or None, default "[c]"
        Replacement for suppressed cells ("[c]", the GSS convention for
        confidential); ``None`` leaves NaN so the columns stay numeric.

    Returns
    -------
    (DataFrame, DataFrame)
        The suppressed copy and a boolean mask of the same shape (True where
        suppressed).

    Notes
    -----
    The result guarantees that no suppressed cell can be worked out exactly
    from this table's row and column totals. It does not prevent narrow
    bounds (e.g. a cell known to be 0-2), nor protect across linked tables
    (e.g. the same counts published by sex and by age); apply it to the
    full set of tables together where that matters.

    References
    ----------
    Government Statistical Service (2021). Disclosure control guidance for
    tables produced from administrative sources.
    Hundepool A et al. (2012). Statistical Disclosure Control. Wiley, ch. 4.
    """
    columns, rows, values = _validate_table(table, columns, threshold, totals, total_row, total_column)
    mask = primary_mask(values, threshold, suppress_zeros=suppress_zeros)
    # a line with one cell has no separate total (its total is the cell itself)
    use_rows = totals in ("both", "rows") and mask.shape[1] > 1
    use_cols = totals in ("both", "columns") and mask.shape[0] > 1
    if secondary:
        mask = _secondary_mask(mask, values, use_rows, use_cols)
    full_mask = pd.DataFrame(False, index=table.index, columns=table.columns)
    full_mask.loc[rows, columns] = mask
    out = table.copy()
    if marker is None:
        out[columns] = out[columns].astype(float)
        out = out.mask(full_mask)
    else:
        out[columns] = out[columns].astype(object)
        out = out.mask(full_mask, marker)
    return out, full_mask


def _validate_table(table, columns, threshold, totals, total_row, total_column):
    """Check :func:`suppress_small_numbers`'s input; return the count columns, the rows (without
    the total row) and their counts as a float array."""
    if not isinstance(table, pd.DataFrame):
        raise ValueError("table must be a pandas DataFrame")
    if totals not in ("both", "rows", "columns"):
        raise ValueError(f"totals must be 'both', 'rows' or 'columns', got {totals!r}")
    if not float(threshold).is_integer() or threshold < 1:
        raise ValueError(f"threshold must be a positive whole number, got {threshold!r}")
    if total_column is not None and total_column not in table.columns:
        raise ValueError(f"total_column={total_column!r} is not a column of table")
    if total_row is not None and total_row not in table.index:
        raise ValueError(f"total_row={total_row!r} is not in the table's index")
    if columns is None:
        columns = [c for c in table.select_dtypes("number").columns if c != total_column]
    else:
        columns = list(columns)
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise ValueError(f"columns {missing} are not in table")
    if not columns:
        raise ValueError("no numeric columns to suppress")
    rows = [r for r in table.index if r != total_row] if total_row is not None else list(table.index)
    try:
        cells = table.loc[rows, columns].apply(pd.to_numeric, errors="raise").astype(float)
    except (TypeError, ValueError):
        raise ValueError("columns must hold numeric counts") from None
    values = cells.to_numpy()
    if (values[~np.isnan(values)] < 0).any():
        raise ValueError("counts must be non-negative")
    return columns, rows, values


def _protect_lines(m: np.ndarray, vals: np.ndarray) -> bool:
    """Suppress the smallest free cell of each row of ``m`` with exactly one suppressed cell
    (in place); True when anything changed."""
    changed = False
    for i in range(m.shape[0]):
        if m[i].sum() == 1 and m.shape[1] > 1:
            pick = _smallest_free(m[i], vals[i], allow_zero=True)
            if pick is not None:
                m[i, pick] = True
                changed = True
    return changed


def _secondary_mask(mask: np.ndarray, values: np.ndarray, use_rows: bool, use_cols: bool) -> np.ndarray:
    """Secondary suppression: add cells until no suppressed cell can be worked out from the
    published row and/or column totals (warns when that is impossible)."""
    for _ in range(values.size + 1):
        changed = False
        if use_rows:
            changed |= _protect_lines(mask, values)
        if use_cols:
            mt = mask.T.copy()
            changed |= _protect_lines(mt, values.T)
            mask = mt.T.copy()
        if changed:
            continue
        # The one-per-line rule can still leave a cell pinned down by the
        # margins (e.g. a suppressed cell that bridges two blocks). Find
        # cells whose value is determined by the published totals and
        # suppress one more cell beside the first of them. Hand-written:
        # no allowed dependency implements cell-suppression auditing.
        determined = determined_cells(mask, use_rows, use_cols)
        if not determined:
            break
        i, j = determined[0]
        pick = _smallest_free(mask[i], values[i], allow_zero=True) if use_rows else None
        if pick is not None:
            mask[i, pick] = True
            continue
        pick = _smallest_free(mask[:, j], values[:, j], allow_zero=True) if use_cols else None
        if pick is None:
            warnings.warn(
                "secondary suppression could not protect every suppressed cell: the table has no "
                "unsuppressed cells left beside it",
                stacklevel=3,
            )
            break
        mask[pick, j] = True
    return mask


def suppression_mask(values, denominators=None, counts_children=True, threshold: int = 5) -> pd.Series:
    """Flag counts of children that are too small to publish.

    A count is suppressed when it is from 1 to ``threshold - 1``; when a
    denominator is given, also when the complement (denominator minus count) is
    (otherwise the small number could be recovered by subtraction). Zero is not
    suppressed: it discloses nothing about an individual.

    Parameters
    ----------
    values : array-like
        Counts (missing values are never flagged).
    denominators : array-like, optional
        The totals the counts are part of.
    counts_children : bool or array-like of bool
        Only counts of children are suppressed.
    threshold : int
        Smallest count that may be published (the params' ``small_number_threshold``,
        5 by default). ``0`` or ``None`` switches suppression off.

    Returns
    -------
    pandas.Series of bool
    """
    v = pd.Series(values, dtype="float64").reset_index(drop=True)
    if not threshold:
        return pd.Series(False, index=v.index)
    small = pd.Series(primary_mask(v.to_numpy(), threshold), index=v.index)
    if denominators is not None:
        d = pd.Series(denominators, dtype="float64").reset_index(drop=True)
        rest = d - v
        small |= primary_mask(rest.to_numpy(), threshold)
    cc = pd.Series(counts_children, index=v.index) if not isinstance(counts_children, bool) else counts_children
    if isinstance(cc, pd.Series):
        cc = cc.reset_index(drop=True).astype(bool)
    return (small & cc).astype(bool)


def secondary_suppression(
    df: pd.DataFrame,
    by,
    value: str = "value",
    suppressed: str = "suppressed",
) -> pd.Series:
    """Rows to suppress as well, so that a suppressed figure cannot be recovered from a total.

    Within each breakdown (the rows sharing the ``by`` columns, e.g. one
    indicator's groups in one period), when exactly one row of two or more is
    suppressed, the row with the smallest positive ``value`` among the others is
    suppressed too: otherwise the suppressed figure could be worked out by
    subtracting the others from a published (or later published) total. This is
    the long-format (one row per figure) form of the secondary rule of
    :func:`suppress_small_numbers`; every table of the local-indicators report gets its
    suppression from :func:`csp_analysis.local_indicators.suppress_small_counts`, which calls it.

    Parameters
    ----------
    df : pandas.DataFrame
        The rows that take part (e.g. the counts of children of a table).
    by : str or list of str
        The columns that define a breakdown. Missing values in them form a
        group of their own.
    value : str
        The column of figures (counts); the smallest positive one is chosen.
    suppressed : str
        Boolean column: the rows already suppressed (primary suppression).

    Returns
    -------
    pandas.Series of bool
        Indexed like ``df``: true for the rows to suppress in addition
        (secondary suppression); rows already suppressed are false.

    Examples
    --------
    >>> t = pd.DataFrame({"period": ["2022/23"] * 3, "value": [3, 40, 12], "suppressed": [True, False, False]})
    >>> secondary_suppression(t, ["period"]).tolist()
    [False, False, True]
    """
    by = [by] if isinstance(by, str) else list(by)
    out = pd.Series(False, index=df.index)
    if df.empty:
        return out
    sup = df[suppressed].fillna(False).astype(bool)
    size = pd.to_numeric(df[value], errors="coerce")
    key = df[by].astype(object).where(df[by].notna(), "").astype(str).agg("\x1f".join, axis=1)
    for _, idx in df.groupby(key, sort=False).groups.items():
        if len(idx) < 2 or int(sup.loc[idx].sum()) != 1:
            continue
        line = size.loc[idx].to_numpy(dtype=float)
        pick = _smallest_free(sup.loc[idx].to_numpy(), line, allow_zero=False)
        if pick is not None:
            out.loc[idx[pick]] = True
    return out

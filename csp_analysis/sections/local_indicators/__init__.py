"""The local-indicators report (04_local_indicators): a partnership's own figures.

Much of what a partnership reports is not police data: referrals by source, children
in need by month, missing-children reports and return-home interviews, hate crime by
type, the share of contacts processed within 24 hours. The partnership lists its
local-indicators files (``docs/local_indicators_format.md``) under ``local_data`` in
its parameters; the runner loads them into the store table ``local_indicators``
before the notebooks run.

The notebook first computes everything (:func:`analyse`, no output), so that the
plain-English summary can come first, and then renders each part. Which analyses run
is chosen from the shape of the data, indicator by indicator, so the report works for
any partnership's file:

* counts (``unit`` count) in two or more years (financial or calendar) or quarters:
  the change between the latest two, with the exact conditional interval and test of
  :func:`csp_analysis.local_stats.indicator_change` (published percentage changes
  ``<indicator>_percent_change`` are checked against the computation);
* monthly counts in two financial years: each month against the same month a year
  earlier (:func:`~csp_analysis.local_stats.monthly_year_on_year`), never adding up
  snapshot counts; monthly counts in one year: a c-chart;
* counts or percentages with a denominator: shares with Wilson intervals, a p-chart
  for monthly data (:func:`~csp_analysis.local_stats.indicator_proportions`) and the
  change in share between the latest two years;
* indicators with comparator rows (statistical neighbours, national average): a test
  per group and comparator, Holm-adjusted
  (:func:`~csp_analysis.local_stats.compare_with_comparators`);
* indicators named by a ``process_changes`` entry of the params' ``local_data``:
  before and after the change (:func:`~csp_analysis.local_stats.before_after`);
* everything else: tables of the published figures, grouped sensibly.

The package is split as compute, then render (issue 15):

* :mod:`.compute` - the analysis, pure: :func:`load` (the store's copy through the data
  layer, else the validated files) and :func:`~.compute.run_analyses` (tables, no output);
* :mod:`.charts` - matplotlib figures drawn from the computed tables, returned;
* :mod:`.wording` - the sentences, notes and captions (strings only, numbers through
  :mod:`csp_analysis.formatting`);
* :mod:`.render` - the section functions the notebook calls (:func:`analyse`,
  :func:`summary`, ``*_section``), each compute -> charts -> wording -> ``ctx`` output;
* :mod:`.common` - the constants and small label helpers they share.

Every name of the former single module is re-exported here.

Counts of children from 1 to ``small_number_threshold - 1`` (and counts whose remainder of
their denominator is that small) are suppressed everywhere (``[c]``), with secondary
suppression within each breakdown. The decision is made once, by
:func:`csp_analysis.local_indicators.suppress_small_counts` on all the partnership's
figures (``LocalResult.published``), and every table, chart, sentence and source note
follows it; the source notes of suppressed figures are withheld, since they may quote
the hidden number. Changes tested together (the groups of a breakdown, the months of a
year) are Holm-adjusted before a change is called unlikely to be chance.
"""
from __future__ import annotations

from ...formatting import format_percent
from .charts import (  # noqa: F401
    before_after_chart,
    breakdown_bars,
    comparator_chart,
    forest_chart,
    monthly_series_chart,
    monthly_yoy_chart,
    p_chart,
    share_bars,
    unit_label,
)
from .common import (  # noqa: F401
    CONFIDENCE,
    MARK,
    MAX_FINDINGS,
    MIN_CHART_POINTS,
    MIN_SERIES_MONTHS,
    UNIT_WORDS,
    UNLIKELY_COL,
    WITHHELD,
    discrepancy,
    financial_year_of,
    group_part,
    is_small_count,
    lower_first,
    number_word,
    period_text,
    period_type_of,
    quietly,
    suppressed_sentence,
)
from .compute import (  # noqa: F401
    LocalResult,
    hidden_flags,
    load,
    pooled_share,
    published_dp,
    run_analyses,
    store_rows,
)
from .render import (  # noqa: F401
    analyse,
    analyse_frame,
    before_after_section,
    changes_section,
    comparators_section,
    data_notes,
    other_figures_section,
    proportions_section,
    sources_section,
    summary,
)
from .wording import (  # noqa: F401
    breakdown_sentences,
    bullets,
    caveat_short,
    comparison_summary,
    condensed_sentences,
    excluded_months,
    figure_text,
    findings,
    fmt_value,
    latest_point_sentence,
    monthly_series_summary,
    monthly_summary,
    p_cell,
    p_chart_summary,
    period_span,
    published_check_sentences,
    row_sentence,
    share_change_sentences,
    suppression_note,
)

# The former module's private names, kept so that existing imports keep working
# (tests use ``_hidden``, ``_pct``, ``_pfmt``, ``_caveat_short``).
_caveat_short = caveat_short
_hidden = hidden_flags
_pfmt = p_cell
_plabel = period_text
_ptype = period_type_of
_group_part = group_part
_words = number_word
_small = is_small_count
_supp_sentence = suppressed_sentence
_supp_note = suppression_note
_sentences = bullets
_span = period_span
_figure_text = figure_text
_row_sentence = row_sentence
_ylabel_count = unit_label
_fy_of = financial_year_of
_lower_first = lower_first
_quiet = quietly
_UNIT_WORDS = UNIT_WORDS


def _pct(x, dp: int = 1, signed: bool = False) -> str:
    """The old local percentage helper, kept for its importers: :func:`csp_analysis.formatting.format_percent`."""
    return format_percent(x, dp, signed=signed)

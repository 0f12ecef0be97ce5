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

from .charts import (  # noqa: F401
    _tight,
    _wrap,
    _ylabel_count,
    before_after_chart,
    breakdown_bars,
    comparator_chart,
    forest_chart,
    monthly_series_chart,
    monthly_yoy_chart,
    p_chart,
    share_bars,
)
from .common import (  # noqa: F401
    CONFIDENCE,
    MARK,
    MAX_FINDINGS,
    MIN_CHART_POINTS,
    MIN_SERIES_MONTHS,
    UNLIKELY_COL,
    WITHHELD,
    _fy_of,
    _group_part,
    _lower_first,
    _plabel,
    _ptype,
    _quiet,
    _ranges,
    _small,
    _supp_sentence,
    _words,
    discrepancy,
)
from .compute import (  # noqa: F401
    LocalResult,
    _apply_published,
    _apply_published_changes,
    _clean_problem,
    _count_change_plan,
    _flags,
    _hidden,
    _keyset,
    _normalise,
    _note_withheld,
    _rel,
    _share_change,
    load,
    pooled_share,
    run_analyses,
    store_rows,
)
from .render import (  # noqa: F401
    _blank_small,
    _counts,
    _display_values,
    _totals,
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
    _caveat_short,
    _figure_text,
    _pct,
    _pfmt,
    _row_sentence,
    _sentences,
    _span,
    _supp_note,
    breakdown_sentences,
    comparison_summary,
    condensed_sentences,
    excluded_months,
    findings,
    fmt_value,
    latest_point_sentence,
    monthly_series_summary,
    monthly_summary,
    p_chart_summary,
    published_check_sentences,
    share_change_sentences,
)

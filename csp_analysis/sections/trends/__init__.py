"""The trends report (``01_trends``): what went up or down, whether it is chance, and where.

The section functions take the report context ``ctx`` and render one part of the report
(narration, charts, tables via ``ctx.table``, headline figures via ``ctx.headline``). All the
numbers come from one call to :func:`analyse`, so the summary at the top of the report is
generated from the same results as the sections below it::

    res = trends.analyse(ctx)
    trends.summary(ctx, res)
    trends.data_quality(ctx, res)
    trends.headline_table(ctx, res)
    trends.priority_sections(ctx, res)
    trends.long_run(ctx, res)
    trends.hot_spots(ctx, res)

The package is split so that each concern can be changed in one place:

* :mod:`.load` - the data, through :mod:`csp_analysis.data` (no SQL here);
* :mod:`.compute` - the analysis, pure functions from DataFrames to :class:`TrendsResult`
  (data-quality rules and the statistics used are listed in its docstring);
* :mod:`.charts` - matplotlib figures from computed results;
* :mod:`.tables` - the tables as shown (formatted p-values, verdicts, column names);
* :mod:`.wording` - sentences, notes and captions (strings only, numbers through
  :mod:`csp_analysis.formatting`);
* :mod:`.render` - the section functions above: load/compute -> charts -> wording -> ``ctx``;
* :mod:`.constants`, :mod:`.periods` - shared settings and month helpers.

Every name the notebooks, other modules and tests used from the single module before the
split is importable from here.
"""
from __future__ import annotations

from ... import data, dispersion, geography, quality, rates  # noqa: F401  (the module's old namespace)
from ... import trends as tr  # noqa: F401
from ...formatting import slugify as _slug  # noqa: F401
from ...multiplicity import adjust_p_values, allowing_text  # noqa: F401
from . import charts, compute, constants, load, periods, render, tables, wording  # noqa: F401
from .charts import _fixed_stl_layout  # noqa: F401
from .compute import (TrendsResult, _area_dispersion, _choose_lag, _latest_periods, _long_run,  # noqa: F401
                      _measures, _period_vintage, _wide, adjust_family, control_chart_of_record, headline_rows)
from .constants import (ALL_CRIME, AREA_ORDER, ASB, CHART_MONTHS, CONFIDENCE, EW_FORCES, MULTIPLICITY,  # noqa: F401
                        SEN_COLUMN, TOP_N, XMR_SWITCH_SHARE)
from .load import load_lsoa_vintages as _lsoa_vintages  # noqa: F401
from .load import load_national_coverage as _national_months  # noqa: F401
from .periods import month_text as _month_text  # noqa: F401
from .periods import ranges as _ranges  # noqa: F401
from .periods import runs as _runs  # noqa: F401
from .periods import to_period as _to_period  # noqa: F401
from .render import (_control_chart, _monthly_chart, _stl, analyse, data_quality, headline_table,  # noqa: F401
                     hot_spot_data, hot_spots, long_run, priority_sections, summary)
from .tables import _DISPLAY, _display_headline, _top_display, concentration_display  # noqa: F401
from .wording import (_RULE_TEXT, _change_phrase, _entered_left, _fig, _list, _pct, _period_sentence,  # noqa: F401
                      _same_month_text, _verdict_clause, cap, concentration_sentences, label, rule_sentences,
                      sen_sentence)

__all__ = [
    "ALL_CRIME", "ASB", "CONFIDENCE", "TOP_N", "CHART_MONTHS", "XMR_SWITCH_SHARE", "SEN_COLUMN", "EW_FORCES",
    "AREA_ORDER", "MULTIPLICITY", "TrendsResult", "analyse", "summary", "data_quality", "headline_table",
    "priority_sections", "long_run", "hot_spots", "hot_spot_data", "headline_rows", "adjust_family",
    "control_chart_of_record", "rule_sentences", "sen_sentence", "concentration_display",
    "concentration_sentences", "label", "cap",
]

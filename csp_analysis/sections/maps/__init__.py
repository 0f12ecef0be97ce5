"""Maps and tested hot spots for the trends report; the intervention map for the intervention report.

Call from a notebook after :func:`csp_analysis.sections.trends.analyse`::

    from csp_analysis.sections import maps
    maps.section(ctx, res)

It adds "Where: maps and tested hot spots": for all crime, ASB and each priority type, a
density map of the latest 12 months beside the previous 12 (the headline's matched
months, one colour scale), Getis-Ord Gi* hot spots at LSOA level with an FDR threshold
(table, map, sentences) and, where the months allow, emerging / persistent hot spots
(:mod:`csp_analysis.hotspots`, :mod:`csp_analysis.maps`).

:func:`intervention_map` draws an intervention's treated area and buffer on one map, for
the intervention report's displacement section.

Without an LSOA boundary file in the store everything works from LSOA centroids (the
supplied centroid lookup, else the mean of each LSOA's published coordinates) and the
section says what a boundary file would add.

The package: :mod:`.load` (data, through :mod:`csp_analysis.data`), :mod:`.compute` (pure:
positions, the LSOAs tested, Gi*, quarters, emerging hot spots), :mod:`.charts` (maps and
their alt text), :mod:`.tables`, :mod:`.wording` (strings only) and :mod:`.render` (the
section functions). Every name used from the single module before the split is importable
from here.
"""
from __future__ import annotations

from ... import boundaries as boundaries_mod  # noqa: F401  (the module's old namespace)
from ... import data, hotspots  # noqa: F401
from ... import maps as maps_mod  # noqa: F401
from ...formatting import slugify as _slug  # noqa: F401
from . import charts, compute, load, render, tables, wording  # noqa: F401
from .compute import (MAX_PERIODS, N_LABELS, _centroid_frame, _latest_usable, _measures,  # noqa: F401
                      _quarters)
from .load import _crime_types  # noqa: F401
from .render import (_emerging, _show, _universe, density, geography, intervention_map, section,  # noqa: F401
                     tested)
from .tables import _gi_display  # noqa: F401
from ..trends.constants import ALL_CRIME, ASB  # noqa: F401
from ..trends.wording import cap, label  # noqa: F401
from .wording import _md  # noqa: F401

__all__ = ["section", "geography", "density", "tested", "intervention_map", "N_LABELS", "MAX_PERIODS"]

"""Wording of the maps section: sentences, captions and notes (strings only).

Text from the data (LSOA names) goes through :func:`_md` before it is said in Markdown.
"""
from __future__ import annotations

import html
import re

import pandas as pd

from ... import data
from ...formatting import not_enough_data
from ..trends.wording import cap, label


def _md(text: str) -> str:
    """Text from the data (LSOA names) made safe inside Markdown: HTML escaped, Markdown marks
    backslash-escaped."""
    out = html.escape(str(text), quote=False)
    return re.sub(r"([\\`*_\[\]#|])", r"\\\1", out)


def months_text(months: list) -> str:
    """'Jan 2025 to Dec 2025' for monthly Periods (:func:`csp_analysis.data.month_range_text`)."""
    return data.month_range_text([m.to_timestamp() for m in months])


def universe_note(u: dict) -> str:
    """Which LSOAs the test uses (``u`` from :func:`.compute.test_universe`)."""
    notes = []
    if u["lost"]:
        notes.append(f"{int(u['lost']):,} records in LSOAs of the other vintage or without a known location are left "
                     "out of the test.")
    if u["unplaced"]:
        notes.append(f"{u['unplaced']} LSOA(s) with no record and no supplied centroid cannot be placed and are "
                     "left out.")
    return f"The test uses the {len(u['codes'])} LSOAs of the {u['vintage']} boundaries. " + " ".join(notes)


def section_intro(boundaries: bool) -> str:
    intro = ("The maps show where records were published: data.police.uk places each record at an anonymised "
             "\"snap point\" (the middle of a street or a landmark) near where it happened, so the maps are accurate "
             "to a street, not an address. Each map puts the latest 12 months beside the 12 before (the same "
             "matched months as the headline table) on one colour scale, with the busiest LSOAs named.")
    if boundaries:
        return intro + " The partnership boundary comes from the LSOA boundary file in the store."
    return intro + (" No LSOA boundary file is loaded, so the maps have no partnership outline, LSOAs are drawn as "
                    "dots at their centroids, and hot-spot neighbours are the nearest LSOA centroids. Loading the "
                    "ONS LSOA boundaries (GeoPackage or GeoJSON, `csp ingest-lookup`) would add the outline, show "
                    "LSOAs as shapes and base neighbours on shared boundaries.")


GI_INTRO = ("### Tested hot spots (Getis-Ord Gi*)\n\nA busy LSOA can be busy by chance. The Getis-Ord Gi* "
            "statistic asks whether an LSOA *and its neighbours* together have more records (a hot spot) or fewer "
            "(a cold spot) than if the partnership's LSOA counts were scattered at random; the p-value comes from "
            "9,999 random shuffles, and the threshold controls the false discovery rate at 5% across all the "
            "LSOAs tested at once. Hot spots describe clusters: each LSOA's own count is held fixed in the shuffles, "
            "so an LSOA is flagged when its neighbours are busy too. An LSOA next to a very busy one can be "
            "flagged with few records of its own, and a single very busy LSOA among quiet ones is a top place "
            "(see the top-10 tables), not a cluster; read the records column too.")


# ---------------------------------------------------------------------------- density maps
def no_map(available: int, unit: str, measure: str) -> str | None:
    """The guard for a density map."""
    return not_enough_data(available, 1, unit, f"a map of {label(measure)}")


def density_title(measure: str, has_previous: bool) -> str:
    return (f"{cap(label(measure))}: where records were published, latest 12 months"
            + (" and the 12 before" if has_previous else ""))


def latest_only(measure: str) -> str:
    return (f"The store holds no matching months a year earlier for {label(measure)}, so the map shows the "
            "latest period only.")


# ---------------------------------------------------------------------------- tested hot spots
def no_test(available: int, needed: int, unit: str, measure: str) -> str | None:
    """The guard for a Gi* test."""
    return not_enough_data(available, needed, unit, f"a hot-spot test of {label(measure)}")


def gi_heading(measure: str, sentence: str, months: list, weights_text: str, unote: str) -> str:
    """The measure's heading and the hot-spot sentence (``sentence`` from
    :func:`csp_analysis.hotspots.hot_spot_sentence`, escaped here)."""
    return (f"### {cap(label(measure))}\n\n" + _md(sentence)
            + f" Months tested: {months_text(months)}. {weights_text} {unote}")


def gi_map_title(measure: str, months: list) -> str:
    return f"{cap(label(measure))}: Getis-Ord Gi* hot and cold spots, {months_text(months)}"


def gi_caption(measure: str, threshold: float) -> str:
    return (f"{cap(label(measure))}: Getis-Ord Gi* by LSOA, latest 12 months, strongest clusters first "
            f"(FDR threshold p < {threshold:.4f}).")


GI_NOTE = ("A hot spot is an LSOA whose neighbourhood (itself and its neighbours) has more records than "
           "shuffling the partnership's LSOA counts at random gives (9,999 shuffles). The ratio's interval "
           "allows for the month-to-month variation of the neighbourhood's records (quasi-Poisson) and "
           "treats the partnership average as fixed; the verdict rests on the test.")


# ---------------------------------------------------------------------------- emerging hot spots
def no_emerging(available: int, needed: int, unit: str) -> str | None:
    """The guard for the emerging / persistent classification."""
    return not_enough_data(available, needed, unit, "an emerging and persistent hot-spot classification")


def emerging_sentence(em: pd.DataFrame, quarters: list, n_followed: int | None) -> str:
    """The classification over the quarters in words (``n_followed``: LSOAs followed when the
    quarters mix vintages, else None)."""
    k = em["classification"].value_counts()
    parts = [f"{n} {c.lower()}{'s' if n != 1 else ''}" for c, n in k.items() if c != "No pattern"]
    qtext = f"{quarters[0][0].asfreq('Q')} to {quarters[-1][0].asfreq('Q')}"
    note = ("" if n_followed is None else
            f" The quarters use both LSOA vintages, so only the {n_followed} LSOAs whose boundaries did not "
            "change in 2021 are followed.")
    return (f"**Over time** ({len(quarters)} quarters, {qtext}): "
            + (", ".join(parts) + "." if parts else "no LSOA was a hot or cold spot in enough quarters to form a "
               "pattern.")
            + " Each quarter is tested on its own (Gi*, 5% level per LSOA). Persistent means a hot spot in at "
            "least 80% of the quarters; emerging, a hot spot in every one of the latest 20% of quarters and in "
            "none before; former, in at least half of the earlier quarters but none of the latest; intermittent, "
            "in at least half of the quarters otherwise. These rules are stricter than sfhotspot's defaults, so "
            "that on a map with no real clusters only about 1 LSOA in 500 gets any of these labels by chance "
            "(simulations of over-dispersed counts). "
            "Whether a patterned LSOA's Gi* rises or falls over the quarters is a Mann-Kendall test, with an FDR "
            "threshold across those LSOAs." + note)


def emerging_caption(measure: str, n_quarters: int) -> str:
    return f"{cap(label(measure))}: LSOAs with a hot- or cold-spot pattern over {n_quarters} quarters."


# ---------------------------------------------------------------------------- interventions
NO_BOUNDARIES_NOTE = ("Places are drawn as dots at their centroids; with an LSOA boundary file in the store they "
                      "would be drawn as shapes.")

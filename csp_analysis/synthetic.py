"""Deterministic synthetic default data ("Synthshire") in the exact published file formats.

``generate_demo_data(out_dir)`` writes a fictional police force area, *Synthshire*, as if its
files had been downloaded from data.police.uk, ONS and MHCLG: monthly street-level crime and
stop-and-search CSVs for 2020-01 ... 2025-12, LSOA/LAD/CSP/PFA lookups, Census 2021 and
mid-2022 population tables and an IoD 2019 deprivation table. Effects of known size are
planted in the data (trends, seasonality, a deprivation gradient, a CCTV intervention, a
null intervention, stop-and-search disproportionality, an ASB extract artefact), so the
report pipeline can be run and checked offline. The same seed always gives byte-identical
files.

Everything is fictional. Every geography code starts with ``X`` (ONS codes start with E, W,
S, N or K), so a synthetic code can never be mistaken for, or joined to, a real one. The
coordinates lie in an arbitrary box (lon -1.2 .. -0.6, lat 52.9 .. 53.4) and mean nothing.

The model, in one line: the expected count of crime type *k* in 2021 LSOA *u* in month *m* is

    scale_k * residents_u / 1000 * place_u * place_{k,u} * 1.12 ** (10 - imd_decile_u)
            * trend_k ** (t_m / 12) * (1 + A_k cos(2 pi (month - peak_k) / 12))
            * days_in_month / 30.4375 * intervention_{m,k,u}

times a unit-month gamma noise term (shape 30, mean 1) shared by all types and a force-month
log-normal shock (sd 0.02); counts are Poisson given that. All parameters are below and are
written out with the data in ``planted_effects.json``.
"""
from __future__ import annotations

import calendar
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import ndtr

from .ingest import STOP_SEARCH_HEADER, STREET_HEADER
from .params import CRIME_TYPES as _PARAMS_CRIME_TYPES

__all__ = [
    "DEFAULT_SEED", "FORCE_SLUG", "FORCE_NAME", "FORCE_PFA_CODE", "NEIGHBOUR_FORCE_SLUG",
    "NEIGHBOUR_FORCE_NAME", "NEIGHBOUR_PFA_CODE", "MONTHS", "LSOA21_FIRST_MONTH", "CRIME_TYPES",
    "STREET_COLUMNS", "STOP_SEARCH_COLUMNS", "LADS", "PARTNERSHIPS", "generate_demo_data",
]

DEFAULT_SEED = 20240417

FORCE_SLUG = "synthshire"
FORCE_NAME = "Synthshire Constabulary (SYNTHETIC)"
FORCE_PFA_CODE = "X23000001"
NEIGHBOUR_FORCE_SLUG = "westmarch"
NEIGHBOUR_FORCE_NAME = "Westmarch Police (SYNTHETIC)"
NEIGHBOUR_PFA_CODE = "X23000002"

MONTHS: tuple[str, ...] = tuple(f"{y}-{m:02d}" for y in range(2020, 2026) for m in range(1, 13))
#: Street files for this month and later carry 2021 LSOA codes; earlier ones 2011 codes.
LSOA21_FIRST_MONTH = "2023-01"
#: Files for months up to this one are written with CRLF line endings, like the older
#: real downloads (the real 2021/2022 files are CRLF, the 2024+ ones LF).
CRLF_LAST_MONTH = "2022-12"
#: The synthetic "download" happened just after the 2025-12 release; outcomes are as known then.
DOWNLOAD_AFTER = "2025-12"

#: The published file headers and crime types, shared with the ingest and the parameters
#: (one definition each; these names are kept as aliases).
STREET_COLUMNS: tuple[str, ...] = tuple(STREET_HEADER)
STOP_SEARCH_COLUMNS: tuple[str, ...] = tuple(STOP_SEARCH_HEADER)
CRIME_TYPES: tuple[str, ...] = _PARAMS_CRIME_TYPES
_K = {k: i for i, k in enumerate(CRIME_TYPES)}
ASB = _K["Anti-social behaviour"]


# ----------------------------------------------------------------------------- geography
@dataclass(frozen=True)
class Lad:
    """A fictional local authority district (and its CSP / PFA)."""

    code: str
    name: str
    csp_code: str
    csp_name: str
    pfa_code: str
    pfa_name: str
    mye_geography: str
    census_pop: int
    mye_pop: int
    n_lsoa21: int
    n_splits: int  # 2011 LSOAs split in two in 2021
    centre: tuple[float, float]  # lon, lat
    radius: tuple[float, float]  # lon, lat half-widths
    dep_mean: float  # mean latent deprivation (negative = more deprived)
    eth: tuple[float, float, float, float, float]  # White, Asian, Black, Mixed, Other shares

    @property
    def force_slug(self) -> str:
        return FORCE_SLUG if self.pfa_code == FORCE_PFA_CODE else NEIGHBOUR_FORCE_SLUG


LADS: tuple[Lad, ...] = (
    Lad("X08000001", "Riverton", "X22000001", "Safer Riverton", FORCE_PFA_CODE, FORCE_NAME,
        "Metropolitan District", 250_847, 252_913, 150, 4, (-0.93, 53.155), (0.085, 0.052), -0.45,
        (0.80, 0.10, 0.04, 0.03, 0.03)),
    Lad("X07000002", "Northdale", "X22000002", "Northdale and Southmoor", FORCE_PFA_CODE, FORCE_NAME,
        "Non-metropolitan District", 110_396, 111_240, 68, 2, (-0.93, 53.315), (0.11, 0.06), -0.05,
        (0.945, 0.025, 0.010, 0.015, 0.005)),
    Lad("X07000003", "Southmoor", "X22000002", "Northdale and Southmoor", FORCE_PFA_CODE, FORCE_NAME,
        "Non-metropolitan District", 99_582, 100_457, 62, 2, (-0.93, 52.995), (0.11, 0.06), 0.15,
        (0.935, 0.030, 0.012, 0.016, 0.007)),
    Lad("X07000004", "Easthaven", "X22000003", "Easthaven", FORCE_PFA_CODE, FORCE_NAME,
        "Non-metropolitan District", 90_214, 90_968, 55, 1, (-0.70, 53.155), (0.09, 0.08), 0.35,
        (0.955, 0.018, 0.008, 0.013, 0.006)),
    Lad("X07000009", "Westmarch", "X22000004", "Westmarch", NEIGHBOUR_PFA_CODE, NEIGHBOUR_FORCE_NAME,
        "Non-metropolitan District", 70_463, 70_902, 45, 1, (-1.11, 53.155), (0.07, 0.08), 0.10,
        (0.962, 0.014, 0.005, 0.013, 0.006)),
)
_SYNTH_LADS = tuple(l for l in LADS if l.pfa_code == FORCE_PFA_CODE)

#: The three Synthshire partnerships, for writing report parameters.
PARTNERSHIPS: tuple[dict, ...] = (
    {"slug": "riverton", "name": "Safer Riverton", "csp_code": "X22000001",
     "lad_codes": ["X08000001"], "lad_names": ["Riverton"], "force": FORCE_SLUG,
     "force_name": FORCE_NAME, "pfa_code": FORCE_PFA_CODE},
    {"slug": "northdale-southmoor", "name": "Northdale and Southmoor", "csp_code": "X22000002",
     "lad_codes": ["X07000002", "X07000003"], "lad_names": ["Northdale", "Southmoor"], "force": FORCE_SLUG,
     "force_name": FORCE_NAME, "pfa_code": FORCE_PFA_CODE},
    {"slug": "easthaven", "name": "Easthaven", "csp_code": "X22000003",
     "lad_codes": ["X07000004"], "lad_names": ["Easthaven"], "force": FORCE_SLUG,
     "force_name": FORCE_NAME, "pfa_code": FORCE_PFA_CODE},
)

REGION_CODE, REGION_NAME = "X12000001", "Synthetic Region"
COUNTY_CODE, COUNTY_NAME = "X10000001", "Synthshire"

AGE_GROUPS = (
    "Aged 15 years and under", "Aged 16 to 24 years", "Aged 25 to 34 years",
    "Aged 35 to 49 years", "Aged 50 to 64 years", "Aged 65 years and over",
)
_AGE_P = np.array([0.185, 0.105, 0.130, 0.190, 0.195, 0.195])
_AGE_P_CENTRE = np.array([0.120, 0.230, 0.230, 0.170, 0.130, 0.120])

# Census 2021 TS021 categories, in the column order of the real file, with the broad
# group and the within-group split used here.
ETHNIC_COLUMNS = (
    ("Asian, Asian British or Asian Welsh: Bangladeshi", "Asian", 0.10),
    ("Asian, Asian British or Asian Welsh: Chinese", "Asian", 0.08),
    ("Asian, Asian British or Asian Welsh: Indian", "Asian", 0.33),
    ("Asian, Asian British or Asian Welsh: Pakistani", "Asian", 0.30),
    ("Asian, Asian British or Asian Welsh: Other Asian", "Asian", 0.19),
    ("Black, Black British, Black Welsh, Caribbean or African: African", "Black", 0.58),
    ("Black, Black British, Black Welsh, Caribbean or African: Caribbean", "Black", 0.26),
    ("Black, Black British, Black Welsh, Caribbean or African: Other Black", "Black", 0.16),
    ("Mixed or Multiple ethnic groups: White and Asian", "Mixed", 0.27),
    ("Mixed or Multiple ethnic groups: White and Black African", "Mixed", 0.14),
    ("Mixed or Multiple ethnic groups: White and Black Caribbean", "Mixed", 0.31),
    ("Mixed or Multiple ethnic groups: Other Mixed or Multiple ethnic groups", "Mixed", 0.28),
    ("White: English, Welsh, Scottish, Northern Irish or British", "White", 0.890),
    ("White: Gypsy or Irish Traveller", "White", 0.005),
    ("White: Irish", "White", 0.015),
    ("White: Roma", "White", 0.004),
    ("White: Other White", "White", 0.086),
    ("Other ethnic group: Arab", "Other", 0.28),
    ("Other ethnic group: Any other ethnic group", "Other", 0.72),
)
_BROAD = ("White", "Asian", "Black", "Mixed", "Other")

IOD_COLUMNS = (
    "lsoa11_code", "lsoa11_name", "lad19_code", "lad19_name",
    "index_of_multiple_deprivation_imd_rank", "income_rank", "employment_rank",
    "education_skills_and_training_rank", "health_deprivation_and_disability_rank", "crime_rank",
    "barriers_to_housing_and_services_rank", "living_environment_rank",
    "index_of_multiple_deprivation_imd_decile", "income_decile", "employment_decile",
    "education_skills_and_training_decile", "health_deprivation_and_disability_decile", "crime_decile",
    "barriers_to_housing_and_services_decile", "living_environment_decile",
)
# Correlation of each domain with the IMD in the real IoD 2019 file.
_IOD_DOMAIN_RHO = (0.95, 0.92, 0.82, 0.84, 0.72, 0.14, 0.38)
IOD_N_LSOA = 32_844
# Upper rank of each England IMD decile (IoD 2019, 32,844 LSOAs).
_DECILE_UPPER = np.array([3284, 6568, 9853, 13137, 16422, 19706, 22990, 26275, 29559, 32844])

# ----------------------------------------------------------------------------- crime model
#: Average share of street rows by type (before trends), like a real shire force.
TYPE_SHARES = {
    "Anti-social behaviour": 0.200, "Bicycle theft": 0.006, "Burglary": 0.045,
    "Criminal damage and arson": 0.080, "Drugs": 0.028, "Other crime": 0.025, "Other theft": 0.058,
    "Possession of weapons": 0.011, "Public order": 0.080, "Robbery": 0.009, "Shoplifting": 0.065,
    "Theft from the person": 0.007, "Vehicle crime": 0.052, "Violence and sexual offences": 0.345,
}
#: Mean force rows per month (all types, Synthshire LSOAs, before trends/season/noise).
TARGET_ROWS_PER_MONTH = 4950
#: Multiplicative change per 12 months (log-linear in the month index).
TRENDS = {k: 1.02 for k in CRIME_TYPES}
TRENDS.update({"Violence and sexual offences": 1.05, "Burglary": 0.94, "Shoplifting": 1.08,
               "Anti-social behaviour": 0.97})
#: Seasonality: (amplitude A, peak calendar month); multiplier 1 + A cos(2 pi (month - peak)/12).
SEASONALITY = {
    "Anti-social behaviour": (0.15, 7), "Bicycle theft": (0.30, 7), "Burglary": (0.10, 12),
    "Criminal damage and arson": (0.08, 10), "Drugs": (0.05, 5), "Other crime": (0.03, 7),
    "Other theft": (0.06, 7), "Possession of weapons": (0.06, 7), "Public order": (0.10, 7),
    "Robbery": (0.08, 12), "Shoplifting": (0.06, 12), "Theft from the person": (0.08, 12),
    "Vehicle crime": (0.06, 11), "Violence and sexual offences": (0.15, 7),
}
#: Rate ratio per IMD decile more deprived (decile 1 = most deprived): 1.12 ** (10 - decile).
DEPRIVATION_RR_PER_DECILE = 1.12
#: LSOA "place" multipliers: gamma(shape, scale=1/shape); town centre and hot spots on top.
PLACE_GAMMA_SHAPE = 2.5
TOWN_CENTRE_MULTIPLIER = 3.0
HOTSPOT_MULTIPLIER = 2.5
N_HOTSPOTS = 6
#: Extra multiplier by type in the Riverton town centre (001A-001H).
TOWN_CENTRE_TYPE_UPLIFT = {
    "Anti-social behaviour": 1.3, "Bicycle theft": 1.8, "Burglary": 0.5,
    "Criminal damage and arson": 1.0, "Drugs": 1.8, "Other crime": 1.0, "Other theft": 1.6,
    "Possession of weapons": 1.6, "Public order": 1.6, "Robbery": 2.0, "Shoplifting": 2.5,
    "Theft from the person": 3.0, "Vehicle crime": 0.8, "Violence and sexual offences": 1.4,
}
#: Burglary multiplier in the Northdale Safer Streets LSOAs (003A-F): a burglary problem area,
#: which is why it was chosen (selection on level, not on a trend).
SAFER_STREETS_BURGLARY_LEVEL = 2.5
#: Shoplifting multiplier in LSOAs with / without a retail snap point.
SHOPLIFTING_RETAIL = (2.5, 0.3)
UNIT_MONTH_GAMMA_SHAPE = 30.0
FORCE_MONTH_SD = 0.02
#: Share of all rows located in Westmarch (neighbour force) LSOAs.
BORDER_SHARE = 0.010
N_BORDER_LSOAS = 10
#: Overall share of rows without a location, and relative propensity by type (from a real force).
NO_LOCATION_SHARE = 0.017
_NO_LOC_REL = {
    "Anti-social behaviour": 0.001, "Bicycle theft": 0.020, "Burglary": 0.064,
    "Criminal damage and arson": 0.045, "Drugs": 0.104, "Other crime": 0.034, "Other theft": 0.044,
    "Possession of weapons": 0.096, "Public order": 0.067, "Robbery": 0.050, "Shoplifting": 0.022,
    "Theft from the person": 0.038, "Vehicle crime": 0.052, "Violence and sexual offences": 0.060,
}
ASB_CAP_MONTH, ASB_CAP_ROWS = "2021-06", 300

CCTV = {
    "name": "Riverton town-centre CCTV",
    "lad_code": "X08000001",
    "lsoa_names": [f"Riverton 001{c}" for c in "ABCDEFGH"],
    "start": "2023-04",
    "end": None,
    "crime_types": ["Robbery", "Theft from the person", "Criminal damage and arson", "Public order"],
    "effect": 0.70,
    "n_buffer": 10,
    "buffer_effect": 1.0,
}
SAFER_STREETS = {
    "name": "Northdale Safer Streets (alley gates and lighting)",
    "lad_code": "X07000002",
    "lsoa_names": [f"Northdale 003{c}" for c in "ABCDEF"],
    "start": "2022-10",
    "end": "2023-09",
    "crime_types": ["Burglary"],
    "effect": 1.0,
}

# "Last outcome category" for mature crimes, by type (pooled from real 2025 files of three
# forces; "Court result unavailable" folded into "Awaiting court outcome", re-split by age).
OUTCOMES = {
    "Bicycle theft": {"Investigation complete; no suspect identified": 0.817, "Unable to prosecute suspect": 0.132,
                      "Awaiting court outcome": 0.031, "Status update unavailable": 0.011, "Local resolution": 0.005},
    "Burglary": {"Investigation complete; no suspect identified": 0.76, "Unable to prosecute suspect": 0.152,
                 "Awaiting court outcome": 0.061, "Status update unavailable": 0.019, "Local resolution": 0.004,
                 "Suspect charged as part of another case": 0.001},
    "Criminal damage and arson": {
        "Investigation complete; no suspect identified": 0.59, "Unable to prosecute suspect": 0.294,
        "Awaiting court outcome": 0.052, "Local resolution": 0.031, "Status update unavailable": 0.014,
        "Offender given a caution": 0.008, "Action to be taken by another organisation": 0.004,
        "Further action is not in the public interest": 0.004, "Formal action is not in the public interest": 0.002},
    "Drugs": {"Awaiting court outcome": 0.254, "Local resolution": 0.201,
              "Investigation complete; no suspect identified": 0.175, "Unable to prosecute suspect": 0.172,
              "Status update unavailable": 0.097, "Offender given a caution": 0.045,
              "Formal action is not in the public interest": 0.023,
              "Further investigation is not in the public interest": 0.014,
              "Further action is not in the public interest": 0.011,
              "Offender given a drugs possession warning": 0.012, "Offender given penalty notice": 0.004,
              "Action to be taken by another organisation": 0.003},
    "Other crime": {"Unable to prosecute suspect": 0.467, "Investigation complete; no suspect identified": 0.181,
                    "Status update unavailable": 0.107, "Awaiting court outcome": 0.082,
                    "Further investigation is not in the public interest": 0.068,
                    "Action to be taken by another organisation": 0.039,
                    "Further action is not in the public interest": 0.026,
                    "Formal action is not in the public interest": 0.013, "Local resolution": 0.013,
                    "Offender given a caution": 0.005},
    "Other theft": {"Investigation complete; no suspect identified": 0.653, "Unable to prosecute suspect": 0.278,
                    "Status update unavailable": 0.023, "Awaiting court outcome": 0.021, "Local resolution": 0.015,
                    "Formal action is not in the public interest": 0.003, "Offender given a caution": 0.002},
    "Possession of weapons": {"Unable to prosecute suspect": 0.431, "Awaiting court outcome": 0.28,
                              "Investigation complete; no suspect identified": 0.136,
                              "Status update unavailable": 0.056, "Local resolution": 0.027,
                              "Offender given a caution": 0.025, "Further action is not in the public interest": 0.022,
                              "Formal action is not in the public interest": 0.01,
                              "Action to be taken by another organisation": 0.009,
                              "Further investigation is not in the public interest": 0.004},
    "Public order": {"Unable to prosecute suspect": 0.496, "Investigation complete; no suspect identified": 0.3,
                     "Awaiting court outcome": 0.114, "Local resolution": 0.039, "Status update unavailable": 0.024,
                     "Action to be taken by another organisation": 0.007, "Offender given a caution": 0.007,
                     "Further investigation is not in the public interest": 0.006,
                     "Further action is not in the public interest": 0.004,
                     "Formal action is not in the public interest": 0.003},
    "Robbery": {"Investigation complete; no suspect identified": 0.441, "Unable to prosecute suspect": 0.32,
                "Awaiting court outcome": 0.164, "Status update unavailable": 0.06, "Local resolution": 0.006,
                "Further investigation is not in the public interest": 0.002,
                "Further action is not in the public interest": 0.002},
    "Shoplifting": {"Investigation complete; no suspect identified": 0.578, "Awaiting court outcome": 0.275,
                    "Unable to prosecute suspect": 0.087, "Local resolution": 0.036, "Status update unavailable": 0.008,
                    "Formal action is not in the public interest": 0.005,
                    "Further investigation is not in the public interest": 0.004,
                    "Further action is not in the public interest": 0.003, "Offender given a caution": 0.003},
    "Theft from the person": {"Investigation complete; no suspect identified": 0.685,
                              "Unable to prosecute suspect": 0.255, "Status update unavailable": 0.024,
                              "Awaiting court outcome": 0.02, "Local resolution": 0.012},
    "Vehicle crime": {"Investigation complete; no suspect identified": 0.845, "Unable to prosecute suspect": 0.101,
                      "Awaiting court outcome": 0.034, "Status update unavailable": 0.014, "Local resolution": 0.002},
    "Violence and sexual offences": {
        "Unable to prosecute suspect": 0.655, "Investigation complete; no suspect identified": 0.14,
        "Awaiting court outcome": 0.074, "Status update unavailable": 0.061, "Local resolution": 0.031,
        "Action to be taken by another organisation": 0.018, "Offender given a caution": 0.008,
        "Further action is not in the public interest": 0.007,
        "Further investigation is not in the public interest": 0.003,
        "Formal action is not in the public interest": 0.002},
}
_OUTCOME_VOCAB = ("",) + tuple(sorted({o for d in OUTCOMES.values() for o in d} |
                                      {"Court result unavailable", "Under investigation"}))
_O = {o: i for i, o in enumerate(_OUTCOME_VOCAB)}
# "Under investigation" replaces an unresolved outcome in the newest months (by age 0, 1, 2).
_UNDER_INVESTIGATION_P = (0.35, 0.20, 0.10)

# Snap-point names.
STREET_FIRST = (
    "Station", "Church", "Mill", "Victoria", "Park", "Queen", "King", "Albert", "Chapel", "School",
    "Green", "Oak", "Elm", "Willow", "Ash", "Beech", "Cedar", "Holly", "Rowan", "Meadow", "Brook",
    "River", "Bridge", "North", "South", "West", "East", "New", "Old", "Market", "Castle", "Manor",
    "Hall", "Grange", "Abbey", "Priory", "Orchard", "Spring", "Well", "Hill", "Moor", "Dale", "Heath",
    "Fern", "Thorn", "Birch", "Maple", "Larch", "Hawthorn", "Primrose", "Bluebell", "Ivy", "Laurel",
    "Poplar", "Sycamore", "Chestnut", "Lime", "Cherry", "Rose", "Kingfisher", "Heron", "Lark",
    "Windmill", "Forge", "Quarry", "Tannery", "Foundry", "Canal", "Wharf", "Ferry", "Synth",
    "Riverton", "Northdale", "Southmoor", "Easthaven", "Westmarch", "Cobble", "Copper", "Flax",
)
STREET_SUFFIX = (
    "Road", "Street", "Lane", "Avenue", "Close", "Drive", "Way", "Crescent", "Grove", "Gardens",
    "Court", "View", "Place", "Terrace", "Walk", "Rise", "Mews",
)
POI = {"Supermarket": 0.25, "Parking Area": 0.22, "Shopping Area": 0.12, "Petrol Station": 0.12,
        "Sports/Recreation Area": 0.10, "Park/Open Space": 0.08, "Hospital": 0.03,
        "Further/Higher Educational Building": 0.04, "Police Station": 0.02, "Prison": 0.02}
_POI_CENTRE = {"Shopping Area": 0.2, "Nightclub": 0.15, "Bus/Coach Station": 0.08, "High Street": 0.12,
               "Market Place": 0.1, "Theatre/Concert Hall": 0.05, "Pedestrian Subway": 0.05,
               "Parking Area": 0.13, "Supermarket": 0.12}
_RETAIL = {"Supermarket", "Shopping Area", "Petrol Station"}
MAX_POINTS = 16

# ----------------------------------------------------------------------------- stop and search
SS_MEAN_ROWS = 300
#: Searches per resident relative to White (officer-defined ethnicity vs Census broad group).
SS_RATE_RATIO = {"White": 1.0, "Black": 3.0, "Asian": 1.5, "Other": 1.2}
#: P(Outcome linked to object of search == True) by officer-defined group.
SS_FIND_RATE = {"White": 0.27, "Black": 0.18, "Asian": 0.24, "Other": 0.25}
SS_NO_COORDS = 0.10
SS_VEHICLE_SHARE = 0.04  # 'Vehicle search': no person fields
SS_EXTRA_BLANK_ETHNICITY = 0.012  # person searches with blank officer-defined ethnicity
_SS_SELF = {
    "White": {"White - English/Welsh/Scottish/Northern Irish/British": 0.83, "White - Any other White background": 0.05,
              "White - Irish": 0.01, "White - Gypsy or Irish Traveller": 0.015,
              "Mixed/Multiple ethnic groups - White and Asian": 0.005,
              "Other ethnic group - Not stated": 0.06, "": 0.03},
    "Black": {"Black/African/Caribbean/Black British - African": 0.35,
              "Black/African/Caribbean/Black British - Caribbean": 0.22,
              "Black/African/Caribbean/Black British - Any other Black/African/Caribbean background": 0.10,
              "Mixed/Multiple ethnic groups - White and Black Caribbean": 0.10,
              "Mixed/Multiple ethnic groups - White and Black African": 0.03,
              "Other ethnic group - Not stated": 0.15, "": 0.05},
    "Asian": {"Asian/Asian British - Pakistani": 0.38, "Asian/Asian British - Indian": 0.14,
              "Asian/Asian British - Bangladeshi": 0.08, "Asian/Asian British - Chinese": 0.02,
              "Asian/Asian British - Any other Asian background": 0.14,
              "Mixed/Multiple ethnic groups - White and Asian": 0.05,
              "Other ethnic group - Not stated": 0.14, "": 0.05},
    "Other": {"Other ethnic group - Arab": 0.25, "Other ethnic group - Any other ethnic group": 0.30,
              "Mixed/Multiple ethnic groups - Any other Mixed/Multiple ethnic background": 0.10,
              "Other ethnic group - Not stated": 0.25, "": 0.10},
}
_SS_LEGISLATION = (  # (legislation, share, {object: share})
    ("Misuse of Drugs Act 1971 (section 23)", 0.62,
     {"Controlled drugs": 0.97, "Psychoactive substances": 0.01, "Evidence of offences under the Act": 0.02}),
    ("Police and Criminal Evidence Act 1984 (section 1)", 0.35,
     {"Offensive weapons": 0.38, "Article for use in theft": 0.25, "Stolen goods": 0.17,
      "Anything to threaten or harm anyone": 0.08, "Articles for use in criminal damage": 0.05,
      "Fireworks": 0.03, "Evidence of offences under the Act": 0.04}),
    ("Firearms Act 1968 (section 47)", 0.02, {"Firearms": 1.0}),
    ("Criminal Justice Act 1988 (section 139B)", 0.01, {"Offensive weapons": 1.0}),
)
SS_OUTCOME_FIND = {"Arrest": 0.42, "Community resolution": 0.30, "Summons / charged by post": 0.10,
                    "Khat or Cannabis warning": 0.08, "Caution (simple or conditional)": 0.05,
                    "Penalty Notice for Disorder": 0.05}
SS_OUTCOME_NOFIND = {"A no further action disposal": 0.86, "Arrest": 0.10, "Summons / charged by post": 0.02,
                      "Community resolution": 0.02}
SS_NFA_SHARE_NOT_LINKED = 0.86


# ============================================================================= helpers
def choose(rng: np.random.Generator, probs: dict | np.ndarray, size: int):
    """Draw categories from a {value: p} dict (returns values) or a probability vector (indices)."""
    if isinstance(probs, dict):
        keys = list(probs)
        p = np.array([probs[k] for k in keys], dtype=float)
        idx = rng.choice(len(keys), size=size, p=p / p.sum())
        return np.array(keys, dtype=object)[idx]
    p = np.asarray(probs, dtype=float)
    return rng.choice(len(p), size=size, p=p / p.sum())


def largest_remainder(weights: np.ndarray, total: int) -> np.ndarray:
    """Integers proportional to weights that sum exactly to total."""
    raw = weights / weights.sum() * total
    out = np.floor(raw).astype(np.int64)
    rest = total - out.sum()
    order = np.argsort(-(raw - out), kind="stable")
    out[order[:rest]] += 1
    return out


def _unique_ranks(z: np.ndarray) -> np.ndarray:
    """Map latent normals to distinct England-scale ranks 1..32,844 (low z = rank 1 = most deprived)."""
    r = np.clip(np.floor(ndtr(z) * IOD_N_LSOA).astype(np.int64) + 1, 1, IOD_N_LSOA)
    order = np.argsort(r, kind="stable")
    rs = r[order]
    i = np.arange(len(rs))
    rs = np.maximum.accumulate(rs - i) + i  # strictly increasing
    overflow = rs[-1] - IOD_N_LSOA
    if overflow > 0:
        rs -= overflow
    out = np.empty_like(r)
    out[order] = rs
    return out


def _decile(rank: np.ndarray) -> np.ndarray:
    return np.searchsorted(_DECILE_UPPER, rank, side="left") + 1


def _month_index(month: str) -> int:
    return MONTHS.index(month)


def write_csv(df: pd.DataFrame, path: Path, crlf: bool = False) -> None:
    """Write ``df`` as the published files are written (UTF-8, no index; CRLF when ``crlf``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, lineterminator="\r\n" if crlf else "\n", encoding="utf-8")


def _poisson_slope(y: np.ndarray, x: np.ndarray, offset: np.ndarray) -> float:
    """Slope of x in a Poisson log-linear model with an offset (statsmodels GLM)."""
    import statsmodels.api as sm

    X = sm.add_constant(np.asarray(x, dtype=float), has_constant="add")
    fit = sm.GLM(np.asarray(y, dtype=float), X, family=sm.families.Poisson(), offset=offset).fit()
    return float(fit.params[1])


# ============================================================================= geography
def _build_geography(rng: np.random.Generator) -> dict:
    """2011 and 2021 LSOAs, their names, codes, centroids, populations, deprivation, snap points.

    The steps draw from ``rng`` in this order (the order fixes the default data byte for byte).
    """
    units, lsoa11 = _place_lsoas(rng)
    u, l11 = _lsoa_frames(units, lsoa11)
    _add_deprivation(rng, u, l11)
    kx, xy = _mark_areas(u)
    _add_populations(rng, u)
    pts_df = _add_snap_points_and_hot_spots(rng, u, kx, xy)
    return _point_weights(u, l11, pts_df)


def _place_lsoas(rng: np.random.Generator) -> tuple[list[dict], list[dict]]:
    """Each LAD's 2011 LSOAs on a jittered sunflower spiral, grouped into MSOAs and named; some
    split into two 2021 LSOAs. Returns the 2021 units and the 2011 LSOAs as lists of dicts."""
    units = []  # one dict per 2021 LSOA
    lsoa11 = []  # one dict per 2011 LSOA
    next11 = 1
    next21_new = 1
    golden = np.pi * (3 - np.sqrt(5))
    for lad in LADS:
        n11 = lad.n_lsoa21 - lad.n_splits
        i = np.arange(n11)
        power = 0.75 if lad.name == "Riverton" else 0.5  # Riverton denser in the centre
        r = ((i + 0.5) / n11) ** power
        ang = i * golden + rng.normal(0, 0.15, n11)
        r = np.clip(r * (1 + rng.normal(0, 0.06, n11)), 0.0, 1.05)
        lon = lad.centre[0] + lad.radius[0] * r * np.cos(ang)
        lat = lad.centre[1] + lad.radius[1] * r * np.sin(ang)
        # MSOA grouping: compact clusters, numbered north to south (Riverton 001 = centre).
        assigned = np.full(n11, -1)
        msoas: list[list[int]] = []
        if lad.name == "Riverton":
            msoas.append(list(range(8)))  # the 8 innermost = town centre 001A-H
            assigned[:8] = 0
        forced = {3: 6} if lad.name == "Northdale" else {}
        xy = np.column_stack([lon * np.cos(np.radians(53.15)), lat])
        while (assigned < 0).any():
            free = np.flatnonzero(assigned < 0)
            seed = free[np.argmax(lat[free])]
            size = forced.get(len(msoas) + 1, int(rng.integers(4, 8)))
            d = np.hypot(*(xy[free] - xy[seed]).T)
            members = free[np.argsort(d, kind="stable")[:size]]
            assigned[members] = len(msoas)
            msoas.append(sorted(members.tolist(), key=lambda j: (-lat[j], lon[j])))
        names11 = [""] * n11
        msoa_of = np.zeros(n11, dtype=int)
        for mi, members in enumerate(msoas):
            for li, j in enumerate(members):
                names11[j] = f"{lad.name} {mi + 1:03d}{chr(ord('A') + li)}"
                msoa_of[j] = mi
        # 2011 codes in name order within the LAD
        order = sorted(range(n11), key=lambda j: names11[j])
        code11 = [""] * n11
        for j in order:
            code11[j] = f"X01{next11:06d}"
            next11 += 1
        # deprivation latent (spatially smooth + noise)
        field = (np.sin(lon * 37.0 + 1.3) + np.cos(lat * 53.0 - 0.7)) / 1.4
        z = lad.dep_mean + 0.45 * field + rng.normal(0, 0.75, n11)
        # split parents: not the town centre, not Northdale 003, not the innermost 30 of Riverton
        eligible = [j for j in range(n11)
                    if not (lad.name == "Riverton" and j < 30)
                    and not (lad.name == "Northdale" and msoa_of[j] == 2)]
        parents = set(rng.choice(eligible, size=lad.n_splits, replace=False).tolist())
        next_letter = {mi: len(m) for mi, m in enumerate(msoas)}
        for j in range(n11):
            rec11 = {"lsoa11cd": code11[j], "lsoa11nm": names11[j], "lad": lad, "lon": lon[j], "lat": lat[j],
                     "z": z[j], "split": j in parents, "msoa": msoa_of[j]}
            lsoa11.append(rec11)
            if j in parents:
                for c in range(2):
                    letter = chr(ord("A") + next_letter[msoa_of[j]])
                    next_letter[msoa_of[j]] += 1
                    ang2 = rng.uniform(0, 2 * np.pi)
                    units.append({
                        "lsoa21cd": f"X01{1000 + next21_new:06d}",
                        "lsoa21nm": f"{lad.name} {msoa_of[j] + 1:03d}{letter}",
                        "lsoa11cd": code11[j], "lsoa11nm": names11[j], "lad": lad,
                        "lon": lon[j] + (1 if c == 0 else -1) * 0.004 * np.cos(ang2),
                        "lat": lat[j] + (1 if c == 0 else -1) * 0.0025 * np.sin(ang2),
                        "z": z[j], "split_child": True,
                    })
                    next21_new += 1
            else:
                units.append({"lsoa21cd": code11[j], "lsoa21nm": names11[j], "lsoa11cd": code11[j],
                              "lsoa11nm": names11[j], "lad": lad, "lon": lon[j], "lat": lat[j], "z": z[j],
                              "split_child": False})

    return units, lsoa11


def _lsoa_frames(units: list[dict], lsoa11: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The 2021 units and 2011 LSOAs as frames sorted by code, with their LAD's code and name."""
    u = pd.DataFrame(units)
    u["lad_code"] = [l.code for l in u["lad"]]
    u["lad_name"] = [l.name for l in u["lad"]]
    u["synth"] = [l.pfa_code == FORCE_PFA_CODE for l in u["lad"]]
    u = u.sort_values("lsoa21cd", kind="stable").reset_index(drop=True)
    l11 = pd.DataFrame(lsoa11)
    l11["lad_code"] = [l.code for l in l11["lad"]]
    l11["lad_name"] = [l.name for l in l11["lad"]]
    l11 = l11.sort_values("lsoa11cd", kind="stable").reset_index(drop=True)

    return u, l11


def _add_deprivation(rng: np.random.Generator, u: pd.DataFrame, l11: pd.DataFrame) -> None:
    """IMD rank, the 7 domain ranks and the decile (2011 LSOAs), and the decile of each 2021 unit."""
    # IMD + 7 domains on the England rank scale
    zi = l11["z"].to_numpy()
    l11["imd_rank"] = _unique_ranks(zi)
    sd = zi.std()
    dom_names = IOD_COLUMNS[5:12]
    for name, rho in zip(dom_names, _IOD_DOMAIN_RHO):
        zd = rho * zi + np.sqrt(1 - rho ** 2) * sd * rng.normal(0, 1, len(zi))
        l11[name] = _unique_ranks(zd)
    l11["imd_decile"] = _decile(l11["imd_rank"].to_numpy())
    dec = dict(zip(l11["lsoa11cd"], l11["imd_decile"]))
    u["imd_decile"] = u["lsoa11cd"].map(dec).astype(int)


def _mark_areas(u: pd.DataFrame) -> tuple[float, np.ndarray]:
    """Town centre, Safer Streets area, CCTV buffer ring and the Westmarch border LSOAs.
    Returns the longitude scale and the units' projected coordinates."""
    # town centre, buffer ring, hot spots
    u["town_centre"] = u["lsoa21nm"].isin(CCTV["lsoa_names"])
    u["safer_streets"] = u["lsoa21nm"].isin(SAFER_STREETS["lsoa_names"])
    assert u["town_centre"].sum() == 8 and u["safer_streets"].sum() == 6
    kx = np.cos(np.radians(53.15))
    xy = np.column_stack([u["lon"].to_numpy() * kx, u["lat"].to_numpy()])
    tc_centroid = xy[u["town_centre"].to_numpy()].mean(axis=0)
    dist_tc = np.hypot(*(xy - tc_centroid).T)
    riv = (u["lad_name"] == "Riverton").to_numpy() & ~u["town_centre"].to_numpy()
    cand = np.flatnonzero(riv)
    buffer_idx = cand[np.argsort(dist_tc[cand], kind="stable")[:CCTV["n_buffer"]]]
    u["cctv_buffer"] = False
    u.loc[buffer_idx, "cctv_buffer"] = True
    # border: Westmarch LSOAs nearest Riverton (largest longitude)
    west = np.flatnonzero((u["lad_name"] == "Westmarch").to_numpy())
    border_idx = west[np.argsort(-u["lon"].to_numpy()[west], kind="stable")[:N_BORDER_LSOAS]]
    u["border"] = False
    u.loc[border_idx, "border"] = True

    return kx, xy


def _add_populations(rng: np.random.Generator, u: pd.DataFrame) -> None:
    """Census 2021 usual residents per unit (summing to each LAD's total), ages and place effects."""
    # populations (Census 2021 usual residents) and ages
    pops = np.zeros(len(u), dtype=np.int64)
    for lad in LADS:
        idx = np.flatnonzero((u["lad_code"] == lad.code).to_numpy())
        w = np.exp(rng.normal(0, 0.18, len(idx)))
        pops[idx] = largest_remainder(w, lad.census_pop)
    u["pop"] = pops
    ages = np.zeros((len(u), 6), dtype=np.int64)
    for j in range(len(u)):
        p = _AGE_P_CENTRE if u.at[j, "town_centre"] else _AGE_P
        p = p * np.exp(rng.normal(0, 0.08, 6))
        ages[j] = rng.multinomial(pops[j], p / p.sum())
    u[list(AGE_GROUPS)] = ages

    # place effects
    place = rng.gamma(PLACE_GAMMA_SHAPE, 1 / PLACE_GAMMA_SHAPE, len(u))
    place[u["town_centre"].to_numpy()] *= TOWN_CENTRE_MULTIPLIER
    u["place"] = place


def _add_snap_points_and_hot_spots(rng: np.random.Generator, u: pd.DataFrame, kx: float,
                                   xy: np.ndarray) -> pd.DataFrame:
    """5-15 named snap points per unit (streets and points of interest) and the planted hot spots."""
    # snap points
    pts = []
    dmat = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    np.fill_diagonal(dmat, np.inf)
    nn = dmat.min(axis=1)
    pool = np.array([f"{a} {b}" for a in STREET_FIRST for b in STREET_SUFFIX], dtype=object)
    for j in range(len(u)):
        tc = bool(u.at[j, "town_centre"])
        n = 15 if tc else int(rng.integers(5, 16))
        spread = 0.35 * nn[j]
        plon = u.at[j, "lon"] + rng.normal(0, spread / kx, n)
        plat = u.at[j, "lat"] + rng.normal(0, spread, n)
        streets = rng.choice(pool, size=n, replace=False)
        is_poi = rng.random(n) < (0.45 if tc else 0.12)
        poi = choose(rng, _POI_CENTRE if tc else POI, n)
        names = np.where(is_poi, poi, streets).astype(object)
        if tc:
            names[0] = "Shopping Area"
        blank = rng.random(n) < 0.015
        names = np.where(blank, "", names).astype(object)
        w = rng.dirichlet(np.full(n, 0.8))
        for p in range(n):
            pts.append((j, p, f"{plon[p]:.6f}", f"{plat[p]:.6f}", f"On or near {names[p]}",
                        names[p] in _RETAIL, w[p]))
    pts_df = pd.DataFrame(pts, columns=["unit", "p", "lon", "lat", "location", "retail", "w"])
    u["has_retail"] = pts_df.groupby("unit")["retail"].any().reindex(range(len(u))).to_numpy()
    # hot spots: retail LSOAs outside the intervention areas, buffer and Westmarch
    ok = (u["has_retail"] & u["synth"] & ~u["town_centre"] & ~u["cctv_buffer"] & ~u["safer_streets"]).to_numpy()
    hot = rng.choice(np.flatnonzero(ok), size=N_HOTSPOTS, replace=False)
    u["hotspot"] = False
    u.loc[np.sort(hot), "hotspot"] = True
    u.loc[u["hotspot"], "place"] *= HOTSPOT_MULTIPLIER
    return pts_df


def _point_weights(u: pd.DataFrame, l11: pd.DataFrame, pts_df: pd.DataFrame) -> dict:
    """Padded cumulative point weights per unit (general and retail-biased) and the geography dict."""
    nU = len(u)
    npts = pts_df.groupby("unit").size().reindex(range(nU)).to_numpy()
    offs = np.concatenate([[0], np.cumsum(npts)[:-1]])
    W = np.zeros((nU, MAX_POINTS))
    R = np.zeros((nU, MAX_POINTS))
    W[pts_df["unit"], pts_df["p"]] = pts_df["w"]
    R[pts_df["unit"], pts_df["p"]] = pts_df["w"] * np.where(pts_df["retail"], 8.0, 1.0)
    cumW = np.cumsum(W / W.sum(1, keepdims=True), axis=1)
    cumR = np.cumsum(R / R.sum(1, keepdims=True), axis=1)
    cumW[:, -1] = cumR[:, -1] = 1.0 + 1e-9
    return {"units": u, "lsoa11": l11, "points": pts_df, "npts": npts, "offs": offs,
            "cumW": cumW, "cumR": cumR}


def _pick_points(rng, geo, unit: np.ndarray, retail: np.ndarray) -> np.ndarray:
    """A snap point (global index) for each row in a unit (retail-biased where asked)."""
    r = rng.random(len(unit))
    cum = np.where(retail[:, None], geo["cumR"][unit], geo["cumW"][unit])
    k = (cum < r[:, None]).sum(axis=1)
    k = np.minimum(k, geo["npts"][unit] - 1)
    return geo["offs"][unit] + k


# ============================================================================= street crime
def _expected_counts(geo) -> tuple[np.ndarray, dict]:
    """Expected counts lambda[month, type, unit] (before noise) and the calibration used."""
    u = geo["units"]
    nM, nK, nU = len(MONTHS), len(CRIME_TYPES), len(u)
    pop = u["pop"].to_numpy(float)
    dep = DEPRIVATION_RR_PER_DECILE ** (10 - u["imd_decile"].to_numpy())
    base = pop / 1000 * u["place"].to_numpy() * dep  # (U)
    typeplace = np.ones((nK, nU))
    tc = u["town_centre"].to_numpy()
    for k, up in TOWN_CENTRE_TYPE_UPLIFT.items():
        typeplace[_K[k], tc] *= up
    typeplace[_K["Burglary"], u["safer_streets"].to_numpy()] *= SAFER_STREETS_BURGLARY_LEVEL
    shop = _K["Shoplifting"]
    typeplace[shop] *= np.where(u["has_retail"].to_numpy(), SHOPLIFTING_RETAIL[0], SHOPLIFTING_RETAIL[1])
    synth = u["synth"].to_numpy()
    border = u["border"].to_numpy()
    months = np.arange(nM)
    cal = np.array([int(m[5:]) for m in MONTHS])
    days = np.array([calendar.monthrange(int(m[:4]), int(m[5:]))[1] for m in MONTHS]) / 30.4375
    tm = np.zeros((nM, nK))
    for k in CRIME_TYPES:
        a, peak = SEASONALITY[k]
        tm[:, _K[k]] = (TRENDS[k] ** ((months - (nM - 1) / 2) / 12)
                        * (1 + a * np.cos(2 * np.pi * (cal - peak) / 12)) * days)
    lam = tm[:, :, None] * (typeplace * base[None, :])[None, :, :]
    # calibrate each type to its share of TARGET_ROWS_PER_MONTH over Synthshire units
    shares = np.array([TYPE_SHARES[k] for k in CRIME_TYPES])
    shares = shares / shares.sum()
    mean_k = lam[:, :, synth].sum(axis=2).mean(axis=0)
    scale = shares * TARGET_ROWS_PER_MONTH / mean_k
    lam *= scale[None, :, None]
    # border rows: only the N_BORDER_LSOAS Westmarch LSOAs nearest Riverton, BORDER_SHARE of all rows
    lam[:, :, ~synth & ~border] = 0.0
    s_in, s_b = lam[:, :, synth].sum(), lam[:, :, border].sum()
    lam[:, :, border] *= BORDER_SHARE / (1 - BORDER_SHARE) * s_in / s_b
    # interventions
    start = _month_index(CCTV["start"])
    kk = [_K[k] for k in CCTV["crime_types"]]
    for k in kk:
        lam[start:, k, tc] *= CCTV["effect"]
    ss_idx = u["safer_streets"].to_numpy()
    s0, s1 = _month_index(SAFER_STREETS["start"]), _month_index(SAFER_STREETS["end"])
    for k in SAFER_STREETS["crime_types"]:
        lam[s0:s1 + 1, _K[k], ss_idx] *= SAFER_STREETS["effect"]
    return lam, {"type_scale_per_1000": dict(zip(CRIME_TYPES, np.round(scale, 6).tolist()))}


def _draw_outcomes(rng, m: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Last outcome (index into the outcome vocabulary) per row: drawn by crime type, then aged
    by the months between the crime and the download (court results, investigations)."""
    n = len(m)
    outc = np.zeros(n, dtype=np.int64)
    age = (_month_index(DOWNLOAD_AFTER) - m)
    for t in CRIME_TYPES:
        if t == "Anti-social behaviour":
            continue
        idx = np.flatnonzero(k == _K[t])
        d = OUTCOMES[t]
        vals = np.array([_O[o] for o in d])
        outc[idx] = vals[choose(rng, np.array(list(d.values())), len(idx))]
    aw, cru = _O["Awaiting court outcome"], _O["Court result unavailable"]
    p_conv = np.clip((age - 2) / 6, 0, 1) * 0.92
    conv = (outc == aw) & (rng.random(n) < p_conv)
    outc[conv] = cru
    unresolved = np.isin(outc, [_O["Investigation complete; no suspect identified"],
                                _O["Unable to prosecute suspect"], _O["Status update unavailable"]])
    p_ui = np.zeros(n)
    for a, p in enumerate(_UNDER_INVESTIGATION_P):
        p_ui[age == a] = p
    ui = unresolved & (rng.random(n) < p_ui)
    outc[ui] = _O["Under investigation"]
    return outc


def _crime_ids(rng, k: np.ndarray) -> np.ndarray:
    """Crime IDs: 64 hex characters, unique; none for anti-social behaviour."""
    n = len(k)
    is_crime = k != ASB
    n_ids = int(is_crime.sum())
    hexs = rng.bytes(32 * n_ids).hex()
    ids = np.full(n, "", dtype=object)
    ids[is_crime] = [hexs[i * 64:(i + 1) * 64] for i in range(n_ids)]
    assert len(set(ids[is_crime])) == n_ids
    return ids


def _street_rows(rng, geo) -> tuple[pd.DataFrame, dict]:
    """Every street record of the synthetic force: counts drawn per month, type and LSOA, then
    the ASB extract artefact, missing locations, snap points, outcomes, LSOA vintage and IDs."""
    u = geo["units"]
    lam, calib = _expected_counts(geo)
    nM, nK, nU = lam.shape
    noise = rng.gamma(UNIT_MONTH_GAMMA_SHAPE, 1 / UNIT_MONTH_GAMMA_SHAPE, (nM, 1, nU))
    shock = np.exp(rng.normal(0, FORCE_MONTH_SD, (nM, 1, 1)))
    counts = rng.poisson(lam * noise * shock)
    flat = np.repeat(np.arange(counts.size), counts.ravel())
    m, k, unit = np.unravel_index(flat, counts.shape)
    n = len(m)

    # ASB extract artefact: keep exactly ASB_CAP_ROWS ASB rows in that month
    cap_m = _month_index(ASB_CAP_MONTH)
    sel = np.flatnonzero((m == cap_m) & (k == ASB))
    asb_before_cap = int(len(sel))
    drop = np.sort(rng.choice(sel, size=len(sel) - ASB_CAP_ROWS, replace=False))
    keep = np.ones(n, dtype=bool)
    keep[drop] = False
    m, k, unit = m[keep], k[keep], unit[keep]
    n = len(m)

    # no location
    rel = np.array([_NO_LOC_REL[t] for t in CRIME_TYPES])
    p_nl = rel[k]
    p_nl = p_nl * NO_LOCATION_SHARE / p_nl.mean()
    noloc = rng.random(n) < p_nl

    # snap point
    pt = _pick_points(rng, geo, unit, k == _K["Shoplifting"])
    P = geo["points"]

    outc = _draw_outcomes(rng, m, k)

    # vintage: 2011 codes before LSOA21_FIRST_MONTH
    v21 = m >= _month_index(LSOA21_FIRST_MONTH)
    code = np.where(v21, u["lsoa21cd"].to_numpy()[unit], u["lsoa11cd"].to_numpy()[unit]).astype(object)
    name = np.where(v21, u["lsoa21nm"].to_numpy()[unit], u["lsoa11nm"].to_numpy()[unit]).astype(object)
    lon = P["lon"].to_numpy()[pt].astype(object)
    lat = P["lat"].to_numpy()[pt].astype(object)
    loc = P["location"].to_numpy()[pt].astype(object)
    code[noloc] = name[noloc] = lon[noloc] = lat[noloc] = ""
    loc[noloc] = "No Location"

    # order within each file: LSOA name, crime type, then draw order; no-location rows last
    uniq, name_rank = np.unique(name.astype(str), return_inverse=True)
    order = np.lexsort((np.arange(n), k, name_rank, noloc.astype(int), m))
    m, k, unit, noloc, outc = m[order], k[order], unit[order], noloc[order], outc[order]
    code, name, lon, lat, loc = code[order], name[order], lon[order], lat[order], loc[order]

    ids = _crime_ids(rng, k)

    months = np.array(MONTHS, dtype=object)
    df = pd.DataFrame({
        "Crime ID": ids, "Month": months[m], "Reported by": FORCE_NAME, "Falls within": FORCE_NAME,
        "Longitude": lon, "Latitude": lat, "Location": loc, "LSOA code": code, "LSOA name": name,
        "Crime type": np.array(CRIME_TYPES, dtype=object)[k],
        "Last outcome category": np.array(_OUTCOME_VOCAB, dtype=object)[outc], "Context": "",
    })
    meta = {"m": m, "k": k, "unit": unit, "noloc": noloc, "lam": lam, "calibration": calib,
            "asb_before_cap": asb_before_cap}
    return df, meta


# ============================================================================= stop and search
def _ethnic_table(rng, geo) -> pd.DataFrame:
    """Census 2021 TS021-shaped table: LAD x sex rows, 19 categories, rounded to 5, blanks for 0."""
    u = geo["units"]
    rows = []
    cols = [c for c, _, _ in ETHNIC_COLUMNS]
    for lad in sorted(LADS, key=lambda l: l.code):
        total = int(u.loc[u["lad_code"] == lad.code, "pop"].sum())
        broad = dict(zip(_BROAD, lad.eth))
        w = np.array([[share * broad[g] * within for _, g, within in ETHNIC_COLUMNS]
                      for share in (0.508, 0.492)]).ravel()
        w *= np.exp(rng.normal(0, 0.05, w.size))
        cells = largest_remainder(w, total).reshape(2, -1)
        for sex, vals in zip(("Female", "Male"), cells):
            rec = {"Geography Code": lad.code, "Geography Name": lad.name, "Sex": sex}
            rec.update({c: int(5 * np.round(v / 5)) for c, v in zip(cols, vals)})  # ONS rounding to 5
            rows.append(rec)
    df = pd.DataFrame(rows)
    for sex in ("Female", "Male"):
        s = df[df["Sex"] == sex]
        rec = {"Geography Code": REGION_CODE, "Geography Name": REGION_NAME, "Sex": sex}
        rec.update({c: int(s[c].sum()) for c in cols})
        df = pd.concat([df, pd.DataFrame([rec])], ignore_index=True)
    return df


def _broad_census(eth: pd.DataFrame) -> pd.DataFrame:
    """Census residents by LAD and broad group (White, Asian, Black, Mixed, Other)."""
    group_of = {c: g for c, g, _ in ETHNIC_COLUMNS}
    long = eth.melt(id_vars=["Geography Code", "Geography Name", "Sex"], var_name="cat", value_name="n")
    long["group"] = long["cat"].map(group_of)
    return long.groupby(["Geography Code", "group"])["n"].sum().unstack("group")


def draw_ss_search_fields(rng, n: int, groups, grp):
    """Vehicle-only flag, search type, officer-defined ethnicity (the group of ``grp``, an index
    into ``groups``) and self-defined ethnicity for ``n`` stop-and-search records. Shared by the
    default and the national synthetic data; the draw order is fixed."""
    vehicle = rng.random(n) < SS_VEHICLE_SHARE
    typ = np.where(rng.random(n) < 0.8125, "Person search", "Person and Vehicle search").astype(object)
    typ[vehicle] = "Vehicle search"
    officer = np.array(groups, dtype=object)[grp]
    self_def = np.empty(n, dtype=object)
    for gi, g in enumerate(groups):
        idx = np.flatnonzero(grp == gi)
        self_def[idx] = choose(rng, _SS_SELF[g], len(idx))
    return vehicle, typ, officer, self_def


def draw_ss_person_fields(rng, n: int, vehicle, self_def):
    """Gender, age range, legislation and object of search for ``n`` stop-and-search records
    (blank for vehicle-only searches, as published; ``self_def`` is blanked for those in place).
    Shared by the default and the national synthetic data; the draw order is fixed."""
    gender = choose(rng, {"Male": 0.875, "Female": 0.11, "Other": 0.003, "": 0.012}, n)
    agev = choose(rng, {"under 10": 0.002, "10-17": 0.18, "18-24": 0.30, "25-34": 0.25, "over 34": 0.238,
                         "": 0.03}, n)
    gender[vehicle] = agev[vehicle] = self_def[vehicle] = ""
    leg_i = choose(rng, np.array([s for _, s, _ in _SS_LEGISLATION]), n)
    legislation = np.array([l for l, _, _ in _SS_LEGISLATION], dtype=object)[leg_i]
    obj = np.empty(n, dtype=object)
    for li, (_, _, objs) in enumerate(_SS_LEGISLATION):
        idx = np.flatnonzero(leg_i == li)
        obj[idx] = choose(rng, objs, len(idx))
    return gender, agev, legislation, obj


def _stop_search(rng, geo, eth: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    u = geo["units"]
    P = geo["points"]
    broad = _broad_census(eth)
    groups = tuple(SS_RATE_RATIO)  # White, Black, Asian, Other
    lad_codes = [l.code for l in _SYNTH_LADS]
    cells = [(lc, g) for lc in lad_codes for g in groups]
    w = np.array([broad.at[lc, g] * SS_RATE_RATIO[g] for lc, g in cells], dtype=float)
    cal = np.array([int(m[5:]) for m in MONTHS])
    n_month = rng.poisson(SS_MEAN_ROWS * (1 + 0.08 * np.cos(2 * np.pi * (cal - 7) / 12)))
    n = int(n_month.sum())
    m = np.repeat(np.arange(len(MONTHS)), n_month)
    cell = rng.choice(len(cells), size=n, p=w / w.sum())
    lad_of = np.array([lad_codes.index(c[0]) for c in cells])[cell]
    grp = np.array([groups.index(c[1]) for c in cells])[cell]
    # place within the LAD: residents x place x deprivation
    unit = np.zeros(n, dtype=np.int64)
    uw = (u["pop"] * u["place"] * DEPRIVATION_RR_PER_DECILE ** (10 - u["imd_decile"])).to_numpy()
    for li, lc in enumerate(lad_codes):
        idx = np.flatnonzero(lad_of == li)
        cand = np.flatnonzero((u["lad_code"] == lc).to_numpy())
        unit[idx] = cand[rng.choice(len(cand), size=len(idx), p=uw[cand] / uw[cand].sum())]
    pt = _pick_points(rng, geo, unit, np.zeros(n, dtype=bool))
    lat = P["lat"].to_numpy()[pt].astype(object)
    lon = P["lon"].to_numpy()[pt].astype(object)
    nocoord = rng.random(n) < SS_NO_COORDS
    lat[nocoord] = lon[nocoord] = ""

    vehicle, typ, officer, self_def = draw_ss_search_fields(rng, n, groups, grp)
    blank_eth = ~vehicle & (rng.random(n) < SS_EXTRA_BLANK_ETHNICITY)
    officer[blank_eth | vehicle] = ""
    gender, agev, legislation, obj = draw_ss_person_fields(rng, n, vehicle, self_def)

    find_p = np.array([SS_FIND_RATE[g] for g in groups])[grp]
    found = rng.random(n) < find_p
    outcome = np.empty(n, dtype=object)
    outcome[found] = choose(rng, SS_OUTCOME_FIND, int(found.sum()))
    outcome[~found] = choose(rng, SS_OUTCOME_NOFIND, int((~found).sum()))
    linked = np.where(found, "True", "False").astype(object)
    removal = choose(rng, {"False": 0.94, "True": 0.04, "": 0.02}, n)
    removal[vehicle] = ""
    part_op = np.where(rng.random(n) < 0.07, "True", "False").astype(object)

    # date-times within the month, UTC
    ts = np.empty(n, dtype=np.int64)
    hour_p = np.array([3, 2, 1.5, 1, 0.5, 0.5, 0.5, 1, 2, 3, 4, 4.5, 5, 5.5, 6, 6.5, 7, 7, 7, 7, 6.5, 6, 5, 4])
    for mi, mo in enumerate(MONTHS):
        idx = np.flatnonzero(m == mi)
        ndays = calendar.monthrange(int(mo[:4]), int(mo[5:]))[1]
        day = rng.integers(0, ndays, len(idx))
        hour = choose(rng, hour_p, len(idx))
        minute = np.where(rng.random(len(idx)) < 0.5, 15 * rng.integers(0, 4, len(idx)),
                          rng.integers(0, 60, len(idx)))
        t0 = np.datetime64(f"{mo}-01T00:00", "m").astype(np.int64)
        ts[idx] = t0 + day * 1440 + hour * 60 + minute
    order = np.lexsort((np.arange(n), ts))
    date = np.datetime_as_string(ts.astype("datetime64[m]"), unit="s")
    date = np.char.add(date, "+00:00").astype(object)

    df = pd.DataFrame({
        "Type": typ, "Date": date, "Part of a policing operation": part_op, "Policing operation": "",
        "Latitude": lat, "Longitude": lon, "Gender": gender, "Age range": agev,
        "Self-defined ethnicity": self_def, "Officer-defined ethnicity": officer,
        "Legislation": legislation, "Object of search": obj, "Outcome": outcome,
        "Outcome linked to object of search": linked, "Removal of more than just outer clothing": removal,
    }).iloc[order].reset_index(drop=True)
    df["_month"] = np.array(MONTHS, dtype=object)[m[order]]
    return df, {"broad": broad}


# ============================================================================= small tables
def _lookup_tables(geo, eth: pd.DataFrame) -> dict[str, pd.DataFrame]:
    u, l11 = geo["units"], geo["lsoa11"]
    lad_lookup = pd.DataFrame([{
        "LAD17CD": l.code, "LAD17NM": l.name, "CSP17CD": l.csp_code, "CSP17NM": l.csp_name,
        "PFA17CD": l.pfa_code, "PFA17NM": l.pfa_name} for l in sorted(LADS, key=lambda l: l.code)])
    lad_lookup["FID"] = np.arange(1, len(LADS) + 1)
    lsoa21 = pd.DataFrame({"lsoa21cd": u["lsoa21cd"], "lsoa21nm": u["lsoa21nm"], "lad21cd": u["lad_code"],
                           "lad21nm": u["lad_name"], "lad23cd": u["lad_code"], "lad23nm": u["lad_name"]})
    lsoa11 = pd.DataFrame({"lsoa11cd": l11["lsoa11cd"], "lsoa11nm": l11["lsoa11nm"], "lad19cd": l11["lad_code"],
                           "lad19nm": l11["lad_name"], "lad21cd": l11["lad_code"], "lad21nm": l11["lad_name"]})
    cent = pd.DataFrame({"lsoa21cd": u["lsoa21cd"], "longitude": [f"{v:.6f}" for v in u["lon"]],
                         "latitude": [f"{v:.6f}" for v in u["lat"]]})
    ages = u[["lsoa21cd", "lsoa21nm"] + list(AGE_GROUPS)].melt(
        id_vars=["lsoa21cd", "lsoa21nm"], var_name="age_group", value_name="usual_residents")
    ages["_o"] = ages["age_group"].map({a: i for i, a in enumerate(AGE_GROUPS)})
    ages = ages.sort_values(["lsoa21cd", "_o"], kind="stable").drop(columns="_o")
    ages.columns = ["lsoa21_code", "lsoa21_name", "age_group", "usual_residents"]
    eth_out = eth.copy()
    cols = [c for c, _, _ in ETHNIC_COLUMNS]
    eth_out[cols] = eth_out[cols].astype(object).where(eth_out[cols] != 0, "")
    mye = [{"Code": REGION_CODE, "Name": REGION_NAME.upper(), "Geography": "Region",
            "Population": sum(l.mye_pop for l in LADS)},
           {"Code": COUNTY_CODE, "Name": COUNTY_NAME, "Geography": "County",
            "Population": sum(l.mye_pop for l in LADS if l.mye_geography.startswith("Non-") and
                              l.pfa_code == FORCE_PFA_CODE)}]
    mye += [{"Code": l.code, "Name": l.name, "Geography": l.mye_geography, "Population": l.mye_pop}
            for l in sorted(LADS, key=lambda l: l.code)]
    iod = pd.DataFrame({"lsoa11_code": l11["lsoa11cd"], "lsoa11_name": l11["lsoa11nm"],
                        "lad19_code": l11["lad_code"], "lad19_name": l11["lad_name"],
                        "index_of_multiple_deprivation_imd_rank": l11["imd_rank"]})
    for c in IOD_COLUMNS[5:12]:
        iod[c] = l11[c]
    for c in IOD_COLUMNS[4:12]:
        iod[c.replace("_rank", "_decile")] = _decile(iod[c].to_numpy())
    iod = iod[list(IOD_COLUMNS)]
    return {
        "geography/lad_csp_pfa_lookup.csv": lad_lookup,
        "geography/lsoa21_lookup.csv": lsoa21,
        "geography/lsoa11_lookup.csv": lsoa11,
        "geography/lsoa21_centroids.csv": cent,
        "population/census2021_lsoa21_usual_residents_by_age_group.csv": ages,
        "population/census2021_ethnic_group_19cat_by_sex_lad_region.csv": eth_out,
        "population/ons_mye_mid2022.csv": pd.DataFrame(mye),
        "deprivation/iod2019_lsoa11_ranks_deciles.csv": iod,
    }


# ============================================================================= effects record
def _realised(street: pd.DataFrame, meta: dict, geo, ss: pd.DataFrame, ss_meta: dict) -> dict:
    u = geo["units"]
    m, k, unit, noloc = meta["m"], meta["k"], meta["unit"], meta["noloc"]
    located = ~noloc
    start = _month_index(CCTV["start"])
    tk = np.isin(k, [_K[t] for t in CCTV["crime_types"]])
    tc = u["town_centre"].to_numpy()[unit]
    riv_rest = (u["lad_name"].to_numpy()[unit] == "Riverton") & ~tc
    pre, post = m < start, m >= start
    def a(mask):
        return int((mask & tk & located).sum())

    t_pre, t_post, c_pre, c_post = a(tc & pre), a(tc & post), a(riv_rest & pre), a(riv_rest & post)
    lam = meta["lam"]
    tc_u = u["town_centre"].to_numpy()
    lam_tc_pre = lam[:start][:, [_K[t] for t in CCTV["crime_types"]]][:, :, tc_u].sum() / start
    naive = (t_post / t_pre) / (c_post / c_pre)  # same months on both sides
    # Safer Streets (null): burglary in Northdale 003A-F during vs before, relative to the rest of Northdale
    nd = u["safer_streets"].to_numpy()[unit]
    nd_rest = (u["lad_name"].to_numpy()[unit] == "Northdale") & ~nd
    bk = (k == _K["Burglary"]) & located
    s0, s1 = _month_index(SAFER_STREETS["start"]), _month_index(SAFER_STREETS["end"])
    during, before = (m >= s0) & (m <= s1), m < s0
    def b(mask):
        return int((mask & bk).sum())

    null_ratio = (b(nd & during) / b(nd & before)) / (b(nd_rest & during) / b(nd_rest & before))
    # deprivation gradient on realised counts (2023-2025, 2021 LSOAs, Synthshire, excl. TC & hot spots)
    synth_units = u["synth"].to_numpy() & ~u["town_centre"].to_numpy() & ~u["hotspot"].to_numpy()
    sel = located & (m >= _month_index(LSOA21_FIRST_MONTH))
    y = np.bincount(unit[sel], minlength=len(u)).astype(float)
    x = 10 - u["imd_decile"].to_numpy()
    off = np.log(u["pop"].to_numpy(float))
    slope = _poisson_slope(y[synth_units], x[synth_units], off[synth_units])
    # stop and search ratios
    broad = ss_meta["broad"]
    synth_codes = [l.code for l in _SYNTH_LADS]
    pop_g = broad.loc[synth_codes].sum()
    cnt = ss["Officer-defined ethnicity"].value_counts()
    rate = {g: cnt.get(g, 0) / pop_g[g] for g in SS_RATE_RATIO}
    person = ss["Officer-defined ethnicity"] != ""
    find = {g: float((ss.loc[ss["Officer-defined ethnicity"] == g, "Outcome linked to object of search"]
                      == "True").mean()) for g in SS_RATE_RATIO}
    return {
        "cctv_target_rows_per_month_pre_expected": round(float(lam_tc_pre), 1),
        "cctv_target_rows_pre_treated": t_pre, "cctv_target_rows_post_treated": t_post,
        "cctv_target_rows_pre_rest_of_riverton": c_pre, "cctv_target_rows_post_rest_of_riverton": c_post,
        "cctv_naive_ratio_of_rate_ratios": round(float(naive), 4),
        "safer_streets_burglary_rows_before_during_treated": [b(nd & before), b(nd & during)],
        "safer_streets_naive_ratio_of_rate_ratios": round(float(null_ratio), 4),
        "deprivation_rr_per_decile_poisson_2023_2025_excl_town_centre_hotspots": round(float(np.exp(slope)), 4),
        "stop_search_rate_ratio_vs_white": {g: round(float(rate[g] / rate["White"]), 4) for g in SS_RATE_RATIO},
        "stop_search_find_rate": {g: round(v, 4) for g, v in find.items()},
        "stop_search_blank_officer_ethnicity_share": round(float((~person).mean()), 4),
        "stop_search_census_residents_synthshire": {g: int(pop_g[g]) for g in SS_RATE_RATIO},
    }


def _planted(geo, meta, realised: dict, seed: int) -> dict:
    u = geo["units"]
    l11 = geo["lsoa11"]

    def lsoas(mask):
        s = u.loc[mask, ["lsoa21cd", "lsoa21nm"]]
        return [{"code": c, "name": n} for c, n in zip(s["lsoa21cd"], s["lsoa21nm"])]

    splits = []
    for code11, grp in u[u["split_child"]].groupby("lsoa11cd", sort=True):
        splits.append({"lsoa11cd": code11, "lsoa11nm": grp["lsoa11nm"].iloc[0],
                       "lsoa21": [{"code": c, "name": n} for c, n in zip(grp["lsoa21cd"], grp["lsoa21nm"])]})
    return {
        "synthetic": True,
        "seed": seed,
        "force": {"slug": FORCE_SLUG, "name": FORCE_NAME, "pfa_code": FORCE_PFA_CODE},
        "neighbour_force": {"slug": NEIGHBOUR_FORCE_SLUG, "name": NEIGHBOUR_FORCE_NAME,
                            "pfa_code": NEIGHBOUR_PFA_CODE, "files": "none (only its LSOAs receive border rows)"},
        "months": [MONTHS[0], MONTHS[-1]],
        "interventions": [
            {"name": CCTV["name"], "lad_code": CCTV["lad_code"], "lsoas": lsoas(u["town_centre"]),
             "start": CCTV["start"], "end": None, "crime_types": CCTV["crime_types"],
             "effect_multiplier": CCTV["effect"], "phase_in_months": 0,
             "description": "expected counts of the target types in the 8 LSOAs x 0.70 from the start month on",
             "buffer_lsoas": lsoas(u["cctv_buffer"]), "buffer_effect_multiplier": CCTV["buffer_effect"]},
            {"name": SAFER_STREETS["name"], "lad_code": SAFER_STREETS["lad_code"],
             "lsoas": lsoas(u["safer_streets"]), "start": SAFER_STREETS["start"], "end": SAFER_STREETS["end"],
             "crime_types": SAFER_STREETS["crime_types"], "effect_multiplier": SAFER_STREETS["effect"],
             "description": "planted NULL: nothing changes; an estimator should find no effect",
             "burglary_level_multiplier_in_area": SAFER_STREETS_BURGLARY_LEVEL},
        ],
        "trends_per_year": {k: TRENDS[k] for k in CRIME_TYPES},
        "trend_form": "expected count x trend ** ((month_index - 35.5) / 12), month_index 0 = 2020-01",
        "seasonality": {k: {"amplitude": SEASONALITY[k][0], "peak_month": SEASONALITY[k][1]} for k in CRIME_TYPES},
        "seasonality_form": "x (1 + amplitude * cos(2 pi (calendar_month - peak_month) / 12)) x days_in_month / 30.4375",
        "deprivation": {"rate_ratio_per_decile_more_deprived": DEPRIVATION_RR_PER_DECILE,
                        "form": "x 1.12 ** (10 - IMD decile of the LSOA (2011 parent for split 2021 LSOAs))",
                        "applies_to": "all crime types and ASB; independent of the place multipliers"},
        "place": {"gamma_shape": PLACE_GAMMA_SHAPE, "town_centre_multiplier": TOWN_CENTRE_MULTIPLIER,
                  "town_centre_type_uplift": TOWN_CENTRE_TYPE_UPLIFT,
                  "hotspot_multiplier": HOTSPOT_MULTIPLIER, "hotspot_lsoas": lsoas(u["hotspot"]),
                  "shoplifting_multiplier_retail_vs_not": list(SHOPLIFTING_RETAIL)},
        "type_shares_target": TYPE_SHARES,
        "target_rows_per_month": TARGET_ROWS_PER_MONTH,
        "noise": {"unit_month_gamma_shape": UNIT_MONTH_GAMMA_SHAPE, "force_month_lognormal_sd": FORCE_MONTH_SD,
                  "counts": "Poisson given the expected count x noise"},
        "data_quality": {
            "asb_cap": {"month": ASB_CAP_MONTH, "asb_rows": ASB_CAP_ROWS,
                        "asb_rows_before_cap": meta["asb_before_cap"],
                        "description": "ASB rows of the whole file capped at exactly 300 (publisher extract artefact); "
                                       "treat that month's ASB as missing"},
            "no_location_share": NO_LOCATION_SHARE,
            "no_location_form": "Location 'No Location' (as published), empty coordinates, LSOA code and name",
            "border_share": BORDER_SHARE,
            "border_description": "rows recorded by Synthshire but located in Westmarch LSOAs (LAD X07000009, "
                                  "PFA X23000002); assign by the LSOA's LAD, not by the file",
            "border_lsoas": lsoas(u["border"]),
            "lsoa_vintage": {"2011_codes_through": MONTHS[_month_index(LSOA21_FIRST_MONTH) - 1],
                             "2021_codes_from": LSOA21_FIRST_MONTH, "splits": splits,
                             "n_lsoa11": int(len(l11)), "n_lsoa21": int(len(u))},
            "line_endings": f"CRLF for files up to {CRLF_LAST_MONTH}, LF after (like the older real downloads)",
            "repeated_crime_ids": "none",
        },
        "stop_and_search": {
            "rate_ratio_per_resident_vs_white": SS_RATE_RATIO,
            "rate_definition": "searches with officer-defined ethnicity g / Census 2021 usual residents of broad "
                               "group g (White: 5 White categories; Black: 3 Black; Asian: 5 Asian incl. Chinese; "
                               "Other: Arab + Any other), summed over the Synthshire LADs; the same ratio holds "
                               "in each LAD; Mixed residents are not a denominator",
            "find_rate": SS_FIND_RATE,
            "find_definition": "Outcome linked to object of search == 'True' (always with an outcome other than "
                               "'A no further action disposal'); when False the outcome is NFA with p 0.86",
            "blank_officer_ethnicity": f"Vehicle search rows ({SS_VEHICLE_SHARE:.0%}, no person fields) plus "
                                       f"{SS_EXTRA_BLANK_ETHNICITY:.1%} of person searches",
            "no_coordinates_share": SS_NO_COORDS,
            "mean_rows_per_month": SS_MEAN_ROWS,
        },
        "realised": realised,
    }


def _effects_markdown(pe: dict) -> str:
    r = pe["realised"]
    cctv, null = pe["interventions"]
    L = ["# Planted effects in the synthetic Synthshire data", "",
         f"Seed {pe['seed']}. Machine-readable copy: `planted_effects.json`. All data are SYNTHETIC.", "",
         "## Interventions", "",
         f"* **{cctv['name']}**: LSOAs {', '.join(x['name'] for x in cctv['lsoas'])}; from {cctv['start']} "
         f"(no end, no phase-in); crime types {', '.join(cctv['crime_types'])}; expected counts x "
         f"**{cctv['effect_multiplier']}** (a 30% reduction). Buffer ring (no displacement, x1.0): "
         f"{', '.join(x['name'] for x in cctv['buffer_lsoas'])}.",
         f"  Expected target rows per month before: {r['cctv_target_rows_per_month_pre_expected']}. "
         f"Realised naive ratio of (treated post/pre) to (rest of Riverton post/pre) monthly rates: "
         f"{r['cctv_naive_ratio_of_rate_ratios']}.",
         f"* **{null['name']}**: LSOAs {', '.join(x['name'] for x in null['lsoas'])}; {null['start']} .. "
         f"{null['end']}; {', '.join(null['crime_types'])}; effect **1.0 (a planted null)**. The area has "
         f"x{SAFER_STREETS_BURGLARY_LEVEL} the burglary level it would otherwise have, throughout (why it was chosen).",
         f"  Realised naive ratio (during vs before, relative to the rest of Northdale): "
         f"{r['safer_streets_naive_ratio_of_rate_ratios']} from "
         f"{r['safer_streets_burglary_rows_before_during_treated'][1]} burglaries during (sampling noise only; the planted effect is exactly 1.0).",
         "",
         "## Trends, seasonality, deprivation", "",
         "Trend per year (multiplicative): " + "; ".join(f"{k} {v}" for k, v in pe["trends_per_year"].items()) + ".",
         "",
         "Seasonality (amplitude, peak month): " + "; ".join(
             f"{k} {v['amplitude']:+.2f} @ {v['peak_month']}" for k, v in pe["seasonality"].items())
         + ". Expected counts also scale with days in the month.", "",
         f"Deprivation: rate ratio **{pe['deprivation']['rate_ratio_per_decile_more_deprived']}** per IMD decile "
         f"more deprived (all types). Realised Poisson estimate (2023-2025, excluding town centre and hot spots): "
         f"{r['deprivation_rr_per_decile_poisson_2023_2025_excl_town_centre_hotspots']}.", "",
         f"Place: LSOA multipliers gamma(shape {PLACE_GAMMA_SHAPE}); Riverton town centre x{TOWN_CENTRE_MULTIPLIER} "
         f"(plus type uplifts); hot spots x{HOTSPOT_MULTIPLIER}: "
         f"{', '.join(x['name'] for x in pe['place']['hotspot_lsoas'])}.", "",
         "## Data-quality features", "",
         f"* {ASB_CAP_MONTH}: ASB rows capped at exactly {ASB_CAP_ROWS} "
         f"(from {pe['data_quality']['asb_cap']['asb_rows_before_cap']}); treat as missing.",
         f"* About {NO_LOCATION_SHARE:.1%} of rows have no location ('No Location').",
         f"* About {BORDER_SHARE:.0%} of rows lie in Westmarch LSOAs (neighbouring force, LAD X07000009).",
         f"* Files up to 2022-12 use 2011 LSOA codes; from {LSOA21_FIRST_MONTH} 2021 codes. "
         f"{len(pe['data_quality']['lsoa_vintage']['splits'])} 2011 LSOAs split into two 2021 LSOAs each.",
         f"* Files up to {CRLF_LAST_MONTH} have CRLF line endings (as older real downloads).", "",
         "## Stop and search", "",
         "Searches per resident by officer-defined ethnicity, relative to White: "
         + ", ".join(f"{g} {v}" for g, v in SS_RATE_RATIO.items())
         + f" (realised: {', '.join(f'{g} {v}' for g, v in r['stop_search_rate_ratio_vs_white'].items())}).",
         "Find rate (Outcome linked to object of search == True): "
         + ", ".join(f"{g} {v}" for g, v in SS_FIND_RATE.items())
         + f" (realised: {', '.join(f'{g} {v}' for g, v in r['stop_search_find_rate'].items())}).",
         f"Blank officer-defined ethnicity: {r['stop_search_blank_officer_ethnicity_share']:.1%}; "
         f"no coordinates: about {SS_NO_COORDS:.0%}.", ""]
    return "\n".join(L)


_README = """# SYNTHETIC DATA - NOT REAL

Everything in this folder was generated by `csp_analysis.synthetic.generate_demo_data` (seed {seed}).
It describes **Synthshire**, a fictional police force area. None of the places, codes, people,
crimes or searches exist. Do not use these files to say anything about any real place.

* Force: "{force}" (slug `{slug}`, PFA code {pfa}); neighbour "{nforce}" ({npfa}, no files of its own).
* Districts and Community Safety Partnerships:
{lads}
* Every geography code starts with `X` (real ONS codes start with E, W, S, N or K), so synthetic
  codes can never clash with, or be joined to, real ones. Coordinates are arbitrary.

The files copy the exact formats of the real downloads (data.police.uk street-level crime and
stop-and-search CSVs; ONS lookups, Census 2021 and mid-2022 population tables; MHCLG IoD 2019),
including their known quirks: ASB rows without Crime ID or outcome, rows without a location,
rows located in the neighbouring force's LSOAs, 2011 LSOA codes up to 2022-12 and 2021 codes
after, a capped ASB extract in {asb_month}, and CRLF line endings in the older files.

Effects of known size are planted (interventions, trends, seasonality, a deprivation gradient,
stop-and-search disproportionality): see `PLANTED_EFFECTS.md` and `planted_effects.json`.

Layout:

```
police_uk/street/YYYY-MM/YYYY-MM-synthshire-street.csv                 {n_months} months, {street_rows:,} rows
police_uk/stop_and_search/YYYY-MM/YYYY-MM-synthshire-stop-and-search.csv   {ss_rows:,} rows
geography/      lad_csp_pfa_lookup.csv, lsoa21_lookup.csv, lsoa11_lookup.csv, lsoa21_centroids.csv
population/     census2021_lsoa21_usual_residents_by_age_group.csv,
                census2021_ethnic_group_19cat_by_sex_lad_region.csv, ons_mye_mid2022.csv
deprivation/    iod2019_lsoa11_ranks_deciles.csv
```
"""


# ============================================================================= entry point
def generate_demo_data(out_dir: str | Path = "data/demo", seed: int = DEFAULT_SEED) -> dict:
    """Write the synthetic Synthshire data set under ``out_dir``.

    Parameters
    ----------
    out_dir : path
        Folder to write into (created if needed; files of the same name are overwritten,
        nothing else is touched).
    seed : int
        Random seed. The same seed always gives byte-identical files.

    Returns
    -------
    dict
        ``out_dir``, ``seed``, ``files`` (relative paths written), ``rows`` (street rows),
        ``street_rows``, ``street_rows_by_month``, ``stop_search_rows``, ``partnerships``,
        ``planted_effects`` (as in ``planted_effects.json``) and ``seconds``.
    """
    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ss_geo, ss_street, ss_ss, ss_pop = np.random.SeedSequence(seed).spawn(4)
    geo = _build_geography(np.random.default_rng(ss_geo))
    eth = _ethnic_table(np.random.default_rng(ss_pop), geo)
    street, meta = _street_rows(np.random.default_rng(ss_street), geo)
    ss, ss_meta = _stop_search(np.random.default_rng(ss_ss), geo, eth)

    files: list[str] = []
    crlf_idx = _month_index(CRLF_LAST_MONTH)
    by_month = {}
    street_groups = dict(tuple(street.groupby("Month", sort=True)))
    ss_groups = dict(tuple(ss.groupby("_month", sort=True)))
    for mi, mo in enumerate(MONTHS):
        rel = f"police_uk/street/{mo}/{mo}-{FORCE_SLUG}-street.csv"
        df = street_groups[mo]
        write_csv(df, out / rel, crlf=mi <= crlf_idx)
        files.append(rel)
        by_month[mo] = int(len(df))
        rel = f"police_uk/stop_and_search/{mo}/{mo}-{FORCE_SLUG}-stop-and-search.csv"
        write_csv(ss_groups[mo].drop(columns="_month"), out / rel, crlf=mi <= crlf_idx)
        files.append(rel)
    for rel, df in _lookup_tables(geo, eth).items():
        write_csv(df, out / rel)
        files.append(rel)

    realised = _realised(street, meta, geo, ss.drop(columns="_month"), ss_meta)
    pe = _planted(geo, meta, realised, seed)
    (out / "planted_effects.json").write_text(json.dumps(pe, indent=2) + "\n", encoding="utf-8")
    (out / "PLANTED_EFFECTS.md").write_text(_effects_markdown(pe), encoding="utf-8")
    lads_txt = "\n".join(
        f"  - {l.name} ({l.code}), {l.census_pop:,} residents (Census 2021), {l.n_lsoa21} LSOAs (2021); "
        f"CSP {l.csp_code} \"{l.csp_name}\"; PFA {l.pfa_code}" for l in LADS)
    (out / "SYNTHETIC_README.md").write_text(_README.format(
        seed=seed, force=FORCE_NAME, slug=FORCE_SLUG, pfa=FORCE_PFA_CODE, nforce=NEIGHBOUR_FORCE_NAME,
        npfa=NEIGHBOUR_PFA_CODE, lads=lads_txt, asb_month=ASB_CAP_MONTH, n_months=len(MONTHS),
        street_rows=len(street), ss_rows=len(ss)), encoding="utf-8")
    files += ["planted_effects.json", "PLANTED_EFFECTS.md", "SYNTHETIC_README.md"]
    return {
        "out_dir": str(out),
        "seed": seed,
        "files": files,
        "rows": int(len(street)),
        "street_rows": int(len(street)),
        "street_rows_by_month": by_month,
        "asb_rows": int((street["Crime type"] == "Anti-social behaviour").sum()),
        "stop_search_rows": int(len(ss)),
        "partnerships": [dict(p) for p in PARTNERSHIPS],
        "planted_effects": pe,
        "seconds": round(time.perf_counter() - t0, 2),
    }

"""Settings of the trends report shared by its compute, charts, tables and wording modules."""
from __future__ import annotations

ALL_CRIME = "All crime (excl. ASB)"
ASB = "Anti-social behaviour"
CONFIDENCE = 0.95
TOP_N = 10
#: Control charts show at most this many of the latest months.
CHART_MONTHS = 36
#: A control chart needs at least this many usable months.
MIN_CHART_MONTHS = 8
#: STL needs at least this many consecutive usable months (two full seasonal cycles).
MIN_STL_MONTHS = 24
#: Share of months outside the Poisson (c/u chart) limits above which the XmR chart is the
#: chart of record (the counts vary more than a Poisson process: Making Data Count).
XMR_SWITCH_SHARE = 0.15
#: Long-run table: the column with Sen's slope, and its unit.
SEN_COLUMN = "Sen's slope (change in monthly count, records per month each year)"

#: data.police.uk slugs of the 43 territorial forces of England and Wales. The store can
#: describe "England and Wales" only for months with a street file from every one of them.
EW_FORCES = (
    "avon-and-somerset", "bedfordshire", "cambridgeshire", "cheshire", "city-of-london", "cleveland",
    "cumbria", "derbyshire", "devon-and-cornwall", "dorset", "durham", "dyfed-powys", "essex",
    "gloucestershire", "greater-manchester", "gwent", "hampshire", "hertfordshire", "humberside", "kent",
    "lancashire", "leicestershire", "lincolnshire", "merseyside", "metropolitan", "norfolk", "north-wales",
    "north-yorkshire", "northamptonshire", "northumbria", "nottinghamshire", "south-wales",
    "south-yorkshire", "staffordshire", "suffolk", "surrey", "sussex", "thames-valley", "warwickshire",
    "west-mercia", "west-midlands", "west-yorkshire", "wiltshire",
)

AREA_ORDER = {"Force area": 0, "County": 1, "Partnership": 2, "District": 3, "England and Wales": 4}
#: Multiple-comparison adjustment within each family of comparisons shown together.
MULTIPLICITY = "holm"

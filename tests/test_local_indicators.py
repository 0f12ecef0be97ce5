"""Tests for the local-indicators format: validation, loading and the Barnsley transcription."""
from __future__ import annotations

import csv
import math
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from csp_analysis.local_indicators import (
    COLUMNS,
    FRAME_COLUMNS,
    LocalIndicatorError,
    load_local_indicator_files,
    load_local_indicators,
    period_bounds,
    query_local_indicators,
    read_local_indicators,
    secondary_suppression,
    select_indicator,
    suppress_small_counts,
    suppression_mask,
)

REPO = Path(__file__).resolve().parents[1]
BARNSLEY = REPO / "data" / "local" / "barnsley_safeguarding_2022_23.csv"

GOOD = {
    "partnership": "riverton",
    "indicator": "referrals",
    "indicator_label": "Referrals",
    "period": "2022/23",
    "period_type": "financial_year",
    "value": "120",
    "unit": "count",
    "denominator": "",
    "group": "",
    "comparator": "",
    "comparator_value": "",
    "counts_children": "true",
    "source": "Annual report p. 3",
}


def write_rows(tmp_path: Path, rows: list[dict], name: str = "local.csv", columns=COLUMNS) -> Path:
    """Write rows (dicts overriding GOOD) to a CSV and return its path."""
    path = tmp_path / name
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({**GOOD, **r})
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(LocalIndicatorError) as info:
        read_local_indicators(path)
    return info.value.problems


def only_problem(path: Path) -> str:
    probs = problems_of(path)
    assert len(probs) == 1, probs
    return probs[0]


# --------------------------------------------------------------------------- valid input


def test_reads_a_valid_file_with_typed_columns(tmp_path):
    path = write_rows(tmp_path, [
        {},
        {"period": "2021/22", "value": "100"},
        {"indicator": "rhi_within_72h", "indicator_label": "RHIs within 72 hours", "period": "2022-04",
         "period_type": "month", "value": "42", "denominator": "53"},
        {"indicator": "share", "indicator_label": "Share", "unit": "percent", "value": "27.2", "group": "Police",
         "counts_children": "FALSE"},
        {"indicator": "share", "indicator_label": "Share", "unit": "percent", "value": "", "group": "Police",
         "comparator": "National average", "comparator_value": "29.5", "counts_children": "false"},
        {"indicator": "q", "indicator_label": "Q", "period": "2022-Q2", "period_type": "quarter"},
        {"indicator": "y", "indicator_label": "Y", "period": "2020", "period_type": "year", "value": "0"},
    ])
    df = read_local_indicators(path)
    assert list(df.columns) == list(FRAME_COLUMNS)
    assert len(df) == 7
    assert df["value"].dtype == "float64" and df["counts_children"].dtype == bool
    assert df.loc[0, "group"] is None and df.loc[3, "group"] == "Police"
    assert math.isnan(df.loc[4, "value"]) and df.loc[4, "comparator_value"] == 29.5
    assert list(df["source_row"]) == list(range(1, 8))
    assert list(df["line"]) == list(range(2, 9))
    assert df.loc[2, "period_start"] == pd.Timestamp("2022-04-01")
    assert df.loc[2, "period_end"] == pd.Timestamp("2022-04-30")
    assert df.loc[5, "period_start"] == pd.Timestamp("2022-04-01")  # calendar Q2
    assert df.loc[5, "period_end"] == pd.Timestamp("2022-06-30")
    assert df.loc[0, "period_start"] == pd.Timestamp("2022-04-01")
    assert df.loc[0, "period_end"] == pd.Timestamp("2023-03-31")


def test_optional_columns_may_be_left_out(tmp_path):
    cols = ("partnership", "indicator", "indicator_label", "period", "period_type", "value", "unit",
            "counts_children", "source")
    df = read_local_indicators(write_rows(tmp_path, [{}], columns=cols))
    assert df.loc[0, "denominator"] != df.loc[0, "denominator"]  # NaN
    assert df.loc[0, "comparator"] is None


def test_blank_lines_are_skipped_and_lines_stay_exact(tmp_path):
    path = write_rows(tmp_path, [{}, {"period": "2021/22", "value": "-1"}])
    text = path.read_text().splitlines()
    # a blank line and a spreadsheet's empty row before the bad row, and a quoted two-line source
    text.insert(2, "")
    text.insert(3, ",,,,,,,,,,,,")
    text[1] = text[1].replace("Annual report p. 3", '"Annual report,\np. 3"')
    path.write_text("\n".join(text) + "\n")
    msg = only_problem(path)
    assert msg.startswith(f"{path}, row 2 (line 6), column 'value': a count cannot be negative")


def test_period_bounds_financial_year_and_month():
    assert period_bounds("2022/23", "financial_year") == (pd.Timestamp("2022-04-01").date(),
                                                          pd.Timestamp("2023-03-31").date())
    assert period_bounds("2024-02", "month")[1] == pd.Timestamp("2024-02-29").date()


# --------------------------------------------------------------------------- each kind of bad row


@pytest.mark.parametrize(
    "override, column, fragment",
    [
        ({"period": "2022-13", "period_type": "month"}, "period", "month 13 does not exist"),
        ({"period": "2022/24"}, "period", "not a financial year"),
        ({"period": "2022-Q5", "period_type": "quarter"}, "period", "is not a quarter"),
        ({"period": "2022-04"}, "period", "looks like a month: is period_type wrong?"),
        ({"period_type": "fiscal"}, "period_type", "not a period type"),
        ({"value": "3,133"}, "value", "write 3133 without thousands separators"),
        ({"value": "27%"}, "value", "without '%'"),
        ({"value": "N/A"}, "value", "when it is not available"),
        ({"value": "about 40"}, "value", "not a number ('about 40')"),
        ({"value": "-3"}, "value", "a count cannot be negative"),
        ({"value": "2.5"}, "value", "a count must be a whole number"),
        ({"unit": "percent", "value": "127"}, "value", "a percentage must be between 0 and 100"),
        ({"unit": "percent", "value": "-0.5"}, "value", "a percentage must be between 0 and 100"),
        ({"denominator": "100"}, "denominator", "is smaller than the count (100 < 120)"),
        ({"denominator": "0"}, "denominator", "must be greater than zero"),
        ({"denominator": "130.5"}, "denominator", "must be a whole number"),
        ({"unit": "percent_change", "value": "11.3", "denominator": "3133"}, "denominator", "does not apply"),
        ({"unit": "percent_change", "value": "-120"}, "value", "a fall cannot be more than 100%"),
        ({"unit": "counts"}, "unit", "did you mean 'count'?"),
        ({"counts_children": "yes"}, "counts_children", "is not true or false"),
        ({"partnership": "Barnsley SCP"}, "partnership", "is not a slug"),
        ({"indicator": "Referrals-Total"}, "indicator", "is not a snake_case id"),
        ({"source": ""}, "source", "is empty; every row needs a value here"),
        ({"indicator_label": ""}, "indicator_label", "is empty"),
        ({"value": ""}, "value", "a local row needs a value"),
        ({"comparator": "National average", "comparator_value": "30"}, "value",
         "must be empty on a comparator row"),
        ({"comparator": "National average", "value": ""}, "comparator_value",
         "is empty, but the row names a comparator"),
        ({"comparator_value": "29.5"}, "comparator", "name the comparator"),
        ({"comparator": "National average", "value": "", "comparator_value": "-4"}, "comparator_value",
         "a count cannot be negative"),
    ],
)
def test_each_bad_row_names_file_row_line_and_column(tmp_path, override, column, fragment):
    first = {"period": "2021/22", "value": "100"}
    if override.get("unit") in ("percent", "percent_change"):
        first["unit"] = override["unit"]  # one unit per indicator
    path = write_rows(tmp_path, [first, override])
    msg = only_problem(path)
    assert msg.startswith(f"{path}, row 2 (line 3), column '{column}': "), msg
    assert fragment in msg, msg


@pytest.mark.parametrize(
    "override, column, fragment",
    [
        ({"period": "1850/51"}, "period", "year 1850 is out of range (1900 to 2100)"),
        ({"period": "2150", "period_type": "year"}, "period", "year 2150 is out of range (1900 to 2100)"),
        ({"value": "inf"}, "value", "not a finite number ('inf')"),
        ({"value": "-Infinity"}, "value", "not a finite number ('-Infinity')"),
        ({"unit": "gbp", "value": "£46010"}, "value", "without a currency sign"),
        ({"unit": "gbp", "value": "46010$"}, "value", "without a currency sign"),
        ({"unit": "rate", "value": "-2.5"}, "value", "a rate cannot be negative (-2.5)"),
        ({"unit": "ratio", "value": "-4"}, "value", "a ratio cannot be negative (-4)"),
        ({"unit": "ratio", "value": "4", "denominator": "10"}, "denominator", "does not apply to unit ratio"),
        ({"unit": "score", "value": "3.2", "denominator": "10"}, "denominator", "does not apply to unit score"),
        ({"unit": "gbp", "value": "46010", "denominator": "10"}, "denominator", "does not apply to unit gbp"),
        ({"unit": "percent", "value": "50", "denominator": "10.5"}, "denominator",
         "must be a whole number of cases (10.5)"),
    ],
)
def test_more_bad_rows_name_file_row_line_and_column(tmp_path, override, column, fragment):
    first = {"period": "2021/22", "value": "100", "unit": override.get("unit", "count")}  # one unit per indicator
    path = write_rows(tmp_path, [first, override])
    msg = only_problem(path)
    assert msg.startswith(f"{path}, row 2 (line 3), column '{column}': "), msg
    assert fragment in msg, msg


def test_duplicate_header_cell_names_the_column(tmp_path):
    cols = list(COLUMNS) + ["value"]
    path = tmp_path / "local.csv"
    path.write_text(",".join(cols) + "\n" + ",".join([GOOD[c] for c in COLUMNS] + ["120"]) + "\n")
    assert only_problem(path) == f"{path}, column 'value': appears twice in the header"


def test_empty_header_cell_names_the_line(tmp_path):
    path = tmp_path / "local.csv"
    path.write_text(",".join(COLUMNS) + ",\n" + ",".join(GOOD[c] for c in COLUMNS) + ",\n")
    assert only_problem(path) == f"{path}, line 1: a header cell is empty (every column needs a name)"


def test_tab_separated_file_is_refused(tmp_path):
    path = tmp_path / "local.csv"
    path.write_text("\t".join(COLUMNS) + "\n" + "\t".join(GOOD[c] for c in COLUMNS) + "\n")
    msg = only_problem(path)
    assert msg.startswith(f"{path}, line 1: not a comma-separated file (the header is separated by tabs)"), msg


def test_path_is_a_folder(tmp_path):
    folder = tmp_path / "local.csv"
    folder.mkdir()
    assert only_problem(folder) == f"{folder}: is a folder, not a CSV file"


def test_duplicate_key_names_both_rows(tmp_path):
    path = write_rows(tmp_path, [{}, {"period": "2021/22"}, {"value": "121"}])
    msg = only_problem(path)
    assert msg.startswith(f"{path}, row 3 (line 4), column 'partnership, indicator, period, group, comparator': ")
    assert "duplicates row 1 (line 2)" in msg


def test_same_key_with_different_group_or_comparator_is_not_a_duplicate(tmp_path):
    path = write_rows(tmp_path, [
        {"group": "Police", "denominator": "300"},
        {"group": "Health", "denominator": "300"},
        {"group": "Police", "comparator": "National average", "value": "", "comparator_value": "30",
         "unit": "percent"},
    ])
    assert len(read_local_indicators(path)) == 3


def test_inconsistent_label_unit_and_counts_children_within_an_indicator(tmp_path):
    path = write_rows(tmp_path, [
        {},
        {"period": "2021/22", "indicator_label": "Referrals received"},
        {"period": "2020/21", "unit": "percent", "value": "12"},
        {"period": "2019/20", "counts_children": "false"},
    ])
    probs = problems_of(path)
    assert any(p.startswith(f"{path}, row 2 (line 3), column 'indicator_label': ") and "one label" in p
               for p in probs)
    assert any(p.startswith(f"{path}, row 3 (line 4), column 'unit': ") and "share a unit" in p for p in probs)
    assert any(p.startswith(f"{path}, row 4 (line 5), column 'counts_children': ") for p in probs)


def test_every_bad_row_is_listed_and_nothing_loads(tmp_path):
    path = write_rows(tmp_path, [{"value": "x"}, {"period": "2021/22"}, {"period": "2020/21", "unit": "pct"},
                                 {"period": "2019/20", "value": "-2"}])
    probs = problems_of(path)
    assert [p.split(",")[1].strip() for p in probs] == ["row 1 (line 2)", "row 3 (line 4)", "row 4 (line 5)"]
    with pytest.raises(LocalIndicatorError) as info:
        read_local_indicators(path)
    assert "3 problems" in str(info.value)


def test_missing_required_column(tmp_path):
    cols = [c for c in COLUMNS if c != "period_type"]
    msg = only_problem(write_rows(tmp_path, [{}], columns=cols))
    assert msg.endswith("column 'period_type': required column missing")


def test_unknown_column_suggests_the_right_name(tmp_path):
    path = tmp_path / "local.csv"
    path.write_text(",".join(c if c != "denominator" else "denominater" for c in COLUMNS) + "\n"
                    + ",".join(GOOD[c] for c in COLUMNS) + "\n")
    msg = only_problem(path)
    assert msg == f"{path}, column 'denominater': unknown column (did you mean 'denominator'?)"


def test_comparator_column_needs_comparator_value_column(tmp_path):
    cols = [c for c in COLUMNS if c != "comparator_value"]
    msg = only_problem(write_rows(tmp_path, [{}], columns=cols))
    assert "column 'comparator_value': required when the file has a 'comparator' column" in msg


def test_ragged_row(tmp_path):
    path = write_rows(tmp_path, [{}])
    path.write_text(path.read_text() + ",".join(GOOD[c] for c in COLUMNS) + ",extra\n")
    msg = only_problem(path)
    assert msg.startswith(f"{path}, row 2 (line 3): expected 13 fields but found 14")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    assert only_problem(path) == f"{path}: the file is empty (expected a header row and data rows)"


def test_header_only(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text(",".join(COLUMNS) + "\n")
    assert only_problem(path) == f"{path}: the file has a header but no data rows"


def test_missing_file(tmp_path):
    assert only_problem(tmp_path / "nope.csv").endswith("nope.csv: file not found")


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b"PK\x03\x04\x14\x00\x06\x00rest-of-a-workbook", "zip archive, probably an Excel workbook"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "it contains binary data"),
        (";".join(COLUMNS).encode() + b"\n", "separated by semicolons"),
        ("partnership,source\nriverton,caf\xe9\n".encode("latin-1"), "not UTF-8 text"),
        (b"name,age\nann,3\n", "not a local-indicators CSV"),
        (",".join(COLUMNS).encode() + b'\n"unterminated,quote\n', "not a readable CSV"),
    ],
)
def test_not_a_csv(tmp_path, content, fragment):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    msg = only_problem(path) if fragment != "not a local-indicators CSV" else problems_of(path)[0]
    assert msg.startswith(str(path)) and fragment in msg, msg


def test_utf8_bom_is_accepted(tmp_path):
    path = write_rows(tmp_path, [{}])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert len(read_local_indicators(path)) == 1


# --------------------------------------------------------------------------- store


def _store_rows(con) -> pd.DataFrame:
    return con.execute("SELECT * EXCLUDE (source_file) FROM local_indicators ORDER BY source_row").df()


def test_round_trip_through_duckdb():
    df = read_local_indicators(BARNSLEY)
    con = duckdb.connect(":memory:")
    assert load_local_indicators(con, df, "data/local/barnsley_safeguarding_2022_23.csv") == len(df)
    back = query_local_indicators(con, partnership="barnsley-safeguarding").sort_values("source_row")
    back = back.reset_index(drop=True)
    assert len(back) == len(df)
    for col in FRAME_COLUMNS:
        left, right = df[col], back[col]
        if col in ("value", "denominator", "comparator_value"):
            pd.testing.assert_series_equal(left, right, check_names=False)
        elif col in ("period_start", "period_end"):
            assert (left.dt.date == right.dt.date).all()
        else:
            assert [None if pd.isna(v) else v for v in left] == [None if pd.isna(v) else v for v in right], col
    assert set(back["source_file"]) == {"data/local/barnsley_safeguarding_2022_23.csv"}
    one = query_local_indicators(con, indicator="referrals")
    assert list(one["value"]) == [2815.0, 3133.0]


def test_reload_is_idempotent_and_replaces_rows_of_the_same_file(tmp_path):
    df = read_local_indicators(BARNSLEY)
    con = duckdb.connect(":memory:")
    load_local_indicators(con, df, "barnsley.csv")
    first = _store_rows(con)
    load_local_indicators(con, df, "barnsley.csv")
    second = _store_rows(con)
    pd.testing.assert_frame_equal(first, second)
    # a corrected file replaces, not adds to, the rows of the same source file
    load_local_indicators(con, df.iloc[:10], "barnsley.csv")
    assert con.execute("SELECT count(*) FROM local_indicators").fetchone()[0] == 10


def test_same_figure_from_two_files_is_refused_and_nothing_changes(tmp_path):
    df = read_local_indicators(BARNSLEY)
    con = duckdb.connect(":memory:")
    load_local_indicators(con, df, "a.csv")
    before = _store_rows(con)
    with pytest.raises(LocalIndicatorError) as info:
        load_local_indicators(con, df.iloc[:2], "b.csv")
    assert info.value.problems[0].startswith("b.csv, row 1 (line 2), columns 'partnership, indicator, period, "
                                             "group, comparator': already loaded from a.csv (row 1)")
    pd.testing.assert_frame_equal(before, _store_rows(con))


def test_failed_load_rolls_back(tmp_path):
    df = read_local_indicators(BARNSLEY)
    con = duckdb.connect(":memory:")
    load_local_indicators(con, df, "a.csv")
    before = _store_rows(con)
    broken = df.copy()
    broken["source"] = broken["source"].astype(object)
    broken.loc[5, "source"] = None  # violates NOT NULL after the DELETE has run
    with pytest.raises(duckdb.Error):
        load_local_indicators(con, broken, "a.csv")
    pd.testing.assert_frame_equal(before, _store_rows(con))


def test_load_rejects_a_frame_that_is_not_from_the_reader():
    con = duckdb.connect(":memory:")
    with pytest.raises(LocalIndicatorError, match="lacks column"):
        load_local_indicators(con, pd.DataFrame({"value": [1]}), "x.csv")


def test_load_files_loads_nothing_when_one_file_is_bad(tmp_path):
    good = write_rows(tmp_path, [{}], name="good.csv")
    bad = write_rows(tmp_path, [{"value": "x"}], name="bad.csv")
    con = duckdb.connect(":memory:")
    with pytest.raises(LocalIndicatorError) as info:
        load_local_indicator_files(con, ["good.csv", "bad.csv"], base_dir=tmp_path)
    assert info.value.problems[0].startswith(f"{bad}, row 1 (line 2), column 'value'")
    assert query_local_indicators(con).empty
    out = load_local_indicator_files(con, ["good.csv"], base_dir=tmp_path)
    assert out.to_dict("records") == [{"source_file": "good.csv", "rows": 1}]
    assert good.exists()


# --------------------------------------------------------------------------- suppression


def test_suppression_mask_small_counts_and_complements():
    m = suppression_mask([0, 1, 4, 5, 40, 52], [None, 10, 10, 10, 41, 100], True, threshold=5)
    # 0 is safe; 1 and 4 are small; 5 of 10 safe; 40 of 41 leaves 1 (complement small); 52 of 100 safe
    assert m.tolist() == [False, True, True, False, True, False]
    assert not suppression_mask([1, 2], counts_children=False).any()
    assert not suppression_mask([1, 2], threshold=0).any()


def test_suppress_small_counts_primary_and_secondary(tmp_path):
    path = write_rows(tmp_path, [
        {"indicator": "deaths", "indicator_label": "Deaths", "group": "Home", "value": "1"},
        {"indicator": "deaths", "indicator_label": "Deaths", "group": "Hospital", "value": "12"},
        {"indicator": "deaths", "indicator_label": "Deaths", "group": "Hospice", "value": "7"},
        {"indicator": "deaths", "indicator_label": "Deaths", "group": "Other", "value": "0"},
        {"indicator": "courses", "indicator_label": "Courses", "value": "3", "counts_children": "false"},
    ])
    out = suppress_small_counts(read_local_indicators(path), threshold=5)
    assert out["suppressed"].tolist() == [True, False, True, False, False]
    assert out["value"].isna().tolist() == [True, False, True, False, False]


# --------------------------------------------------------------------------- the Barnsley transcription


@pytest.fixture(scope="module")
def barnsley() -> pd.DataFrame:
    return read_local_indicators(BARNSLEY)


def test_barnsley_file_is_valid_and_every_row_has_a_source(barnsley):
    assert len(barnsley) > 200
    assert (barnsley["partnership"] == "barnsley-safeguarding").all()
    assert barnsley["source"].str.startswith("BSCP Annual Report 2022/23; ").all()
    assert barnsley["source"].str.len().gt(40).all()


def test_barnsley_core_tables_are_present(barnsley):
    counts = barnsley[barnsley["comparator"].isna()].groupby("indicator").size()
    assert counts["children_in_need"] == 20  # June to March, two years
    assert counts["children_in_need_by_category"] == 20
    assert counts["missing_children_individuals"] == 12
    assert counts["missing_reports_received"] == 12
    assert counts["rhi_accepted"] == 12
    assert counts["rhi_completed_within_72_hours"] == 12
    assert counts["child_protection_plans_by_category"] == 5
    assert counts["hate_crime_child_victims_by_type"] == 4
    assert counts["contacts_processed_within_24_hours"] == 3
    assert counts["referral_source_share"] == 7
    comps = barnsley[barnsley["indicator"] == "referrals_by_source"]["comparator"].value_counts()
    assert comps.to_dict() == {"Statistical neighbours": 3, "National average (England)": 3}


def test_published_totals_agree_with_their_parts(barnsley):
    cp = select_indicator(barnsley, "child_protection_plans_by_category")
    assert cp["value"].sum() == 701 and (cp["denominator"] == 701).all()  # published Total 701
    hate = select_indicator(barnsley, "hate_crime_child_victims_by_type")
    assert hate["value"].sum() == 713  # '713 incidents'
    assert select_indicator(barnsley, "hate_crime_incidents_child_victims")["value"].tolist() == [713]
    chart = select_indicator(barnsley, "referral_source_share")
    assert chart["value"].sum() == 100
    places = select_indicator(barnsley, "child_deaths_reviewed_by_place")
    assert places["value"].sum() == select_indicator(barnsley, "child_deaths_reviewed")["value"].iloc[0] == 6
    # the published underspend is the published totals' difference
    total = lambda ind: select_indicator(barnsley, ind)["value"].sum()  # noqa: E731
    assert total("partnership_income_total") - total("partnership_expenditure_total") == total("partnership_underspend")


def test_published_discrepancies_are_kept_and_noted(barnsley):
    income = select_indicator(barnsley, "partnership_income")["value"].sum()
    income_total = select_indicator(barnsley, "partnership_income_total")
    assert income == 213_341 and income_total["value"].iloc[0] == 212_241
    assert "DISCREPANCY" in income_total["source"].iloc[0] and "213,341" in income_total["source"].iloc[0]
    spend = select_indicator(barnsley, "partnership_expenditure")["value"].sum()
    spend_total = select_indicator(barnsley, "partnership_expenditure_total")
    assert spend == 166_177 and spend_total["value"].iloc[0] == 166_231
    assert "DISCREPANCY" in spend_total["source"].iloc[0]
    # August return home interviews: 56 completed of 41 accepted, kept without a denominator
    rhi = select_indicator(barnsley, "rhi_completed_within_72_hours").set_index("period")
    acc = select_indicator(barnsley, "rhi_accepted").set_index("period")
    assert rhi.loc["2022-08", "value"] == 56 and acc.loc["2022-08", "value"] == 41
    assert math.isnan(rhi.loc["2022-08", "denominator"]) and "DISCREPANCY" in rhi.loc["2022-08", "source"]
    others = rhi.drop(index="2022-08")
    assert (others["denominator"] == acc.loc[others.index, "value"]).all()
    # schools referrals: the text's +28% does not match the table's 480 -> 675
    src = select_indicator(barnsley, "referrals_by_source")
    s = src[src["group"] == "Schools/Education"].set_index("period")["value"]
    assert round((s["2022/23"] / s["2021/22"] - 1) * 100, 1) == 40.6
    note = select_indicator(barnsley, "referrals_from_schools_percent_change")["source"].iloc[0]
    assert "DISCREPANCY" in note and "40.6%" in note
    assert select_indicator(barnsley, "referrals_from_schools_percent_change")["value"].iloc[0] == 28


def test_children_in_need_averages_are_the_mean_of_the_published_months(barnsley):
    cin = select_indicator(barnsley, "children_in_need")
    avg = select_indicator(barnsley, "children_in_need_average").set_index("period")["value"]
    for fy, first in (("2021/22", "2021-06-01"), ("2022/23", "2022-06-01")):
        start = pd.Timestamp(first)
        months = cin[(cin["period_start"] >= start) & (cin["period_start"] < start + pd.DateOffset(months=10))]
        assert len(months) == 10
        # published in the text: 'dropped this year from 1834 to 1525'
        assert round(months["value"].mean()) == avg[fy]
    assert avg.to_dict() == {"2021/22": 1834, "2022/23": 1525}


def test_contacts_within_24_hours_have_no_denominators(barnsley):
    rows = select_indicator(barnsley, "contacts_processed_within_24_hours")
    assert rows["period"].tolist() == ["2022-12", "2023-01", "2023-02"]
    assert rows["value"].tolist() == [32, 48, 75]
    assert rows["denominator"].isna().all()
    assert rows["source"].str.contains("(denominators) are not published", regex=False).all()


def test_secondary_suppression_within_the_given_groups():
    t = pd.DataFrame({
        "indicator": ["a"] * 4 + ["b"] * 2,
        "period": ["2021/22", "2021/22", "2022/23", "2022/23", "2022/23", "2022/23"],
        "value": [3, 40, 12, 30, 50, 60],
        "suppressed": [True, False, False, False, False, False],
    })
    # the breakdown is one indicator in one period: only 40 protects the 3
    assert secondary_suppression(t, ["indicator", "period"]).tolist() == [False, True, False, False, False, False]
    # grouped by indicator alone (across periods), the smallest other count, 12, would be chosen instead
    assert secondary_suppression(t, "indicator").tolist() == [False, False, True, False, False, False]
    # two suppressed figures in a breakdown protect each other; zero is never chosen
    t2 = pd.DataFrame({"g": ["x"] * 4, "value": [1, 2, 0, 9], "suppressed": [True, True, False, False]})
    assert not secondary_suppression(t2, ["g"]).any()
    t3 = pd.DataFrame({"g": ["x"] * 3, "value": [1, 0, 9], "suppressed": [True, False, False]})
    assert secondary_suppression(t3, ["g"]).tolist() == [False, False, True]


def test_suppress_small_counts_remainder_percent_rows_and_reused_denominators(tmp_path):
    path = write_rows(tmp_path, [
        # 40 of 42 leaves 2: the remainder rule of suppression_mask
        {"indicator": "seen", "indicator_label": "Seen", "value": "40", "denominator": "42"},
        # 95.2% of 42 is 40 of 42: a percentage with a denominator is a count too
        {"indicator": "seen_pct", "indicator_label": "Seen (%)", "unit": "percent", "value": "95.2",
         "denominator": "42"},
        # a percentage without a denominator is not a count
        {"indicator": "happy", "indicator_label": "Happy (%)", "unit": "percent", "value": "3"},
        # a breakdown whose secondary-suppressed 7 is reused as another indicator's denominator
        {"indicator": "incidents", "indicator_label": "Incidents", "group": "A", "value": "3"},
        {"indicator": "incidents", "indicator_label": "Incidents", "group": "B", "value": "7"},
        {"indicator": "incidents", "indicator_label": "Incidents", "group": "C", "value": "90"},
        {"indicator": "non_crime", "indicator_label": "Non-crimes", "group": "B", "value": "5", "denominator": "7"},
        {"indicator": "non_crime", "indicator_label": "Non-crimes", "group": "C", "value": "30",
         "denominator": "90"},
    ])
    out = suppress_small_counts(read_local_indicators(path), threshold=5)
    # non-crimes C (30) protects non-crimes B by secondary suppression within its own breakdown
    assert out["suppressed"].tolist() == [True, True, False, True, True, False, True, True]
    assert out["secondary"].tolist() == [False, False, False, False, True, False, False, True]
    # 5 of 7 leaves 2 (primary); its denominator 7 is the hidden incidents B figure, so it is withheld too
    assert out["denominator_suppressed"].tolist() == [False, False, False, False, False, False, True, False]
    assert math.isnan(out.loc[6, "denominator"]) and out.loc[7, "denominator"] == 90
    assert out.loc[out["suppressed"], "value"].isna().all()
    assert not suppress_small_counts(read_local_indicators(path), threshold=0)["suppressed"].any()

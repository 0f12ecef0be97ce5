"""Tests for csp_analysis.quality.

Seeded synthetic series with planted artefacts, drops and gaps (the flags must find exactly
those), series with no problems (no flags), and the real Nottinghamshire 2022 ASB extract
artefact documented in ../shared/data/README.md.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from csp_analysis.quality import MonthMatch, common_months, flag_anomalous_months

MONTHS = pd.period_range("2023-01", periods=24, freq="M")


def _frame(rng, levels, months=MONTHS, area=None):
    rows = []
    season = 1 + 0.1 * np.cos(2 * np.pi * (months.month.to_numpy() - 1) / 12)
    for name, level in levels.items():
        for m, s in zip(months, season):
            rows.append({"month": str(m), "crime_type": name, "n": int(rng.poisson(level * s))})
    df = pd.DataFrame(rows)
    if area is not None:
        df.insert(0, "area", area)
    return df


def _set(df, series, month, value):
    df.loc[(df["crime_type"] == series) & (df["month"] == month), "n"] = value


def _flagged(flags, flag=None, series=None):
    f = flags
    if flag is not None:
        f = f[f["flag"] == flag]
    if series is not None:
        f = f[f["series"] == series]
    return sorted(f["month"])


def test_planted_round_number_artefacts_are_flagged():
    rng = np.random.default_rng(1)
    df = _frame(rng, {"Anti-social behaviour": 2500, "Burglary": 150, "Bicycle theft": 6})
    _set(df, "Anti-social behaviour", "2023-05", 300)
    _set(df, "Anti-social behaviour", "2024-02", 200)
    flags = flag_anomalous_months(df)
    assert _flagged(flags) == ["2023-05", "2024-02"]
    art = flags[flags["flag"] == "extract_artefact"]
    assert (art["series"] == "Anti-social behaviour").all() and art["exclude"].all()
    reason = art.set_index("month").loc["2023-05", "reason"]
    assert "exactly 300 records" in reason and "capped extract" in reason and "excluded from models" in reason
    assert art.set_index("month").loc["2023-05", "ratio"] == pytest.approx(300 / art.set_index("month").loc[
        "2023-05", "reference"])
    assert list(flags.columns) == ["month", "series", "n", "reference", "ratio", "flag", "exclude", "reason"]


def test_round_number_near_the_usual_level_is_not_an_artefact():
    rng = np.random.default_rng(2)
    df = _frame(rng, {"Shoplifting": 700})
    _set(df, "Shoplifting", "2023-07", 600)
    assert flag_anomalous_months(df).empty


def test_planted_drops_severe_and_mild():
    rng = np.random.default_rng(3)
    df = _frame(rng, {"Burglary": 400})
    _set(df, "Burglary", "2023-09", 80)    # 20% of usual: most records missing
    _set(df, "Burglary", "2024-04", 180)   # 45% of usual: check
    flags = flag_anomalous_months(df).set_index("month")
    assert sorted(flags.index) == ["2023-09", "2024-04"]
    assert (flags["flag"] == "sudden_drop").all()
    assert flags.loc["2023-09", "exclude"] and not flags.loc["2024-04", "exclude"]
    assert "most records appear to be missing" in flags.loc["2023-09", "reason"]
    assert "check" in flags.loc["2024-04", "reason"]


def test_cluster_of_bad_months_is_still_found():
    """Like Nottinghamshire's districts: half the months of one year hold a fraction of the usual
    records (not round numbers)."""
    rng = np.random.default_rng(4)
    df = _frame(rng, {"Anti-social behaviour": 250})
    bad = ["2023-01", "2023-06", "2023-07", "2023-09", "2023-10"]
    for m, v in zip(bad, [17, 23, 41, 28, 19]):
        _set(df, "Anti-social behaviour", m, v)
    flags = flag_anomalous_months(df)
    assert _flagged(flags) == bad
    assert flags["exclude"].all()


def test_no_flags_for_clean_series_level_shifts_or_small_counts():
    rng = np.random.default_rng(5)
    df = _frame(rng, {"Robbery": 40, "Drugs": 3, "Vehicle crime": 300})
    # a lasting halving of the level between the two years is not a drop
    late = (df["crime_type"] == "Vehicle crime") & (df["month"] >= "2024-01")
    df.loc[late, "n"] = (df.loc[late, "n"] / 2).round().astype(int)
    assert flag_anomalous_months(df).empty


def test_false_alarm_rate_on_clean_overdispersed_series():
    rng = np.random.default_rng(6)
    rows = []
    for k in range(60):
        level = rng.choice([20, 80, 300, 1500])
        mu = level * (1 + 0.15 * np.cos(2 * np.pi * np.arange(24) / 12))
        y = rng.negative_binomial(1 / 0.02, 1 / (1 + 0.02 * mu))
        rows += [{"month": str(m), "crime_type": f"s{k}", "n": int(v)} for m, v in zip(MONTHS, y)]
    flags = flag_anomalous_months(pd.DataFrame(rows))
    assert (flags["exclude"]).sum() == 0
    assert len(flags) / (60 * 24) < 0.01


def test_missing_months_and_implied_zeros():
    rng = np.random.default_rng(7)
    df = _frame(rng, {"Burglary": 100, "Arson": 2})
    gap = ["2023-10", "2023-11"]
    df = df[~df["month"].isin(gap)]
    # Arson has no row in 2024-03 but the area has data then: a zero, not a missing month
    df = df[~((df["crime_type"] == "Arson") & (df["month"] == "2024-03"))]
    flags = flag_anomalous_months(df)
    missing = flags[flags["flag"] == "missing_month"]
    assert sorted(missing["month"]) == sorted(gap * 2)
    assert missing["n"].isna().all() and missing["exclude"].all()
    assert "not a zero" in missing["reason"].iloc[0] and "not interpolated" in missing["reason"].iloc[0]
    assert "2024-03" not in set(flags["month"])
    # a high-volume series with no row in a covered month has a zero month: a drop
    df2 = df[~((df["crime_type"] == "Burglary") & (df["month"] == "2024-05"))]
    f2 = flag_anomalous_months(df2)
    row = f2[(f2["month"] == "2024-05")].iloc[0]
    assert row["flag"] == "sudden_drop" and row["n"] == 0 and row["exclude"]


def test_groups_are_checked_separately_and_rows_summed():
    rng = np.random.default_rng(8)
    a = _frame(rng, {"Burglary": 200}, area="North")
    b = _frame(rng, {"Burglary": 200}, area="South")
    b = b[b["month"] != "2024-01"]
    both = pd.concat([a, b])
    flags = flag_anomalous_months(both)  # "area" is used automatically
    assert list(flags.columns[:2]) == ["area", "month"]
    assert set(flags["area"]) == {"South"} and _flagged(flags) == ["2024-01"]
    # LAD-level rows summed to force level: two halves of each count
    big = _frame(rng, {"Burglary": 1000}, area="North")
    halves = pd.concat([big.assign(lad="x", n=big["n"] // 2), big.assign(lad="y", n=big["n"] - big["n"] // 2)])
    halves = halves.rename(columns={"n": "n_records", "area": "force"})
    _set_h = (halves["month"] == "2023-03")
    halves.loc[_set_h, "n_records"] = 50  # 100 in total: a round-number artefact at force level
    f = flag_anomalous_months(halves, count_col="n_records", group_cols="force")
    assert _flagged(f, "extract_artefact") == ["2023-03"] and (f["n"] == 100).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"count_col": "records"}, "count_col"),
        ({"group_cols": "force"}, "group_cols"),
        ({"round_to": 1}, "round_to"),
        ({"drop_ratio": 1.5}, "drop_ratio"),
        ({"window": 0}, "window"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    df = _frame(np.random.default_rng(9), {"Burglary": 50})
    with pytest.raises(ValueError, match=match):
        flag_anomalous_months(df, **kwargs)


def test_bad_data_raise():
    with pytest.raises(ValueError, match="DataFrame"):
        flag_anomalous_months([1, 2, 3])
    df = pd.DataFrame({"month": ["2024-01", "2024-02"], "crime_type": ["a", "a"], "n": [5, -1]})
    with pytest.raises(ValueError, match="non-negative"):
        flag_anomalous_months(df)
    df = pd.DataFrame({"month": ["2024-01", "soon"], "crime_type": ["a", "a"], "n": [5, 1]})
    with pytest.raises(ValueError, match="month"):
        flag_anomalous_months(df)


# --------------------------------------------------------------------------- real data
@pytest.mark.realdata
def test_nottinghamshire_2022_asb_extract_artefact(shared_data):
    path = shared_data / "derived" / "police_uk_street_counts_by_force_lad_month_crimetype.csv.gz"
    if not path.exists():
        pytest.skip(f"{path} not present")
    data = pd.read_csv(path)
    data = data[data["force"].isin(["nottinghamshire", "south-yorkshire"])]
    flags = flag_anomalous_months(data, count_col="n_records", group_cols="force")
    asb = flags[flags["series"] == "Anti-social behaviour"]
    notts, sy = asb[asb["force"] == "nottinghamshire"], asb[asb["force"] == "south-yorkshire"]
    artefacts = ["2022-01", "2022-06", "2022-07", "2022-09", "2022-10"]
    assert _flagged(notts, "extract_artefact") == artefacts
    assert list(notts.loc[notts["flag"] == "extract_artefact", "n"]) == [200, 400, 400, 300, 300]
    assert _flagged(notts, "sudden_drop") == []
    # the only other Notts flags are the months with no file (2022-11 ... 2024-12)
    expected_gap = [str(m) for m in pd.period_range("2022-11", "2024-12", freq="M")]
    assert _flagged(notts, "missing_month") == expected_gap
    # South Yorkshire ASB: nothing but its documented gap (2022-12 ... 2024-03)
    assert sy[sy["flag"] != "missing_month"].empty
    assert _flagged(sy, "missing_month") == [str(m) for m in pd.period_range("2022-12", "2024-03", freq="M")]

    # the same artefact at district level (counts are no longer round): still flagged
    districts = data[(data["force"] == "nottinghamshire") & data["lad_nm"].isin(["Bassetlaw", "Newark and Sherwood"])]
    lad_flags = flag_anomalous_months(districts, count_col="n_records", group_cols=["force", "lad_nm"])
    lad_asb = lad_flags[(lad_flags["series"] == "Anti-social behaviour") & (lad_flags["flag"] != "missing_month")]
    for lad in ["Bassetlaw", "Newark and Sherwood"]:
        rows = lad_asb[lad_asb["lad_nm"] == lad]
        assert _flagged(rows) == artefacts and rows["exclude"].all()


# --------------------------------------------------------------------------- common months
def test_common_months_year_on_year():
    current = ["2025-01", "2025-02", "2025-03", "2025-04", "2025-06"]
    previous = ["2024-01", "2024-03", "2024-04", "2024-05", "2024-06"]
    match = common_months(current, previous)
    assert isinstance(match, MonthMatch)
    assert match.a == ["2025-01", "2025-03", "2025-04", "2025-06"]
    assert match.b == ["2024-01", "2024-03", "2024-04", "2024-06"]
    assert match.dropped_a == ["2025-02"] and match.dropped_b == ["2024-05"]
    assert "4 months present in both" in match.sentence and "2025-02 and 2024-05 were left out" in match.sentence
    assert list(match.pairs.columns) == ["a_month", "b_month"]


def test_common_months_with_lag_and_inputs():
    a = pd.date_range("2025-10-01", periods=3, freq="MS")  # a quarter
    b = pd.period_range("2025-07", periods=3, freq="M")[[0, 2]]
    match = common_months(a, b, lag=3)
    assert match.a == ["2025-10", "2025-12"] and match.b == ["2025-07", "2025-09"]
    assert match.dropped_a == ["2025-11"]
    full = common_months(["2025-01", "2025-02"], ["2022-01", "2022-02"])
    assert full.dropped_a == [] and "all 2 months" in full.sentence
    none = common_months(["2025-01"], ["2024-02"])
    assert none.a == [] and "no months in common" in none.sentence


def test_common_months_errors():
    with pytest.raises(ValueError, match="lag"):
        common_months([str(m) for m in pd.period_range("2023-01", periods=14, freq="M")], ["2022-01"])
    with pytest.raises(ValueError, match="repeat"):
        common_months(["2025-01", "2025-01"], ["2024-01"])
    with pytest.raises(ValueError, match="a_months"):
        common_months(["not a month"], ["2024-01"])
    with pytest.raises(ValueError, match="lag"):
        common_months(["2025-01"], ["2024-01"], lag=1.5)


def test_month_range_text_joins_consecutive_months():
    from csp_analysis.data import month_range_text

    months = pd.to_datetime(["2022-03-01", "2022-01-01", "2022-02-01", "2025-06-01", "2022-02-01"])
    assert month_range_text(months) == "Jan 2022 to Mar 2022; Jun 2025"
    assert month_range_text([]) == "none"


def test_reason_texts_of_each_flag_kind():
    """The three kinds of flag share one reason layout: what, month, share of the usual level, why."""
    rng = np.random.default_rng(3)
    df = _frame(rng, {"Burglary": 400, "Anti-social behaviour": 2500})
    _set(df, "Burglary", "2023-09", 80)
    _set(df, "Burglary", "2024-04", 180)
    _set(df, "Anti-social behaviour", "2023-05", 300)
    flags = flag_anomalous_months(df).set_index(["series", "month"])
    for key, flag, exclude, start, end in [
        (("Anti-social behaviour", "2023-05"), "extract_artefact", True,
         "Anti-social behaviour exactly 300 records in 2023-05, ", "probably a capped extract; excluded from models."),
        (("Burglary", "2023-09"), "sudden_drop", True,
         "Burglary only 80 records in 2023-09, ", "most records appear to be missing; excluded from models."),
        (("Burglary", "2024-04"), "sudden_drop", False, "Burglary 180 records in 2024-04, ",
         "an unusually low month (seasonal lows can do this); check it is complete before relying on it."),
    ]:
        r = flags.loc[key]
        assert (r["flag"], bool(r["exclude"])) == (flag, exclude)
        assert r["ratio"] == pytest.approx(r["n"] / r["reference"])
        pct = f"{r['ratio'] * 100:.0f}% of the usual monthly level ({r['reference']:,.0f}): "
        assert r["reason"].startswith(start) and r["reason"].endswith(pct + end), r["reason"]

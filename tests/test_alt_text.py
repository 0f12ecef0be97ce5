"""Alternative text written from a chart's data (csp_analysis.alt_text) and ReportContext.show."""
from __future__ import annotations

import re
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from csp_analysis import report  # noqa: E402
from csp_analysis.alt_text import describe_figure, figure_title, format_value  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_line_chart_names_series_dates_extremes_and_change():
    x = pd.date_range("2021-01-01", periods=24, freq="MS")
    y = np.linspace(100, 160, 24)
    y[7] = 40.0
    fig, ax = plt.subplots()
    ax.plot(x, y, label="Recorded crime")
    ax.plot(x, np.full(24, 120.0), label="Mean")
    ax.axhline(150, color="grey")
    ax.axvspan(x[3], x[5], color="#ddd")
    ax.plot([], [], label="No data published")  # a legend-only entry is not a series
    ax.set(title="Northtown: records per month", xlabel="Month", ylabel="Records per month")
    alt = describe_figure(fig)
    assert alt.startswith("Northtown: records per month. Line chart of Records per month against Month.")
    assert "Recorded crime: 24 points from January 2021 to December 2022" in alt
    assert "lowest 40 (August 2021)" in alt and "highest 160 (December 2022)" in alt
    assert "rises from 100 to 160 (+60%)" in alt
    assert "Mean: constant at 120" in alt
    assert "horizontal reference line at 150" in alt
    assert "Shaded background from April 2021 to June 2021" in alt
    assert "No data published" not in alt
    assert figure_title(fig) == "Northtown: records per month"


def test_horizontal_bars_with_error_bars_list_each_category():
    fig, ax = plt.subplots()
    y = np.arange(3)
    ax.barh(y, [5.2, 16.5, 8.14])
    ax.errorbar([5.2, 16.5, 8.14], y, xerr=[[0.5] * 3, [0.6] * 3], fmt="none")
    ax.set_yticks(y, ["White", "Black", "Asian"])
    ax.set(title="Stop rate by group", xlabel="Searches per 1,000 a year")
    alt = describe_figure(fig)
    assert "Bar chart of Searches per 1,000 a year" in alt
    assert "3 horizontal bars: White 5.2, Black 16.5, Asian 8.14" in alt
    assert "Error bars show the intervals" in alt
    assert "line" not in alt.lower()  # the error-bar caps are not described as lines


def test_many_bars_give_highest_and_lowest():
    fig, ax = plt.subplots()
    ax.bar(np.arange(1, 11), [10, 30, 25, 5, 40, 12, 18, 22, 9, 11])
    ax.set_xticks(np.arange(1, 11), [f"Decile {i}" for i in range(1, 11)])
    alt = describe_figure(fig)
    assert "10 bars; highest Decile 5 (40), lowest Decile 4 (5)" in alt


def test_points_bands_and_period_axis():
    fig, ax = plt.subplots()
    rng = np.random.default_rng(1)
    ax.scatter(rng.uniform(10, 90, 30), rng.uniform(0.5, 1.5, 30), label="Areas")
    ax.fill_between([0, 100], [0.8, 0.9], [1.2, 1.1], alpha=0.2, label="95% limits")
    ax.set(xlabel="Expected", ylabel="Ratio")
    alt = describe_figure(fig)
    assert "30 points (Areas)" in alt and "Shaded band: 95% limits" in alt
    s = pd.Series(np.arange(12.0), index=pd.period_range("2022-01", periods=12, freq="M"))
    fig2, ax2 = plt.subplots()
    s.plot(ax=ax2)
    assert "from January 2022 to December 2022" in describe_figure(fig2)


def test_panels_and_colour_scale():
    fig, axes = plt.subplots(2, 1)
    fig.suptitle("Decomposition")
    axes[0].plot([1, 2, 3], [1, 2, 3])
    axes[0].set_ylabel("Trend")
    im = axes[1].imshow(np.arange(6.0).reshape(2, 3))
    fig.colorbar(im, ax=axes[1], label="Rate")
    alt = describe_figure(fig)
    assert alt.startswith("Decomposition. 2 panels. Panel 1: Line chart of Trend.")
    assert "an image of 2 by 3 cells, values from 0 to 5" in alt.lower()
    assert "Colour scale: Rate, from 0 to 5." in alt


def test_distinct_charts_get_distinct_text_and_numbers_read_well():
    a, b = plt.subplots()[0], plt.subplots()[0]
    a.axes[0].plot([0, 1], [3, 4], label="A")
    b.axes[0].plot([0, 1], [3, 5], label="A")
    assert describe_figure(a) != describe_figure(b)
    assert [format_value(v) for v in (1234567, 0.5, 1.25, 2.0, 0.00123, float("nan"))] == \
        ["1,234,567", "0.5", "1.25", "2", "0.00123", "missing"]


def _ctx():
    p = SimpleNamespace(small_number_threshold=0)
    return report.ReportContext(params=p, con=None, notebook="99_test", output_dir=None, params_file=None)


def test_show_emits_figure_with_escaped_generated_alt(monkeypatch):
    shown = []
    monkeypatch.setattr(report, "_display_html", shown.append)
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [1, 4, 2], label='<script>"x"</script>')
    ax.set_title("Title & <b>")
    _ctx().show(fig)
    (out,) = shown
    assert out.startswith("<figure class='csp-chart'><img src='data:image/png;base64,")
    alt = re.search(r'alt="([^"]*)"', out).group(1)
    assert "&lt;script&gt;&quot;x&quot;&lt;/script&gt;" in alt and "<script>" not in out
    assert "<figcaption>Title &amp; &lt;b&gt;</figcaption>" in out
    assert not plt.fignum_exists(fig.number)  # closed


def test_show_explicit_and_decorative(monkeypatch):
    shown = []
    monkeypatch.setattr(report, "_display_html", shown.append)
    fig, ax = plt.subplots()
    ax.plot([1, 2], [1, 2])
    _ctx().show(fig, alt="Two points rising", caption="My caption")
    fig2, _ = plt.subplots()
    _ctx().show(fig2, alt="")
    assert 'alt="Two points rising"' in shown[0] and "<figcaption>My caption</figcaption>" in shown[0]
    assert 'alt="" role="presentation"' in shown[1] and "figcaption" not in shown[1]


def test_show_reads_category_names_drawn_by_savefig(monkeypatch):
    shown = []
    monkeypatch.setattr(report, "_display_html", shown.append)
    fig, ax = plt.subplots()
    ax.barh(np.arange(3), [1.5, 2.5, 3.5])
    ax.set_yticks(range(3), ["Burglary", "Robbery", "Drugs"])
    _ctx().show(fig)
    assert "3 horizontal bars: Burglary 1.5, Robbery 2.5, Drugs 3.5" in shown[0]

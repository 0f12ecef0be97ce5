"""Tests for csp_analysis.interventions.displacement (WDQ and WDD).

References used:
* Wheeler & Ratcliffe (2018), Crime Science 7:11, worked example: control
  308 -> 318, treated 207 -> 110, control displacement area 150 -> 140, treated
  displacement area 178 -> 157 gives WDD = -118, variance 1568, z = -2.98 and a
  95% interval of about -196 to -40 (also the reference values in the authors'
  ``ptools::wdd`` test suite).
* Bowers & Johnson (2003), J Quant Criminol 19:275-301: definitions of the success
  measure, buffer displacement measure, WDQ and its interpretation table.
* Seeded Poisson simulations with planted target reduction and displacement.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from csp_analysis.interventions import displacement, interpret_wdq


def test_wheeler_ratcliffe_worked_example():
    res = displacement(target=(207, 110), buffer=(178, 157), control=(308, 318),
                       control_buffer=(150, 140))
    w = res.table.loc["wdd"]
    assert w.estimate == -118
    assert w.se == pytest.approx(np.sqrt(1568))
    assert round(w.z, 2) == -2.98
    assert round(w.lower) == -196 and round(w.upper) == -40
    assert w.p_value == pytest.approx(0.00288, abs=5e-5)
    # Components: local (target vs control) and displacement (buffer vs control buffer).
    assert res.table.loc["wdd_target", "estimate"] == (110 - 207) - (318 - 308)
    assert res.table.loc["wdd_displacement", "estimate"] == (157 - 178) - (140 - 150)
    assert res.table.loc["wdd_target", "se"] == pytest.approx(np.sqrt(207 + 110 + 308 + 318))


def test_wdq_definitions_on_worked_example():
    Rb, Ra, Bb, Ba, Cb, Ca = 207, 110, 178, 157, 308, 318
    res = displacement((Rb, Ra), (Bb, Ba), (Cb, Ca))
    t = res.table
    assert t.loc["success_measure", "estimate"] == pytest.approx(Ra / Ca - Rb / Cb)
    assert t.loc["buffer_displacement_measure", "estimate"] == pytest.approx(Ba / Ca - Bb / Cb)
    wdq = (Ba / Ca - Bb / Cb) / (Ra / Ca - Rb / Cb)
    assert t.loc["wdq", "estimate"] == pytest.approx(wdq)
    assert 0 < wdq < 1 and "diffusion" in res.interpretation.lower()
    assert np.isnan(t.loc["wdq", "p_value"])  # the WDQ has no significance test
    # Without a control buffer, Wheeler & Ratcliffe's default C' = (0, 0).
    assert t.loc["wdd", "estimate"] == (Ra - Rb) - (Ca - Cb) + (Ba - Bb)
    assert "control buffer" in res.summary()


@pytest.mark.parametrize(
    "buffer_after,expected",
    [
        (40, "larger than the direct effect in the target"),   # big fall in buffer: WDQ > 1
        (90, "some diffusion"),                                # small fall: 0 < WDQ <= 1
        (100, "no displacement"),                              # unchanged: WDQ = 0
        (110, "net benefit"),                                  # small rise: -1 <= WDQ < 0
        (160, "net increase"),                                 # big rise: WDQ < -1
    ],
)
def test_wdq_interpretation_categories(buffer_after, expected):
    # Target falls 100 -> 50 while control is flat at 100: success measure -0.5.
    res = displacement(target=(100, 50), buffer=(100, buffer_after), control=(100, 100))
    assert expected in res.interpretation.lower()


def test_wdq_uninterpretable_when_no_success():
    res = displacement(target=(100, 120), buffer=(100, 100), control=(100, 100))
    assert "cannot be interpreted" in res.interpretation
    assert "cannot be interpreted" in interpret_wdq(0.5, 0.0)


def test_wdd_simulation_coverage_and_size():
    rng = np.random.default_rng(2018)
    reps = 800
    # Planted: target 120 -> 84 (-30%), buffer 90 -> 99 (+10% displacement), controls flat.
    lam = {"T": (120, 84), "D": (90, 99), "C": (150, 150), "CD": (80, 80)}
    truth = (84 - 120) - 0 + (99 - 90) - 0
    cover = 0
    for _ in range(reps):
        c = {k: rng.poisson(v) for k, v in lam.items()}
        r = displacement(c["T"], c["D"], c["C"], control_buffer=c["CD"]).table.loc["wdd"]
        cover += r.lower <= truth <= r.upper
    assert 0.925 <= cover / reps <= 0.975
    # Null: nothing changes anywhere.
    hits = 0
    for _ in range(reps):
        c = {k: rng.poisson((v[0], v[0])) for k, v in lam.items()}
        hits += displacement(c["T"], c["D"], c["C"], control_buffer=c["CD"]).table.loc[
            "wdd", "p_value"] < 0.05
    assert 0.025 <= hits / reps <= 0.075


def test_wdq_recovers_planted_displacement_with_large_counts():
    rng = np.random.default_rng(5)
    # Expected WDQ = (Ba/Ca - Bb/Cb) / (Ra/Ca - Rb/Cb) = (1100-1000)/(700-1000) = -1/3.
    vals = [displacement(rng.poisson((1000, 700)), rng.poisson((1000, 1100)),
                         rng.poisson((1000, 1000))).table.loc["wdq", "estimate"]
            for _ in range(150)]
    assert np.median(vals) == pytest.approx(-1 / 3, abs=0.03)


def test_result_object_and_plot():
    import matplotlib.pyplot as plt

    res = displacement((50, 30), (40, 45), (60, 62), control_buffer=(30, 31))
    for col in ["estimate", "lower", "upper", "p_value", "confidence", "method", "scale"]:
        assert col in res.table.columns
    assert list(res.counts.index) == ["target", "buffer", "control", "control_buffer"]
    assert "Limits" in res.summary()
    ax = res.plot()
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    plt.close("all")


@pytest.mark.parametrize(
    "args,match",
    [
        (((1, 2, 3), (1, 2), (1, 2)), "target"),
        (((1, 2), (-1, 2), (1, 2)), "buffer"),
        (((1, 2), (1, 2), (0, 2)), "control"),
        (((1, 2), (1, 2), "ab"), "control"),
    ],
)
def test_bad_input_raises(args, match):
    with pytest.raises(ValueError, match=match):
        displacement(*args)


def test_summary_p_values_use_the_public_format_p():
    from csp_analysis.formatting import format_p_value
    from csp_analysis.interventions import _results

    assert _results.fmt_p is _results.format_p  # the former name is kept
    assert _results.format_p(0.0412) == format_p_value(0.0412, digits=3) == "p = 0.041"
    res = displacement(target=(207, 110), buffer=(178, 157), control=(308, 318))
    assert _results.format_p(res.table.loc["wdd", "p_value"]) in res.summary()

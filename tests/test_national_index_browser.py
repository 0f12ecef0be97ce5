"""The national index in headless Chromium: axe-core with 3 and 314 rows, sorting and filtering
by the inline script, nothing loaded from the network. Reuses tests/test_browser.py's driver
(skipped without selenium, chromium or chromedriver)."""
from __future__ import annotations

import json

import pytest
from test_browser import _axe, _open, _summary, driver  # noqa: F401 - driver is a fixture
from test_national_index import PARAMS, _entry, small_store  # noqa: F401 - small_store is a fixture

from csp_analysis import national_index as ni

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _page(tmp_path, small_store, n_extra: int):  # noqa: F811
    db, pdir = small_store
    out = tmp_path / f"out{n_extra}"
    out.mkdir()
    lads = ["X07000001", "X07000002", "X07000003", "X07000004"]
    for i in range(n_extra):
        (pdir / f"p{i:03d}.yaml").write_text(PARAMS.format(name=f"P {i}", slug=f"p{i:03d}", group="g2",
                                                           lads=lads[i % 4]))
    entries = [_entry("alpha", "Alpha <b>CSP</b>", change=(12.0, 5.0, 19.0, "unlikely to be chance")),
               _entry("beta", "Beta", status="warning"), _entry("gamma", "Gamma", status="failed")]
    entries += [_entry(f"p{i:03d}", f"P {i}", change=(float(i % 7) - 3, -5.0, 5.0, "could be chance"))
                for i in range(n_extra)]
    return ni.write_national_index(entries, out, ["01_trends"], {"01_trends": "Trends"}, "1.0",
                                   params_dir=pdir, store=db)


@pytest.mark.parametrize("n_extra", [0, 311])
def test_index_has_no_axe_violations_and_sorts_and_filters(driver, tmp_path, small_store, n_extra):  # noqa: F811
    from selenium.webdriver.common.by import By

    page = _page(tmp_path, small_store, n_extra)
    _open(driver, page)
    violations = _axe(driver)
    assert violations == [], json.dumps(_summary(violations), indent=1)
    urls = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert [u for u in urls if not u.startswith(("data:", "file:"))] == []
    rows = lambda: driver.execute_script(  # noqa: E731
        "return Array.from(document.querySelectorAll('#csp-national tbody tr'))"
        ".filter(r => !r.hidden).map(r => r.querySelector('th').getAttribute('data-sort'))")
    assert len(rows()) == 3 + n_extra
    assert driver.find_element(By.ID, "csp-filters").is_displayed()  # the script showed the form
    # sort by rate, descending after two clicks; missing values last either way
    rate_btn = driver.find_elements(By.CSS_SELECTOR, "#csp-national thead .csp-sort")[3]
    rate_btn.click()
    th = driver.find_elements(By.CSS_SELECTOR, "#csp-national thead th")[4]
    assert th.get_attribute("aria-sort") == "ascending"
    vals = driver.execute_script(
        "return Array.from(document.querySelectorAll('#csp-national tbody tr'))"
        ".map(r => parseFloat(r.cells[4].getAttribute('data-sort')))")
    assert vals == sorted(vals)
    rate_btn.click()
    assert th.get_attribute("aria-sort") == "descending"
    # filters: status, flag, text
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element(By.ID, "csp-filter-status")).select_by_value("failed")
    assert rows() == ["gamma"]
    Select(driver.find_element(By.ID, "csp-filter-status")).select_by_value("")
    driver.find_element(By.ID, "csp-filter-flag").click()
    assert rows() == ["alpha <b>csp</b>"]
    assert driver.find_element(By.ID, "csp-shown").text == f"1 of {3 + n_extra} partnerships shown."
    driver.find_element(By.ID, "csp-filter-flag").click()
    driver.find_element(By.ID, "csp-filter-text").send_keys("bet")
    assert rows() == ["beta"]
    assert _axe(driver) == []  # still accessible after sorting and filtering


def test_index_without_javascript_is_a_plain_table(tmp_path, small_store):  # noqa: F811
    """What a browser without scripts shows: the form hidden, every row, alphabetical order."""
    import re

    page = _page(tmp_path, small_store, 0).read_text()
    assert re.search(r"<form[^>]*hidden", page)
    names = re.findall(r"<th data-sort=\"([^\"]*)\" scope=\"row\"", page) or re.findall(
        r"<th [^>]*data-sort=\"([^\"]*)\"[^>]*scope=\"row\"", page)
    assert len(names) == 3

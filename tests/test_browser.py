"""The rendered reports in a real headless browser: axe-core, alt text, no network, print to A4.

Renders the synthetic partnership ``riverton`` (three reports and the index), opens each in
Debian's Chromium through chromedriver (selenium) and runs axe-core on it: every rule,
zero violations of any impact. axe-core is the npm package that ``.ci/run`` installs into
``~/.cache/csp-analysis/axe`` (or ``$CSP_AXE_JS``), else the copy shipped inside
``axe-selenium-python``; nothing is fetched at test time. Screenshots, a print-to-PDF of
each report and the axe results go to ``$CSP_SCREENSHOTS`` (default
``outputs/screenshots/``); the path is printed.

Skipped, with the reason, when selenium, chromium or chromedriver is missing.
"""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from csp_analysis import cli, runner
from csp_analysis import html as H

pytestmark = [pytest.mark.slow, pytest.mark.browser]

REPO_ROOT = Path(__file__).resolve().parents[1]
NBCONVERT_DEFAULT_ALT = "No description has been provided for this image"


def _axe_script() -> tuple[Path, str]:
    """The axe-core script to inject, newest available first, and its version."""
    candidates = [os.environ.get("CSP_AXE_JS"),
                  Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                  / "csp-analysis" / "axe" / "node_modules" / "axe-core" / "axe.min.js"]
    try:
        import axe_selenium_python

        candidates.append(Path(axe_selenium_python.__file__).parent / "node_modules" / "axe-core" / "axe.min.js")
    except ImportError:
        pass
    for c in candidates:
        if c and Path(c).is_file():
            src = Path(c).read_text(encoding="utf-8")
            m = re.search(r"axe v([\d.]+)", src[:400]) or re.search(r'version="([\d.]+)"', src)
            return Path(c), (m.group(1) if m else "unknown")
    pytest.skip("no axe-core script: install axe-selenium-python (pip) or axe-core (npm; .ci/run does)")


@pytest.fixture(scope="module")
def artefacts() -> Path:
    d = Path(os.environ.get("CSP_SCREENSHOTS") or REPO_ROOT / "outputs" / "screenshots")
    d.mkdir(parents=True, exist_ok=True)
    print(f"\nbrowser test artefacts (screenshots, PDFs, axe results): {d}")
    return d


@pytest.fixture(scope="module")
def driver():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium not installed (pip install -e '.[test]')")
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    chromedriver = shutil.which("chromedriver")
    if not browser or not chromedriver:
        pytest.skip("no headless browser: install Debian's chromium and chromium-driver "
                    "(apt-get install chromium chromium-driver; .ci/run does this)")
    opts = Options()
    opts.binary_location = browser
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1280,1000", "--disable-extensions", "--no-first-run"):
        opts.add_argument(a)
    d = webdriver.Chrome(service=Service(chromedriver), options=opts)
    d.set_script_timeout(180)
    yield d
    d.quit()


@pytest.fixture(scope="module")
def rendered(driver, demo_store, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("browser")
    # a private copy of the session's synthetic store (conftest.py): the runner writes to it
    db, out = demo_store.copy_store(root), root / "outputs"
    with pytest.MonkeyPatch.context() as mp:
        # one BLAS thread per kernel: on a busy 2-core machine the default threads spin against
        # each other (the interventions notebook measured 126 s against 28 s with one thread)
        for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            if not os.environ.get(k):
                mp.setenv(k, "1")
        assert cli.main(["run", "riverton", "--store", str(db), "--outputs", str(out)]) == 0
    return out


def _open(driver, path: Path) -> None:
    driver.get(path.resolve().as_uri())
    driver.execute_script("return document.readyState")


def _axe(driver) -> list[dict]:
    src, _ = _axe_script()
    driver.execute_script(src.read_text(encoding="utf-8"))
    res = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document).then(r => done(r.violations)).catch(e => done({error: String(e)}));")
    assert not isinstance(res, dict), res
    return res


def _summary(violations: list[dict]) -> dict:
    return {v["id"]: {"impact": v["impact"], "nodes": len(v["nodes"]),
                      "first": v["nodes"][0]["html"][:200] if v["nodes"] else ""} for v in violations}


def _record(artefacts: Path, name: str, violations: list[dict]) -> None:
    f = artefacts / "axe_results.json"
    data = json.loads(f.read_text()) if f.exists() else {}
    data[name] = {"axe_version": _axe_script()[1], "violations": _summary(violations)}
    f.write_text(json.dumps(data, indent=2))


@pytest.mark.parametrize("notebook", runner.DEFAULT_NOTEBOOKS)
def test_report_has_no_axe_violations_and_loads_nothing_external(driver, rendered, artefacts, notebook):
    page = rendered / "riverton" / f"{notebook}.html"
    _open(driver, page)
    driver.save_screenshot(str(artefacts / f"riverton_{notebook}.png"))
    violations = _axe(driver)
    _record(artefacts, f"riverton/{notebook}", violations)
    assert violations == [], json.dumps(_summary(violations), indent=1)
    # nothing but the file itself and data: URIs was loaded
    urls = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert [u for u in urls if not u.startswith(("data:", "file:"))] == []
    assert driver.execute_script("return document.scripts.length") == 1 or \
        driver.execute_script("return Array.from(document.scripts).every(s => !s.src)")


@pytest.mark.parametrize("notebook", runner.DEFAULT_NOTEBOOKS)
def test_every_chart_has_alt_text_specific_to_it(driver, rendered, notebook):
    _open(driver, rendered / "riverton" / f"{notebook}.html")
    imgs = driver.execute_script(
        "return Array.from(document.images).map(i => ({alt: i.getAttribute('alt'), role: i.getAttribute('role'),"
        " cap: (i.closest('figure') && i.closest('figure').querySelector('figcaption') || {}).textContent || '',"
        " w: i.naturalWidth}))")
    assert imgs, "no charts in the report"
    alts = []
    for im in imgs:
        assert im["w"] > 0  # the image decodes
        if im["role"] == "presentation":
            assert im["alt"] == ""
            continue
        alt = im["alt"] or ""
        assert NBCONVERT_DEFAULT_ALT not in alt and len(alt) > 40, alt
        assert re.search(r"\bchart\b|\bimage\b|\bmaps?\b", alt, re.I) and re.search(r"\d", alt), alt  # says what, with values
        if im["cap"]:
            assert alt.startswith(im["cap"].strip()), (im["cap"], alt)  # names the chart's own title
        alts.append(alt)
    assert len(set(alts)) == len(alts), "two charts share one description"


def test_report_prints_to_a4_with_contents_hidden(driver, rendered, artefacts):
    from selenium.webdriver.common.print_page_options import PrintOptions

    _open(driver, rendered / "riverton" / "01_trends.html")
    # the navigation is there on screen and hidden in print
    assert driver.execute_script("return getComputedStyle(document.querySelector('.csp-toc')).display") != "none"
    opts = PrintOptions()
    opts.page_width, opts.page_height = 21.0, 29.7
    pdf = base64.b64decode(driver.print_page(opts))
    (artefacts / "riverton_01_trends.pdf").write_bytes(pdf)
    assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page[^s]", pdf)) >= 3
    box = re.search(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    assert box and abs(float(box.group(1)) - 595.3) < 2 and abs(float(box.group(2)) - 841.9) < 2  # A4 in points
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        hidden = driver.execute_script(
            "return ['.csp-toc', '.csp-back', '.csp-skip'].map(s => getComputedStyle(document.querySelector(s)).display)")
        assert hidden == ["none"] * 3
    finally:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})


def test_skip_link_and_contents_navigate(driver, rendered):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    _open(driver, rendered / "riverton" / "02_disproportionality.html")
    body = driver.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    active = driver.switch_to.active_element
    assert active.get_attribute("class") == "csp-skip" and active.is_displayed()
    active.send_keys(Keys.ENTER)
    assert driver.switch_to.active_element.get_attribute("id") == "main-content"
    links = driver.find_elements(By.CSS_SELECTOR, ".csp-toc ol a")
    assert len(links) >= 3
    for a in links:
        target = a.get_attribute("href").split("#", 1)[1]
        assert driver.find_elements(By.ID, target), target


def test_index_in_the_report_shell_has_no_axe_violations(driver, rendered, artefacts, tmp_path):
    """The index page's content inside :func:`csp_analysis.html.wrap_page` (what the runner is to use)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup((rendered / "index.html").read_text(encoding="utf-8"), "html.parser")
    body = soup.find("main") or soup.body
    page = tmp_path / "index.html"
    page.write_text(H.wrap_page(body.decode_contents(), title="Community Safety Partnership reports",
                                back_href=None, toc=False), encoding="utf-8")
    _open(driver, page)
    driver.save_screenshot(str(artefacts / "index_in_shell.png"))
    violations = _axe(driver)
    _record(artefacts, "index (wrap_page)", violations)
    assert violations == [], json.dumps(_summary(violations), indent=1)


def test_index_as_written_by_the_runner(driver, rendered, artefacts):
    index = rendered / "index.html"
    _open(driver, index)
    driver.save_screenshot(str(artefacts / "index.png"))
    violations = _axe(driver)
    _record(artefacts, "index", violations)
    assert H.SHELL_MARKER in index.read_text(encoding="utf-8"), "the index must use html.wrap_page"
    assert violations == [], json.dumps(_summary(violations), indent=1)

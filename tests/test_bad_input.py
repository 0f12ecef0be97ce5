"""A corpus of bad input: params files, local-indicators CSVs and injected text.

Each case has its expected outcome:

* a **clear error** naming the file, the line (where there is one) and the field or
  column (params: :class:`csp_analysis.params.ParamsError`; local CSVs:
  :class:`csp_analysis.local_indicators.LocalIndicatorError`), raised before any kernel
  would start; or
* **rendered with zero live markup**: markup placed in the partnership name, the LAD,
  force-area and LSOA names of the lookups, an intervention's name and description, a
  local indicator's label, group, comparator, source and process-change name is shown
  as text. The report sections are rendered in process (every HTML fragment they
  display is captured) and parsed with :mod:`html.parser`: no ``<script>`` or other
  active element, no ``on*=`` attribute, no ``javascript:`` URL and no remote image may
  come from data. One slow test renders a whole report with ``csp run``.

``CORPUS_COUNTS`` at the bottom is filled as the tests run (printed with ``-s``).
"""
from __future__ import annotations

import csv
import html.parser
import re
import shutil
from pathlib import Path

import matplotlib
import pandas as pd
import pytest
import yaml

matplotlib.use("Agg")

from csp_analysis import escape, ingest, local_indicators, lookups, params, report, store  # noqa: E402
from csp_analysis.local_indicators import COLUMNS, LocalIndicatorError, read_local_indicators  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MARK = "XSS"
PAYLOADS = {
    "script": f"<script>alert('{MARK}')</script>",
    "img": f"\"><img src=x onerror=alert('{MARK}')>",
    "md_js_link": f"[click](javascript:alert('{MARK}'))",
    "html_js_link": f"<a href=\"javascript:alert('{MARK}')\">x</a>",
    "svg": f"<svg onload=alert('{MARK}')>",
    "iframe": f"<iframe src=\"javascript:alert('{MARK}')\"></iframe>",
    "remote_img": f"![t](https://evil.example/{MARK}.png)",
    "details": f"<details open ontoggle=alert('{MARK}')>",
    "mathtext": f"$x$ <b onmouseover=alert('{MARK}')>",
}
ACTIVE_TAGS = {"script", "iframe", "object", "embed", "svg", "math", "style", "link", "meta", "base", "form",
               "input", "button", "details", "textarea", "select", "frame", "frameset", "video", "audio", "source"}
URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "background", "srcset"}

CORPUS_COUNTS = {"cases": 0, "clear_errors": 0, "injection_sites": 0, "live_injections": 0}


# --------------------------------------------------------------------------- the markup checker


class _LiveMarkup(html.parser.HTMLParser):
    """Collects live markup: active elements, event-handler attributes, script URLs,
    remote images. ``page=True`` (a whole page: a report or the index) only flags script
    elements that carry the marker, since the page template has scripts of its own, and lets
    the index's own filter controls (form, input, select, button, details) through: those
    are still flagged when they carry an event handler or a script URL (checked above)."""

    def __init__(self, page: bool = False):
        super().__init__(convert_charrefs=True)
        self.page = page
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            v = (value or "").strip().lower()
            if name.lower().startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if name.lower() in URL_ATTRS and re.match(r"^\s*(javascript|vbscript|data:text/html)", v):
                self.found.append(f"<{tag} {name}={value[:40]!r}>")
            if tag == "img" and name == "src" and not v.startswith("data:image/"):
                self.found.append(f"<img src={value[:40]!r}> (remote or broken image)")
        if tag in ACTIVE_TAGS:
            if tag == "script" and self.page:
                self._in_script = True
            elif not (self.page and tag in ("style", "link", "meta", "form", "input", "select", "button",
                                            "details")):
                self.found.append(f"<{tag}>")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and MARK in data:
            self.found.append("<script> from data")


def live_markup(fragment: str, page: bool = False) -> list[str]:
    """Live markup found in ``fragment`` (empty when none)."""
    p = _LiveMarkup(page=page)
    p.feed(fragment)
    p.close()
    return p.found


def test_checker_finds_live_markup_and_passes_escaped_text():
    for payload in PAYLOADS.values():
        rendered = escape.render_markdown(f"Name: {payload}")
        assert not live_markup(rendered), (payload, rendered)
    # the checker itself is not blind: raw payloads are flagged
    flagged = [k for k, v in PAYLOADS.items() if live_markup(v)]
    assert set(flagged) >= {"script", "img", "html_js_link", "svg", "iframe", "details", "mathtext"}
    assert live_markup('<p><a download="x.csv" href="data:text/csv;base64,AA==">Download CSV</a></p>') == []


# --------------------------------------------------------------------------- the escaping helpers


def test_render_markdown_keeps_project_formatting_and_heading_ids():
    r = escape.MarkdownRenderer()
    out = r.render("# Trends: Riverton\n\n**Area:** X (Y).  \nnext\n\n## Summary\n\n## Summary")
    assert '<h1 id="trends-riverton">' in out and "<strong>Area:</strong>" in out and "<br />" in out
    assert '<h2 id="summary">' in out and '<h2 id="summary-2">' in out


def test_escape_md_shows_the_string_as_written():
    for payload in list(PAYLOADS.values()) + ["**bold** _x_ `code` # not a heading", "a\n# b\n- c"]:
        out = escape.render_markdown(escape.escape_md(payload))
        assert "<strong>" not in out and "<h1" not in out and "<code>" not in out and "<li>" not in out
        text = re.sub(r"<[^>]+>", "", out).strip()
        assert html_unescape(text) == re.sub(r"[\r\n]+", " ", payload)


def html_unescape(s: str) -> str:
    import html as _h

    return _h.unescape(s)


def test_chart_text_from_data_is_not_mathtext():
    import matplotlib.pyplot as plt

    assert escape.mpl_text("cost $5 to $10") == r"cost \$5 to \$10"
    name = r"Area $\notacommand{x}$ <script>"  # invalid mathtext: drawing it as mathtext raises
    with matplotlib.rc_context({"text.parse_math": True}):
        fig, ax = plt.subplots()
        ax.set_title(name)
        with pytest.raises(ValueError):
            fig.canvas.draw()
        plt.close(fig)
        fig, ax = plt.subplots()
        ax.set_title(escape.mpl_text(name))  # the helper, for a chart drawn with mathtext on
        fig.canvas.draw()
        plt.close(fig)
    with matplotlib.rc_context():
        escape.disable_mathtext()  # what start_report does for every chart of a report
        fig, ax = plt.subplots()
        t = ax.set_title(name)
        fig.canvas.draw()
        assert t.get_text() == name
        plt.close(fig)


# --------------------------------------------------------------------------- params: clear errors

GOOD = """\
name: Test Partnership
slug: test
lad_codes: [E08000016]
forces: [south-yorkshire]
window: {start: 2022-01, end: 2025-12}
"""


def _write(folder: Path, text: str | bytes, name: str = "test.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    f = folder / name
    (f.write_bytes if isinstance(text, bytes) else f.write_text)(text)
    return f


PARAMS_CASES = [
    # (id, text appended to / replacing GOOD, expected fragments of the error, expected line or None)
    ("notebook_traversal", GOOD + "notebooks: ['../../somewhere/evil']\n", ["field 'notebooks'", "unknown notebook",
                                                                           "01_trends"], 6),
    ("notebook_unknown", GOOD + "notebooks: [05_magic]\n", ["field 'notebooks'", "use one of"], 6),
    ("comparator_traversal", GOOD + "comparators: ['../../etc/passwd']\n", ["field 'comparators'", "not a partnership slug"], 6),
    ("comparator_unknown", GOOD + "comparators: [atlantis]\n", ["field 'comparators[0]'", "unknown partnership 'atlantis'"], 6),
    ("iv_comparison_unknown", GOOD + "interventions:\n  - name: X\n    start: 2023-01\n    comparison: [atlantis]\n",
     ["field 'interventions[0].comparison[0]'", "unknown partnership"], 9),
    ("iv_comparison_traversal", GOOD + "interventions:\n  - name: X\n    start: 2023-01\n    comparison: ['../x']\n",
     ["field 'interventions[0].comparison'", "neither an LSOA code nor a partnership slug"], 9),
    ("iv_buffer_not_lsoa", GOOD + "interventions:\n  - name: X\n    start: 2023-01\n    buffer: [atlantis]\n",
     ["field 'interventions[0].buffer'", "not an LSOA code"], 9),
    ("threshold_true", GOOD + "small_number_threshold: true\n", ["field 'small_number_threshold'", "valid integer"], 6),
    ("threshold_float", GOOD + "small_number_threshold: 2.5\n", ["field 'small_number_threshold'", "valid integer"], 6),
    ("threshold_string", GOOD + "small_number_threshold: '5'\n", ["field 'small_number_threshold'", "valid integer"], 6),
    ("threshold_negative", GOOD + "small_number_threshold: -1\n", ["field 'small_number_threshold'", "greater than"], 6),
    ("phase_in_bool", GOOD + "interventions:\n  - name: X\n    start: 2023-01\n    phase_in_months: true\n",
     ["field 'interventions[0].phase_in_months'", "valid integer"], 9),
    ("duplicate_key", GOOD + "name: Another name\n", ["duplicate key 'name'", "first on line 1, again on line 6"], 6),
    ("duplicate_nested_key", GOOD.replace("end: 2025-12}", "end: 2025-12, end: 2024-12}"), ["duplicate key 'end'"], 5),
    ("intervention_2030", GOOD + "interventions:\n  - name: X\n    start: 2030-01\n",
     ["field 'interventions[0].start'", "2030-01 is outside 2010-12"], 8),
    ("window_0001_9999", GOOD.replace("start: 2022-01, end: 2025-12", "start: 0001-01, end: 9999-12"),
     ["field 'window.start'", "field 'window.end'", "outside"], 5),
    ("window_before_police_data", GOOD.replace("start: 2022-01", "start: 2009-01"), ["field 'window.start'", "2010-12"], 5),
    ("process_change_1900", GOOD + "local_data:\n  - path: x.csv\n    process_changes:\n      - name: P\n"
     "        start: 1900-01\n        indicators: [a]\n", ["field 'local_data[0].process_changes[0].start'", "outside"], 10),
    ("name_too_long", GOOD.replace("Test Partnership", "A" * 201), ["field 'name'", "at most 200 characters"], 1),
    ("name_empty", GOOD.replace("Test Partnership", "''"), ["field 'name'", "at least 1 character"], 1),
    ("description_too_long", GOOD + "description: " + "d" * 5001 + "\n", ["field 'description'", "at most 5000"], 6),
    ("iv_description_too_long", GOOD + "interventions:\n  - name: X\n    start: 2023-01\n    description: " + "d" * 5001 + "\n",
     ["field 'interventions[0].description'", "at most 5000"], 9),
    ("local_abs_outside", GOOD + "local_data:\n  - path: /etc/passwd\n", ["field 'local_data[0].path'", "outside the allowed folders"], 7),
    ("local_dotdot", GOOD + "local_data:\n  - path: ../../../../etc/passwd\n", ["field 'local_data[0].path'", "outside the allowed"], 7),
    ("local_missing", GOOD + "local_data:\n  - path: nope.csv\n", ["field 'local_data[0].path'", "file not found"], 7),
    ("unknown_field", GOOD + "colour: blue\n", ["field 'colour'", "unknown field"], 6),
    ("not_yaml", GOOD + "window: {start: [\n", ["not valid YAML", "line"], None),
    ("yaml_list", "- a\n- b\n", ["expected a mapping"], None),
    ("yaml_python_tag", GOOD + "name: !!python/object/apply:os.system ['echo hi']\n", ["not valid YAML"], None),
    ("not_utf8", GOOD.encode() + b"description: caf\xe9\n", ["not UTF-8"], None),
    ("slug_mismatch", GOOD.replace("slug: test", "slug: other"), ["field 'slug'", "does not match the file name"], 2),
]


@pytest.mark.parametrize("case,text,needles,line", PARAMS_CASES, ids=[c[0] for c in PARAMS_CASES])
def test_bad_params_give_a_clear_error(tmp_path, case, text, needles, line):
    f = _write(tmp_path / "params", text)
    CORPUS_COUNTS["cases"] += 1
    with pytest.raises(params.ParamsError) as exc:
        params.load_params(f)
    msg = str(exc.value)
    assert str(f) in msg, msg
    for n in needles:
        assert n in msg, (n, msg)
    if line is not None:
        assert f"line {line}" in msg, msg
    CORPUS_COUNTS["clear_errors"] += 1


def test_fifty_megabyte_description_rejected_fast(tmp_path):
    import time

    f = tmp_path / "params" / "test.yaml"
    f.parent.mkdir()
    with f.open("w") as fh:
        fh.write(GOOD + "description: ")
        fh.write("x" * (50 * 1024 * 1024))
    CORPUS_COUNTS["cases"] += 1
    t0 = time.perf_counter()
    with pytest.raises(params.ParamsError, match="at most 262,144 bytes"):
        params.load_params(f)
    assert time.perf_counter() - t0 < 1.0
    CORPUS_COUNTS["clear_errors"] += 1


def test_symlink_out_of_the_params_folder_is_refused(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.csv").write_text("partnership\n")
    pdir = tmp_path / "params"
    pdir.mkdir()
    (pdir / "link.csv").symlink_to(outside / "secret.csv")
    (pdir / "dirlink").symlink_to(outside, target_is_directory=True)
    for i, path in enumerate(("link.csv", "dirlink/secret.csv")):
        CORPUS_COUNTS["cases"] += 1
        f = _write(pdir, GOOD + f"local_data:\n  - path: {path}\n")
        with pytest.raises(params.ParamsError, match=r"line 7: field 'local_data\[0\].path'.*outside the allowed"):
            params.load_params(f)
        CORPUS_COUNTS["clear_errors"] += 1


def test_local_data_inside_the_folder_or_a_named_root_is_accepted(tmp_path, monkeypatch):
    pdir = tmp_path / "params"
    (pdir / "local").mkdir(parents=True)
    (pdir / "local" / "a.csv").write_text("x\n")
    root = tmp_path / "shared_root"
    root.mkdir()
    (root / "b.csv").write_text("x\n")
    f = _write(pdir, GOOD + f"local_data:\n  - path: local/a.csv\n  - path: {root / 'b.csv'}\n")
    with pytest.raises(params.ParamsError, match=r"local_data\[1\]\.path.*outside"):
        params.load_params(f)
    p = params.load_params(f, data_roots=[root])
    assert p.local_data[0].path == (pdir / "local" / "a.csv").resolve()
    assert p.local_data[1].path == (root / "b.csv").resolve()
    monkeypatch.setenv(params.DATA_ROOT_ENV, str(root))
    assert params.load_params(f).local_data[1].path == (root / "b.csv").resolve()
    # the project's layout: data/local beside the params folder, written as data/local/<file>
    (tmp_path / "data" / "local").mkdir(parents=True)
    (tmp_path / "data" / "local" / "c.csv").write_text("x\n")
    monkeypatch.delenv(params.DATA_ROOT_ENV)
    f = _write(pdir, GOOD + "local_data:\n  - path: data/local/c.csv\n")
    assert params.load_params(f).local_data[0].path == (tmp_path / "data" / "local" / "c.csv").resolve()


def test_shipped_notebook_names_are_accepted(tmp_path):
    names = params.available_notebooks()
    assert {"01_trends", "02_disproportionality", "03_intervention_effects", "04_local_indicators"} <= set(names)
    f = _write(tmp_path / "params", GOOD + f"notebooks: [{', '.join(names)}]\n")
    assert params.load_params(f).notebooks == names


# --------------------------------------------------------------------------- params against the store


def _lookup_store(db: Path) -> Path:
    con = store.connect(db)
    con.execute("INSERT INTO lad_lookup VALUES ('E08000016', 'Barnsley', NULL, NULL, 'E23000011', 'South Yorkshire', 't')")
    con.execute("INSERT INTO lsoa_lookup VALUES ('E01007291', 'Barnsley 013A', 'E08000016', 'Barnsley', NULL, NULL, "
                "2021, 't')")
    con.close()
    return db


@pytest.mark.parametrize("case,area,needle", [
    ("lsoa_name_unknown", "names: [Barnsley 013A, 'Barnsley 999Z']", "area.names[1]': LSOA name 'Barnsley 999Z'"),
    ("lsoa_code_unknown", "codes: [E01099999]", "area.codes[0]': LSOA code 'E01099999'"),
    ("lsoa_name_injected", f"names: [\"{PAYLOADS['script']}\"]", "area.names[0]': LSOA name"),
])
def test_intervention_lsoas_must_be_in_the_store(tmp_path, case, area, needle):
    db = _lookup_store(tmp_path / "s.duckdb")
    f = _write(tmp_path / "params", GOOD + f"interventions:\n  - name: X\n    start: 2023-01\n    area:\n"
                                           f"      type: lsoas\n      {area}\n")
    p = params.load_params(f)
    CORPUS_COUNTS["cases"] += 1
    con = store.connect(db, read_only=True)
    try:
        with pytest.raises(params.ParamsError) as exc:
            params.check_against_store(p, con, f)
    finally:
        con.close()
    assert str(f) in str(exc.value) and needle in str(exc.value)
    CORPUS_COUNTS["clear_errors"] += 1


def test_intervention_before_the_data_or_no_data_is_a_warning(tmp_path):
    db = _lookup_store(tmp_path / "s.duckdb")
    f = _write(tmp_path / "params", GOOD + "interventions:\n  - name: X\n    start: 2023-01\n")
    p = params.load_params(f)
    con = store.connect(db, read_only=True)
    try:
        w = params.check_against_store(p, con, f)
    finally:
        con.close()
    assert any("no street-level data" in x for x in w)
    assert any("could not be checked" in x for x in w)


# --------------------------------------------------------------------------- local CSVs: clear errors


def _rows(**over) -> list[dict]:
    base = {c: "" for c in COLUMNS}
    r = dict(base, partnership="test", indicator="referrals", indicator_label="Referrals", period="2022/23",
             period_type="financial_year", value="10", unit="count", counts_children="true", source="Annual report")
    r.update(over)
    return [r]


def _write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(COLUMNS), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return path


LOCAL_CASES = [
    ("label_too_long", lambda p: _write_csv(p, _rows(indicator_label="L" * 301)),
     ["row 1 (line 2), column 'indicator_label'", "at most 300"]),
    ("source_too_long", lambda p: _write_csv(p, _rows(source="s" * 2001)), ["column 'source'", "at most 2,000"]),
    ("stray_quote", lambda p: p.write_text(
        ",".join(COLUMNS) + "\n" + "\n".join(
            f"test,r{i},Label,2022/23,financial_year,{i},count,,,,,true,src" for i in range(5))
        + '\ntest,r9,"Label,2022/23,financial_year,1,count,,,,,true,src\n'
        + "\n".join(f"test,s{i},Label,2022/23,financial_year,{i},count,,,,,true,src" for i in range(40)) + "\n"),
     ["line 7", "quote"]),
    ("excel_file", lambda p: p.write_bytes(b"PK\x03\x04rest"), ["not a CSV file", "Excel"]),
    ("binary", lambda p: p.write_bytes(b"a,b\x00c\n"), ["binary"]),
    ("latin1", lambda p: p.write_bytes((",".join(COLUMNS) + "\ntest,r,Caf\xe9").encode("latin-1")), ["line 2", "not UTF-8"]),
    ("semicolons", lambda p: p.write_text(";".join(COLUMNS) + "\n"), ["line 1", "semicolons"]),
    ("bad_slug", lambda p: _write_csv(p, _rows(partnership="../etc")), ["column 'partnership'", "not a slug"]),
    ("value_text", lambda p: _write_csv(p, _rows(value="<script>")), ["column 'value'", "not a number"]),
]


@pytest.mark.parametrize("case,make,needles", LOCAL_CASES, ids=[c[0] for c in LOCAL_CASES])
def test_bad_local_csv_gives_a_clear_error(tmp_path, case, make, needles):
    f = tmp_path / "local.csv"
    make(f)
    CORPUS_COUNTS["cases"] += 1
    with pytest.raises(LocalIndicatorError) as exc:
        read_local_indicators(f)
    msg = str(exc.value)
    assert str(f) in msg, msg
    for n in needles:
        assert n in msg, (n, msg)
    CORPUS_COUNTS["clear_errors"] += 1


def test_oversized_local_csv_is_refused_without_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(local_indicators, "MAX_FILE_BYTES", 100)
    f = _write_csv(tmp_path / "big.csv", _rows() * 5)
    CORPUS_COUNTS["cases"] += 1
    with pytest.raises(LocalIndicatorError, match="at most 100 bytes"):
        read_local_indicators(f)
    CORPUS_COUNTS["clear_errors"] += 1


# --------------------------------------------------------------------------- injected text: rendered inert

# the injection sites: (what, payload key)
SITES = {
    "partnership name": "script",
    "LAD name (lookup)": "img",
    "force-area name (lookup)": "details",
    "LSOA name 001A (lookup and params)": "script",
    "LSOA name 001B (lookup and params)": "img",
    "LSOA name 001C (lookup and params)": "svg",
    "intervention name": "img",
    "intervention description": "html_js_link",
    "local indicator label": "script",
    "local indicator group": "img",
    "local indicator comparator": "iframe",
    "local indicator source": "md_js_link",
    "process change name": "details",
    "process change description": "remote_img",
    "local data description": "mathtext",
}
# six months before the intervention: too few to fit models, so the interventions report renders its
# "what the data can say" path in half a second (the model sections narrate through the same ctx.say)
STREET_MONTHS = [str(m) for m in pd.period_range("2022-10", "2023-12", freq="M")]


def _inject_lookups(demo: Path) -> None:
    geo = demo / "geography"
    lad = pd.read_csv(geo / "lad_csp_pfa_lookup.csv", dtype=str)
    lad.loc[lad["LAD17CD"] == "X08000001", "LAD17NM"] = "Riverton" + PAYLOADS[SITES["LAD name (lookup)"]]
    lad["PFA17NM"] = lad["PFA17NM"] + PAYLOADS[SITES["force-area name (lookup)"]]
    lad.to_csv(geo / "lad_csp_pfa_lookup.csv", index=False)
    for f, col in (("lsoa21_lookup.csv", "lsoa21nm"), ("lsoa11_lookup.csv", "lsoa11nm")):
        t = pd.read_csv(geo / f, dtype=str)
        for suffix, site in (("001A", "LSOA name 001A (lookup and params)"), ("001B", "LSOA name 001B (lookup and params)"),
                             ("001C", "LSOA name 001C (lookup and params)")):
            t.loc[t[col] == f"Riverton {suffix}", col] = f"Riverton {suffix} {PAYLOADS[SITES[site]]}"
        t.to_csv(geo / f, index=False)


def _local_rows() -> list[dict]:
    base = {c: "" for c in COLUMNS}
    lab = "Referrals " + PAYLOADS[SITES["local indicator label"]]
    src = "Annual report " + PAYLOADS[SITES["local indicator source"]]
    rows = []
    for m, v in zip(pd.period_range("2022-04", "2023-03", freq="M"), [30, 41, 35, 52, 47, 38, 60, 55, 49, 61, 58, 66]):
        rows.append(dict(base, partnership="riverton", indicator="referrals", indicator_label=lab, period=str(m),
                         period_type="month", value=v, denominator=100, unit="count", counts_children="true",
                         source=src))
    for g, v, cv in (("Police " + PAYLOADS[SITES["local indicator group"]], 300, 250), ("Schools", 150, 200)):
        for comp, val, cval in (("", v, ""), ("Neighbours " + PAYLOADS[SITES["local indicator comparator"]], "", cv)):
            rows.append(dict(base, partnership="riverton", indicator="sources", indicator_label="Referrals by source",
                             period="2022/23", period_type="financial_year", value=val, denominator=1000, group=g,
                             comparator=comp, comparator_value=cval, unit="count", counts_children="true", source=src))
    return rows


@pytest.fixture(scope="module")
def injected(tmp_path_factory):
    """A store from the synthetic data with markup in the lookups' names, and params for
    Riverton with markup in every free-text field."""
    from csp_analysis.synthetic import generate_demo_data

    root = tmp_path_factory.mktemp("injected")
    demo = root / "demo"
    generate_demo_data(demo)
    _inject_lookups(demo)
    db = root / "store.duckdb"
    con = store.connect(db)
    try:
        lookups.load_lookups(con, [demo / s for s in ("geography", "population", "deprivation")])
        ingest.ingest_paths(con, [demo / "police_uk" / "street" / m for m in STREET_MONTHS]
                            + [demo / "police_uk" / "stop_and_search" / m for m in STREET_MONTHS],
                            batch="test", progress=False)
    finally:
        con.close()
    pdir = root / "params"
    pdir.mkdir()
    for slug in ("easthaven", "northdale-southmoor"):
        shutil.copy(params.DEFAULT_PARAMS_DIR / f"{slug}.yaml", pdir / f"{slug}.yaml")
    raw = yaml.safe_load((params.DEFAULT_PARAMS_DIR / "riverton.yaml").read_text())
    raw["window"] = {"start": STREET_MONTHS[0], "end": STREET_MONTHS[-1]}
    raw["name"] = "Safer Riverton " + PAYLOADS[SITES["partnership name"]]
    iv = raw["interventions"][0]
    iv["name"] = "Town-centre CCTV " + PAYLOADS[SITES["intervention name"]]
    iv["description"] = "New cameras. " + PAYLOADS[SITES["intervention description"]]
    iv["start"] = "2023-04"
    iv["area"]["names"] = [
        f"Riverton 001A {PAYLOADS[SITES['LSOA name 001A (lookup and params)']]}",
        f"Riverton 001B {PAYLOADS[SITES['LSOA name 001B (lookup and params)']]}",
        f"Riverton 001C {PAYLOADS[SITES['LSOA name 001C (lookup and params)']]}",
        "Riverton 001D", "Riverton 001E"]
    _write_csv(pdir / "riverton_local.csv", _local_rows())
    raw["local_data"] = [{
        "path": "riverton_local.csv",
        "description": "Local figures " + PAYLOADS[SITES["local data description"]],
        "process_changes": [{"name": "New triage " + PAYLOADS[SITES["process change name"]], "start": "2022-10",
                             "indicators": ["referrals"],
                             "description": "Triage " + PAYLOADS[SITES["process change description"]]}]}]
    (pdir / "riverton.yaml").write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    return db, pdir


class _Capture:
    """Every fragment a report displays, as HTML (IPython Markdown objects are converted
    the way nbconvert converts a text/markdown output, so the checker sees what a reader
    would get)."""

    def __init__(self):
        self.fragments: list[str] = []

    def display(self, obj):
        data = getattr(obj, "data", None)
        if type(obj).__name__ == "Markdown":
            from nbconvert.filters.markdown_mistune import markdown2html_mistune

            self.fragments.append(markdown2html_mistune(data))
        elif isinstance(data, str):
            self.fragments.append(data)

    def display_html(self, s, plain=None):
        self.fragments.append(s)


def _render(monkeypatch, db, pdir, out, notebook, body) -> list[str]:
    import matplotlib.pyplot as plt

    cap = _Capture()
    monkeypatch.setattr(report, "_display", cap.display)
    monkeypatch.setattr(report, "_display_html", cap.display_html)
    ctx = report.start_report("riverton", notebook, params_dir=pdir, store=db, output_dir=out)
    try:
        body(ctx)
        ctx.footer()
    finally:
        ctx.con.close()
        plt.close("all")
    return cap.fragments


def _check(fragments: list[str]) -> dict:
    """Live markup per fragment; which payloads appear as visible text."""
    live = [(i, f) for i, frag in enumerate(fragments) for f in live_markup(frag)]
    text = html_unescape(re.sub(r"<[^>]+>", " ", " ".join(fragments)))
    return {"live": live, "text": text}


def test_injected_text_is_inert_in_title_interventions_and_footer(injected, tmp_path, monkeypatch):
    from csp_analysis.sections import interventions

    db, pdir = injected

    def body(ctx):
        ctx.title("Intervention effects")
        res = interventions.analyse(ctx)
        interventions.summary(ctx, res)
        for item in res:
            interventions.intervention_report(ctx, item)

    frags = _render(monkeypatch, db, pdir, tmp_path / "o3", "03_intervention_effects", body)
    got = _check(frags)
    sites = ["partnership name", "LAD name (lookup)", "force-area name (lookup)", "intervention name",
             "intervention description", "LSOA name 001A (lookup and params)", "LSOA name 001B (lookup and params)",
             "LSOA name 001C (lookup and params)"]
    CORPUS_COUNTS["injection_sites"] += len(sites)
    CORPUS_COUNTS["live_injections"] += len(got["live"])
    assert got["live"] == [], got["live"][:5]
    # shown as text, not dropped: the payloads can be read in the report
    assert PAYLOADS["script"] in got["text"] and "onerror=alert" in got["text"]
    assert "Town-centre CCTV" in got["text"] and "javascript:alert" in got["text"]
    # headline labels and sentences hold the raw strings, for the index to escape
    import json

    heads = json.loads((tmp_path / "o3" / "headlines" / "03_intervention_effects.json").read_text())
    assert any(h["label"] == "Town-centre CCTV " + PAYLOADS["img"] for h in heads)


def test_injected_text_is_inert_in_disproportionality(injected, tmp_path, monkeypatch):
    from csp_analysis.sections import disproportionality as dispro

    db, pdir = injected

    def body(ctx):
        ctx.title("Disproportionality")
        res = dispro.analyse(ctx)
        dispro.summary(ctx, res)
        dispro.stop_search_section(ctx, res)
        dispro.places_section(ctx, res)
        dispro.comparison_section(ctx, res)
        dispro.outcomes_section(ctx, res)

    frags = _render(monkeypatch, db, pdir, tmp_path / "o2", "02_disproportionality", body)
    got = _check(frags)
    CORPUS_COUNTS["live_injections"] += len(got["live"])
    assert got["live"] == [], got["live"][:5]
    assert "Safer Riverton" in got["text"]


def test_injected_text_is_inert_in_local_indicators(injected, tmp_path, monkeypatch):
    from csp_analysis.sections import local_indicators as local

    db, pdir = injected

    def body(ctx):
        ctx.title("Local indicators")
        res = local.analyse(ctx)
        assert res.ok, res.problems
        local.summary(ctx, res)
        for fn in (local.changes_section, local.proportions_section, local.comparators_section,
                   local.before_after_section, local.other_figures_section, local.data_notes):
            fn(ctx, res)
        local.sources_section(ctx, res)

    frags = _render(monkeypatch, db, pdir, tmp_path / "o4", "04_local_indicators", body)
    got = _check(frags)
    sites = [s for s in SITES if s.startswith(("local", "process"))]
    CORPUS_COUNTS["injection_sites"] += len(sites)
    CORPUS_COUNTS["live_injections"] += len(got["live"])
    assert got["live"] == [], got["live"][:5]
    assert "Referrals <script>" in got["text"] and "New triage <details" in got["text"]


def test_injected_text_is_inert_in_trends(injected, tmp_path, monkeypatch):
    from csp_analysis.sections import trends

    db, pdir = injected

    def body(ctx):
        ctx.title("Crime and anti-social behaviour trends")
        res = trends.analyse(ctx)
        trends.summary(ctx, res)
        trends.data_quality(ctx, res)
        trends.headline_table(ctx, res)
        trends.hot_spots(ctx, res)

    frags = _render(monkeypatch, db, pdir, tmp_path / "o1", "01_trends", body)
    got = _check(frags)
    CORPUS_COUNTS["live_injections"] += len(got["live"])
    assert got["live"] == [], got["live"][:5]


@pytest.mark.slow
def test_csp_run_report_page_has_no_live_markup(injected, tmp_path):
    """One whole page through papermill and nbconvert, as the reader gets it."""
    from csp_analysis import runner

    db, pdir = injected
    out = tmp_path / "out"
    [r] = runner.run_all(["riverton"], params_dir=pdir, outputs_dir=out, store=db, notebooks=("04_local_indicators",),
                         log=lambda *_: None)
    page = (out / "riverton" / "04_local_indicators.html").read_text(encoding="utf-8")
    found = live_markup(page, page=True)
    CORPUS_COUNTS["live_injections"] += len(found)
    assert found == [], found[:5]
    assert "Referrals &lt;script&gt;" in page
    index = (out / "index.html").read_text(encoding="utf-8")
    assert live_markup(index, page=True) == []


def test_zz_corpus_counts(capsys):
    """Print the corpus counts (run last in this module)."""
    with capsys.disabled():
        print(f"\nbad-input corpus: {CORPUS_COUNTS}")
    assert CORPUS_COUNTS["live_injections"] == 0

"""Tests for csp_analysis.params: the typed schema and its error messages."""
from __future__ import annotations

from pathlib import Path

import pytest

from csp_analysis import params, store

GOOD = """\
name: Test Partnership
slug: test
lad_codes: [E08000016]
forces: [south-yorkshire]
window: {start: 2022-01, end: 2025-12}
priority_crime_types: [Burglary]
"""


def write(tmp_path: Path, text: str, name: str = "test.yaml") -> Path:
    d = tmp_path / "params"
    d.mkdir(exist_ok=True)
    f = d / name
    f.write_text(text)
    return f


def test_good_params_load(tmp_path):
    p = params.load_params(write(tmp_path, GOOD))
    assert p.slug == "test" and p.lad_codes == ["E08000016"]
    assert f"{p.start:%Y-%m}" == "2022-01" and p.small_number_threshold == 5


def test_every_shipped_params_file_is_valid():
    files = params.find_params()
    assert {"riverton", "northdale-southmoor", "easthaven", "barnsley", "bassetlaw-newark-sherwood",
            "bolsover", "kirklees"} <= set(files)
    for f in files.values():
        params.load_params(f)


@pytest.mark.parametrize("text,field,needle", [
    (GOOD + "colour: blue\n", "colour", "unknown field"),
    (GOOD.replace("2022-01", "2022-13"), "window.start", "not a month"),
    (GOOD.replace("start: 2022-01, end: 2025-12", "start: 2025-01, end: 2022-12"), "window", "before start"),
    (GOOD.replace("E08000016", "Barnsley"), "lad_codes", "not a LAD code"),
    (GOOD.replace("[Burglary]", "[Burglarly]"), "priority_crime_types", "unknown crime type"),
    (GOOD.replace("slug: test", "slug: Test Partnership"), "slug", "not a slug"),
    (GOOD + "small_number_threshold: -1\n", "small_number_threshold", "greater than or equal"),
    (GOOD + "interventions:\n  - name: CCTV\n    start: 2023-02-30x\n", "interventions[0].start", "not a month"),
])
def test_bad_params_name_file_and_field(tmp_path, text, field, needle):
    f = write(tmp_path, text)
    with pytest.raises(params.ParamsError) as exc:
        params.load_params(f)
    msg = str(exc.value)
    assert str(f) in msg and f"field '{field}" in msg and needle in msg


def test_missing_required_field(tmp_path):
    f = write(tmp_path, GOOD.replace("forces: [south-yorkshire]\n", ""))
    with pytest.raises(params.ParamsError, match=r"field 'forces': Field required"):
        params.load_params(f)


def test_slug_must_match_file_name(tmp_path):
    f = write(tmp_path, GOOD, name="other.yaml")
    with pytest.raises(params.ParamsError, match="does not match the file name"):
        params.load_params(f)


def test_missing_local_data_file(tmp_path):
    f = write(tmp_path, GOOD + "local_data:\n  - path: data/local/nope.csv\n")
    with pytest.raises(params.ParamsError, match=r"field 'local_data\[0\].path': file not found"):
        params.load_params(f)


def test_not_yaml_mapping(tmp_path):
    with pytest.raises(params.ParamsError, match="mapping"):
        params.load_params(write(tmp_path, "- just\n- a list\n"))


def test_unknown_lad_code_against_store(tmp_path):
    con = store.connect(tmp_path / "s.duckdb")
    con.execute("INSERT INTO lad_lookup VALUES ('E08000016','Barnsley','E22000259','Barnsley','E23000011',"
                "'South Yorkshire','t')")
    p = params.load_params(write(tmp_path, GOOD.replace("[E08000016]", "[E08000016, E08000099]")))
    with pytest.raises(params.ParamsError, match=r"field 'lad_codes\[1\]': unknown LAD code 'E08000099'"):
        params.check_against_store(p, con, "test.yaml")
    ok = params.load_params(write(tmp_path, GOOD))
    assert params.check_against_store(ok, con) == ["no street-level data for force 'south-yorkshire' in the store"]

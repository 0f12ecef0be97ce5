"""Shared test fixtures.

* ``demo_store``: the synthetic default data and a store built from them (``csp setup-demo``),
  once per test session, shared by every module that needs a whole synthetic store.
* ``reference_tests``: published-value fixtures, kept in ``tests/fixtures/reference-tests``
  (always present).
* ``shared_data``, ``public_datasets``: ``../shared`` beside the repository (CI has it; a
  user's fresh machine may not); tests using them are skipped when it is absent.

Markers (``pyproject.toml``): ``slow`` (end-to-end rendering, browser, calibration by
simulation; ``pytest -m "not slow"`` is the quick run), ``realdata`` (set here on every
test that uses ``shared_data``), ``browser``.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _shared_or_skip(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present (real/shared data tests skip without ../shared)")
    return path


def pytest_collection_modifyitems(config, items):
    """Every test that uses the real open data (``shared_data``) is marked ``realdata``."""
    for item in items:
        if "shared_data" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.realdata)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real open data)."""
    return _shared_or_skip("data")


@pytest.fixture(scope="session")
def reference_tests() -> Path:
    """Published-value fixtures (PHEindicatormethods, netlib STL, pyMannKendall): the copy in
    ``tests/fixtures/reference-tests`` (see its README for sources and licences)."""
    return FIXTURES / "reference-tests"


@pytest.fixture(scope="session")
def public_datasets() -> Path:
    """``../shared/public-datasets`` (classic published datasets)."""
    return _shared_or_skip("public-datasets")


@dataclass(frozen=True)
class DemoStore:
    """The session's synthetic store.

    ``root``: the folder holding both; ``data``: the synthetic files (``root / "demo"``,
    data.police.uk and ONS formats, ``planted_effects.json``); ``store``: the DuckDB store
    built from them. Tests must not write to ``store``: use :meth:`copy_store` first.
    """

    root: Path
    data: Path
    store: Path

    def copy_store(self, folder: Path, name: str = "store.duckdb") -> Path:
        """A private copy of the store in ``folder`` (for tests that change it)."""
        folder.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy(self.store, folder / name))


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory) -> DemoStore:
    """The synthetic default data and their store (``csp setup-demo``), built once per session."""
    from csp_analysis import cli

    root = tmp_path_factory.mktemp("demo_store")
    data, db = root / "demo", root / "store.duckdb"
    assert cli.main(["setup-demo", "--data", str(data), "--store", str(db), "--quiet"]) == 0
    return DemoStore(root=root, data=data, store=db)

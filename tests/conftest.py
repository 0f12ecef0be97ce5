"""Shared test fixtures.

Real-data tests use ``../shared`` beside the repository (CI has it; a user's fresh
machine may not) and are skipped when it is absent.
"""
from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"


def _shared_or_skip(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present (real/shared data tests skip without ../shared)")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real open data)."""
    return _shared_or_skip("data")


@pytest.fixture(scope="session")
def reference_tests() -> Path:
    """``../shared/reference-tests`` (a peer's fixtures with expected values)."""
    return _shared_or_skip("reference-tests")


@pytest.fixture(scope="session")
def public_datasets() -> Path:
    """``../shared/public-datasets`` (classic published datasets)."""
    return _shared_or_skip("public-datasets")

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


# ---------------------------------------------------------------------------- markers
# ``slow`` is set here, in one place, rather than by decorators spread over 30 files: a test is
# slow when it needs a whole synthetic store or renders notebooks (SLOW_FIXTURES, SLOW_MODULES),
# or when it took 1.5 s or more in ``pytest --durations=0`` (SLOW_TESTS: calibration by
# simulation, real-data ingests; times measured on the shared 2-core machine under load, Dec
# 2026). ``pytest -m "not slow"`` then runs in about a minute; ``make test`` runs everything.
# When a test is renamed, rename it here too (an unknown name simply marks nothing).
SLOW_FIXTURES = {"demo_store", "injected"}
SLOW_MODULES = {
    "test_end_to_end", "test_browser", "test_runner",            # notebooks rendered by papermill
    "test_sections_interventions", "test_sections_trends", "test_sections_disproportionality",
    "test_sections_local_indicators", "test_maps",               # report sections on whole stores
    "test_synthetic", "test_synthetic_national",                 # the generators' full data sets
    "test_calibration_models", "test_calibration_rates",         # calibration by simulation
}
SLOW_TESTS = {
    "test_sections_trends_parts::test_compute_from_hand_made_frames",  # 3.7 s
    "test_sections_maps_parts::test_gi_star_finds_a_planted_cluster_and_the_map_draws_without_ctx",  # 2.9 s
    "test_bad_input::test_csp_run_report_page_has_no_live_markup",  # 17 s
    "test_bad_input::test_injected_text_is_inert_in_disproportionality",  # 15 s
    "test_bad_input::test_injected_text_is_inert_in_local_indicators",  # 4 s
    "test_bad_input::test_injected_text_is_inert_in_title_interventions_and_footer",  # 20 s
    "test_bad_input::test_injected_text_is_inert_in_trends",  # 9 s
    "test_boundaries::test_bad_boundary_files_name_the_file_and_problem",  # 2 s
    "test_boundaries::test_contiguity_weights_from_boundaries",  # 2 s
    "test_count_engine::test_robust_variance_holds_its_level_where_classical_does_not",  # 4 s
    "test_count_engine::test_robust_variance_not_overcautious_for_poisson_counts",  # 3 s
    "test_disproportionality::test_deprivation_decile_intervals_allow_for_overdispersion",  # 28 s
    "test_disproportionality::test_deprivation_gradient_recovers_planted_slope_and_rii",  # 22 s
    "test_disproportionality::test_find_rate_aggregated_equals_row_level_and_planted_difference",  # 21 s
    "test_disproportionality::test_location_quotient_coverage_with_dominant_area",  # 13 s
    "test_disproportionality::test_relative_rate_index_recovers_planted_ratio",  # 25 s
    "test_disproportionality::test_stop_search_published_rates_reproduced_exactly",  # 4 s
    "test_fetch::test_fetch_archive_then_ingest_then_only_what_changed",  # 3 s
    "test_funnels::test_null_flags_about_nominal_without_adjustment",  # 2 s
    "test_funnels::test_overdispersed_null_additive",  # 4 s
    "test_funnels::test_overdispersed_null_multiplicative",  # 4 s
    "test_geo::test_real_nottinghamshire_searches_repaired_into_nottinghamshire",  # 2 s
    "test_hotspots::test_emerging_classes_are_rare_on_spatially_random_maps",  # 4 s
    "test_hotspots::test_emerging_hot_spot_is_classified_emerging",  # 2 s
    "test_hotspots::test_neighbourhood_ratio_interval_allows_for_over_dispersion_and_covers",  # 15 s
    "test_hotspots::test_spatially_random_null_flags_no_more_than_the_nominal_rate",  # 19 s
    "test_ingest::test_killed_process_mid_ingest_leaves_store_unchanged",  # 6 s
    "test_ingest::test_malformed_files_get_clear_errors",  # 2 s
    "test_ingest::test_real_street_files_reconcile_with_manifest_twice",  # 25 s
    "test_init_params::test_real_ons_lookup_gives_every_partnership",  # 3 s
    "test_interventions_did::test_few_treated_clusters_null_rejection_rates",  # 488 s
    "test_interventions_did::test_gaussian_planted_effect_coverage_and_null_size",  # 15 s
    "test_interventions_did::test_many_monthly_leads_joint_test_does_not_explode",  # 13 s
    "test_interventions_did::test_planted_linear_pretrend_is_flagged",  # 86 s
    "test_interventions_did::test_poisson_planted_rate_ratio_coverage",  # 3 s
    "test_interventions_displacement::test_wdd_simulation_coverage_and_size",  # 4 s
    "test_interventions_its::test_no_change_false_positive_rate",  # 5 s
    "test_interventions_its::test_planted_step_and_slope_change_coverage",  # 4 s
    "test_interventions_power::test_mde_behaves_sensibly",  # 11 s
    "test_interventions_power::test_mde_matches_simulated_power",  # 10 s
    "test_interventions_power::test_result_object_and_plot",  # 8 s
    "test_null_report::test_null_partnership_verdicts_at_most_5_percent",  # 6 s
    "test_trends_concentration::test_bootstrap_interval_covers_planted_concentration",  # 2 s
    "test_trends_count_model::test_planted_trend_covered_and_null_not_flagged",  # 21 s
    "test_trends_count_model::test_poisson_family_on_poisson_data",  # 3 s
    "test_trends_mann_kendall::test_planted_trend_recovered_and_null_not_flagged",  # 9 s
    "test_trends_mann_kendall::test_seasonal_planted_trend_recovered_and_null_not_flagged",  # 50 s
}


def pytest_collection_modifyitems(config, items):
    """Set the ``slow`` marker (see above) and ``realdata`` on every test that uses the real
    open data (the ``shared_data`` fixture)."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        module = item.module.__name__.rsplit(".", 1)[-1] if getattr(item, "module", None) else ""
        name = getattr(item, "originalname", None) or item.name
        if module in SLOW_MODULES or names & SLOW_FIXTURES or f"{module}::{name}" in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
        if "shared_data" in names:
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
    """Classic published datasets the estimators are checked against: the copy of the files the
    tests use in ``tests/fixtures/public-datasets`` (see its README for origins), so the
    published-value checks always run."""
    return FIXTURES / "public-datasets"


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

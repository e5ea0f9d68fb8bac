"""Small generated scenarios shared by the generator tests (generated once per session)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from prefsync_audit.generate import generate_scenario, parse_drift


@pytest.fixture(scope="session")
def scenario(tmp_path_factory) -> Path:
    """10 000 persons, default drift, CSV."""
    out = tmp_path_factory.mktemp("scenario")
    generate_scenario(out, persons=10_000, seed=11)
    return out


@pytest.fixture(scope="session")
def truth(scenario: Path):
    return pq.read_table(scenario / "truth.parquet").to_pandas()


@pytest.fixture(scope="session")
def heavy_drift(tmp_path_factory) -> Path:
    """Every case planted often, including the untimed-denial edge case."""
    out = tmp_path_factory.mktemp("heavy")
    rates = (
        "suppression_gap=0.1,pending_sync=0.06,unverified_resubscribe=0.06,"
        "over_suppression=0.06,unconfirmed_grant=0.06,missing_preference=0.04,"
        "identity_conflict=0.03,unmapped_value=0.03,untimed_denial=0.03,quarantined_row=0.03"
    )
    generate_scenario(out, persons=4_000, seed=5, drift=parse_drift(rates))
    return out

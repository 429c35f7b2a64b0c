"""A lakehouse holds one fleet: another fleet's landing data is refused in one line, and a
real fleet change, when the user says so, is versioned instead of written over."""

from __future__ import annotations

import polars as pl
import pytest
from typer.testing import CliRunner

from altaviz.cli import app
from altaviz.fleet import SimulationRequest, simulate
from altaviz.lake.catalog import TABLES
from tests.conftest import START, read_table

runner = CliRunner()


@pytest.fixture(scope="module")
def two_fleets(tmp_path_factory):
    root = tmp_path_factory.mktemp("fleets")
    for name, seed in (("first", 1), ("other", 2)):
        simulate(
            SimulationRequest(output=root / name, compressors=20, days=1, seed=seed, start=START)
        )
    return root / "first", root / "other"


def pipeline(source, lake, *extra):
    return runner.invoke(
        app,
        ["pipeline", "--source", str(source), "--lakehouse", str(lake), "--skip-ml", *extra],
    )


def snapshot(lake):
    return {name: read_table(lake, name).height for name in TABLES}


def test_another_fleet_is_refused_and_a_real_change_is_versioned(two_fleets, tmp_path):
    first, other = two_fleets
    lake = tmp_path / "lake"
    assert pipeline(first, lake).exit_code == 0
    registered = read_table(lake, "compressor_metadata_history")
    assert registered.height == 20 and registered["valid_to"].null_count() == 20
    assert set(registered["change"]) == {"registered"}
    before = snapshot(lake)

    refused = pipeline(other, lake)
    assert refused.exit_code == 2, refused.output
    line = refused.stderr.strip()
    assert len(line.splitlines()) == 1
    assert "is not that fleet" in line and "--accept-fleet-change" in line
    assert "COMP-0001: " in line and "units differ" in line
    assert snapshot(lake) == before  # nothing landed, nothing recorded as a run

    # The same fleet again is no change at all.
    assert pipeline(first, lake).exit_code == 0
    assert read_table(lake, "compressor_metadata_history").height == 20

    accepted = pipeline(other, lake, "--accept-fleet-change")
    assert accepted.exit_code == 0, accepted.output
    current = read_table(lake, "compressor_metadata")
    incoming = pl.read_parquet(other / "compressor_metadata.parquet")
    assert (
        current.sort("compressor_id")["model"].to_list()
        == incoming.sort("compressor_id")["model"].to_list()
    )
    history = read_table(lake, "compressor_metadata_history")
    changed = history.filter(pl.col("change") != "registered")["compressor_id"].unique()
    assert changed.len() > 0
    for unit in changed.to_list():
        versions = history.filter(pl.col("compressor_id") == unit).sort("valid_from")
        assert versions.height == 2
        old, new = versions.row(0, named=True), versions.row(1, named=True)
        assert old["valid_to"] == new["valid_from"] and new["valid_to"] is None
        was = pl.read_parquet(first / "compressor_metadata.parquet").filter(
            pl.col("compressor_id") == unit
        )
        assert old["model"] == was["model"][0] or old["station_id"] == was["station_id"][0]

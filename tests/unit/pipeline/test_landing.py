"""land_batch, the one path into bronze: counts reconcile, rejects keep their reason, and a
replayed batch lands nothing twice."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import narwhals as nw
import polars as pl
import pytest

from altaviz.core.sensors import SENSORS
from altaviz.engines import Txn, open_engine
from altaviz.lake import catalog as lake
from altaviz.pipeline.landing import Gate, land_batch
from altaviz.settings import Settings

NOW = datetime(2026, 3, 2, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path, config):
    return open_engine("polars", tmp_path / "lake", config, Settings())


@pytest.fixture
def gate(config) -> Gate:
    return Gate(frozenset({"COMP-0001"}), config.thresholds.cleaning, Gate.of_pattern(config))


def records() -> nw.DataFrame:
    stamps = [NOW - timedelta(hours=2)] * 3 + [NOW + timedelta(days=2)]
    data = {
        "timestamp": stamps,
        "compressor_id": ["COMP-0001", "COMP-0002", "comp-1", "COMP-0001"],
        **{s: [1.0] * 4 for s in SENSORS},
        "received_at": [NOW - timedelta(hours=1)] * 4,
        "type_error": [None] * 4,
        "raw_record": [None] * 4,  # the reader's text of a record it could not type
        "source_offset": [None] * 4,
        "source": ["test.parquet"] * 4,
    }
    frame = pl.DataFrame(data).with_columns(
        pl.col("type_error", "raw_record").cast(pl.String), pl.col("source_offset").cast(pl.Int64)
    )
    return nw.from_native(frame)


def land(engine, gate, txn_version: int = 1, letters_written: bool = False):
    """Land the batch; ``letters_written``: its dead letters are already in the table."""
    txns = [Txn("test-batch", txn_version)]
    return land_batch(
        engine,
        records(),
        gate,
        NOW,
        meta=[
            nw.lit(NOW).alias("ingested_at"),
            nw.lit("test").alias("batch_id"),
            nw.lit(date(2026, 3, 2)).alias("ingestion_date"),
        ],
        raw_record=lambda letters: engine.fill_json(
            letters, [*lake.RAW_TELEMETRY], "raw_record"
        ).with_columns(nw.lit(None).cast(nw.Int32).alias("source_partition")),
        bronze_txns=txns,
        dead_txns=[] if letters_written else txns,
    )


def read(engine, spec) -> pl.DataFrame:
    return nw.to_native(engine.read(spec).collect("polars"))


def test_every_record_lands_once_in_bronze_or_the_dead_letter_with_its_reason(engine, gate):
    landed = land(engine, gate)
    assert (landed.accepted, landed.rejected) == (1, 3)  # in = accepted + rejected
    bronze, dead = read(engine, lake.SENSOR_READINGS), read(engine, lake.DEAD_LETTER)
    assert bronze["compressor_id"].to_list() == ["COMP-0001"]
    units = [json.loads(r)["compressor_id"] for r in dead["raw_record"]]
    reasons = dict(zip(units, dead["reason"], strict=True))
    assert reasons["COMP-0002"] == "unknown compressor_id: not in the fleet"
    assert reasons["comp-1"].startswith("malformed compressor_id")
    assert reasons["COMP-0001"].startswith("timestamp in the future")


def test_both_commits_record_the_batch_so_a_replay_is_recognised(engine, gate):
    assert engine.txn_versions(lake.SENSOR_READINGS, ["test-batch"]) == {"test-batch": None}
    land(engine, gate, txn_version=7)
    for spec in (lake.SENSOR_READINGS, lake.DEAD_LETTER):
        assert engine.txn_versions(spec, ["test-batch"]) == {"test-batch": 7}


def test_a_batch_with_its_dead_letters_already_written_adds_only_bronze(engine, gate):
    landed = land(engine, gate, letters_written=True)
    assert (landed.accepted, landed.rejected) == (1, 3)
    assert engine.version(lake.DEAD_LETTER) is None  # not written
    assert read(engine, lake.SENSOR_READINGS).height == 1

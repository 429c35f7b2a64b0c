"""Files a pass writes itself, committed to a Delta table by delta-rs (the Spark engine's
sink on local Spark): the table reads them as if its own writer had written them."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, date, datetime, timedelta

import polars as pl
from deltalake import DeltaTable

from altaviz.engines.base import Txn
from altaviz.engines.staged_files import DeltaFileSink, commit_files, remove_files
from altaviz.lake.schema import TableSpec, columns

SPEC = TableSpec(
    "readings",
    "silver",
    columns(("compressor_id", "string"), ("timestamp", "timestamp"), ("x", "float64"),
            ("date", "date")),
    partition_by=("date",),
    stats_on=("compressor_id", "timestamp"),
)  # fmt: skip
T0 = datetime(2026, 3, 1, tzinfo=UTC)
DAYS = [date(2026, 3, 1), date(2026, 3, 2)]


def _rows(units: list[str], day: int, x: float) -> pl.DataFrame:
    times = [T0 + timedelta(days=day, minutes=5 * i, microseconds=1500) for i in range(3)]
    return pl.DataFrame(
        {
            "compressor_id": [u for u in units for _ in times],
            "timestamp": times * len(units),
            "x": [x] * (len(units) * len(times)),
            "date": [(T0 + timedelta(days=day)).date()] * (len(units) * len(times)),
        }
    )


def _table(tmp_path) -> DeltaTable:
    return DeltaTable.create(
        str(tmp_path), schema=SPEC.schema.arrow(), partition_by=["date"],
        configuration=SPEC.table_properties(),
    )  # fmt: skip


def _read(tmp_path) -> pl.DataFrame:
    return pl.read_delta(str(tmp_path)).sort("date", "compressor_id", "timestamp")


def test_committed_files_replace_their_partitions_and_keep_the_others(tmp_path):
    table = _table(tmp_path)
    sink = DeltaFileSink(SPEC, str(tmp_path))
    both = pl.concat([_rows(["C1", "C2"], 0, 1.0), _rows(["C1"], 1, 1.0)])
    files = sink.write(both)
    assert sorted(json.loads(p)["date"] for p in files["partition"].to_pylist()) == [
        "2026-03-01",
        "2026-03-02",
    ]
    assert _read(tmp_path).height == 0  # written, not committed
    assert commit_files(table, SPEC.schema.arrow(), ["date"], files, {"date": DAYS}) == 9
    assert _read(tmp_path).equals(both.sort("date", "compressor_id", "timestamp"))
    # A second pass over the first day replaces that day only, and records its transaction.
    again = _rows(["C3"], 0, 2.0)
    written = DeltaFileSink(SPEC, str(tmp_path)).write(again)
    commit_files(table, SPEC.schema.arrow(), ["date"], written, {"date": DAYS[:1]},
                 [Txn("altaviz-test", 7)])  # fmt: skip
    expected = pl.concat([again, _rows(["C1"], 1, 1.0)]).sort("date", "compressor_id", "timestamp")
    assert _read(tmp_path).equals(expected)
    assert DeltaTable(str(tmp_path)).transaction_version("altaviz-test") == 7


def test_files_carry_bounds_on_the_tables_statistics_columns_only(tmp_path):
    table = _table(tmp_path)
    files = DeltaFileSink(SPEC, str(tmp_path)).write(_rows(["C1", "C2"], 0, 1.0))
    stats = json.loads(files["stats"][0].as_py())
    assert stats["numRecords"] == 6
    assert set(stats["minValues"]) == set(stats["nullCount"]) == {"compressor_id", "timestamp"}
    # Milliseconds, as Spark's writer records them: the bounds still hold every reading.
    assert stats["minValues"]["timestamp"] == "2026-03-01T00:00:00.001Z"
    assert stats["maxValues"]["timestamp"] == "2026-03-01T00:10:00.002Z"
    commit_files(table, SPEC.schema.arrow(), ["date"], files, {"date": DAYS[:1]})
    actions = pl.DataFrame(DeltaTable(str(tmp_path)).get_add_actions(flatten=True))
    assert {c.removeprefix("min.") for c in actions.columns if c.startswith("min.")} == {
        "compressor_id",
        "timestamp",
    }


def test_many_small_files_are_compacted_after_their_commit(tmp_path):
    table = _table(tmp_path)
    sink = DeltaFileSink(SPEC, str(tmp_path))
    parts = [sink.write(_rows([f"C{i}"], 0, float(i))) for i in range(5)]  # five tasks' files
    files = pl.concat([pl.from_arrow(p) for p in parts]).to_arrow()
    commit_files(table, SPEC.schema.arrow(), ["date"], files, {"date": DAYS[:1]})
    assert len(DeltaTable(str(tmp_path)).file_uris()) == 1
    assert _read(tmp_path).height == 15


def test_files_never_committed_are_removed_and_the_sink_travels_without_its_engine(tmp_path):
    sink = DeltaFileSink(SPEC, str(tmp_path), stager=object())
    files = sink.write(_rows(["C1"], 0, 1.0))
    remove_files(str(tmp_path), files)
    assert not list(tmp_path.rglob("*.parquet"))
    travelled = pickle.loads(pickle.dumps(sink))
    assert travelled.stager is None and travelled.spec == SPEC


def test_appended_files_are_kept_as_they_are_and_a_recorded_transaction_lands_nothing(tmp_path):
    table = _table(tmp_path)
    sink = DeltaFileSink(SPEC, str(tmp_path))
    first = pl.concat([pl.from_arrow(sink.write(_rows([f"C{i}"], 0, 1.0))) for i in (1, 2)])
    txn = [Txn("files:abc", 1)]
    assert commit_files(table, SPEC.schema.arrow(), ["date"], first.to_arrow(), None, txn) == 6
    version = DeltaTable(str(tmp_path)).version()
    # Appended, not compacted: a landing file's rows stay in the file written for them.
    assert len(DeltaTable(str(tmp_path)).file_uris()) == 2
    # The same landing files again (a rerun that staged them anew): nothing is committed.
    again = sink.write(_rows(["C1"], 0, 1.0))
    assert commit_files(table, SPEC.schema.arrow(), ["date"], again, None, txn) == 0
    assert DeltaTable(str(tmp_path)).version() == version
    # Another transaction appends next to the rows already there.
    other = sink.write(_rows(["C3"], 1, 2.0))
    commit_files(table, SPEC.schema.arrow(), ["date"], other, None, [Txn("files:def", 1)])
    assert _read(tmp_path).height == 9
    assert DeltaTable(str(tmp_path)).transaction_version("files:def") == 1

"""The Spark session the Spark engine runs on: Delta Lake, UTC, adaptive execution.

On Microsoft Fabric (or any cluster) the session the platform configured is used: the active
one in a notebook, the spark-submit one in a job definition. Locally a ``local[*]`` session is
built with Delta's jars, which Spark resolves from Maven Central on first use and Ivy caches
(``~/.ivy2.5.2``) for every later one.

>>> spark = spark_session()  # doctest: +SKIP
>>> spark.conf.get("spark.sql.session.timeZone")  # doctest: +SKIP
'UTC'
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

from altaviz.engines.base import EngineError


# Settings every session needs, whoever built it: the pipeline's semantics depend on them.
def local_driver_memory() -> str:
    """Heap for a ``local[*]`` driver, which also hosts the executors: half the machine's
    memory, between 2 and 16 GB (a ten-day run of the default fleet needed more than 6).

    >>> local_driver_memory()[-1]
    'g'
    """
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not a POSIX system that says
        return "4g"
    return f"{min(16, max(2, total // 2**31))}g"


SESSION_CONF = {
    # Timestamps are UTC instants; Spark renders and truncates them in the session zone.
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.adaptive.enabled": "true",
    # Invalid casts and divisions give null, as in the embedded engine, not a failed job.
    "spark.sql.ansi.enabled": "false",
    # VACUUM honours lakehouse.yaml's retention, even below Delta's 7-day guard.
    "spark.databricks.delta.retentionDurationCheck.enabled": "false",
}
LOCAL_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    # A day of the fleet is small for Spark: few shuffle partitions, coalesced further by AQE.
    "spark.sql.shuffle.partitions": "4",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    # A pipeline run is hundreds of small jobs in one long-lived driver. The status store
    # would keep the last 1,000 of each (plans, metrics, 100,000 tasks) on the driver's heap,
    # and Spark frees shuffle, broadcast and checkpoint blocks only after a GC notices them
    # unreferenced - by default every 30 minutes. A ten-day run ran out of heap on both.
    "spark.ui.retainedJobs": "50",
    "spark.ui.retainedStages": "50",
    "spark.ui.retainedTasks": "1000",
    "spark.sql.ui.retainedExecutions": "20",
    "spark.cleaner.periodicGC.interval": "2min",
    # Delta rebuilds a table's snapshot state on every read; 50 partitions (the default,
    # sized for clusters) make that dominate on two cores.
    "spark.databricks.delta.snapshotPartitions": "2",
    # Nor a checksum of the table's whole state after every commit (an optional file that
    # neither engine needs to read a table).
    "spark.databricks.delta.writeChecksumFile.enabled": "false",
    # A partition replace writes only rows of its partitions (the pipeline selects them):
    # checking that again would scan every written row a second time.
    "spark.databricks.delta.replaceWhere.constraintCheck.enabled": "false",
    "spark.driver.memory": os.environ.get("ALTAVIZ_SPARK_DRIVER_MEMORY") or local_driver_memory(),
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # The per-unit Polars code takes a partition whole: fewer, larger Arrow batches cost less
    # to hand over (10,000 rows by default; 100,000 of a reading are about 10 MB).
    "spark.sql.execution.arrow.maxRecordsPerBatch": "100000",
    # Tables are addressed by path; keep Spark's unused catalogue folder out of the cwd.
    "spark.sql.warehouse.dir": os.path.join(tempfile.gettempdir(), "altaviz-spark-warehouse"),
}


class SparkUnavailableError(EngineError):
    """PySpark or Java is missing; the message says what to install."""


def spark_session(master: str | None = None, packages: Sequence[str] = ()) -> Any:
    """The active Spark session, or a new local one with Delta Lake.

    ``master`` defaults to ``ALTAVIZ_SPARK_MASTER`` or ``local[*]``; ``packages`` are more
    Maven coordinates for a new session (the Kafka source, for the stream consumer).
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise SparkUnavailableError(
            "the Spark engine needs PySpark and Delta Lake: pip install 'altaviz[spark]'"
        ) from exc
    spark = SparkSession.getActiveSession()
    if spark is None and "PYSPARK_GATEWAY_PORT" in os.environ and master is None:
        # Started by spark-submit (a Fabric Spark job definition, a cluster): the cluster's
        # own configuration, Delta included, applies.
        spark = SparkSession.builder.appName("altaviz").getOrCreate()
    if spark is None:
        from delta import configure_spark_with_delta_pip

        # Python workers (the stream decoder) run this interpreter, which has altaviz.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = SparkSession.builder.appName("altaviz").master(
            master or os.environ.get("ALTAVIZ_SPARK_MASTER", "local[*]")
        )
        for key, value in {**LOCAL_CONF, **SESSION_CONF}.items():
            builder = builder.config(key, value)
        try:
            spark = configure_spark_with_delta_pip(
                builder, extra_packages=list(packages)
            ).getOrCreate()
        except Exception as exc:  # py4j and PySpark raise their own kinds
            raise SparkUnavailableError(
                f"cannot start Spark ({exc}); is Java 17+ installed?"
            ) from exc
        spark.sparkContext.setLogLevel("ERROR")
    for key, value in SESSION_CONF.items():
        spark.conf.set(key, value)
    return spark

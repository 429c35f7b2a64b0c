"""The Spark session the Spark engine runs on: Delta Lake, UTC, adaptive execution.

On Microsoft Fabric (or any cluster) the session the platform configured is used: the active
one in a notebook, the spark-submit one in a job definition. Locally a ``local[*]`` session is
built with Delta's jars, which Spark resolves from Maven Central on first use and Ivy caches
(``~/.ivy2.5.2``) for every later one. The local JVM writes its console (Ivy's resolution
report, start-up warnings, its log) to ``spark_log_path()``, not to the terminal.

>>> spark = spark_session()  # doctest: +SKIP
>>> spark.conf.get("spark.sql.session.timeZone")  # doctest: +SKIP
'UTC'
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
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
    # Tables' files are read as the Delta log lists them: listed by the driver, never by a
    # Spark job of a task per file (from 32 files on, by default).
    "spark.sql.sources.parallelPartitionDiscovery.threshold": "100000",
    # Tables are addressed by path; keep Spark's unused catalogue folder out of the cwd.
    "spark.sql.warehouse.dir": os.path.join(tempfile.gettempdir(), "altaviz-spark-warehouse"),
}


# The engine hands data to Python as Arrow (``mapInArrow``, ``toArrow``), never as pandas:
# PySpark's warning about pandas 3 does not concern it.
warnings.filterwarnings(
    "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
)
FAILURE = re.compile(r"error|exception|no such file|not found|cannot|could not|unable", re.I)
LOG_ROTATE_BYTES = 10 * 2**20  # a log larger than this is kept as ``.1`` when a session starts


class SparkUnavailableError(EngineError):
    """PySpark or Java is missing; the message says what to install."""


def spark_log_path() -> Path:
    """Where a local Spark JVM writes its console: ``ALTAVIZ_SPARK_LOG``, or
    ``altaviz-spark.log`` in the temporary folder.

    >>> spark_log_path().name
    'altaviz-spark.log'
    """
    return Path(
        os.environ.get("ALTAVIZ_SPARK_LOG") or Path(tempfile.gettempdir(), "altaviz-spark.log")
    )


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
        builder = configure_spark_with_delta_pip(builder, extra_packages=list(packages))
        spark = _start_local(builder, spark_log_path())
        spark.sparkContext.setLogLevel("ERROR")
    for key, value in SESSION_CONF.items():
        spark.conf.set(key, value)
    return spark


def _start_local(builder: Any, log: Path) -> Any:
    """The builder's session, its JVM started with its console appended to ``log``.

    PySpark starts the JVM (``spark-submit``) with the Python process's own terminal, where a
    session's start printed some hundred lines before the run's first. The JVM is started
    here instead, through PySpark's ``launch_gateway`` with the console redirected, and the
    session built on it takes the builder's settings as before.
    """
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway

    if SparkContext._gateway is not None:  # the JVM of a stopped session: PySpark reuses it
        return builder.getOrCreate()
    # The builder's settings, the Delta jars included: the JVM's command line needs them.
    conf = SparkConf(loadDefaults=False).setAll(builder._options.items())
    log.parent.mkdir(parents=True, exist_ok=True)
    if log.exists() and log.stat().st_size > LOG_ROTATE_BYTES:
        log.replace(log.with_name(log.name + ".1"))
    start = log.stat().st_size if log.exists() else 0  # where this JVM's lines begin
    try:
        with log.open("ab") as console:  # the JVM keeps its own descriptor of the file
            gateway = launch_gateway(
                conf, popen_kwargs={"stdout": console, "stderr": subprocess.STDOUT}
            )
        SparkContext(conf=conf, gateway=gateway)
        return builder.getOrCreate()
    except Exception as exc:  # py4j and PySpark raise their own kinds
        cause = _last_error(log, start) or str(exc)
        raise SparkUnavailableError(
            f"cannot start Spark: {cause}; {_hint(cause)} (Spark's log: {log})"
        ) from exc


def _hint(cause: str) -> str:
    """What to check, given the JVM's last error.

    >>> _hint("[unresolved dependency: io.delta#delta-spark_4.2_2.13;4.4.0: not found]")
    "Delta's jars come from Maven Central on the first start: is it reachable?"
    """
    if "unresolved dependency" in cause:
        return "Delta's jars come from Maven Central on the first start: is it reachable?"
    return "is Java 17+ installed?"


def _last_error(log: Path, start: int = 0) -> str:
    """The line of the JVM's console (from byte ``start`` of its log) that says what went
    wrong: the last one naming a failure, else the last one, stack frames left out.

    >>> import tempfile; p = Path(tempfile.mkdtemp(), "log")
    >>> _ = p.write_text("ok\\njava: No such file or directory\\nCMD: bad array\\n\\tat x\\n")
    >>> _last_error(p)
    'java: No such file or directory'
    """
    try:
        with log.open("rb") as console:
            console.seek(start)
            lines = console.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    said = [line.strip() for line in lines if line.strip() and not line[:1].isspace()]
    # The launcher's own complaints follow the cause ("CMD: bad array subscript" after
    # "java: No such file or directory"): the last line naming a failure, else the last.
    failures = [line for line in said if FAILURE.search(line)]
    return (failures or said or [""])[-1]

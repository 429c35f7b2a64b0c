"""The spec's Spark rules, enforced on our source: no ``withColumn`` (one ``select`` per
projection), no schema inference, and every ``date_format()`` cast before it is written."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "altaviz"
INFERRING_READERS = {"csv", "json"}  # self-describing Parquet and Delta carry their schema


def violations(source: str, name: str = "<code>") -> list[str]:
    """Where ``source`` breaks a Spark rule, as ``name:line: rule``."""
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and node.value in ("inferSchema", "samplingRatio"):
            found.append(f"{name}:{node.lineno}: schema inference ({node.value})")
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        attr = node.func.attr
        if attr == "withColumn":
            found.append(f"{name}:{node.lineno}: withColumn (use one select)")
        chain = ast.unparse(node.func.value)
        if attr in INFERRING_READERS and "read" in chain and ".schema(" not in chain:
            found.append(f"{name}:{node.lineno}: {attr} read without a schema")
        if attr == "date_format":
            parent = parents.get(node)
            if not (isinstance(parent, ast.Attribute) and parent.attr == "cast"):
                found.append(f"{name}:{node.lineno}: date_format() not cast")
    return found


def test_our_source_follows_the_spark_rules():
    files = sorted(SRC.rglob("*.py"))
    assert any(f.name == "spark_engine.py" for f in files)
    found = [v for f in files for v in violations(f.read_text(), str(f.relative_to(SRC)))]
    assert found == []


def test_the_rules_catch_what_they_forbid():
    bad = """
frame = df.withColumn("a", F.lit(1)).withColumn("b", F.lit(2))
raw = spark.read.option("inferSchema", "true").csv(path)
day = df.select(F.date_format("t", "yyyy-MM-dd").alias("d"))
ok = df.select(F.date_format("t", "yyyy-MM-dd").cast("date").alias("d"))
typed = spark.read.schema(text).option("header", True).csv(path)
"""
    found = violations(bad)
    assert sum("withColumn" in v for v in found) == 2
    assert any("inferSchema" in v for v in found)
    assert any("csv read" in v for v in found)
    assert sum("date_format" in v for v in found) == 1

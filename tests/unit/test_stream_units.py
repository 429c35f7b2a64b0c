"""The streaming parts that need no broker: Event Hubs settings, partitioning by basin, the
schema registry's framing, evolution rules and message checks."""

from __future__ import annotations

import math

import polars as pl
import pytest

from altaviz.config import load_config
from altaviz.settings import Settings
from altaviz.stream.connection import StreamConfigError, connect
from altaviz.stream.decode import decode_messages
from altaviz.stream.producer import partition_plan
from altaviz.stream.registry import MAGIC, Registry, SchemaError, incompatibilities

pytest.importorskip("fastavro", reason="streaming is an optional extra: make test has it")

CONNECTION = (
    "Endpoint=sb://acme-telemetry.servicebus.windows.net/;SharedAccessKeyName=altaviz-listen;"
    "SharedAccessKey=ZmFrZWtleWZha2VrZXk=;EntityPath=compressor-telemetry"
)
RULES = load_config().platform.stream


def test_event_hubs_kafka_endpoint_from_the_connection_string():
    conn = connect("eventhub", Settings(_env_file=None, eventhub_connection_string=CONNECTION))
    assert conn.config["bootstrap.servers"] == "acme-telemetry.servicebus.windows.net:9093"
    assert conn.config["security.protocol"] == "SASL_SSL"
    assert conn.config["sasl.mechanism"] == "PLAIN"
    assert conn.config["sasl.username"] == "$ConnectionString"
    assert conn.config["sasl.password"] == CONNECTION
    assert conn.topic == "compressor-telemetry"  # EntityPath names the hub
    assert conn.group == "$Default"
    assert conn.dead_letter_topic == "compressor-telemetry-dead-letter"
    assert CONNECTION not in conn.describe  # messages never carry the secret


def test_event_hubs_namespace_alone_signs_in_with_entra_id():
    settings = Settings(_env_file=None, eventhub_namespace="acme-telemetry")
    try:
        import azure.identity  # noqa: F401
    except ImportError:
        with pytest.raises(StreamConfigError, match="azure-identity"):
            connect("eventhub", settings)
    else:
        conn = connect("eventhub", settings)
        assert conn.config["sasl.mechanism"] == "OAUTHBEARER"
        assert conn.config["bootstrap.servers"] == "acme-telemetry.servicebus.windows.net:9093"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, "EVENTHUB_CONNECTION_STRING or EVENTHUB_NAMESPACE"),
        ({"eventhub_connection_string": "Endpoint=https://x/;EntityPath=y"}, "sb://"),
        ({"eventhub_connection_string": "garbage"}, "malformed connection string"),
    ],
)
def test_event_hubs_settings_errors_say_what_is_wrong(settings, message):
    with pytest.raises(StreamConfigError, match=message):
        connect("eventhub", Settings(_env_file=None, **settings))


def test_spark_kafka_options_carry_the_event_hubs_login():
    pytest.importorskip("pyspark")
    from altaviz.stream.spark_stream import kafka_options

    conn = connect("eventhub", Settings(_env_file=None, eventhub_connection_string=CONNECTION))
    options = kafka_options(conn)
    assert options["kafka.bootstrap.servers"].endswith(".servicebus.windows.net:9093")
    assert f'password="{CONNECTION}"' in options["kafka.sasl.jaas.config"]


def test_plain_kafka_uses_the_platform_consumer_group():
    conn = connect("kafka", Settings(_env_file=None, kafka_bootstrap_servers="broker:9092"))
    assert conn.config["bootstrap.servers"] == "broker:9092"
    assert conn.group == load_config().platform.eventhub.consumer_groups["etl"]
    assert conn.schemas_topic == load_config().platform.eventhub.schemas


def test_partitions_are_shared_out_by_basin():
    basins = [b.name for b in load_config().fleet.basins]
    ids = [f"COMP-{i:04d}" for i in range(1, 2001)]
    of = [basins[i % len(basins)] for i in range(len(ids))]
    plan = partition_plan(ids, of, basins, 16)
    assert plan == partition_plan(ids, of, basins, 16)  # stable
    assert set(plan.values()) == set(range(16))  # every partition carries traffic
    for unit, basin in zip(ids, of, strict=True):
        assert plan[unit] % len(basins) == basins.index(basin)  # only its basin's partitions


# ---------------------------------------------------------------------------- registry

READING = {"timestamp": 1_772_323_200_000_000, "compressor_id": "COMP-0007", "horsepower": 812.5}


def test_messages_round_trip_in_single_object_encoding():
    registry = Registry.packaged()
    message = registry.encode(READING)
    assert message[:2] == MAGIC and message[2:10] == registry.fingerprint
    decoded = registry.decode(message)
    assert decoded["compressor_id"] == "COMP-0007" and decoded["horsepower"] == 812.5
    assert decoded["timestamp"] == READING["timestamp"] and decoded["vibration_mms"] is None


def test_a_newer_schema_with_an_optional_field_is_read_with_the_old_one():
    reader = Registry.packaged()
    v2 = {**reader.reader, "fields": [*reader.reader["fields"],
          {"name": "ambient_temp_f", "type": ["null", "double"], "default": None}]}  # fmt: skip
    writer = Registry.packaged()
    writer.register(v2)
    message = writer.encode({**READING, "ambient_temp_f": 70.0}, v2)
    with pytest.raises(SchemaError, match="unknown schema fingerprint"):
        reader.decode(message)  # not seen yet: a consumer refreshes from the registry topic
    reader.learn(v2)
    assert reader.decode(message)["horsepower"] == 812.5
    assert "ambient_temp_f" not in reader.decode(message)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda fields: [f for f in fields if f["name"] != "compressor_id"],
         "required field compressor_id missing"),
        (lambda fields: [{**f, "type": "string"} if f["name"] == "timestamp" else f
                         for f in fields], "field timestamp changed type"),
    ],
)  # fmt: skip
def test_incompatible_schemas_are_refused(change, problem):
    registry = Registry.packaged()
    bad = {**registry.reader, "fields": change(registry.reader["fields"])}
    assert problem in incompatibilities(bad, registry.reader)
    with pytest.raises(SchemaError, match=problem):
        registry.register(bad)


def test_decoding_reports_every_kind_of_bad_message():
    registry = Registry.packaged()
    good = registry.encode(READING)
    messages = [
        good,
        b"\xc3\x01" + bytes(8) + good[10:],
        good[:11],
        good + b"\x00",
        registry.encode({**READING, "vibration_mms": math.nan}),
        registry.encode({**READING, "horsepower": math.inf}),
        registry.encode({**READING, "horsepower": -1.0}),
        good + bytes(RULES.max_message_bytes),
        None,
    ]
    frame = decode_messages(
        "t", [0] * len(messages), list(range(len(messages))), [1_772_323_500_000] * len(messages),
        [None] * len(messages), messages, registry, RULES,
    )  # fmt: skip
    reasons = frame["type_error"].to_list()
    assert reasons[0] is None
    assert reasons[1].startswith("unknown schema fingerprint")
    assert reasons[2].startswith("corrupt Avro record")
    assert reasons[3] == "corrupt Avro record: 1 trailing bytes"
    assert reasons[4] == "vibration_mms is NaN"
    assert reasons[5] == "horsepower is infinite"
    assert reasons[6] == "horsepower -1.0 outside the possible range [0, 100000]"
    assert reasons[7].startswith("oversized payload")
    assert reasons[8] == "empty message (no payload)"
    assert (
        frame["received_at"][0]
        == pl.Series([1_772_323_500_000_000]).cast(pl.Datetime("us", "UTC"))[0]
    )
    assert frame["source"][0] == "t/0"

"""Checks of infrastructure/terraform that need no cloud and no provider download: it parses,
declares each address once, refers only to what exists, holds no secrets, types and describes
every variable, and agrees with the product's own configuration."""

from __future__ import annotations

import re
import shutil
import types
import typing
from pathlib import Path
from typing import Any

import pytest

from altaviz.config import AppConfig, load_config
from altaviz.monitoring.record import RunRecord
from altaviz.settings import Settings
from tests.terraform_hcl import Module, all_modules, plain, read_module, read_tfvars, strings

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "infrastructure" / "terraform"
EXAMPLES = sorted((TERRAFORM / "environments").glob("*.tfvars.example"))

# azurerm resources that take no tags argument.
UNTAGGABLE = {
    "azurerm_role_assignment",
    "azurerm_eventhub",
    "azurerm_eventhub_consumer_group",
    "azurerm_eventhub_authorization_rule",
    "azurerm_storage_container",
    "azurerm_monitor_diagnostic_setting",
}
SECRET_LITERALS = [
    re.compile(r"SharedAccessKey=[A-Za-z0-9+/=]{20,}"),
    re.compile(r"AccountKey=[A-Za-z0-9+/=]{20,}"),
    re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),  # a JWT
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"(?i)\b(password|secret|client_secret|api_key)\s*=\s*\"[^\"$]{6,}\""),
    re.compile(r"https://hooks?\.[\w.-]+/\S+"),  # a webhook URL with its token
]
RUN_RECORD_TYPES = {str: "string", int: "long", float: "real", bool: "boolean"}


@pytest.fixture(scope="module")
def modules() -> list[Module]:
    return all_modules(TERRAFORM)


@pytest.fixture(scope="module")
def root() -> Module:
    return read_module(TERRAFORM)


def test_every_module_parses_and_declares_each_address_once(modules):
    assert {m.path.name for m in modules} == {"terraform", "eventhubs", "monitoring", "fabric"}
    for module in modules:
        assert module.resources, module.path
        assert module.duplicates == [], module.path


def test_references_point_at_declared_things(modules):
    for module in modules:
        assert _undeclared(module) == [], module.path


def test_the_reference_check_catches_a_typo(tmp_path):
    copy = _copy_terraform(tmp_path)
    main = copy / "main.tf"
    main.write_text(main.read_text().replace("module.eventhubs.hub_name", "module.eventhubs.hub"))
    keyvault = copy / "keyvault.tf"
    keyvault.write_text(
        keyvault.read_text().replace("azurerm_key_vault.main.id", "azurerm_key_vault.kv.id", 1)
    )
    (copy / "extra.tf").write_text('resource "azurerm_resource_group" "main" {\n  name = "x"\n}\n')
    module = read_module(copy)
    assert {"module.eventhubs.hub", "azurerm_key_vault.kv"} <= set(_undeclared(module))
    assert module.duplicates == ["resource.azurerm_resource_group.main"]


def test_variables_are_typed_described_and_outputs_described(modules):
    for module in modules:
        for name, body in module.variables.items():
            assert "type" in body, f"{module.path.name}: variable {name} has no type"
            assert plain(body).get("description"), (
                f"{module.path.name}: variable {name} undescribed"
            )
        for name, body in module.outputs.items():
            assert plain(body).get("description"), f"{module.path.name}: output {name} undescribed"


def test_secret_outputs_are_sensitive(modules):
    for module in modules:
        for name, body in module.outputs.items():
            if "connection_string" in name or "secret_value" in str(body):
                assert plain(body).get("sensitive") is True, f"{module.path.name}: {name}"


def test_every_taggable_resource_is_tagged(modules):
    for module in modules:
        for address, body in module.resources.items():
            kind = address.split(".")[0]
            if kind.startswith("azurerm_") and kind not in UNTAGGABLE:
                assert "tags" in body, f"{module.path.name}: {address} has no tags"


def test_no_secret_literals_anywhere():
    files = [p for p in TERRAFORM.rglob("*") if p.is_file() and ".terraform" not in p.parts]
    assert len(files) > 10
    for path in files:
        text = path.read_text(encoding="utf-8")
        for pattern in SECRET_LITERALS:
            assert not pattern.search(text), f"{path.relative_to(ROOT)}: {pattern.pattern}"
    # The examples carry placeholders only: every GUID is all zeros.
    for example in EXAMPLES:
        for guid in re.findall(
            r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}", example.read_text()
        ):
            assert set(guid) <= {"0", "-"}, f"{example.name}: {guid}"


def test_the_secret_check_catches_a_literal(tmp_path):
    leaked = (
        "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=a;SharedAccessKey="
        + "Q" * 43
        + "="
    )
    assert any(p.search(f'value = "{leaked}"') for p in SECRET_LITERALS)
    assert any(p.search('client_secret = "hunter2hunter2"') for p in SECRET_LITERALS)
    assert not any(p.search('client_secret = "${var.x}"') for p in SECRET_LITERALS)


def test_examples_set_only_declared_variables_and_every_required_one(root):
    required = {n for n, body in root.variables.items() if "default" not in body}
    assert len(EXAMPLES) == 2
    for example in EXAMPLES:
        values = read_tfvars(example)
        assert set(values) <= set(root.variables), example.name
        assert required <= set(values), f"{example.name}: missing {required - set(values)}"


def test_backend_is_a_partial_azurerm_configuration(root):
    backends = [
        b for body in root.bodies for t in body.get("terraform", []) for b in t.get("backend", [])
    ]
    assert backends == [{'"azurerm"': {"__is_block__": True}}] or [plain(b) for b in backends] == [
        {"azurerm": {}}
    ]
    example = (TERRAFORM / "backend.hcl.example").read_text()
    assert "storage_account_name" in example and "key" in example


# ------------------------------------------------------------- agreement with the product


def disagreements(terraform: Path, config: AppConfig) -> list[str]:
    """Where the Terraform defaults (and the example tfvars) differ from the product's
    configuration: lakehouse names, the hub, its partitions and consumer groups, the
    monitoring table and its columns, the job schedule."""
    root = read_module(terraform)
    defaults = {name: plain(body).get("default") for name, body in root.variables.items()}
    hub, platform = config.platform.eventhub, config.platform
    expected: dict[str, Any] = {
        "lakehouses": config.lakehouse.lakehouses.model_dump(),
        "telemetry_hub": {
            "name": hub.name,
            "partitions": hub.partitions,
            "retention_days": hub.retention_days,
            "consumer_groups": dict(hub.consumer_groups),
            "dead_letter": hub.dead_letter,
            "schemas": hub.schemas,
        },
        "monitoring_table": platform.monitoring.table,
        "pipeline_jobs": {k: job.model_dump() for k, job in platform.schedule.items()},
    }
    problems = [
        f"{name}: terraform {defaults.get(name)!r} != product {want!r}"
        for name, want in expected.items()
        if defaults.get(name) != want
    ]
    for example in sorted((terraform / "environments").glob("*.tfvars.example")):
        values = read_tfvars(example)
        problems += [
            f"{example.name}: {name} overrides the product's {want!r}"
            for name, want in expected.items()
            if name in values and values[name] != want
        ]
    if Settings.model_fields["eventhub_name"].default != hub.name:
        problems.append("settings: EVENTHUB_NAME default differs from platform.yaml")
    problems += _column_disagreements(read_module(terraform / "modules" / "monitoring"))
    return problems


def _column_disagreements(monitoring: Module) -> list[str]:
    columns = {c["name"]: c["type"] for c in plain(monitoring.locals["columns"])}
    want = {"TimeGenerated": "datetime", "Reasons": "dynamic"}
    for name, info in RunRecord.model_fields.items():
        base = info.annotation
        if isinstance(base, types.UnionType):  # X | None
            base = next(k for k in typing.get_args(base) if k is not type(None))
        if typing.get_origin(base) in (list, dict):
            want[name] = "dynamic"
        elif base.__name__ == "datetime":
            want[name] = "datetime"
        elif isinstance(base, type) and issubclass(base, str):  # a text enum (RunStatus)
            want[name] = "string"
        else:
            want[name] = RUN_RECORD_TYPES[base]
    return [
        f"monitoring column {n}: terraform {columns.get(n)!r} != run record {want.get(n)!r}"
        for n in sorted(set(columns) | set(want))
        if columns.get(n) != want.get(n)
    ]


def test_terraform_agrees_with_the_product_configuration():
    assert disagreements(TERRAFORM, load_config()) == []


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        ("variables.tf", '"lh_gold_curated"', '"lh_gold"', "lakehouses"),
        ("variables.tf", "partitions     = 16", "partitions     = 32", "telemetry_hub"),
        ("variables.tf", '"altaviz-ml"', '"ml-scorer"', "telemetry_hub"),
        ("variables.tf", "every_minutes = 15,", "every_minutes = 60,", "pipeline_jobs"),
        (
            "modules/monitoring/main.tf",
            '{ name = "rows_silver", type = "long" },\n',
            "",
            "monitoring column rows_silver",
        ),
    ],
)
def test_agreement_fails_when_terraform_alone_changes(tmp_path, file, old, new, expected):
    copy = _copy_terraform(tmp_path)
    target = copy / file
    assert old in target.read_text()
    target.write_text(target.read_text().replace(old, new, 1))
    found = disagreements(copy, load_config())
    assert found and all(p.startswith(expected) for p in found), found


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        ("lakehouse.yaml", "gold: lh_gold_curated", "gold: lh_gold", "lakehouses"),
        ("platform.yaml", "partitions: 16", "partitions: 12", "telemetry_hub"),
        ("platform.yaml", "table: AltavizPipelineRuns_CL", "table: Runs_CL", "monitoring_table"),
    ],
)
def test_agreement_fails_when_the_product_alone_changes(tmp_path, file, old, new, expected):
    from altaviz.config import packaged_config_dir

    source = packaged_config_dir() / file
    assert old in source.read_text()
    (tmp_path / file).write_text(source.read_text().replace(old, new))
    found = disagreements(TERRAFORM, load_config(tmp_path))
    assert found and all(p.startswith(expected) for p in found), found


def test_an_example_overriding_the_product_is_caught(tmp_path):
    copy = _copy_terraform(tmp_path)
    example = copy / "environments" / "dev.tfvars.example"
    example.write_text(example.read_text() + '\nmonitoring_table = "Other_CL"\n')
    assert disagreements(copy, load_config()) == [
        "dev.tfvars.example: monitoring_table overrides the product's 'AltavizPipelineRuns_CL'"
    ]


def test_job_arguments_are_commands_the_cli_has():
    from typer.main import get_command

    from altaviz.cli import app

    commands = get_command(app).commands  # type: ignore[attr-defined]
    fabric = (TERRAFORM / "modules" / "fabric" / "main.tf").read_text()
    # The job definitions append these to each job's arguments.
    assert '["--engine", "spark", "--source", local.landing_mount]' in fabric
    for job in load_config().platform.schedule.values():
        command = commands[job.args[0]]
        options = {o for p in command.params for o in p.opts}
        assert {*job.args[1:], "--engine", "--source"} <= options, job.args
    from altaviz.engines import ENGINES

    assert "spark" in ENGINES


def test_the_job_entry_point_maps_settings_and_runs_the_cli(monkeypatch, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "altaviz_job", ROOT / "infrastructure" / "fabric" / "altaviz_job.py"
    )
    assert spec and spec.loader
    job = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(job)
    from altaviz.settings import get_settings

    monkeypatch.setenv("EVENTHUB_NAME", "before")  # restored after the test
    get_settings.cache_clear()
    try:
        code = job.main(["--env", "EVENTHUB_NAME=from-terraform", "--", "config", "show", "--json"])
    finally:
        get_settings.cache_clear()
    assert code == 0
    assert '"eventhub_name": "from-terraform"' in capsys.readouterr().out
    with pytest.raises(SystemExit):
        job.main(["--secret", "EVENTHUB_CONNECTION_STRING=name", "--", "config", "show"])


def _undeclared(module: Module) -> list[str]:
    from tests.terraform_hcl import undeclared_references

    return undeclared_references(module)


def _copy_terraform(tmp_path: Path) -> Path:
    copy = tmp_path / "terraform"
    shutil.copytree(TERRAFORM, copy, ignore=shutil.ignore_patterns(".terraform*"))
    return copy


def test_strings_helper_skips_comments():
    assert strings({"a": '"x"', "__comments__": [{"value": "var.nothing"}]}) == ['"x"']


def test_the_deployment_guide_maps_every_output(root):
    guide = (ROOT / "docs" / "deploy-azure-fabric.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)(?:\.\w+)?`[^|]*\| (.+?) \|", guide, flags=re.MULTILINE)
    mapped = {name for name, consumer in rows if consumer.strip()}
    assert set(root.outputs) - mapped == set()
    # Each lakehouse output is mapped per layer, to the spec's variable of that layer.
    for layer in ("bronze", "silver", "gold", "ml"):
        assert f"`fabric_lakehouse_ids.{layer}` | `FABRIC_{layer.upper()}_LAKEHOUSE_ID`" in guide

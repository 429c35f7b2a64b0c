from pathlib import Path

import pytest
import yaml

from altaviz.config import ConfigError, load_config, packaged_config_dir
from altaviz.settings import Settings


def _override(tmp_path: Path, name: str, edit) -> Path:
    data = yaml.safe_load((packaged_config_dir() / name).read_text())
    edit(data)
    (tmp_path / name).write_text(yaml.safe_dump(data))
    return tmp_path


def test_packaged_configuration_matches_the_fleet_facts():
    cfg = load_config()
    fleet = cfg.fleet
    assert len(fleet.models) == 7
    assert sum(m.weight for m in fleet.models) == pytest.approx(1.0)
    assert len(fleet.basins) == 10
    assert sum(b.stations for b in fleet.basins) == 197
    assert set(fleet.failures.modes) == {
        "bearing_wear",
        "cooling_degradation",
        "valve_failure",
        "ring_wear",
        "packing_leak",
        "fouling",
    }
    assert cfg.lakehouse.lakehouses.model_dump() == {
        "bronze": "lh_bronze_raw",
        "silver": "lh_silver_cleaned",
        "gold": "lh_gold_curated",
        "ml": "lh_ml_serving",
    }
    assert cfg.lakehouse.retention_days.bronze == 2555


def test_limits_resolve_per_model_with_fleet_fallback():
    t = load_config().thresholds
    assert t.limit("Caterpillar G3606", "discharge_pressure_psi", "critical_high") == 1640
    assert t.limit("Ariel JGK/4", "discharge_pressure_psi", "critical_high") == 1400
    assert t.limit(None, "discharge_temp_f", "warning_high") == 240
    assert t.limit("Ariel JGK/4", "pressure_differential_psi", "warning_high") == 1250
    assert t.limit("Ariel JGK/4", "gas_flow_mcf", "critical_high") is None


def test_every_model_limit_sits_above_its_healthy_range():
    """A healthy unit at the top of its model's range must not sit on an alarm limit."""
    cfg = load_config()
    for model in cfg.fleet.models:
        for sensor, (low, high) in model.baseline.items():
            warn_high = cfg.thresholds.limit(model.name, sensor, "warning_high")
            warn_low = cfg.thresholds.limit(model.name, sensor, "warning_low")
            if warn_high is not None:
                assert warn_high >= high * 1.04, (model.name, sensor)
            if warn_low is not None:
                assert warn_low <= low * 0.96, (model.name, sensor)


@pytest.mark.parametrize(
    ("name", "edit", "expected"),
    [
        ("fleet.yaml", lambda d: d["models"][2].update(weight=-1), "fleet.yaml: models.2.weight"),
        ("fleet.yaml", lambda d: d["models"][0].update(weight=0.5), "weights must sum to 1.00"),
        ("fleet.yaml", lambda d: d["basins"][0].update(stationz=3), "basins.0.stationz"),
        (
            "fleet.yaml",
            lambda d: d["basins"][1].update(timezone="Mars/Olympus"),
            "basins.1.timezone",
        ),
        (
            "fleet.yaml",
            lambda d: d["failures"]["modes"]["valve_failure"]["params"].pop("suction_ratio"),
            "suction_ratio",
        ),
        (
            "fleet.yaml",
            lambda d: d["demo"]["units"][0].update(station="NOWHERE"),
            "unknown station 'NOWHERE'",
        ),
        (
            "thresholds.yaml",
            lambda d: d["sensors"]["discharge_temp_f"].update(warning_high=300),
            "sensors.discharge_temp_f",
        ),
        (
            "thresholds.yaml",
            lambda d: d["models"].update({"Ariel JGZ/9": {}}),
            "Ariel JGZ/9 not defined in fleet.yaml",
        ),
        (
            "lakehouse.yaml",
            lambda d: d["lakehouses"].pop("gold"),
            "lakehouse.yaml: lakehouses.gold",
        ),
    ],
)
def test_invalid_configuration_names_file_and_key(tmp_path, name, edit, expected):
    folder = _override(tmp_path, name, edit)
    with pytest.raises(ConfigError) as info:
        load_config(folder)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_malformed_yaml_names_file_and_line(tmp_path):
    (tmp_path / "fleet.yaml").write_text("version: 1\nmodels: [\n  - name: x\n")
    with pytest.raises(ConfigError, match=r"fleet.yaml: line \d+: invalid YAML"):
        load_config(tmp_path)


def test_missing_override_folder_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope")


def test_override_folder_replaces_only_the_files_it_holds(tmp_path):
    folder = _override(
        tmp_path, "lakehouse.yaml", lambda d: d["lakehouses"].update(bronze="lh_raw")
    )
    cfg = load_config(folder)
    assert cfg.lakehouse.lakehouses.bronze == "lh_raw"
    assert cfg.sources["lakehouse.yaml"] == str(folder / "lakehouse.yaml")
    assert cfg.sources["fleet.yaml"].startswith(str(packaged_config_dir()))


def test_settings_read_the_spec_environment_variables(monkeypatch):
    monkeypatch.setenv("FABRIC_WORKSPACE_ID", "ws-guid")
    monkeypatch.setenv("EVENTHUB_CONNECTION_STRING", "Endpoint=sb://x/;SharedAccessKey=secret")
    monkeypatch.setenv("EVENTHUB_NAMESPACE", "")  # empty, as in the spec's template: unset
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@localhost/db")
    s = Settings(_env_file=None)
    assert s.fabric_workspace_id == "ws-guid"
    assert s.eventhub_namespace is None
    assert s.eventhub_name == "compressor-telemetry"
    assert s.eventhub_consumer_group == "$Default"
    assert s.eventhub_connection_string.get_secret_value().endswith("secret")
    assert "SharedAccessKey=secret" not in repr(s) and "u:p" not in repr(s)
    assert s.diagnostics_model is None

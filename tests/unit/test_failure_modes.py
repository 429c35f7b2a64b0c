"""Each failure mode's noise-free progression: shape, start at baseline, trip level at p = 1."""

import numpy as np
import pytest

from altaviz.fleet.failure_modes import DISCHARGE, FLOW, MODES, SUCTION, TEMP, VIB, progression

BASE = np.array([[3.0], [200.0], [60.0], [1000.0], [1500.0], [9000.0]])
HOURS_PER_EPISODE = 6 * 24.0


def run(config, mode, level):
    p = np.linspace(0.0, 1.0, 24 * 60 + 1)[None, :]
    hours = p * HOURS_PER_EPISODE
    return progression(mode, config.fleet.failures, p, hours, BASE, np.array([level]), np.zeros(1))


def test_bearing_wear_grows_exponentially_to_its_trip_level(config):
    out = run(config, "bearing_wear", 8.24)
    vib = out[VIB][0]
    assert vib[0] == pytest.approx(3.0) and vib[-1] == pytest.approx(8.24)
    assert (np.diff(vib) >= 0).all()
    assert (np.diff(vib, 2) > -1e-12).all()  # convex: accelerating wear
    assert vib[len(vib) // 2] - vib[0] < (vib[-1] - vib[0]) / 2
    assert out[TEMP][0][-1] == pytest.approx(200 + 1.5 * 6)  # spec: +1.5 F/day


@pytest.mark.parametrize("mode", ["cooling_degradation", "fouling"])
def test_temperature_modes_rise_linearly(config, mode):
    out = run(config, mode, 268.0)
    temp = out[TEMP][0]
    assert temp[0] == pytest.approx(200.0) and temp[-1] == pytest.approx(268.0)
    assert np.allclose(np.diff(temp), np.diff(temp)[0])


def test_valve_failure_oscillates_with_growing_amplitude(config):
    out = run(config, "valve_failure", 1442.0)
    dis = out[DISCHARGE][0]
    first, last = dis[: len(dis) // 4], dis[-len(dis) // 4 :]
    assert np.ptp(first) < np.ptp(last)
    assert dis.max() > 1400 and dis.min() < 1000 - 300  # pulsation swings both ways
    # Suction moves against discharge, at the configured ratio.
    suction_change = out[SUCTION][0] / 60.0 - 1
    assert np.allclose(suction_change, -0.3 * (dis / 1000.0 - 1))
    assert out[SUCTION][0].min() > 0
    assert out[FLOW][0].max() <= 9000.0 + 1e-9


@pytest.mark.parametrize(("mode", "sensor"), [("ring_wear", FLOW), ("packing_leak", DISCHARGE)])
def test_falling_modes_lose_their_primary_signal(config, mode, sensor):
    level = BASE[sensor, 0] * 0.72
    out = run(config, mode, level)
    series = out[sensor][0]
    assert series[0] == pytest.approx(BASE[sensor, 0])
    assert series[-1] == pytest.approx(level)
    assert (np.diff(series) <= 1e-9).all()


def test_every_mode_has_a_progression(config):
    for mode in MODES:
        out = run(config, mode, 300.0)
        assert out, mode


def test_unknown_mode_is_rejected(config):
    with pytest.raises(ValueError, match="unknown failure mode"):
        run(config, "gremlins", 1.0)

"""The web app in a real browser: Debian's headless Chromium, driven by Playwright, against
`altaviz serve`'s app on a loopback port over a real lakehouse.

Each test is a person's flow: sign in, read the fleet, open a critical unit, acknowledge its
case, be refused as a viewer, download the emissions. Screenshots of every page land in
``build/screenshots`` (the README shows some).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import polars as pl
import pytest
import uvicorn

from altaviz.api.app import create_app
from altaviz.config import load_config
from altaviz.engines import open_engine
from altaviz.settings import Settings
from altaviz.web import add_web
from tests.conftest import read_table

playwright = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
ENGINEER_KEY, VIEWER_KEY = "engineer-web-key-0123", "viewer-web-key-0123"
PRINCIPALS = {ENGINEER_KEY: ("erin", "engineer"), VIEWER_KEY: ("vic", "viewer")}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def site(small_lake, tmp_path_factory) -> Iterator[dict]:
    """A copy of the small fleet's lakehouse served on a loopback port (triage writes)."""
    lake = tmp_path_factory.mktemp("web") / "lake"
    shutil.copytree(small_lake[1], lake)
    config, settings = load_config(), Settings(_env_file=None)
    engine = open_engine("polars", lake, config, settings)
    app = add_web(
        create_app(engine, config, settings, principals=PRINCIPALS, refresh_seconds=0.0),
        live_seconds=1.0,
    )
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    api = httpx.Client(base_url=base, headers={"X-API-Key": ENGINEER_KEY}, timeout=30)
    yield {"base": base, "lake": lake, "api": api}
    api.close()
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail("no Chromium: `make chromium` installs Debian's package")
    with playwright.sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


class Visitor:
    """A signed-in page that records console errors and failed requests."""

    def __init__(self, browser, base: str, key: str, width: int = 1280, height: int = 800):
        self.base = base
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(f"{base}/login")
        self.page.fill("#key", key)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(f"{base}/")

    def open(self, path: str, ready: str = "main h1"):
        self.page.goto(self.base + path)
        self.page.wait_for_selector(ready)
        return self.page

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def engineer(browser, site) -> Iterator[Visitor]:
    visitor = Visitor(browser, site["base"], ENGINEER_KEY)
    yield visitor
    visitor.close()


@pytest.fixture
def viewer(browser, site) -> Iterator[Visitor]:
    visitor = Visitor(browser, site["base"], VIEWER_KEY)
    yield visitor
    visitor.close()


def test_pages_need_a_session_and_refuse_a_wrong_key(browser, site):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{site['base']}/ui/worklist?severity=critical")
    assert "/login" in page.url
    page.fill("#key", "not-a-key")
    page.click("button[type=submit]")
    assert page.inner_text(".error") == "unknown key"
    page.fill("#key", ENGINEER_KEY)
    page.click("button[type=submit]")
    page.wait_for_selector("#cases")
    assert page.url.endswith("/ui/worklist?severity=critical")  # back where they asked to go
    cookie = next(c for c in context.cookies() if c["name"] == "altaviz_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    context.close()


def test_the_fleet_page_shows_the_apis_figures(engineer, site):
    page = engineer.open("/", "#basins")
    fleet = site["api"].get("/fleet").json()
    shown = {
        row.get_attribute("data-basin"): [c.inner_text() for c in row.query_selector_all("td")]
        for row in page.query_selector_all("#basins tbody tr")
    }
    assert set(shown) == {b["basin"] for b in fleet["basins"]}
    for basin in fleet["basins"]:
        cells = shown[basin["basin"]]
        assert [int(c.replace(",", "")) for c in cells[1:6]] == [
            basin["units_registered"],
            basin["units_reporting"],
            basin["units_normal"],
            basin["units_warning"],
            basin["units_critical"],
        ]
    figure = lambda name: page.inner_text(f"[data-figure='{name}']")  # noqa: E731
    units = site["api"].get("/health").json()["units"]
    assert f"of {units:,} units reporting" in page.inner_text(".figures")
    critical_cases = site["api"].get("/cases", params={"severity": "critical"}).json()["count"]
    assert figure("cases").split(" / ")[0] == str(critical_cases)
    # The map has every station, each coloured by its worst unit.
    stations = read_table(site["lake"], "compressor_metadata")["station_id"].n_unique()
    assert len(page.query_selector_all("svg.map a.station")) == stations
    engineer.shot("fleet")
    assert engineer.errors == []


def test_a_critical_units_chart_shows_its_limits_and_alert(engineer, site):
    page = engineer.open("/", "#worst")
    link = page.query_selector("#worst tbody tr:has(.badge.critical) td a")
    unit = link.inner_text()
    link.click()
    page.wait_for_selector("#charts[data-ready='true'] .chart")
    assert page.inner_text("main h1").startswith(unit)
    alerts = read_table(site["lake"], "alert_history").filter(pl.col("compressor_id") == unit)
    newest = alerts["opened_at"].max()
    end = read_table(site["lake"], "hourly_aggregates")["hour"].max() + timedelta(hours=1)
    shown_from = end - timedelta(days=7)
    expected = sorted(
        a.timestamp()
        for a, resolved in zip(alerts["opened_at"], alerts["resolved_at"], strict=True)
        if resolved is None or resolved >= shown_from
    )
    marked = json.loads(page.get_attribute("#charts", "data-alert-times"))
    assert sorted(marked) == pytest.approx(expected) and newest.timestamp() in marked
    # The limits drawn are the unit's effective limits: the thresholds of its model, or its own
    # learned band widened, whichever is tighter (never looser than the model's own).
    model = read_table(site["lake"], "compressor_metadata").filter(pl.col("compressor_id") == unit)[
        "model"
    ][0]
    limits = json.loads(page.get_attribute(".chart[data-sensor='vibration_mms']", "data-limits"))
    model_limit = load_config().thresholds.limit(model, "vibration_mms", "critical_high")
    assert limits["critical_high"] is not None and limits["critical_high"] <= model_limit
    assert limits["band_low"] <= limits["band_high"] < limits["warning_high"]
    # The estimated packing vent against the OOOOb limit, with the unit's packing records.
    records = json.loads(page.get_attribute(".chart[data-sensor='packing']", "data-records"))
    measured = read_table(site["lake"], "packing_measurements").filter(
        (pl.col("compressor_id") == unit) & (pl.col("measured_at") >= shown_from)
    )
    assert len(records) == measured.select("measured_at", "kind").n_unique()
    engineer.shot("unit")
    page.click("nav.spans a:text('1 day')")
    page.wait_for_selector("#charts[data-ready='true'] .chart")
    assert engineer.errors == []


def test_acknowledging_a_case_shows_in_the_api_and_the_audit_trail(engineer, site):
    page = engineer.open("/ui/worklist?severity=critical", "#cases")
    row = page.query_selector("#cases tbody tr[data-state='open']")
    case_id = row.get_attribute("data-case")
    row.query_selector(f"a[href='/ui/cases/{case_id}']").click()
    page.wait_for_selector("#acknowledge")
    engineer.shot("case")
    page.click("#acknowledge")
    page.wait_for_selector(".done")
    assert page.inner_text("#case-state") == "acknowledged"
    detail = site["api"].get(f"/cases/{case_id}").json()
    assert detail["case"]["state"] == "acknowledged"
    assert detail["case"]["acknowledged_by"] == "erin"
    assert [(e["actor"], e["action"]) for e in detail["events"]][-1] == ("erin", "acknowledge")
    trail = page.inner_text("#events")
    assert "erin" in trail and "open → acknowledged" in trail
    assert engineer.errors == []


def test_bulk_acknowledge_keeps_the_filters(engineer, site):
    page = engineer.open("/ui/worklist?severity=warning&state=open", "#cases")
    boxes = page.query_selector_all("#cases input[name='case_ids']")
    if not boxes:
        pytest.fail("the small fleet has no open warning case to acknowledge")
    chosen = [b.get_attribute("value") for b in boxes[:2]]
    for box in boxes[:2]:
        box.check()
    page.click("#bulk-ack")
    page.wait_for_selector(".done")
    assert "severity=warning" in page.url and "state=open" in page.url
    for case_id in chosen:
        assert site["api"].get(f"/cases/{case_id}").json()["case"]["state"] == "acknowledged"
    engineer.shot("worklist")


def test_a_viewer_reads_but_cannot_triage(viewer, site):
    case_id = site["api"].get("/cases").json()["cases"][0]["case_id"]
    page = viewer.open(f"/ui/cases/{case_id}", "#read-only")
    assert page.query_selector("#acknowledge") is None
    assert page.query_selector("#select-all") is None
    # The server refuses it anyway, even with the session's own CSRF token.
    status = page.evaluate(
        """async (id) => (await fetch(`/ui/cases/${id}/acknowledge`, {method: 'POST',
            headers: {'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content}}
        )).status""",
        case_id,
    )
    assert status == 403
    assert site["api"].get(f"/cases/{case_id}").json()["case"]["acknowledged_by"] != "vic"


def test_a_form_without_the_csrf_token_is_refused(engineer, site):
    case_id = site["api"].get("/cases").json()["cases"][0]["case_id"]
    page = engineer.open("/ui/worklist", "#cases")
    status = page.evaluate(
        "async (id) => (await fetch(`/ui/cases/${id}/note`, {method: 'POST', body: "
        "new URLSearchParams({note: 'forged'})})).status",
        case_id,
    )
    assert status == 403
    events = site["api"].get(f"/cases/{case_id}").json()["events"]
    assert all(e["note"] != "forged" for e in events)


def test_the_emissions_csv_equals_the_apis_figures(engineer, site):
    page = engineer.open("/ui/emissions?by=basin", "#emissions")
    engineer.shot("emissions")
    with page.expect_download() as download:
        page.click("#csv")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    api = site["api"].get("/emissions", params={"by": "basin"}).json()
    assert len(rows) == api["count"] > 0
    by_basin = {t["basin"]: t for t in api["totals"]}
    for row in rows:
        expected = by_basin[row["basin"]]
        for column in ("ch4_t", "co2e_t", "annualised_co2e_t"):
            assert float(row[column]) == pytest.approx(expected[column], rel=1e-9)
        assert row["packing_over_limit"] == str(expected["packing_over_limit"]).lower()
    assert engineer.errors == []


def test_compliance_from_the_emissions_page(engineer, viewer, site):
    """The programme's figures are the API's; an engineer records a measurement (a wrong one
    is refused with its reason) and generates a report pack whose files download; a viewer
    sees neither form."""
    page = engineer.open("/ui/emissions", "#compliance")
    programme = site["api"].get("/compliance/packing").json()
    assert page.inner_text("#overdue") == str(programme["overdue"])
    assert page.inner_text("#exceedances") == str(programme["exceedances"])
    assert len(page.query_selector_all("#mode-hours tbody tr")) >= 1

    unit = next(u for u in programme["units"] if u["rule"] == "OOOOb")["compressor_id"]
    page.fill("#record-measurement input[name=compressor_id]", unit)
    page.fill("#record-measurement input[name=vent_scfm]", "0.5")
    page.fill("#record-measurement input[name=measured_at]", "2026-03-03T08:00")
    page.click("#record-measurement button")
    page.wait_for_selector("#compliance .error")
    assert "cylinders" in page.inner_text("#compliance .error")

    page.select_option("#generate-report select[name=facility]", "PERM")
    page.click("#generate-report button")
    page.wait_for_selector("#compliance .done")
    report_id = page.inner_text("#compliance .done").split()[1].rstrip(":")
    links = page.query_selector_all(f"#generations a[href*='{report_id}']")
    assert len(links) == 7
    with page.expect_download() as download:
        links[-1].click()  # the PDF
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF")
    engineer.shot("compliance")
    assert engineer.errors == []

    seen = viewer.open("/ui/emissions", "#compliance")
    assert seen.query_selector("#record-measurement") is None
    assert seen.query_selector("#generate-report") is None


def test_pipeline_page_lists_the_runs(engineer, site):
    page = engineer.open("/ui/pipeline", "#runs")
    runs = read_table(site["lake"], "pipeline_runs")
    assert len(page.query_selector_all("#runs tbody tr")) == min(runs.height, 20)
    assert len(page.query_selector_all("#quality tbody tr")) >= 1
    engineer.shot("pipeline")
    assert engineer.errors == []


def test_a_page_updates_itself_when_a_case_changes_and_keeps_its_filters(engineer, site):
    page = engineer.open("/ui/worklist?severity=critical&state=worklist", "#cases")
    row = page.query_selector("#cases tbody tr[data-state='open']")
    case_id = row.get_attribute("data-case")
    page.wait_for_timeout(1500)  # the page has its first stamp
    noted = site["api"].post(f"/cases/{case_id}/assign", json={"assignee": "night-shift"})
    assert noted.status_code == 200
    updated = f"#cases tr[data-case='{case_id}'] td:has-text('night-shift')"
    page.wait_for_selector(updated, timeout=15_000)
    assert page.url.endswith("/ui/worklist?severity=critical&state=worklist")
    assert page.input_value("select[name=severity]") == "critical"


def test_tablet_width_and_keyboard(browser, site):
    visitor = Visitor(browser, site["base"], ENGINEER_KEY, width=768, height=1024)
    page = visitor.open("/", "#basins")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "content"
    visitor.shot("fleet-tablet")
    visitor.close()

"""The web app's server side, without a browser: sessions, headers, offline assets, the
emissions API the emissions page agrees with."""

from __future__ import annotations

import re
from importlib import resources

import pytest
from fastapi.testclient import TestClient

from altaviz.api.app import create_app
from altaviz.config import load_config
from altaviz.engines import open_engine
from altaviz.settings import Settings
from altaviz.web import add_web

KEY = "engineer-key-for-web-0123"


def client_for(lake, principals, secret: str | None = None) -> TestClient:
    config = load_config()
    settings = Settings(_env_file=None, altaviz_session_secret=secret)
    engine = open_engine("polars", lake, config, settings)
    app = add_web(create_app(engine, config, settings, principals=principals))
    return TestClient(app, base_url="https://testserver")


@pytest.fixture(scope="module")
def client(small_lake) -> TestClient:
    return client_for(small_lake[1], {KEY: ("erin", "engineer")})


def sign_in(client: TestClient, key: str = KEY) -> None:
    response = client.post("/login", data={"key": key, "next": "/"}, follow_redirects=False)
    assert response.status_code == 303, response.text


def test_pages_redirect_to_sign_in_and_back(client):
    response = client.get("/ui/emissions?by=unit", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/ui/emissions%3Fby%3Dunit"


def test_sign_in_never_redirects_off_site(client):
    response = client.post(
        "/login", data={"key": KEY, "next": "//evil.example/"}, follow_redirects=False
    )
    assert response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" in cookie


def test_pages_carry_a_strict_content_security_policy(client):
    sign_in(client)
    response = client.get("/")
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "<script>" not in response.text  # no inline script: the policy would block it


def test_every_asset_is_packaged_and_nothing_is_fetched_from_elsewhere(client):
    web = resources.files("altaviz.web")
    texts = [f.read_text() for f in web.joinpath("templates").iterdir()]
    texts += [web.joinpath("static", name).read_text() for name in ("app.js", "app.css")]
    external = [u for t in texts for u in re.findall(r"(?:src|href)=\"(https?://[^\"]+)", t)]
    assert external == []
    for asset in ("htmx.min.js", "uPlot.iife.min.js", "uPlot.min.css"):
        assert client.get(f"/ui/static/vendor/{asset}").status_code == 200
    assert client.get("/ui/map/states.svg").text.count("M") > 48  # every state's outline


def test_a_removed_key_ends_its_sessions(small_lake):
    first = client_for(small_lake[1], {KEY: ("erin", "engineer")}, secret="shared-secret")
    sign_in(first)
    cookie = first.cookies.get("altaviz_session")
    later = client_for(small_lake[1], {"other-key-0123456": ("olga", "admin")}, "shared-secret")
    later.cookies.set("altaviz_session", cookie)
    response = later.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_unknown_unit_page_is_a_readable_404(client):
    sign_in(client)
    response = client.get("/ui/units/COMP-9999")
    assert response.status_code == 404
    assert "COMP-9999" in response.text and "is not in the registered fleet" in response.text
    assert "<h1>" in response.text  # a page, not JSON


def test_emissions_api_checks_its_period(client):
    headers = {"X-API-Key": KEY}
    bad = client.get("/emissions?since=2026-03-05&until=2026-03-01", headers=headers)
    assert bad.status_code == 400 and "after" in bad.json()["detail"]
    assert client.get("/emissions?by=planet", headers=headers).status_code == 422
    totals = client.get("/emissions?by=station", headers=headers).json()
    assert totals["count"] == len(totals["totals"]) > 0
    assert totals["reporting_threshold_t_co2e"] == 25_000

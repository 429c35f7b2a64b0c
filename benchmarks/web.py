"""The web app's speed as a person meets it, in a real browser (Debian's headless Chromium).

    uv run python benchmarks/web.py                          # 4,700 units x 10 days
    uv run python benchmarks/web.py --lakehouse lakehouse    # an existing lakehouse

Builds the lakehouse when none is given (simulate, then `altaviz pipeline`, models included),
starts `altaviz serve` in its own process on a free loopback port, signs in, then loads each
page ``--samples`` times (the unit and case pages each time for another sick unit). Prints,
per page, p50 and p95 of:

- server time: the document's request to its first byte (Navigation Timing), and
- visible: from navigation to the page's content shown (for the unit page, its charts drawn);

and p50/p95 of the unit page's 30-day chart data (the JSON it fetches), for as many units.
With ``--screenshots DIR`` it then saves the fleet, worklist, worst unit and emissions pages
there (the README's pictures: `--screenshots docs/screenshots` on the default fleet).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

from _child import ALTAVIZ, lake_env, simulate_fleet, wait_for_health

KEY = "bench-engineer-key"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed_visit(page: Page, url: str, ready: str) -> tuple[float, float]:
    """(server ms, visible ms) of one navigation."""
    began = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.wait_for_selector(ready, state="visible", timeout=60_000)
    visible = (time.perf_counter() - began) * 1000
    server = page.evaluate(
        "() => { const n = performance.getEntriesByType('navigation')[0];"
        " return n.responseStart - n.requestStart; }"
    )
    return server, visible


def chart_fetch_ms(page: Page, url: str) -> float:
    return page.evaluate(
        "async (url) => { const t = performance.now(); const r = await fetch(url);"
        " await r.json(); return performance.now() - t; }",
        url,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lakehouse", type=Path, help="an existing lakehouse to serve")
    parser.add_argument("--compressors", type=int, default=4700)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--samples", type=int, default=20, help="loads per page")
    parser.add_argument("--screenshots", type=Path, help="save the main pages' pictures here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="altaviz-web-bench-") as tmp:
        env = lake_env(tmp, ALTAVIZ_API_KEYS=f"bench:engineer:{KEY}")
        lake = args.lakehouse
        if lake is None:
            fleet, lake = Path(tmp) / "fleet", Path(tmp) / "lake"
            simulate_fleet(fleet, args.compressors, args.days)
            subprocess.run(
                [*ALTAVIZ, "pipeline", "--source", str(fleet), "--lakehouse", str(lake), "--json"],
                check=True,
                env=env,
                stdout=subprocess.DEVNULL,
            )
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [*ALTAVIZ, "serve", "--lakehouse", str(lake), "--port", str(port), "--no-access-log"],
            env=env,
        )
        try:
            wait_for_health(base)
            run(base, args.samples, args.screenshots)
        finally:
            server.terminate()
            server.wait(timeout=10)


def run(base: str, samples: int, screenshots: Path | None) -> None:
    api = httpx.Client(base_url=base, headers={"X-API-Key": KEY}, timeout=60)
    cases = api.get("/cases", params={"limit": samples}).json()["cases"]
    if not cases:
        raise SystemExit("the lakehouse has no open case: nothing to show on a case page")
    units = [c["compressor_id"] for c in cases]
    pages = {
        "fleet /": ([f"{base}/"] * samples, "#basins"),
        "worklist": ([f"{base}/ui/worklist"] * samples, "#cases"),
        "case": ([f"{base}/ui/cases/{c['case_id']}" for c in cases], "#events"),
        "unit (7 days, charts drawn)": (
            [f"{base}/ui/units/{u}" for u in units],
            "#charts[data-ready='true'] .chart",
        ),
        "emissions": ([f"{base}/ui/emissions?by=station"] * samples, "#emissions"),
        "pipeline": ([f"{base}/ui/pipeline"] * samples, "#runs"),
    }
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"{base}/login")
        page.fill("#key", KEY)
        page.click("button[type=submit]")
        page.wait_for_selector("#basins")
        print(f"web app, headless Chromium, {os.cpu_count()} cores, {samples} loads per page")
        print(f"{'page':32} {'server p50':>11} {'p95':>8} {'visible p50':>12} {'p95':>8}")
        for name, (urls, ready) in pages.items():
            timed_visit(page, urls[0], ready)  # warm: the first load of a kind builds caches
            server, visible = zip(*(timed_visit(page, u, ready) for u in urls), strict=True)
            print(
                f"{name:32} {p(server, 0.5):9.1f}ms {p(server, 0.95):6.1f}ms"
                f" {p(visible, 0.5):10.1f}ms {p(visible, 0.95):6.1f}ms"
            )
        fetches = [chart_fetch_ms(page, f"{base}/ui/units/{u}/charts?days=30") for u in units]
        print(
            f"{'unit chart data, 30 days':32} {p(fetches, 0.5):9.1f}ms {p(fetches, 0.95):6.1f}ms"
            f"   (fetch to parsed JSON, {len(fetches)} units)"
        )
        if screenshots:
            save_screenshots(page, base, units[0], screenshots.resolve())
        browser.close()


def save_screenshots(page: Page, base: str, unit: str, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, path, ready, full in (
        ("fleet", "/", "#basins", True),
        ("worklist", "/ui/worklist", "#cases", False),
        ("unit", f"/ui/units/{unit}", "#charts[data-ready='true'] .chart", True),
        ("emissions", "/ui/emissions?by=station", "#emissions", False),
    ):
        page.goto(base + path)
        page.wait_for_selector(ready)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(folder / f"{name}.png"), full_page=full)
        print(f"saved {folder / name}.png")


if __name__ == "__main__":
    main()

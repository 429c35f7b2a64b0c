"""Latency of the HTTP API under concurrent clients.

    uv run python benchmarks/api_latency.py                    # 4,700 units x 2 days
    uv run python benchmarks/api_latency.py --clients 50 --requests 2000

Simulates a fleet, runs the pipeline, starts `altaviz serve` in its own process on a free
loopback port, then 50 concurrent keep-alive clients send `/fleet` and `/compressors/{id}`
(a random unit each time) requests; prints p50 and p99 per route. The load comes from `wrk`
(Debian's package; one thread, so the server keeps a core) when it is installed, else from
Python (httpx tasks), which costs the machine more CPU than the server does.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from _child import ALTAVIZ, lake_env, simulate_fleet, wait_for_health

KEY = "bench-key-0123456789"


async def load(base: str, route: str, ids: list[str], clients: int, total: int) -> list[float]:
    timings: list[float] = []
    per_client = total // clients
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": KEY}, limits=limits) as c:

        async def one_client(seed: int) -> None:
            rng = random.Random(seed)
            for _ in range(per_client):
                path = route if route == "/fleet" else f"/compressors/{rng.choice(ids)}"
                began = time.perf_counter()
                response = await c.get(path)
                timings.append(time.perf_counter() - began)
                response.raise_for_status()

        await asyncio.gather(*(one_client(i) for i in range(clients)))
    return timings


WRK_SCRIPT = """
math.randomseed(7)
request = function()
  local path = "{route}"
  if path == "/compressors" then
    path = string.format("/compressors/COMP-%04d", math.random(1, {units}))
  end
  return wrk.format("GET", path, {{["X-API-Key"] = "{key}"}})
end
"""


def with_wrk(base: str, route: str, units: int, clients: int, seconds: int) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT.format(route=route, units=units, key=KEY))
    out = subprocess.run(
        ["wrk", "-t1", f"-c{clients}", f"-d{seconds}s", "--latency", "-s", script.name, base],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    os.unlink(script.name)
    pick = {
        line.split()[0]: line.split()[1]
        for line in out.splitlines()
        if line.strip().startswith(("50%", "99%"))
    }
    rate = next(line.split()[1] for line in out.splitlines() if line.startswith("Requests/sec"))
    errors = [line.strip() for line in out.splitlines() if "Non-2xx" in line or "errors" in line]
    return f"p50 {pick['50%']}, p99 {pick['99%']}, {rate} requests/s" + (
        f" ({'; '.join(errors)})" if errors else ""
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--compressors", type=int, default=4700)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=2000, help="per route")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="altaviz-api-") as tmp:
        fleet, lake = Path(tmp) / "fleet", Path(tmp) / "lake"
        env = lake_env(tmp, ALTAVIZ_API_KEYS=KEY)
        quiet = {"check": True, "stdout": subprocess.DEVNULL, "env": env}
        simulate_fleet(fleet, args.compressors, args.days)
        subprocess.run(
            [*ALTAVIZ, "pipeline", "--source", str(fleet), "--lakehouse", str(lake)], **quiet
        )
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = subprocess.Popen(
            [*ALTAVIZ, "serve", "--lakehouse", str(lake), "--port", str(port), "--no-access-log"],
            env=env,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for_health(base)
            ids = [f"COMP-{i:04d}" for i in range(1, args.compressors + 1)]
            print(f"altaviz serve, {args.clients} concurrent clients, {os.cpu_count()} cores")
            if shutil.which("wrk"):
                for route in ("/fleet", "/compressors"):
                    with_wrk(base, route, args.compressors, args.clients, 2)  # warm-up
                    figures = with_wrk(base, route, args.compressors, args.clients, 10)
                    print(f"  {route:14s} (wrk, 10 s): {figures}")
                return
            for route in ("/fleet", "/compressors/{id}"):
                asyncio.run(load(base, route, ids, args.clients, 200))  # warm-up
                timings = asyncio.run(load(base, route, ids, args.clients, args.requests))
                print(
                    f"  {route:20s} {len(timings):5d} requests: "
                    f"p50 {percentile(timings, 0.5) * 1000:6.1f} ms, "
                    f"p99 {percentile(timings, 0.99) * 1000:6.1f} ms, "
                    f"max {max(timings) * 1000:6.1f} ms"
                )
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()

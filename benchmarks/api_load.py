"""HTTP API load: a bounded burst of concurrent requests on loopback against `pitchcraft
serve`, and the toolkit's overhead as a ratio to calling the same plugin in-process.

Targets are the model-free paths (ab-test statistics, recommender with template reasons),
so the figures measure the HTTP layer (auth, validation, JSON, threads), not the model.

    python -m benchmarks.api_load [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import print_json_line, print_table
from pitchcraft import Registry, Settings
from pitchcraft.api.guard import new_key
from pitchcraft.data import demo_shop
from pitchcraft.store.ingest import ingest_products

REQUESTS: dict[str, dict[str, Any]] = {
    "ab-test": {
        "variants": [
            {"name": "control", "users": 5000, "conversions": 400},
            {"name": "new", "users": 5000, "conversions": 460},
        ]
    },
    "recommender": {"need": "wireless earbuds under $100", "k": 5},
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def settings_for(folder: Path) -> dict[str, str]:
    options = {"recommender": {"model_path": str(folder / "none.npz"), "use_model": False}}
    return {
        "PITCHCRAFT_STORE_PATH": str(folder / "chroma"),
        "PITCHCRAFT_PLUGIN_OPTIONS": json.dumps(options),
        "PITCHCRAFT_PLUGINS": ",".join(REQUESTS),
        "PITCHCRAFT_API_RATE_LIMIT_PER_MINUTE": "100000000",
    }


def in_process(
    reg: Registry, name: str, sequential: int, burst: int, workers: int
) -> dict[str, float]:
    plugin, ctx = reg.get(name), reg.context()
    plugin.invoke(REQUESTS[name], ctx)  # warm
    latencies = []
    for _ in range(sequential):
        started = time.perf_counter()
        plugin.invoke(REQUESTS[name], ctx)
        latencies.append(time.perf_counter() - started)
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda _: plugin.invoke(REQUESTS[name], ctx), range(burst)))
    return {"p50": statistics.median(latencies), "rps": burst / (time.perf_counter() - started)}


async def over_http(
    url: str, key: str, name: str, sequential: int, burst: int, workers: int
) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as client:
        path = f"/v1/plugins/{name}"
        (await client.post(path, json=REQUESTS[name])).raise_for_status()  # warm
        latencies = []
        for _ in range(sequential):
            started = time.perf_counter()
            (await client.post(path, json=REQUESTS[name])).raise_for_status()
            latencies.append(time.perf_counter() - started)
        gate = asyncio.Semaphore(workers)
        burst_latencies: list[float] = []

        async def one() -> None:
            async with gate:
                started = time.perf_counter()
                (await client.post(path, json=REQUESTS[name])).raise_for_status()
                burst_latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(burst)))
        elapsed = time.perf_counter() - started
    return {
        "p50": statistics.median(latencies),
        "burst_p50": statistics.median(burst_latencies),
        "burst_p95": percentile(burst_latencies, 0.95),
        "rps": burst / elapsed,
    }


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).with_name("pitchcraft")
    process = subprocess.Popen(
        [str(exe), "serve", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.3)
    process.terminate()
    raise RuntimeError("the API server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Small run (about a minute).")
    parser.add_argument("--port", type=int, default=8199)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    sequential, burst = (20, 100) if args.quick else (100, 1000)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = settings_for(folder)
        key, digest = new_key()
        env["PITCHCRAFT_API_KEYS"] = f"bench:{digest}"
        os.environ.update(env)  # the in-process baseline runs on the server's settings
        reg = Registry(Settings()).load()
        ingest_products(reg.context().store, demo_shop.PRODUCTS)
        server = start_server(env, args.port)
        try:
            rows, figures = [], {}
            for name in REQUESTS:
                local = in_process(reg, name, sequential, burst, args.concurrency)
                http = asyncio.run(
                    over_http(
                        f"http://127.0.0.1:{args.port}",
                        key,
                        name,
                        sequential,
                        burst,
                        args.concurrency,
                    )
                )
                overhead = http["p50"] / local["p50"]
                slug = name.replace("-", "_")
                figures |= {
                    f"throughput_rps_{slug}": round(http["rps"], 1),
                    f"p50_ms_{slug}": round(http["burst_p50"] * 1000, 2),
                    f"p95_ms_{slug}": round(http["burst_p95"] * 1000, 2),
                    f"overhead_ratio_{slug}": round(overhead, 2),
                    f"throughput_ratio_{slug}": round(http["rps"] / local["rps"], 2),
                }
                rows.append(
                    (
                        name,
                        local["p50"] * 1000,
                        http["p50"] * 1000,
                        overhead,
                        local["rps"],
                        http["rps"],
                        http["burst_p50"] * 1000,
                        http["burst_p95"] * 1000,
                    )
                )
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(
        f"{sequential} sequential requests, then a burst of {burst} at concurrency "
        f"{args.concurrency}, loopback, API key auth on"
    )
    print_table(
        [
            "plugin",
            "in-process p50 ms",
            "HTTP p50 ms",
            "overhead x",
            "in-process req/s",
            "HTTP req/s",
            "burst p50 ms",
            "burst p95 ms",
        ],
        rows,
    )
    print_json_line({"requests": burst, "concurrency": args.concurrency, **figures})


if __name__ == "__main__":
    main()

"""Soak: the HTTP API with its model-backed routes under steady concurrent load on loopback,
bounded in time and requests.

`pitchcraft serve` on the demo shop (embedded model unless PITCHCRAFT_LLM_BACKEND says
otherwise); `--clients` callers loop over a mix of support answers (the model phrases them),
recommendations with model-written reasons, review analysis and A/B tests until the time or
the request budget is spent. Reported: requests, errors by status, p50/p95 latency per
quarter of the run, and the resident memory of the API process and its children at the
start (after warm-up), middle and end.

- errors_5xx: responses with a 5xx status (and dropped connections).
- memory_growth: end / middle resident memory of the API process (<= 1.1: no growth once
  warm).

    python -m benchmarks.soak [--quick] [--minutes 10] [--clients 4] [--max-requests 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from benchmarks.api_load import percentile, start_server
from benchmarks.common import print_json_line, print_table
from pitchcraft.api.guard import new_key
from tests.store_fixtures import free_port

MIX: list[tuple[str, dict[str, object]]] = [
    ("support", {"message": "How long do refunds take?"}),
    ("support", {"message": "退货期限是多久？"}),
    ("support", {"message": "Is there a restocking fee on opened electronics?"}),
    ("recommender", {"need": "wireless earbuds under $100", "k": 3}),
    ("recommender", {"need": "适合送给妈妈的礼物", "k": 3}),
    ("sentiment", {"text": "Battery died after two days and support never answered."}),
    ("sentiment", {"text": "质量很好，但是物流太慢了"}),
    (
        "ab-test",
        {
            "variants": [
                {"name": "control", "users": 5000, "conversions": 400},
                {"name": "new", "users": 5000, "conversions": 460},
            ]
        },
    ),
]


def resident_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def process_tree(pid: int) -> list[int]:
    pids, queue = [], [pid]
    while queue:
        current = queue.pop()
        pids.append(current)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        queue += [int(c) for c in children]
    return pids


def command_of(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    return " ".join(part.decode(errors="replace") for part in raw[:3])[:60]


class Load:
    """Clients looping over the mix; every answer recorded with its time."""

    def __init__(self, url: str, key: str, deadline: float, budget: int, seed: int) -> None:
        self.url, self.key, self.deadline = url, key, deadline
        self.budget = budget
        self.records: list[tuple[float, float, int]] = []  # (started, seconds, status)
        self.lock = threading.Lock()
        self.rng = random.Random(seed)

    def take(self) -> tuple[str, dict[str, object]] | None:
        with self.lock:
            if time.monotonic() >= self.deadline or len(self.records) >= self.budget:
                return None
            return self.rng.choice(MIX)

    def client(self) -> None:
        headers = {"Authorization": f"Bearer {self.key}"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=600) as http:
            while (job := self.take()) is not None:
                name, body = job
                started = time.monotonic()
                try:
                    status = http.post(f"/v1/plugins/{name}", json=body).status_code
                except httpx.HTTPError:
                    status = 599  # dropped: counted as a server error
                with self.lock:
                    self.records.append((started, time.monotonic() - started, status))


def memory_row(label: str, pid: int) -> list[list[object]]:
    return [[label, p, command_of(p), round(resident_mib(p))] for p in process_tree(pid)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 minutes")
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--max-requests", type=int, default=5000)
    args = parser.parse_args()
    minutes = 2 if args.quick else args.minutes
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        folder = Path(tmp)
        key, digest = new_key()
        options = {
            "support": {
                "sessions_path": str(folder / "sessions.sqlite"),
                "orders_path": str(folder / "orders.sqlite"),
            },
            "recommender": {"model_path": str(folder / "click.npz")},
        }
        env = {
            "PITCHCRAFT_STORE_PATH": str(folder / "chroma"),
            "PITCHCRAFT_PLUGIN_OPTIONS": json.dumps(options),
            "PITCHCRAFT_API_KEYS": f"soak:{digest}",
            "PITCHCRAFT_API_RATE_LIMIT_PER_MINUTE": "100000000",
        }
        ingest = subprocess_ingest(env)
        print(f"store: {ingest}")
        port = free_port()
        server = start_server(env, port)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(url)
            memory = memory_row("start", server.pid)
            load = Load(url, key, time.monotonic() + minutes * 60, args.max_requests, seed=7)
            began = time.monotonic()
            threads = [threading.Thread(target=load.client) for _ in range(args.clients)]
            for thread in threads:
                thread.start()
            time.sleep(minutes * 30)
            memory += memory_row("middle", server.pid)
            for thread in threads:
                thread.join()
            memory += memory_row("end", server.pid)
        finally:
            server.terminate()
            server.wait(timeout=120)
    report(load, began, minutes, memory, server.pid)


def subprocess_ingest(env: dict[str, str]) -> str:
    exe = Path(sys.executable).with_name("pitchcraft")
    done = subprocess.run(
        [str(exe), "ingest", "demo"], env={**os.environ, **env}, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"ingest failed: {done.stderr[-2000:]}")
    return done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "demo shop ingested"


def wait_ready(url: str, limit_s: float = 900) -> None:
    """Until /readyz says ready (model loaded, plugins warmed up)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise SystemExit(f"{url} not ready in {limit_s:g} s")


def report(load: Load, began: float, minutes: float, memory: list[list[object]], pid: int) -> None:
    records = load.records
    statuses = Counter(status for _, _, status in records)
    quarter = minutes * 60 / 4
    rows = []
    for n in range(4):
        part = [s for t, s, _ in records if n * quarter <= t - began < (n + 1) * quarter]
        if part:
            rows.append(
                [
                    f"{n * quarter / 60:.1f}-{(n + 1) * quarter / 60:.1f} min",
                    len(part),
                    statistics.median(part),
                    percentile(part, 0.95),
                ]
            )
    print(
        f"\n{len(records)} requests in {minutes:g} min; statuses {dict(sorted(statuses.items()))}\n"
    )
    print_table(["window", "requests", "p50 s", "p95 s"], rows)
    print()
    print_table(["when", "pid", "process", "resident MiB"], memory)
    api = {when: mib for when, p, _, mib in memory if p == pid}
    growth = api["end"] / api["middle"] if api.get("middle") else 0.0
    latencies = [s for _, s, _ in records]
    print()
    print_json_line(
        {
            "requests": len(records),
            "errors_5xx": sum(c for s, c in statuses.items() if s >= 500),
            "errors_4xx": sum(c for s, c in statuses.items() if 400 <= s < 500),
            "p50_s": round(statistics.median(latencies), 3) if latencies else None,
            "p95_s": round(percentile(latencies, 0.95), 3) if latencies else None,
            "api_rss_mib": {k: round(float(v)) for k, v in api.items()},
            "memory_growth": round(growth, 3),
        }
    )


if __name__ == "__main__":
    main()

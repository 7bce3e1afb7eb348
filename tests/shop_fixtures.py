"""The demo shop (products and policies) in a real Chroma folder, built once per session,
and a running `pitchcraft serve` for HTTP tests."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from pitchcraft import Context, Settings
from pitchcraft.data import demo_shop
from pitchcraft.store.ingest import ingest_knowledge, ingest_products
from tests.llm_fixtures import MODEL_CACHE
from tests.store_fixtures import free_port

REPO = Path(__file__).resolve().parent.parent
PITCHCRAFT = str(REPO / ".venv" / "bin" / "pitchcraft")


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Chroma folder holding the demo shop's products and support policies."""
    folder = tmp_path_factory.mktemp("demo-shop") / "chroma"
    store = Context(Settings(store_path=folder, cache_dir=MODEL_CACHE)).store
    ingest_products(store, demo_shop.PRODUCTS)
    ingest_knowledge(store, demo_shop.POLICIES)
    return folder


def shop_env(store: Path, work: Path, **extra: str) -> dict[str, str]:
    """PITCHCRAFT_* settings for a process on the demo store, with fast model-free options
    where a plugin has them (the tests that need the model say so)."""
    options = {
        "recommender": {"model_path": str(work / "model.npz"), "use_model": False},
        "support": {
            "sessions_path": str(work / "sessions.sqlite"),
            "orders_path": str(work / "orders.sqlite"),
            "use_model": False,
        },
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("PITCHCRAFT_")}
    env.update(
        PITCHCRAFT_STORE_PATH=str(store),
        PITCHCRAFT_CACHE_DIR=str(MODEL_CACHE),
        PITCHCRAFT_PLUGIN_OPTIONS=json.dumps(options),
        PYTHONPATH=str(REPO),
    )
    env.update(extra)
    return env


@dataclass
class Server:
    url: str
    key: str
    log: Path
    process: subprocess.Popen[bytes]


def wait_for(
    url: str,
    path: str = "/readyz",
    limit_s: float = 300,
    process: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> None:
    """Until GET url+path answers 200; fails early if the server process exits."""
    deadline = time.monotonic() + limit_s

    def tail() -> str:
        return log.read_text()[-2000:] if log else ""

    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited: {tail()}")
        try:
            if httpx.get(url + path, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url}{path} not ready in {limit_s} s: {tail()}")


@pytest.fixture(scope="module")
def api_server(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`pitchcraft serve` on 127.0.0.1 with one API key, the real model and store."""
    from pitchcraft.api.guard import new_key

    work = tmp_path_factory.mktemp("api")
    key, digest = new_key()
    (work / "keys.txt").write_text(f"# test keys\ntests:{digest}\n", encoding="utf-8")
    env = shop_env(
        demo_store,
        work,
        PITCHCRAFT_API_KEYS_FILE=str(work / "keys.txt"),
        PITCHCRAFT_API_RATE_LIMIT_PER_MINUTE="120",
    )
    port = free_port()
    log = work / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [PITCHCRAFT, "serve", "--port", str(port)], env=env, cwd=work, stdout=out, stderr=out
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url, process=process, log=log)
        yield Server(url, key, log, process)
    finally:
        process.terminate()
        process.wait(timeout=30)


def catalog_file(path: Path, products: int) -> Path:
    """The first `products` demo-shop products as a JSONL catalogue at `path`."""
    rows = demo_shop.load_products()[:products]
    path.write_text("".join(p.model_dump_json() + "\n" for p in rows), encoding="utf-8")
    return path

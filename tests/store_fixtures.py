"""Stores for tests: a local Chroma folder, or a real `chroma run` server on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pitchcraft import Settings
from pitchcraft.store import ProductStore


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_chroma(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A Chroma server from the installed chromadb package on 127.0.0.1: (process, url)."""
    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2)
            return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("chroma server did not start") from None
            time.sleep(0.2)


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Chroma server for the session, stopped afterwards."""
    proc, url = start_chroma(tmp_path_factory.mktemp("chroma-server"))
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="session")
def embedding_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shared across the session so each text is embedded once per test run."""
    return tmp_path_factory.mktemp("embedding-cache")


@pytest.fixture(params=["local", "server"])
def store_settings(
    request: pytest.FixtureRequest, tmp_path: Path, embedding_cache: Path
) -> Settings:
    """Fresh, isolated store settings; `server` runs the same test against chroma run."""
    extra: dict[str, object] = {}
    if request.param == "server":
        extra["chroma_url"] = request.getfixturevalue("chroma_server")
        extra["collection_prefix"] = f"t{uuid.uuid4().hex[:10]}_"
    return Settings(store_path=tmp_path / "chroma", cache_dir=embedding_cache, **extra)


@pytest.fixture
def store(store_settings: Settings) -> ProductStore:
    return ProductStore.from_settings(store_settings)

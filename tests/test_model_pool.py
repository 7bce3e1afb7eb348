"""A pool of model servers (`llm_url` naming several): routing, and a real batch that
loses one vLLM server mid-way."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pitchcraft import Registry, Settings
from pitchcraft.batch import done_results, run_batch
from pitchcraft.llm import serve
from pitchcraft.llm.pool import NoServer, ServerPool
from tests.llm_fixtures import MODEL_CACHE, server_settings
from tests.shop_fixtures import catalog_file
from tests.store_fixtures import free_port


def pool_of(*models: list[str]) -> ServerPool:
    pool = ServerPool([f"http://10.0.0.{i}:8100/v1" for i in range(len(models))], {})
    for server, served in zip(pool.servers, models, strict=True):
        server.models = [{"id": m} for m in served]
    return pool


def test_a_slow_pool_is_said_to_be_overloaded_and_a_dead_one_unreachable() -> None:
    from pitchcraft.errors import ModelUnavailable
    from pitchcraft.llm.remote import unreachable_as_unavailable

    label = pool_of(["base"], ["base"]).label
    with pytest.raises(ModelUnavailable) as slow, unreachable_as_unavailable(label):
        raise httpx.ReadTimeout("timed out")
    assert str(slow.value).startswith(label + " did not answer in time")
    assert "PITCHCRAFT_LLM_TIMEOUT_S" in str(slow.value)
    dead = pytest.raises(ModelUnavailable, match=r"^model server http://x:1/v1 unreachable")
    with dead, unreachable_as_unavailable("http://x:1/v1"):
        raise httpx.ConnectError("refused")


def test_requests_go_to_the_least_loaded_server_that_serves_the_adapter() -> None:
    pool = pool_of(["base", "copy"], ["base", "copy"], ["base"])
    first, second = pool.pick("copy", set()), pool.pick("copy", set())
    assert {first.url, second.url} == {pool.servers[0].url, pool.servers[1].url}
    assert pool.pick("base", set()) is pool.servers[2]  # the one with nothing in flight
    pool.release(first)
    assert pool.pick("copy", set()) is first


def test_a_failed_server_is_left_out_until_a_check_says_it_answers() -> None:
    pool = pool_of(["base"], ["base"])
    pool.recheck_s = 3600
    pool.mark_down(pool.servers[0])
    assert all(pool.pick("base", set()) is pool.servers[1] for _ in range(3))
    with pytest.raises(NoServer, match="serving 'copy'"):
        pool.pick("copy", set())
    with pytest.raises(NoServer, match="can be reached"):
        pool.pick("base", {pool.servers[1].url})


def test_llm_url_lists_the_pool_and_refuses_what_is_not_a_url() -> None:
    settings = Settings(llm_url="http://a:1/v1, http://b:2/v1", llm_backend="openai")
    assert settings.llm_urls == ["http://a:1/v1", "http://b:2/v1"]
    assert "a pool of 2 model servers" in settings.backend_line()
    with pytest.raises(ValueError, match="not an http"):
        Settings(llm_url="http://a:1/v1,b:2")


@pytest.fixture
def second_server(adapters_dir: Path, tmp_path: Path) -> Iterator[tuple[Settings, Path, str]]:
    settings = Settings(cache_dir=MODEL_CACHE, adapters_dir=adapters_dir)
    state = serve.start(settings, "127.0.0.1", free_port(), wait_s=900, run_dir=tmp_path)
    yield settings, tmp_path, state.url
    serve.stop(settings, run_dir=tmp_path)


def stop_when_busy(url: str, stop: threading.Event, stopped: list[float]) -> None:
    """Stops the server once it is generating (requests in flight are cut off)."""
    metrics = url.removesuffix("/v1") + "/metrics"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and not stop.is_set():
        try:
            text = httpx.get(metrics, timeout=5).text
        except httpx.HTTPError:
            return
        running = [
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("vllm:num_requests_running")
        ]
        if running and max(running) > 0:
            stopped.append(time.monotonic())
            return
        time.sleep(0.2)


@pytest.mark.slow
def test_a_batch_completes_on_the_other_server_when_one_stops(
    vllm_url: str,
    second_server: tuple[Settings, Path, str],
    adapters_dir: Path,
    tmp_path: Path,
) -> None:
    serve_settings, run_dir, second_url = second_server
    catalog = catalog_file(tmp_path / "products.jsonl", 8)
    pool = f"{vllm_url},{second_url}"
    one_draft = {"copywriter": {"drafts": 1}}  # the test is of failing over, not of drafts
    settings = server_settings(
        tmp_path, adapters_dir, pool, concurrency=4, batch_size=8, plugin_options=one_draft
    )
    registry = Registry(settings).load()
    busy: list[float] = []
    done = threading.Event()
    watcher = threading.Thread(target=stop_when_busy, args=(second_url, done, busy))
    watcher.start()

    def stop_second_when_busy() -> None:
        watcher.join()
        if busy:
            serve.stop(serve_settings, run_dir=run_dir)

    stopper = threading.Thread(target=stop_second_when_busy)
    stopper.start()
    try:
        report = run_batch(
            registry.get("copywriter"),
            registry.context(),
            catalog,
            tmp_path / "out.jsonl",
            defaults={"variants": 1, "channel": "email"},
        )
    finally:
        done.set()
        stopper.join()
    assert busy, "the second server never took a request"
    assert serve.read_state(serve_settings, run_dir) is None  # it was stopped mid-batch
    assert (report.succeeded, report.failed, report.invalid) == (8, 0, 0)
    assert len(done_results(tmp_path / "out.jsonl")) == 8

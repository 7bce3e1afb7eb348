"""Whose fault a failed request is, as the HTTP API tells it: a dependency that is down (503
naming it, with Retry-After), a fault of the server (500 with a request id the log shows), or
the caller's input (422 naming the field). In-process, on a real Chroma server that is
stopped mid-way."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pitchcraft import Registry, Settings
from pitchcraft.api.app import create_app
from pitchcraft.api.guard import JsonLogFormatter, RateLimiter, RequestGuard
from pitchcraft.data import demo_shop
from pitchcraft.store import ProductStore
from tests.store_fixtures import start_chroma

ECHO = "tests.sample_plugins.good:Echo"


@pytest.fixture
def app_on_chroma(tmp_path: Path, embedding_cache: Path) -> Iterator[tuple[TestClient, Any]]:
    """The API (recommender without the model, and the sample echo plugin) on a Chroma server
    holding part of the demo shop; yields the client and the server process to stop."""
    proc, url = start_chroma(tmp_path / "chroma")
    settings = Settings(
        chroma_url=url,
        cache_dir=embedding_cache,
        plugins=["recommender", "echo"],
        extra_plugins=[ECHO],
        plugin_options={
            "recommender": {"model_path": str(tmp_path / "model.npz"), "use_model": False}
        },
    )
    ProductStore.from_settings(settings).upsert_products(demo_shop.load_products()[:60])
    client = TestClient(create_app(Registry(settings), auth=False))
    try:
        yield client, proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow  # a Chroma server
def test_store_down_is_503_naming_the_store_with_retry_after(
    app_on_chroma: tuple[TestClient, Any],
) -> None:
    client, chroma = app_on_chroma
    need = {"need": "wireless headphones", "reasons": False, "k": 3}
    first = client.post("/v1/plugins/recommender", json=need)
    assert first.status_code == 200, first.text
    assert first.json()["items"]
    chroma.terminate()
    chroma.wait(timeout=30)
    time.sleep(2.5)  # past the store's freshness interval, so the search asks the server
    down = client.post("/v1/plugins/recommender", json=need)
    assert down.status_code == 503, down.text
    error = down.json()["error"]
    assert error["type"] == "store_unavailable"
    assert "Chroma server" in error["message"]
    assert int(down.headers["retry-after"]) >= 1
    batch = client.post("/v1/plugins/recommender/batch", json={"requests": [need]})
    assert batch.status_code == 200
    assert batch.json()["results"][0]["error"]["type"] == "store_unavailable"


@pytest.mark.slow  # a Chroma server
def test_plugin_bug_is_500_with_the_request_id_in_the_log(
    app_on_chroma: tuple[TestClient, Any], caplog: pytest.LogCaptureFixture
) -> None:
    client, _ = app_on_chroma
    with caplog.at_level(logging.ERROR, logger="pitchcraft.api.errors"):
        response = client.post(
            "/v1/plugins/echo", json={"text": "hi", "fail": True}, headers={"X-Request-ID": "r-42"}
        )
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["type"] == "plugin_failed" and error["request_id"] == "r-42"
    logged = [json.loads(JsonLogFormatter().format(r)) for r in caplog.records]
    mine = [entry for entry in logged if entry.get("request_id") == "r-42"]
    assert mine and mine[0]["target"] == "echo"
    assert "RuntimeError: asked to fail on 'hi'" in mine[0]["traceback"]


@pytest.mark.slow  # a Chroma server
def test_bad_input_is_still_422_naming_the_field(app_on_chroma: tuple[TestClient, Any]) -> None:
    client, _ = app_on_chroma
    response = client.post("/v1/plugins/echo", json={"text": "hi", "times": "3"})
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {"times": "Input should be a valid integer"}


def test_an_exception_no_handler_knows_is_500_internal_error_logged_under_its_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = FastAPI()
    app.add_middleware(RequestGuard, max_body_bytes=1000)

    @app.get("/x")
    def broken() -> None:
        raise KeyError("session")

    with caplog.at_level(logging.ERROR, logger="pitchcraft.api.errors"):
        response = TestClient(app).get("/x", headers={"X-Request-ID": "r-7"})
    assert response.status_code == 500
    assert response.json()["error"] == {
        "type": "internal_error",
        "message": "the server failed on this request; its log has the details under this id",
        "fields": {},
        "request_id": "r-7",
        "retry_after_s": None,
    }
    assert response.headers["x-request-id"] == "r-7"
    assert any("r-7" in r.getMessage() and r.exc_info for r in caplog.records)


def test_rate_limit_buckets_of_idle_callers_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    limiter = RateLimiter(per_minute=60)
    for n in range(100):
        assert limiter.take(f"caller-{n}") == 0.0
    assert len(limiter) == 100
    now[0] += 30  # half refilled: kept, a fresh caller still costs a bucket
    limiter.take("late")
    assert len(limiter) == 101
    now[0] += 61  # everyone but "late" has refilled
    limiter.take("late")
    assert len(limiter) == 1

"""Requests in flight to a model server are capped in the client (llm_server_in_flight), a
request waiting its turn is not timed, and a streamed reply is timed by its silences: a
batch larger than the server can answer at once is queued, not timed out. Against a
stand-in OpenAI-compatible server that answers one request at a time."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pitchcraft import Settings
from pitchcraft.errors import ModelUnavailable
from pitchcraft.llm import ModelClient

ANSWER_S = 0.3  # each request's time at the stand-in server, one at a time


class OneAtATime:
    """Counts requests at the server at once; answers them one after another, each as
    `pieces` streamed chunks `ANSWER_S` apart."""

    def __init__(self) -> None:
        self.lock, self.serving = threading.Lock(), threading.Lock()
        self.at_once = self.most = 0
        self.pieces = 1
        self.cut_next = False  # the next reply stops after its first chunk, the server gone
        self.error_next: int | None = None  # the next reply ends in an error event: its code
        self.status_next: int | None = None  # the next request is refused with this status
        self.posts = 0


def chunk(content: str | None, finish: str | None = None, usage: bool = False) -> bytes:
    body: dict[str, object] = {
        "id": "x",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "base",
        "choices": []
        if usage
        else [{"index": 0, "delta": {"content": content}, "finish_reason": finish}],
    }
    if usage:
        body["usage"] = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    return f"data: {json.dumps(body)}\n\n".encode()


def handler(server: OneAtATime) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            data = json.dumps({"object": "list", "data": [{"id": "base", "object": "model"}]})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data.encode())

        def do_POST(self) -> None:
            assert json.loads(self.rfile.read(int(self.headers["Content-Length"])))["stream"]
            server.posts += 1
            if server.status_next is not None:
                status, server.status_next = server.status_next, None
                self.send_error(status)
                return
            with server.lock:
                server.at_once += 1
                server.most = max(server.most, server.at_once)
            with server.serving:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                if server.cut_next:  # promise more than comes: the client sees a cut
                    server.cut_next = False
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    self.wfile.write(chunk("o"))
                    self.wfile.flush()
                    self.connection.close()
                    server.at_once -= 1
                    return
                self.end_headers()
                if server.error_next is not None:  # as vLLM when its engine stops mid-reply
                    code, server.error_next = server.error_next, None
                    error = {"message": "EngineCore encountered an issue.", "code": code}
                    self.wfile.write(
                        chunk("o") + f"data: {json.dumps({'error': error})}\n\n".encode()
                    )
                    self.wfile.write(b"data: [DONE]\n\n")
                    with server.lock:
                        server.at_once -= 1
                    return
                for _ in range(server.pieces):
                    time.sleep(ANSWER_S)
                    self.wfile.write(chunk("ok"))
                    self.wfile.flush()
                self.wfile.write(chunk("", "stop") + chunk(None, usage=True) + b"data: [DONE]\n\n")
            with server.lock:
                server.at_once -= 1

    return Handler


@contextmanager
def serving() -> Iterator[tuple[OneAtATime, str]]:
    state = OneAtATime()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler(state))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield state, f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()


@pytest.fixture
def stand_in() -> Iterator[tuple[OneAtATime, str]]:
    with serving() as served:
        yield served


def client(url: str, in_flight: int) -> ModelClient:
    # 6 requests one at a time take 1.8 s at the server: more than the time limit
    return ModelClient(
        Settings(
            llm_backend="openai",
            llm_url=url,
            llm_timeout_s=2 * ANSWER_S,
            llm_retries=0,
            llm_server_in_flight=in_flight,
        )
    )


def test_requests_beyond_the_cap_wait_their_turn_untimed(stand_in: tuple[OneAtATime, str]) -> None:
    server, url = stand_in
    llm = client(url, in_flight=1)
    with ThreadPoolExecutor(6) as pool:
        replies = list(pool.map(lambda _: llm.chat().invoke("hi").content, range(6)))
    assert replies == ["ok"] * 6 and server.most == 1


def test_async_requests_share_the_same_places(stand_in: tuple[OneAtATime, str]) -> None:
    server, url = stand_in
    llm = client(url, in_flight=1)

    async def many() -> list[object]:
        return [
            r.content for r in await asyncio.gather(*(llm.chat().ainvoke("hi") for _ in range(6)))
        ]

    assert asyncio.run(many()) == ["ok"] * 6 and server.most == 1


def test_without_the_cap_the_same_batch_times_out(stand_in: tuple[OneAtATime, str]) -> None:
    server, url = stand_in
    llm = client(url, in_flight=64)
    with ThreadPoolExecutor(6) as pool, pytest.raises(ModelUnavailable, match="in time"):
        list(pool.map(lambda _: llm.chat().invoke("hi"), range(6)))
    assert server.most > 2


def test_a_long_reply_is_not_cut_off_while_it_streams(stand_in: tuple[OneAtATime, str]) -> None:
    server, url = stand_in
    server.pieces = 4  # 1.2 s in all, at most 0.3 s of silence: the limit is on silence
    assert client(url, in_flight=1).chat().invoke("hi").content == "ok" * 4


def test_a_reply_cut_off_by_its_server_is_asked_for_again(
    stand_in: tuple[OneAtATime, str],
) -> None:
    server, url = stand_in
    server.cut_next = True
    llm = ModelClient(Settings(llm_backend="openai", llm_url=url, llm_retries=1))
    assert llm.chat().invoke("hi").content == "ok"
    assert not server.cut_next


def test_a_reply_ended_by_its_servers_failure_is_asked_for_again_a_refused_one_is_not(
    stand_in: tuple[OneAtATime, str],
) -> None:
    import openai

    server, url = stand_in
    llm = ModelClient(Settings(llm_backend="openai", llm_url=url, llm_retries=1))
    server.error_next = 500
    assert llm.chat().invoke("hi").content == "ok" and server.posts == 2
    server.error_next = 400  # the request's fault: asking again would fail the same way
    with pytest.raises(openai.APIError, match="EngineCore"):
        llm.chat().invoke("hi")
    assert server.posts == 3


@pytest.mark.parametrize("failure", ["error event", "status 503"])
def test_a_pool_sends_a_request_its_server_failed_to_the_other_server(failure: str) -> None:
    with serving() as (first, first_url), serving() as (second, second_url):
        llm = ModelClient(
            Settings(llm_backend="openai", llm_url=f"{first_url},{second_url}", llm_retries=1)
        )
        assert llm.chat().invoke("hi").content == "ok"  # each server answered /models
        asked = first.posts  # the least-loaded server first: the first, both idle
        if failure == "error event":
            first.error_next = 500
        else:
            first.status_next = 503
        assert llm.chat().invoke("hi").content == "ok"
        assert first.posts == asked + 1 and second.posts == 1
        # a server failing mid-reply is left out until its check; a refusal may be the request's
        again = llm.chat().invoke("hi").content
        assert again == "ok" and (first.posts == asked + 1) == (failure == "error event")

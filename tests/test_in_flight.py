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
                for _ in range(server.pieces):
                    time.sleep(ANSWER_S)
                    self.wfile.write(chunk("ok"))
                    self.wfile.flush()
                self.wfile.write(chunk("", "stop") + chunk(None, usage=True) + b"data: [DONE]\n\n")
            with server.lock:
                server.at_once -= 1

    return Handler


@pytest.fixture
def stand_in() -> Iterator[tuple[OneAtATime, str]]:
    state = OneAtATime()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler(state))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield state, f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


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

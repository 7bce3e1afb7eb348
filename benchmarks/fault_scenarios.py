"""Faults on real servers, each run through the `pitchcraft` command as a user would: what
the user sees, the exit code, whether anything was lost or written twice once the same
command is run again, and how long recovery takes once the dependency is back.

Used by benchmarks/faults.py (the table and figures) and tests/test_faults.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.store_fixtures import free_port, start_chroma

REPO = Path(__file__).resolve().parents[1]
PITCHCRAFT = str(Path(sys.executable).with_name("pitchcraft"))
SLOW_PLUGIN = "tests.sample_plugins.good:Slow"  # a plugin that takes SLOW_SECONDS per request


@dataclass
class FaultResult:
    name: str
    survived: bool = False
    exit_code: int | None = None
    message: str = ""  # the first error line the user saw
    rows_total: int = 0
    rows_lost: int = 0
    rows_duplicated: int = 0
    recover_s: float = 0.0  # from the dependency being back to the work being complete
    notes: list[str] = field(default_factory=list)
    skipped: str = ""


def cli_env(work: Path, **settings: object) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PITCHCRAFT_")}
    env["PYTHONPATH"] = str(REPO)
    env["PITCHCRAFT_STORE_PATH"] = str(work / "chroma")
    for key, value in settings.items():
        env[f"PITCHCRAFT_{key.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    return env


def error_line(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip().startswith("error")]
    return lines[0] if lines else stderr.strip().splitlines()[-1] if stderr.strip() else ""


def clean(stderr: str) -> bool:
    return "Traceback" not in stderr


def output_lines(path: Path) -> list[int]:
    if not path.exists():
        return []
    lines = []
    for text in path.read_text(encoding="utf-8").splitlines():
        try:
            lines.append(int(json.loads(text)["line"]))
        except (json.JSONDecodeError, KeyError, ValueError):
            continue
    return lines


def settle_rows(result: FaultResult, done: list[int], total: int) -> None:
    counts = Counter(done)
    result.rows_total = total
    result.rows_lost = total - len(counts)
    result.rows_duplicated = sum(c - 1 for c in counts.values())


def wait_until(check: Callable[[], bool], limit_s: float, what: str) -> None:
    deadline = time.monotonic() + limit_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {limit_s:g} s")
        time.sleep(0.1)


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")


def interrupt_and_rerun(
    result: FaultResult,
    command: list[str],
    env: dict[str, str],
    output: Path,
    total: int,
    *,
    after_rows: int,
    fault: Callable[[], None],
    recover: Callable[[], dict[str, str]],
    expected: str,
) -> None:
    """Run the batch `command`; once `after_rows` rows are written cause `fault`, then
    `recover` (it returns settings that changed, e.g. a new URL) and run the same command
    again. Fills in `result`: survived means exit 3 with `expected` in one clean message, and
    a rerun that completes exactly the missing rows."""
    run = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    wait_until(lambda: len(output_lines(output)) >= after_rows, 600, "the first rows")
    fault()
    _, stderr = run.communicate(timeout=300)
    result.exit_code, result.message = run.returncode, error_line(stderr)
    before = len(output_lines(output))
    result.notes.append(f"{before} of {total} rows written before the stop")
    started = time.monotonic()
    env.update(recover())
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    result.recover_s = time.monotonic() - started
    settle_rows(result, output_lines(output), total)
    result.survived = (
        result.exit_code == 3
        and expected in result.message
        and clean(stderr)
        and again.returncode == 0
        and clean(again.stderr)
        and f"{total - before} done now" in again.stderr
        and result.rows_lost == 0
        and result.rows_duplicated == 0
    )


@contextmanager
def chroma(folder: Path) -> Iterator[dict[str, object]]:
    """A Chroma server; the dict holds the running process and url (`restart` replaces
    them, on the same data folder)."""
    proc, url = start_chroma(folder)
    server: dict[str, object] = {"proc": proc, "url": url}

    def restart() -> None:
        new_proc, new_url = start_chroma(folder)
        server.update(proc=new_proc, url=new_url)

    server["restart"] = restart
    try:
        yield server
    finally:
        live = server["proc"]
        assert isinstance(live, subprocess.Popen)
        live.kill()
        live.wait(timeout=30)


def kill(server: dict[str, object]) -> None:
    proc = server["proc"]
    assert isinstance(proc, subprocess.Popen)
    proc.kill()
    proc.wait(timeout=30)


# -- the store goes away during an ingest -----------------------------------------------------


def products_file(path: Path, copies: int) -> int:
    """The demo shop's products `copies` times over (distinct ids): enough rows that the
    ingest is still running when the store is killed."""
    from pitchcraft.data import demo_shop

    rows = []
    for n in range(copies):
        for p in demo_shop.load_products():
            rows.append(
                p.model_dump(mode="json") | {"id": f"{p.id}-{n}", "title": f"{p.title} #{n}"}
            )
    write_jsonl(path, rows)
    return len(rows)


def stored_product_ids(url: str) -> list[str]:
    import chromadb

    client = chromadb.HttpClient(
        host=url.split("//")[1].split(":")[0], port=int(url.rsplit(":", 1)[1])
    )
    ids: list[str] = []
    for collection in client.list_collections():
        if collection.name.endswith("products"):
            ids += client.get_collection(collection.name).get(include=[])["ids"]
    return ids


def store_killed_during_ingest(work: Path, copies: int = 4) -> FaultResult:
    result = FaultResult("store killed during an ingest")
    source = work / "catalog.jsonl"
    total = products_file(source, copies)
    with chroma(work / "chroma-data") as server:
        env = cli_env(work, chroma_url=str(server["url"]), cache_dir=str(work / "cache"))
        run = subprocess.Popen(
            [PITCHCRAFT, "ingest", "products", str(source)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_until(lambda: len(stored_product_ids(str(server["url"]))) > 0, 300, "the first rows")
        kill(server)
        killed = time.monotonic()
        _, stderr = run.communicate(timeout=300)
        result.exit_code = run.returncode
        result.message = error_line(stderr)
        result.notes.append(f"command ended {time.monotonic() - killed:.1f} s after the kill")
        restarted = time.monotonic()
        server["restart"]()  # type: ignore[operator]
        env["PITCHCRAFT_CHROMA_URL"] = str(server["url"])
        again = subprocess.run(
            [PITCHCRAFT, "ingest", "products", str(source)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        result.recover_s = time.monotonic() - restarted
        settle_rows(result, stored_product_ids(str(server["url"])), total)
        result.survived = (
            result.exit_code == 3
            and "Chroma server" in result.message
            and clean(stderr)
            and again.returncode == 0
            and clean(again.stderr)
            and result.rows_lost == 0
            and result.rows_duplicated == 0
        )
    return result


# -- the store goes away during a batch of support answers ------------------------------------


def support_questions(path: Path, count: int) -> int:
    from benchmarks.eval_support import policy_cases

    cases = policy_cases()
    write_jsonl(path, [{"message": cases[n % len(cases)].question} for n in range(count)])
    return count


def store_killed_during_support_batch(work: Path, count: int = 400) -> FaultResult:
    result = FaultResult("store killed during a batch of support answers")
    source, output = work / "questions.jsonl", work / "answers.jsonl"
    total = support_questions(source, count)
    options = {
        "support": {
            "use_model": False,
            "sessions_path": str(work / "sessions.sqlite"),
            "orders_path": str(work / "orders.sqlite"),
        }
    }
    with chroma(work / "chroma-data") as server:
        env = cli_env(
            work,
            chroma_url=str(server["url"]),
            cache_dir=str(work / "cache"),
            plugin_options=options,
            batch_size=8,
        )
        subprocess.run([PITCHCRAFT, "ingest", "demo"], env=env, check=True, capture_output=True)
        command = [PITCHCRAFT, "run", "support", "--input", str(source), "--output", str(output)]

        def back() -> dict[str, str]:
            server["restart"]()  # type: ignore[operator]
            return {"PITCHCRAFT_CHROMA_URL": str(server["url"])}

        interrupt_and_rerun(
            result,
            command,
            env,
            output,
            total,
            after_rows=16,
            fault=lambda: kill(server),
            recover=back,
            expected="Chroma server",
        )
    return result


# -- the output disk fills up mid-batch -------------------------------------------------------


def mount_tmpfs(folder: Path, size: str) -> str:
    """Mount a small tmpfs at `folder`; '' when done, else why it cannot be (not root)."""
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    return "" if done.returncode == 0 else (done.stderr.strip() or "mount failed")


def fill(path: Path) -> None:
    """Take every free byte of the disk `path` is on."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 65536):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


def output_disk_full_mid_batch(work: Path, count: int = 200) -> FaultResult:
    result = FaultResult("output disk full mid-batch")
    disk = work / "disk"
    why = mount_tmpfs(disk, "4m")
    if why:
        result.skipped = f"cannot mount a small disk: {why}"
        return result
    try:
        source, output = work / "numbers.jsonl", disk / "squares.jsonl"
        write_jsonl(source, [{"n": n} for n in range(count)])
        env = cli_env(work, extra_plugins=SLOW_PLUGIN, batch_size=4)
        env["SLOW_SECONDS"] = "0.05"
        command = [PITCHCRAFT, "run", "slow", "--input", str(source), "--output", str(output)]
        interrupt_and_rerun(
            result,
            command,
            env,
            output,
            count,
            after_rows=20,
            fault=lambda: fill(disk / "filler"),
            recover=lambda: (disk / "filler").unlink() or {},
            expected="cannot write",
        )
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
    return result


# -- the API server is stopped while clients wait ---------------------------------------------


def api_stopped_with_requests_in_flight(work: Path, clients: int = 16) -> FaultResult:
    result = FaultResult(f"API sent SIGTERM with {clients} requests in flight")
    port = free_port()
    env = cli_env(work, extra_plugins=SLOW_PLUGIN, api_drain_s=30, concurrency=clients)
    env["SLOW_SECONDS"] = "3"
    log = (work / "api.log").open("w")
    server = subprocess.Popen(
        [PITCHCRAFT, "serve", "--no-auth", "--port", str(port)], env=env, stderr=log, stdout=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(url + "/healthz"), 120, "the API server")
        answers: list[int | None] = [None] * clients

        def ask(n: int) -> None:
            try:
                reply = httpx.post(f"{url}/v1/plugins/slow", json={"n": n}, timeout=60)
                answers[n] = reply.status_code if reply.json().get("square") == n * n else -1
            except httpx.HTTPError:
                answers[n] = None

        threads = [threading.Thread(target=ask, args=(n,)) for n in range(clients)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)  # every request is inside the plugin now
        server.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        time.sleep(0.3)
        late = [_status(f"{url}/v1/plugins/slow", {"n": 1}) for _ in range(4)]
        for thread in threads:
            thread.join(timeout=60)
        server.wait(timeout=60)
        result.recover_s = time.monotonic() - stopped  # here: the time the drain took
        result.exit_code = server.returncode
        ok = answers.count(200)
        result.rows_total = clients
        result.rows_lost = clients - ok
        result.message = f"new requests while draining: {sorted(set(late))}"
        result.notes.append(f"{ok} of {clients} in-flight requests answered 200")
        result.survived = ok == clients and all(code == 503 for code in late)
    finally:
        if server.poll() is None:
            server.kill()
        log.close()
    return result


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _status(url: str, body: dict[str, object]) -> int | None:
    try:
        return httpx.post(url, json=body, timeout=10).status_code
    except httpx.HTTPError:
        return None


# -- the model server dies during a copywriter batch ------------------------------------------


def copy_requests(path: Path, count: int) -> int:
    from benchmarks.eval_copywriter import CHANNELS, keyword, pick_products

    rows: list[dict[str, object]] = []
    for p in pick_products(count):
        channel = CHANNELS[p.language or "en"][len(rows) % 3]
        product = p.model_dump(mode="json")
        rows.append({"product": product, "channel": channel, "keywords": [keyword(p)]})
    write_jsonl(path, rows[:count])
    return len(rows[:count])


def model_server_killed_during_copy_batch(work: Path, count: int = 12) -> FaultResult:
    from pitchcraft import Settings
    from pitchcraft.llm import serve

    result = FaultResult("model server (vLLM) killed during a copywriter batch")
    cache = Path.home() / ".cache" / "pitchcraft"
    if not (cache / "vllm-venv").exists():
        result.skipped = "no vLLM virtualenv (`pitchcraft model setup` makes it)"
        return result
    settings = Settings(cache_dir=cache, adapters_dir=work / "no-adapters")
    source, output = work / "products.jsonl", work / "copy.jsonl"
    total = copy_requests(source, count)
    state = serve.start(settings, "127.0.0.1", free_port(), wait_s=900, run_dir=work)
    try:
        env = cli_env(work, llm_backend="openai", llm_url=state.url, batch_size=2)
        command = [PITCHCRAFT, "run", "copywriter", "--input", str(source), "--output", str(output)]
        command += ["--sheet", str(work / "copy.csv")]

        def back() -> dict[str, str]:
            started = time.monotonic()
            state = serve.start(settings, "127.0.0.1", free_port(), wait_s=900, run_dir=work)
            result.notes.append(f"vLLM restarted in {time.monotonic() - started:.0f} s")
            return {"PITCHCRAFT_LLM_URL": state.url}

        interrupt_and_rerun(
            result,
            command,
            env,
            output,
            total,
            after_rows=2,
            fault=lambda: os.killpg(state.pid, signal.SIGKILL),
            recover=back,
            expected="model server",
        )
    finally:
        serve.stop(settings, run_dir=work)
    return result


SCENARIOS: dict[str, Callable[[Path], FaultResult]] = {
    "ingest": store_killed_during_ingest,
    "support": store_killed_during_support_batch,
    "disk": output_disk_full_mid_batch,
    "api": api_stopped_with_requests_in_flight,
    "model": model_server_killed_during_copy_batch,
}


def run_scenario(name: str) -> FaultResult:
    with tempfile.TemporaryDirectory(prefix=f"fault-{name}-") as tmp:
        return SCENARIOS[name](Path(tmp))

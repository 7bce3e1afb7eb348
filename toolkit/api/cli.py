"""`pitchcraft serve` (the HTTP API under uvicorn) and `pitchcraft api-key`."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from pitchcraft.cli_common import err, friendly_errors, labelled, load_settings


@friendly_errors
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    no_auth: Annotated[
        bool,
        typer.Option("--no-auth", help="Accept requests without an API key (private hosts)."),
    ] = False,
) -> None:
    """Serve the HTTP API: one route per plugin and chain, chat, health, metrics, /docs."""
    import uvicorn

    from pitchcraft.api.app import create_app
    from pitchcraft.api.drain import draining_server
    from pitchcraft.api.guard import JsonLogFormatter
    from pitchcraft.registry import Registry

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    for name in ("pitchcraft.api.access", "pitchcraft.api.errors", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(logging.INFO)
        logger.propagate = False
    if no_auth and host not in ("127.0.0.1", "localhost", "::1"):
        err.print(labelled("warning:", "yellow", f"no API keys required on {host}"))
    settings = load_settings()
    app = create_app(Registry(settings), auth=not no_auth)
    err.print(f"pitchcraft API on http://{host}:{port} (docs: /docs)")
    err.print(settings.backend_line())
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False)
    draining_server(config, app.state.service.drain, settings.api_drain_s).run()


def api_key(
    name: Annotated[str, typer.Argument(help="A label for the key, e.g. the calling service.")],
) -> None:
    """Make an API key: prints the key (give it to the caller, it is not stored) and the
    line to add to api_keys or api_keys_file."""
    from pitchcraft.api.guard import new_key

    key, digest = new_key()
    typer.echo(f"key:   {key}")
    typer.echo(f"entry: {name}:{digest}")

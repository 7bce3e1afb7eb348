"""Helpers every `pitchcraft` sub-command shares: consoles, settings, one-line errors."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.text import Text

from pitchcraft.errors import DependencyUnavailable, PitchcraftError, field_errors
from pitchcraft.progress import stderr
from pitchcraft.settings import Settings

if TYPE_CHECKING:
    from pitchcraft.registry import LoadFailure

out = Console(markup=False, highlight=False)  # user data is never read as markup
err = stderr

P = ParamSpec("P")
R = TypeVar("R")


def labelled(label: str, style: str, text: str) -> Text:
    """`label` in `style`, then `text` exactly as given (never read as markup)."""
    return Text.assemble((label, style), " ", text)


EXIT_UNAVAILABLE = 3  # a dependency or the disk failed; the same command may work later


def friendly_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Print pitchcraft errors as one clear line instead of a stack trace: exit 3 when a
    dependency (model, store, data) is unavailable, so a retry may work; 2 otherwise."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except PitchcraftError as exc:
            err.print(labelled("error:", "red", str(exc)), soft_wrap=True)
            code = EXIT_UNAVAILABLE if isinstance(exc, DependencyUnavailable) else 2
            raise typer.Exit(code) from None

    return wrapper


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{name} (PITCHCRAFT_{name.split('.')[0].upper()}): {msg}"
            for name, msg in field_errors(exc).items()
        )
        raise PitchcraftError(f"invalid settings: {problems}") from None


def print_json(value: Any) -> None:
    out.print_json(json.dumps(value, ensure_ascii=False), ensure_ascii=False)


def read_json_arg(value: str) -> str:
    """--json accepts the JSON itself, @path to a file, or - for standard input."""
    if value == "-":
        return sys.stdin.read()
    if value.startswith("@"):
        path = Path(value[1:])
        if not path.is_file():
            raise PitchcraftError(f"--json {value}: no such file")
        return path.read_text(encoding="utf-8")
    return value


def parse_json_object(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise PitchcraftError(f"--json: not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise PitchcraftError("--json: expected a JSON object")
    return data


def print_skipped(failures: list[LoadFailure]) -> None:
    """Plugins or chains that failed to load, one line each with the reason."""
    for f in failures:
        err.print(labelled("skipped", "yellow", f"{f.name} ({f.source}): {f.reason}"))


# -- where a batch runs (run, chain run, ingest products) ----------------------------------


class Engine(StrEnum):
    local = "local"
    ray = "ray"


EngineOption = Annotated[
    Engine,
    typer.Option(
        "--engine",
        help="Where the batch runs: local (this process) or ray (a Ray cluster; "
        "pip install 'pitchcraft[scale]').",
    ),
]
RayAddressOption = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="With --engine ray: the cluster to join (default: RAY_ADDRESS, else a local "
        "Ray started for the job).",
    ),
]
WorkersOption = Annotated[
    int | None,
    typer.Option(
        "--workers", min=1, help="With --engine ray: workers (default: one per cluster CPU)."
    ),
]


def default_output(source: str, name: str, suffix: str) -> Path:
    """`<input stem>.<name>.out<suffix>` beside a local input, in the current folder for a
    URI."""
    if "://" in source:
        return Path.cwd() / f"{Path(source.rstrip('/')).stem}.{name}.out{suffix}"
    path = Path(source)
    return path.with_name(f"{path.stem}.{name}.out{suffix}")

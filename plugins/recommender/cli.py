"""`pitchcraft recommender fit|info`: train the collaborative model from a shop's own
interaction log, and say what the plugin will load."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from pitchcraft.cli_common import err, friendly_errors, load_settings, print_json
from pitchcraft.context import Context
from pitchcraft.errors import PitchcraftError
from pitchcraft.plugins.recommender.interactions import read_interactions
from pitchcraft.plugins.recommender.model import FitOptions, FittedModel, fit
from pitchcraft.plugins.recommender.models import RecommenderOptions

app = typer.Typer(help="Fit and inspect the recommender's model.", no_args_is_help=True)


def options() -> RecommenderOptions:
    return Context(load_settings()).options("recommender", RecommenderOptions)


@app.command("fit")
@friendly_errors
def fit_command(
    interactions: Annotated[
        Path,
        typer.Option(
            "--interactions",
            help="CSV, JSONL or Parquet: user_id, item_id (product id), optional weight "
            "(rating, quantity) and timestamp (epoch seconds or ISO date).",
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(help="Where to save the model; default: the plugin's model_path setting."),
    ] = None,
    method: Annotated[
        str, typer.Option(help="auto (EASE up to 12,000 items, else SAR), ease or sar.")
    ] = "auto",
    half_life_days: Annotated[
        float, typer.Option(help="Older interactions count half as much after this; 0 = never.")
    ] = 30.0,
    neighbours: Annotated[int, typer.Option(help="Item-item weights kept per item.")] = 200,
    rejects: Annotated[
        Path | None, typer.Option(help="Where bad rows are listed (default: next to cwd).")
    ] = None,
) -> None:
    """Learn item-item weights and popularity from an interaction log."""
    if method not in ("auto", "ease", "sar"):
        raise PitchcraftError(f"--method {method!r}: use auto, ease or sar")
    if neighbours < 1:
        raise PitchcraftError("--neighbours must be at least 1")
    target = output or options().model_path
    log = read_interactions(interactions, rejects)
    fit_options = FitOptions(
        method=method,  # type: ignore[arg-type]
        half_life_days=half_life_days or None,
        neighbours=neighbours,
    )
    started = time.perf_counter()
    with err.status(f"fitting on {len(log.events)} interactions"):
        model = fit(log.events, fit_options, source=interactions.name)
        model.save(target)
    info = model.info
    err.print(
        f"{log.rows} rows, {log.rejected} rejected"
        + (f" (reasons in {log.rejects_file})" if log.rejects_file else "")
        + f"; {info.method} on {info.users} users x {info.items} items in "
        f"{time.perf_counter() - started:.1f}s -> {target}",
    )
    if log.rejected:
        raise typer.Exit(1)


@app.command("info")
@friendly_errors
def info_command(
    path: Annotated[Path | None, typer.Option(help="Default: the plugin's model_path.")] = None,
) -> None:
    """What the fitted model was trained on."""
    target = path or options().model_path
    if not target.is_file():
        raise PitchcraftError(f"no fitted model at {target}: run `pitchcraft recommender fit`")
    try:
        model = FittedModel.load(target)
    except (OSError, ValueError, KeyError) as error:
        raise PitchcraftError(f"cannot read {target}: {error}") from None
    print_json({"path": str(target), **model.info.model_dump(mode="json")})

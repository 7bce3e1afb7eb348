"""The plugin contract: a named, versioned, typed function from Input to Output.

A plugin author writes one subclass and (optionally) one prompt folder; every
surface (CLI, HTTP, demo, LangChain tools, chain steps) is derived from the
Input/Output models declared here.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from pitchcraft.errors import InputError, PitchcraftError, PluginRunError
from pitchcraft.outcomes import OutcomeLabel
from pitchcraft.sheet import flatten

if TYPE_CHECKING:
    import typer

    from pitchcraft.charts import Chart
    from pitchcraft.context import Context
    from pitchcraft.finetune.sets import TrainingSet

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]*$")

InT = TypeVar("InT", bound=BaseModel)
OutT = TypeVar("OutT", bound=BaseModel)

log = logging.getLogger(__name__)


class Plugin(ABC, Generic[InT, OutT]):
    """Subclass this, set the class attributes, implement `run`.

    Instances are created once by the registry (no constructor arguments) and
    shared across threads: keep per-request state out of `self`, and get models,
    stores and prompts from the Context.
    """

    name: ClassVar[str]
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = ""
    languages: ClassVar[tuple[str, ...]] = ("zh", "en")
    # Plugins of one family share a group, e.g. "Campaign effect": the demo shows them as
    # sub-tabs of one tab. Empty: a tab of its own.
    group: ClassVar[str] = ""
    Input: type[InT]
    Output: type[OutT]
    # Batch runs also write a spreadsheet of the results (`run --sheet` names another file).
    writes_sheet: ClassVar[bool] = False
    # Batch runs also write a report folder (`write_report`), e.g. charts and summaries.
    writes_report: ClassVar[bool] = False
    # A folder holding <name>/<template>.<lang>.jinja, for plugins shipped outside this repository.
    prompts_dir: ClassVar[Path | None] = None

    @abstractmethod
    def run(self, req: InT, ctx: Context) -> OutT:
        """Handle one validated request."""

    async def run_many(self, reqs: Sequence[InT], ctx: Context) -> list[OutT | PluginRunError]:
        """One outcome per request, in order; a failure fills its own slot only.

        The default runs `run` concurrently in its own pool of
        settings.concurrency threads (asyncio's shared default pool is too
        small to keep a model server busy). Override it to batch model calls.
        """
        loop = asyncio.get_running_loop()
        pool = ThreadPoolExecutor(max_workers=ctx.settings.concurrency)
        try:
            pending = [  # each in a copy of the caller's context (a chat's draft listener)
                loop.run_in_executor(pool, contextvars.copy_context().run, self.run_checked, r, ctx)
                for r in reqs
            ]
            return list(await asyncio.gather(*pending))
        finally:  # on Ctrl-C, drop queued requests now instead of waiting for all of them
            pool.shutdown(wait=False, cancel_futures=True)

    def parse_input(self, data: Mapping[str, Any] | str | bytes | BaseModel) -> InT:
        """Validate raw input (dict or JSON text); raises InputError naming each bad field."""
        if isinstance(data, self.Input):
            return data
        try:
            if isinstance(data, str | bytes):
                return self.Input.model_validate_json(data)
            if isinstance(data, BaseModel):
                data = data.model_dump()
            return self.Input.model_validate(data)
        except ValidationError as err:
            raise InputError.from_validation(self.name, err) from None

    def run_checked(self, req: InT, ctx: Context) -> OutT | PluginRunError:
        """`run`, with the result checked against Output and any failure returned, not raised."""
        try:
            result = self.check_output(self.run(req, ctx))
            ctx.outcomes.add(self.name, self.outcomes(result))
            return result
        except PluginRunError as err:
            return err
        except PitchcraftError as err:
            return PluginRunError(self.name, str(err), cause=err)
        except Exception as err:  # a plugin bug must not take a batch down
            log.debug("plugin %s raised", self.name, exc_info=True)
            return PluginRunError(self.name, f"{type(err).__name__}: {err}", bug=err)

    def check_output(self, result: object) -> OutT:
        if isinstance(result, self.Output):
            return result
        try:
            return self.Output.model_validate(result)
        except ValidationError as err:
            raise PluginRunError(
                self.name, f"returned output that does not match {self.Output.__name__}: {err}"
            ) from None

    def sheet_rows(self, result: OutT) -> list[dict[str, Any]]:
        """Spreadsheet rows for one result (`run --sheet`); override for one row per item."""
        return [flatten(result.model_dump(mode="json"))]

    def outcomes(self, result: OutT) -> Iterable[OutcomeLabel]:
        """(kind, value) pairs one result says about itself, counted per plugin by /metrics
        (e.g. ("answered_by", "model"), ("refused", "prompt_injection")); none by default."""
        return ()

    # Words (any language, matched case-insensitively) that send a chat message here.
    chat_keywords: ClassVar[tuple[str, ...]] = ()
    # Takes a chat message that states a want for a kind of product the shop sells
    # ("a 65 inch TV for the living room"), read by pitchcraft.needs, when no keyword decides.
    chat_takes_needs: ClassVar[bool] = False

    def chat_claims(self, message: str, ctx: Context) -> bool:
        """This plugin must answer `message` whatever its other words (e.g. a safety issue or
        a request for a person goes to support); checked before keywords. False by default."""
        return False

    def chat_request(self, message: str, ctx: Context) -> dict[str, Any] | None:
        """The request a chat message makes of this plugin; None: not offered in chat."""
        return None

    def chat_reply(self, result: OutT) -> str:
        """The result as a short chat answer (Markdown)."""
        return "```json\n" + result.model_dump_json(indent=2) + "\n```"

    def show_early(self, partial: OutT) -> None:
        """Show a chat what is known before the model writes its part (products before their
        reasons, say): `partial` as chat_reply renders it, only when a chat listens."""
        from pitchcraft import early

        early.show(lambda: self.chat_reply(partial))

    def charts(self, results: Sequence[OutT], ctx: Context) -> list[Chart]:
        """Charts of one or several results, for surfaces that draw (the demo); none by
        default."""
        return []

    def warm_up(self, ctx: Context) -> None:
        """Build what a first request would otherwise wait for (e.g. fit or load a model).
        The API and the demo call it in the background after the store and the model, and
        report ready after it; nothing by default."""

    def commands(self) -> typer.Typer | None:
        """Extra CLI commands, offered as `pitchcraft <name> ...` (e.g. fitting a model the
        plugin loads); None when the plugin has none."""
        return None

    def training_sets(self) -> Sequence[TrainingSet]:
        """Fine-tuning data this plugin builds for its adapters, from real data it knows
        (`pitchcraft finetune prepare TASK`); none by default."""
        return ()

    def write_report(self, results: Sequence[OutT], folder: Path, ctx: Context) -> list[Path]:
        """Summarise a whole batch's results into files under `folder`; returns the files.

        Called after `run --input` when `writes_report` is set."""
        raise NotImplementedError(f"plugin {self.name} writes no report")

    def invoke(self, data: Mapping[str, Any] | str | BaseModel, ctx: Context) -> OutT:
        """Validate, run, check: the one-request path every surface uses. Raises on failure."""
        outcome = self.run_checked(self.parse_input(data), ctx)
        if isinstance(outcome, PluginRunError):
            raise outcome
        return outcome


def contract_problems(cls: object) -> list[str]:
    """Why `cls` is not a usable plugin class (empty when it is)."""
    if not (inspect.isclass(cls) and issubclass(cls, Plugin)):
        return [f"{cls!r} is not a subclass of pitchcraft.plugin.Plugin"]
    problems: list[str] = []
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        problems.append(f"name {name!r} must match {NAME_PATTERN.pattern}")
    if not isinstance(cls.version, str) or not cls.version.strip():
        problems.append("version must be a non-empty string")
    if not isinstance(cls.description, str) or not cls.description.strip():
        problems.append("description must be a non-empty string")
    langs = cls.languages
    if not langs or not all(isinstance(lang, str) and lang for lang in langs):
        problems.append("languages must list at least one language code")
    for attr in ("Input", "Output"):
        model = getattr(cls, attr, None)
        if not (inspect.isclass(model) and issubclass(model, BaseModel)):
            problems.append(f"{attr} must be a pydantic BaseModel subclass, got {model!r}")
            continue
        try:
            model.model_json_schema()
        except Exception as err:
            problems.append(f"{attr} has no JSON schema: {type(err).__name__}: {err}")
    if inspect.isabstract(cls):
        problems.append("run() is not implemented")
    return problems

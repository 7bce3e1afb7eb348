"""The chain runner: YAML chains (`chain_spec`) as LangChain Runnables over plugins.

Each step is a RunnableLambda that reads the state (the chain input and the
outputs so far), runs its plugin once or over a list (one `run_many`, so the
model server sees the whole fan-out at once), and records a trace entry. A
step never raises: a failure is recorded, later steps are skipped, and what
earlier steps produced stays in the result.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from langchain_core.callbacks.manager import adispatch_custom_event
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda, RunnableSequence
from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field, ValidationError

from pitchcraft import chains
from pitchcraft.chain.spec import (
    ChainError,
    ChainSpec,
    StepSpec,
    check_spec,
    literal,
    parse_ref,
    read_spec,
)
from pitchcraft.charts import Chart
from pitchcraft.errors import InputError, PitchcraftError
from pitchcraft.plugin import Plugin
from pitchcraft.registry import LoadFailure, Registry

SHIPPED_CHAINS = chains.FOLDER
STEP_PREFIX = "step:"
STEP_STARTED = "pitchcraft_step_started"


class StepTrace(BaseModel):
    step: str
    plugin: str
    status: Literal["ok", "partial", "failed", "skipped"]
    seconds: float = 0.0
    inputs: list[Any] = Field(default_factory=list, description="The requests the plugin got.")
    outputs: list[Any] = Field(default_factory=list, description="Its results, in order.")
    errors: list[str] = Field(default_factory=list)


class ChainResult(BaseModel):
    chain: str
    status: Literal["ok", "partial", "failed"]
    output: dict[str, Any]
    trace: list[StepTrace]
    error: str | None = Field(default=None, description="Why the failed step failed.")


class ChainEvent(BaseModel):
    event: Literal["step_start", "step_end", "chain_end"]
    chain: str
    step: str | None = None
    trace: StepTrace | None = None
    result: ChainResult | None = None


def value_at(data: Any, path: list[str]) -> Any:
    """Walk JSON data as `chain_spec.type_at` walks types: lists are mapped over."""
    for i, part in enumerate(path):
        if isinstance(data, list):
            if part.isdigit():
                data = data[int(part)] if int(part) < len(data) else None
                continue
            return [value_at(item, path[i:]) for item in data]
        data = data.get(part) if isinstance(data, dict) else None
        if data is None:
            return None
    return data


def flatten(value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        return [value]
    return [leaf for item in value for leaf in flatten(item)]


def step_request(with_: dict[str, Any], scope: Mapping[str, Any]) -> dict[str, Any]:
    """A step's request; a reference that finds nothing leaves its field to the default."""
    resolved = {target: resolve(value, scope) for target, value in with_.items()}
    return {target: value for target, value in resolved.items() if value is not None}


def resolve(value: Any, scope: Mapping[str, Any]) -> Any:
    """A `with` value with every reference replaced by the data it names."""
    if isinstance(value, dict):
        return {k: resolve(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, scope) for v in value]
    ref = parse_ref(value)
    if ref is None:
        return literal(value)
    return value_at(scope.get(ref.root), ref.path)


class Chain:
    """A checked chain: `ainvoke`/`invoke` give a ChainResult, `astream` its events."""

    def __init__(self, spec: ChainSpec, registry: Registry) -> None:
        self.spec = spec
        self.name = spec.name
        self.description = spec.description
        self.registry = registry
        plugins = registry.load().plugins
        self.Input = check_spec(spec, {n: (p.Input, p.Output) for n, p in plugins.items()})
        steps = [RunnableLambda(self._step_runner(s), name=STEP_PREFIX + s.id) for s in spec.steps]
        # RunnableSequence needs two parts; a one-step chain is its step.
        self.runnable: Runnable[dict[str, Any], dict[str, Any]] = (
            RunnableSequence(*steps, name=f"chain:{spec.name}") if len(steps) > 1 else steps[0]
        )

    # -- running ---------------------------------------------------------------------------

    def parse_input(self, data: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
        try:
            model = data if isinstance(data, self.Input) else self.Input.model_validate(data)
        except ValidationError as err:
            raise InputError.from_validation(f"chain {self.name}", err) from None
        return model.model_dump(mode="json")

    def _start_state(self, data: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
        return {"values": {"input": self.parse_input(data)}, "trace": []}

    async def ainvoke(self, data: Mapping[str, Any] | BaseModel) -> ChainResult:
        """Validate the input (InputError naming the field), run every step."""
        state = await self.runnable.ainvoke(self._start_state(data))
        return self._result(state)

    def invoke(self, data: Mapping[str, Any] | BaseModel) -> ChainResult:
        return asyncio.run(self.ainvoke(data))

    async def astream(self, data: Mapping[str, Any] | BaseModel) -> AsyncIterator[ChainEvent]:
        """step_start / step_end (with the step's trace) as they happen, then chain_end."""
        state: dict[str, Any] | None = None
        async for event in self.runnable.astream_events(self._start_state(data), version="v2"):
            name = event.get("name", "")
            if event["event"] == "on_custom_event" and name == STEP_STARTED:
                yield ChainEvent(event="step_start", chain=self.name, step=event["data"]["step"])
                continue
            if not name.startswith(STEP_PREFIX):
                continue
            step = name.removeprefix(STEP_PREFIX)
            if event["event"] == "on_chain_end":
                state = event["data"]["output"]
                yield ChainEvent(
                    event="step_end", chain=self.name, step=step, trace=state["trace"][-1]
                )
        assert state is not None
        yield ChainEvent(event="chain_end", chain=self.name, result=self._result(state))

    def as_tool(self) -> StructuredTool:
        """The chain as a LangChain tool (args_schema = the chain's Input)."""

        async def call(**fields: Any) -> dict[str, Any]:
            return (await self.ainvoke(fields)).model_dump(mode="json")

        return StructuredTool.from_function(
            coroutine=call,
            func=lambda **fields: self.invoke(fields).model_dump(mode="json"),
            name=self.name,
            description=self.description,
            args_schema=self.Input,
        )

    # -- showing a result --------------------------------------------------------------------

    def step_results(self, result: ChainResult) -> Iterator[tuple[StepTrace, Plugin, list[Any]]]:
        """Each step's trace, plugin and outputs as the plugin's Output models."""
        for trace in result.trace:
            plugin = self.registry.get(trace.plugin)
            yield trace, plugin, [plugin.Output.model_validate(o) for o in trace.outputs]

    def reply_text(self, result: ChainResult) -> str:
        """Each step's outputs as its plugin's chat answer, with the step errors (Markdown)."""
        parts = []
        for trace, plugin, outputs in self.step_results(result):
            parts += [plugin.chat_reply(output) for output in outputs]
            parts += [f"_{trace.step}: {error}_" for error in trace.errors]
        return "\n\n".join(parts) or (result.error or "")

    def charts(self, result: ChainResult) -> list[Chart]:
        """Each step's charts over all of its outputs (e.g. the polarity of every review)."""
        charts = []
        for _, plugin, outputs in self.step_results(result):
            if outputs:
                charts += plugin.charts(outputs, self.registry.context())
        return charts

    # -- steps -----------------------------------------------------------------------------

    def _step_runner(self, step: StepSpec) -> Any:
        async def run_step(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
            # A sequence streaming its events starts every step's runnable at once; this event
            # marks when this step's work really starts.
            await adispatch_custom_event(STEP_STARTED, {"step": step.id}, config=config)
            trace = StepTrace(step=step.id, plugin=step.plugin, status="skipped")
            if not any(t.status == "failed" for t in state["trace"]):
                started = time.perf_counter()
                try:
                    await self._run_step(step, state["values"], trace)
                except Exception as err:  # a step never takes the chain's partial results down
                    trace.status = "failed"
                    trace.errors.append(f"{type(err).__name__}: {err}")
                trace.seconds = round(time.perf_counter() - started, 3)
            return {**state, "trace": [*state["trace"], trace]}

        return run_step

    async def _run_step(self, step: StepSpec, values: dict[str, Any], trace: StepTrace) -> None:
        plugin = self.registry.get(step.plugin)
        if step.for_each is None:
            scopes = [values]
        else:
            items = flatten(resolve(step.for_each, values))
            scopes = [{**values, step.as_: item} for item in items]
        trace.inputs = [step_request(step.with_, scope) for scope in scopes]
        requests, slots = [], []
        outcomes: list[Any] = [None] * len(scopes)
        for i, raw in enumerate(trace.inputs):
            try:
                requests.append(plugin.parse_input(raw))
                slots.append(i)
            except InputError as err:
                outcomes[i] = err
        if requests:
            done = await plugin.run_many(requests, self.registry.context())
            for i, outcome in zip(slots, done, strict=True):
                outcomes[i] = outcome
        results = []
        for i, outcome in enumerate(outcomes):
            if isinstance(outcome, PitchcraftError):
                label = f"item {i}: " if step.for_each else ""
                trace.errors.append(label + str(outcome))
            else:
                results.append(outcome.model_dump(mode="json"))
        trace.outputs = results
        if step.for_each is None:
            trace.status = "failed" if trace.errors else "ok"
            values[step.id] = results[0] if results else None
        else:
            trace.status = "ok" if not trace.errors else "partial" if results else "failed"
            values[step.id] = results

    def _result(self, state: dict[str, Any]) -> ChainResult:
        values = state["values"]
        trace: list[StepTrace] = state["trace"]
        outputs = self.spec.output or {self.spec.steps[-1].id: "$" + self.spec.steps[-1].id}
        output = {name: resolve(ref, values) for name, ref in outputs.items()}
        failed = next((t for t in trace if t.status == "failed"), None)
        status = (
            "failed" if failed else "partial" if any(t.status == "partial" for t in trace) else "ok"
        )
        error = (
            f"step {failed.step} ({failed.plugin}): {'; '.join(failed.errors)}" if failed else None
        )
        return ChainResult(chain=self.name, status=status, output=output, trace=trace, error=error)


class ChainLibrary:
    """The chains found in the shipped folder and the user's `chains_dir` (same name: the
    user's wins). A chain that does not check is recorded in `failures` and skipped."""

    def __init__(self, registry: Registry, folders: list[Path] | None = None) -> None:
        self.registry = registry
        user = registry.settings.chains_dir
        default = [SHIPPED_CHAINS, *([user] if user else [])]
        self.folders = folders if folders is not None else default
        self.chains: dict[str, Chain] = {}
        self.failures: list[LoadFailure] = []
        self._loaded = False

    def load(self) -> ChainLibrary:
        if self._loaded:
            return self
        for folder in self.folders:
            for path in sorted(Path(folder).glob("*.yaml")) if Path(folder).is_dir() else []:
                try:
                    chain = Chain(read_spec(path), self.registry)
                except PitchcraftError as err:
                    self.failures = [f for f in self.failures if f.name != path.stem]
                    failure = LoadFailure(name=path.stem, source=str(path), reason=str(err))
                    self.failures.append(failure)
                    continue
                self.chains[chain.name] = chain
        self._loaded = True
        return self

    def names(self) -> list[str]:
        return sorted(self.load().chains)

    def get(self, name: str) -> Chain:
        self.load()
        if name in self.chains:
            return self.chains[name]
        reasons = [f.reason for f in self.failures if f.name == name]
        if reasons:
            raise ChainError(reasons[0])
        available = ", ".join(self.names()) or "none"
        raise ChainError(f"no chain named {name!r} (available: {available})")

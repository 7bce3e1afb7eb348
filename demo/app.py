"""The Gradio demo: a chat tab on the chat router, one tab per plugin and per chain.

Every tab is derived from the target's Input model (demo/forms.py), its chat answer
(`chat_reply`) and its charts (`charts`), so a plugin that lands later shows up here
with no demo code changed. The page opens at once; the model loads in the background
and a banner says how far it got.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from a demo

import gradio as gr
import pandas as pd
from pydantic import BaseModel

from pitchcraft.chain.router import ChatEvent, ChatRouter
from pitchcraft.chain.runner import Chain, ChainLibrary, ChainResult
from pitchcraft.charts import Chart
from pitchcraft.demo.forms import (
    FieldForm,
    build_request,
    default_value,
    example_of,
    model_forms,
    widget_value,
)
from pitchcraft.errors import PitchcraftError
from pitchcraft.registry import Registry
from pitchcraft.warmup import WarmUp

MAX_CHARTS = 3
CHAT_EXAMPLES = [
    "退货期限是多久？",
    "推荐一款运动相机，500美元以内",
    "Analyse this review: the sound is great but the case arrived cracked.",
]
THEME = gr.themes.Default(
    font=["system-ui", "Noto Sans CJK SC", "sans-serif"], font_mono=["ui-monospace", "monospace"]
)
CSS = "#status {min-height: 1.5em} .pc-trace td {font-size: 0.9em}"

HINTS = {"lines": "one per line", "integer": "a whole number", "number": "a number"}

Runner = Callable[[dict[str, Any]], AsyncIterator[dict[str, Any]]]


class ChartSlots:
    """A fixed number of plot places; each shows a bar or a line chart, or hides."""

    def __init__(self) -> None:
        self.slots = []
        for _ in range(MAX_CHARTS):
            bar = gr.BarPlot(visible=False, elem_classes=["pc-chart"])
            line = gr.LinePlot(visible=False, elem_classes=["pc-chart"])
            self.slots.append((bar, line))

    @property
    def components(self) -> list[Any]:
        return [c for pair in self.slots for c in pair]

    def show(self, charts: list[Chart]) -> dict[Any, Any]:
        updates: dict[Any, Any] = {}
        for i, (bar, line) in enumerate(self.slots):
            chart = charts[i] if i < len(charts) else None
            for component, kind, cls in ((bar, "bar", gr.BarPlot), (line, "line", gr.LinePlot)):
                if chart is None or chart.kind != kind:
                    updates[component] = cls(visible=False)
                    continue
                updates[component] = cls(
                    value=pd.DataFrame(chart.rows),
                    x=chart.x,
                    y=chart.y,
                    color=chart.color,
                    title=chart.title,
                    x_title=chart.x_title,
                    y_title=chart.y_title,
                    y_lim=list(chart.y_range) if chart.y_range else None,
                    color_map=chart.colors or None,
                    visible=True,
                )
        return updates


class DemoApp:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry.load()
        self.settings = registry.settings
        self.chains = ChainLibrary(registry).load()
        self.router = ChatRouter(registry, self.chains)
        self.warm = WarmUp(registry.context, self.registry.plugins)

    # -- the page ----------------------------------------------------------------------------

    def blocks(self) -> gr.Blocks:
        with gr.Blocks(title="pitchcraft") as page:
            gr.Markdown(
                "# pitchcraft\nE-commerce marketing toolkit: copy, recommendations, reviews, "
                "customer service and campaign effect, in Chinese and English."
            )
            status = gr.Markdown(self.status_text(), elem_id="status")
            timer = gr.Timer(1.0, active=not self.settled())
            timer.tick(self.poll_status, outputs=[status, timer], show_progress="hidden")
            with gr.Tabs():
                with gr.Tab("Chat", id="chat"):
                    self.chat_tab()
                placed: set[str] = set()
                for name in self.registry.names():
                    group = self.registry.plugins[name].group
                    if not group:
                        self.plugin_tab(name)
                    elif group not in placed:  # its tab sits where its first plugin sorts
                        placed.add(group)
                        with gr.Tab(group, elem_id=f"tab-group-{slug(group)}"), gr.Tabs():
                            for member in self.registry.names():
                                if self.registry.plugins[member].group == group:
                                    self.plugin_tab(member)
                if self.chains.chains:
                    with gr.Tab("Chains", id="chains", elem_id="tab-chains"), gr.Tabs():
                        for name in self.chains.names():
                            chain = self.chains.get(name)
                            with gr.Tab(name, id=f"chain-{name}", elem_id=f"tab-chain-{name}"):
                                run = self.chain_runner(chain)
                                self.form_tab("chain", name, chain.description, chain.Input, run)
        return page

    def plugin_tab(self, name: str) -> None:
        plugin = self.registry.plugins[name]
        with gr.Tab(name, id=f"plugin-{name}", elem_id=f"tab-plugin-{name}"):
            run = self.plugin_runner(name)
            self.form_tab("plugin", name, plugin.description, plugin.Input, run)

    def status_text(self) -> str:
        if self.warm.ready:
            return f"**Ready** — {self.warm.describe()} · answering: {self.engine()}"
        if self.warm.done:
            return f"**Not ready** — {self.warm.describe()}"
        return f"**Loading** — {self.warm.describe()} (answers that need the model wait for it)"

    def engine(self) -> str:
        return self.registry.context().llm.in_use()

    def settled(self) -> bool:
        """Nothing left for the banner to report: warmed up, and with `auto` on the server."""
        auto = self.settings.llm_backend == "auto"
        return self.warm.done and not (auto and not self.registry.context().llm.on_server())

    def poll_status(self) -> tuple[str, gr.Timer]:
        return self.status_text(), gr.Timer(active=not self.settled())

    # -- chat --------------------------------------------------------------------------------

    def chat_tab(self) -> None:
        chatbot = gr.Chatbot(elem_id="chatbot", height=460, label="Chat")
        message = gr.Textbox(
            placeholder="Ask in Chinese or English, e.g. 退货期限是多久？",
            show_label=False,
            elem_id="chat-input",
            submit_btn=True,
        )
        session = gr.State(None)
        gr.Examples(CHAT_EXAMPLES, inputs=message)
        message.submit(self.respond, [message, chatbot, session], [message, chatbot, session])

    async def respond(
        self, message: str, history: list[dict[str, Any]] | None, session_id: str | None
    ) -> AsyncIterator[tuple[str, list[dict[str, Any]], str]]:
        """Stream the router's events into the last chat bubble: route, steps, answer."""
        session_id = session_id or uuid.uuid4().hex[:16]
        history = [*(history or []), {"role": "user", "content": message}]
        bubble = Bubble()

        def shown() -> list[dict[str, Any]]:
            return [*history, {"role": "assistant", "content": bubble.text()}]

        yield "", shown(), session_id
        async for event in self.router.astream(message, session_id):
            bubble.hear(event)
            yield "", shown(), session_id

    # -- plugin and chain tabs ---------------------------------------------------------------

    def form_tab(
        self,
        kind: str,
        name: str,
        description: str,
        model: type[BaseModel],
        runner: Runner,
    ) -> None:
        """A form from `model`, a Run button, the answer, charts, the full result, and for
        a chain its steps. Element ids are `<part>-<kind>-<name>` (for tests and styling)."""
        tab = f"{kind}-{name}"
        forms = model_forms(model)
        example = example_of(model)
        gr.Markdown(description)
        with gr.Row():
            with gr.Column(scale=2):
                widgets = [
                    widget(f, example.get(f.name, default_value(model.model_fields[f.name])))
                    for f in forms
                ]
                run = gr.Button("Run", variant="primary", elem_id=f"run-{tab}")
            with gr.Column(scale=3):
                answer = gr.Markdown(elem_id=f"answer-{tab}", elem_classes=["pc-answer"])
                steps = gr.Dataframe(
                    headers=["step", "plugin", "status", "seconds", "errors"],
                    visible=kind == "chain",
                    interactive=False,
                    elem_id=f"trace-{tab}",
                    elem_classes=["pc-trace"],
                    label="Steps",
                )
                charts = ChartSlots()
                with gr.Accordion("Full result (JSON)", open=False):
                    full = gr.JSON(elem_id=f"json-{tab}")
        parts = {"answer": answer, "steps": steps, "full": full}

        async def on_run(*values: Any) -> AsyncIterator[dict[Any, Any]]:
            try:
                request = build_request(name, forms, list(values))
            except PitchcraftError as err:
                yield {answer: error_text(err)}
                return
            async for update in runner(request):
                shown = {parts[key]: value for key, value in update.items() if key != "charts"}
                if "charts" in update:
                    shown |= charts.show(update["charts"])
                yield shown

        run.click(on_run, widgets, [answer, steps, full, *charts.components])

    def plugin_runner(self, name: str) -> Runner:
        plugin = self.registry.plugins[name]

        async def run(request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
            ctx = self.registry.context()
            yield {"answer": "_running …_"}
            try:
                result = await asyncio.to_thread(plugin.invoke, request, ctx)
            except PitchcraftError as err:
                yield {"answer": error_text(err), "full": None, "charts": []}
                return
            yield {
                "answer": plugin.chat_reply(result),
                "full": result.model_dump(mode="json"),
                "charts": plugin.charts([result], ctx),
            }

        return run

    def chain_runner(self, chain: Chain) -> Runner:
        async def run(request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
            rows: list[list[Any]] = []
            yield {"answer": "_running …_", "steps": rows, "charts": []}
            try:
                async for event in chain.astream(request):
                    if event.event == "step_start":
                        row = [event.step, step_plugin(chain, event.step), "running", "", ""]
                        rows = [*rows, row]
                        yield {"answer": f"_step {event.step} …_", "steps": rows}
                    elif event.trace is not None:
                        t = event.trace
                        row = [t.step, t.plugin, t.status, t.seconds, "; ".join(t.errors)]
                        rows = [r for r in rows if r[0] != t.step] + [row]
                        yield {"steps": rows}
                    elif event.result is not None:
                        yield {
                            "answer": chain_answer(chain, event.result),
                            "full": event.result.model_dump(mode="json"),
                            "charts": chain.charts(event.result),
                        }
            except PitchcraftError as err:
                yield {"answer": error_text(err)}

        return run


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def chain_answer(chain: Chain, result: ChainResult) -> str:
    if result.status == "ok":
        return chain.reply_text(result)
    why = result.error or "some items failed"
    return f"**{result.status}**: {why}\n\n{chain.reply_text(result)}"


def step_plugin(chain: Chain, step: str | None) -> str:
    return next((s.plugin for s in chain.spec.steps if s.id == step), "")


@dataclass
class Bubble:
    """The chat bubble while an answer comes in: route and steps, then results known before
    the model writes (a preview), the model's draft under them, and at last the reply."""

    progress: list[str] = field(default_factory=list)
    preview: str = ""
    answer: str = "_thinking …_"

    def text(self) -> str:
        return "\n\n".join([*self.progress, self.answer])

    def hear(self, event: ChatEvent) -> None:
        if event.event == "route" and event.route is not None:
            route = event.route
            by = route.by + (f": {', '.join(route.need.categories)}" if route.need else "")
            self.progress.append(f"_→ {route.kind} **{route.name}** (chosen by {by})_")
        elif event.event == "step_start":
            self.progress.append(f"_… step {event.step}_")
        elif event.event == "step_end":
            self.progress[-1:] = [f"_✓ step {event.step}: {event.status}_"]
        elif event.event == "preview":  # replaced by the reply
            self.preview = event.text or ""
            self.answer = f"{self.preview}\n\n_writing …_"
        elif event.event == "draft":  # replaced by the reply, which may correct it
            quoted = "\n".join(f"> {line}" for line in (event.text or "").splitlines())
            lead = f"{self.preview}\n\n" if self.preview else ""
            self.answer = f"{lead}_writing …_\n\n{quoted}"
        elif event.event == "error":
            self.answer = f"**Error:** {event.text}"
        else:
            self.answer = event.text or ""


def error_text(err: PitchcraftError) -> str:
    return f"**Error:** {err}"


def widget(form: FieldForm, value: Any) -> Any:
    """The Gradio input for one field, showing `value`."""
    shown = widget_value(form, value)
    label = form.label + (" *" if form.required else "")
    info = form.info[:160] or None
    if form.kind == "bool":
        return gr.Checkbox(value=shown, label=label, info=info)
    if form.kind == "choice":
        choices = ([""] if not form.required else []) + form.choices
        return gr.Dropdown(choices=choices, value=shown, label=label, info=info)
    if form.kind in ("integer", "number") and not form.unset_by_default:
        precision = 0 if form.kind == "integer" else None
        return gr.Number(value=shown, label=label, info=info, precision=precision)
    if form.kind == "table":
        return gr.Dataframe(value=shown, headers=form.columns, label=label, interactive=True)
    if form.kind == "json":
        return gr.Code(value=shown, language="json", label=f"{label} (JSON)", lines=3)
    lines = 4 if form.kind == "lines" or form.multiline else 1
    hint = HINTS.get(form.kind)
    return gr.Textbox(value=shown, label=label, info=info, lines=lines, placeholder=hint)


def launch(registry: Registry, host: str, port: int, warm: bool = True) -> None:
    """Build the page, start loading the model, serve until interrupted."""
    app = DemoApp(registry)
    if warm:
        app.warm.start()
    page = app.blocks()
    page.queue(default_concurrency_limit=app.settings.concurrency).launch(
        server_name=host, server_port=port, theme=THEME, css=CSS, show_error=True, quiet=True
    )

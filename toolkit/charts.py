"""Charts a plugin offers for its results: plain data, drawn by whichever surface shows them
(the Gradio demo draws them as interactive plots), so plugins never import a plotting library."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Chart(BaseModel):
    kind: Literal["bar", "line"]
    title: str
    x: str = Field(description="Column plotted on the x axis.")
    y: str = Field(description="Column plotted on the y axis.")
    color: str | None = Field(default=None, description="Column that splits rows into series.")
    rows: list[dict[str, str | float | int]] = Field(default_factory=list)
    x_title: str | None = None
    y_title: str | None = None
    y_range: tuple[float, float] | None = Field(default=None, description="Fixed y axis limits.")
    colors: dict[str, str] = Field(
        default_factory=dict, description="Series (color column value) -> CSS color."
    )

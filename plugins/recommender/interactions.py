"""Reading a shop's interaction log (CSV, JSONL or Parquet): one row per purchase, view,
rating or cart event. Bad rows are listed with line and field; the rest are used."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import AliasChoices, BaseModel, Field, field_validator

from pitchcraft.batch import read_rows
from pitchcraft.errors import PitchcraftError
from pitchcraft.plugins.recommender.signals import Event
from pitchcraft.store.ingest import Rejects, default_rejects_path, validate_row


class InteractionRow(BaseModel):
    user_id: str = Field(
        min_length=1, validation_alias=AliasChoices("user_id", "user", "customer_id")
    )
    item_id: str = Field(
        min_length=1, validation_alias=AliasChoices("item_id", "product_id", "item", "product")
    )
    weight: float = Field(
        default=1.0,
        ge=0,
        validation_alias=AliasChoices("weight", "rating", "quantity"),
        description="How strong the signal is; 1 for a plain purchase or view.",
    )
    timestamp: float = Field(
        default=0.0,
        validation_alias=AliasChoices("timestamp", "time", "date", "ts"),
        description="Epoch seconds, or an ISO date/time.",
    )

    @field_validator("user_id", "item_id", mode="before")
    @classmethod
    def _id_text(cls, value: object) -> object:
        return str(value).strip() if isinstance(value, int | float | str) else value

    @field_validator("weight", mode="before")
    @classmethod
    def _empty_weight(cls, value: object) -> object:
        return 1.0 if value in ("", None) else value

    @field_validator("timestamp", mode="before")
    @classmethod
    def _time(cls, value: object) -> object:
        if value in ("", None):
            return 0.0
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
            try:
                moment = dt.datetime.fromisoformat(value.strip())
            except ValueError:
                raise ValueError("not epoch seconds or an ISO date/time") from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.UTC)
            return moment.timestamp()
        return value


class InteractionLog(BaseModel):
    events: list[Event]
    rows: int
    rejected: int
    rejects_file: Path | None

    model_config = {"arbitrary_types_allowed": True}


def read_interactions(path: Path, rejects_path: Path | None = None) -> InteractionLog:
    rows = read_rows(path)
    rejects = Rejects(rejects_path or default_rejects_path(path))
    events = []
    try:
        for row in rows:
            parsed = validate_row(row, InteractionRow, rejects)
            if parsed is not None:
                events.append(
                    Event(parsed.user_id, parsed.item_id, parsed.weight, parsed.timestamp)
                )
    finally:
        rejects_file = rejects.close()
    if not events:
        where = f" (reasons in {rejects_file})" if rejects_file else ""
        raise PitchcraftError(
            f"{path}: no usable interactions; each row needs user_id and item_id{where}"
        )
    return InteractionLog(
        events=events, rows=len(rows), rejected=rejects.count, rejects_file=rejects_file
    )

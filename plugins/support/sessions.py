"""Conversation memory per session id: bounded, folded into a summary when long, redacted.

Everything written here has passed through `pii.redact`, so neither the memory
nor the transcript holds phone numbers, addresses, card or ID numbers.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from pydantic import BaseModel, Field

from pitchcraft.plugins.support.models import Turn

SUMMARY_ITEMS = 6  # earlier customer requests kept in the summary
SUMMARY_ITEM_CHARS = 80


class Focus(BaseModel):
    """What the conversation is about, for follow-ups like "does it come in blue?"."""

    product_ids: list[str] = Field(default_factory=list)
    product_title: str | None = None
    topic: str | None = Field(default=None, description="The last self-contained question.")
    orders: list[str] = Field(default_factory=list)


class Memory(BaseModel):
    turns: list[Turn] = Field(default_factory=list)
    earlier: list[str] = Field(default_factory=list, description="Folded-away customer turns.")
    focus: Focus = Field(default_factory=Focus)
    tried: list[str] = Field(default_factory=list)

    def summary(self) -> str:
        """A short account of the conversation for a human agent or the model."""
        parts = []
        if self.earlier:
            parts.append("Earlier: " + " | ".join(self.earlier))
        parts += [f"{t.role}: {t.text[:200]}" for t in self.turns]
        return "\n".join(parts)

    def add(self, turn: Turn, max_turns: int) -> None:
        self.turns.append(turn)
        while len(self.turns) > max_turns:
            old = self.turns.pop(0)
            if old.role == "customer":
                self.earlier = [*self.earlier, old.text[:SUMMARY_ITEM_CHARS]][-SUMMARY_ITEMS:]


class SessionStore:
    """SQLite: one row of memory per session, plus an append-only transcript."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock, self._db:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS memory (session TEXT PRIMARY KEY, json TEXT, at REAL)"
            )
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS transcript "
                "(session TEXT, at REAL, role TEXT, text TEXT)"
            )

    def load(self, session: str) -> Memory:
        with self._lock:
            row = self._db.execute("SELECT json FROM memory WHERE session = ?", (session,))
            found = row.fetchone()
        return Memory.model_validate_json(found[0]) if found else Memory()

    def save(self, session: str, memory: Memory, new_turns: list[Turn]) -> None:
        now = time.time()
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO memory VALUES (?, ?, ?)",
                (session, memory.model_dump_json(), now),
            )
            self._db.executemany(
                "INSERT INTO transcript VALUES (?, ?, ?, ?)",
                [(session, now, t.role, t.text) for t in new_turns],
            )

    def transcript(self, session: str) -> list[Turn]:
        with self._lock:
            rows = self._db.execute(
                "SELECT role, text FROM transcript WHERE session = ? ORDER BY rowid", (session,)
            ).fetchall()
        return [Turn(role=r, text=t) for r, t in rows]

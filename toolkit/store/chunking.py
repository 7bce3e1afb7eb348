"""Split policy/FAQ documents into retrievable chunks that keep their heading path."""

from __future__ import annotations

import re

HEADING = re.compile(r"^(#{1,6})\s+(.*\S)\s*$")
MAX_CHARS = 900


def slug(text: str) -> str:
    return re.sub(r"[^\w]+", "-", text.strip().lower()).strip("-") or "top"


def markdown_sections(text: str) -> list[tuple[str, str]]:
    """[(heading path 'Returns > Refunds', body)], in document order; empty bodies dropped."""
    path: list[str] = []
    sections: list[tuple[str, list[str]]] = [("", [])]
    for line in text.splitlines():
        match = HEADING.match(line)
        if match:
            level = len(match.group(1))
            path = [*path[: level - 1], match.group(2)]
            sections.append((" > ".join(path), []))
        else:
            sections[-1][1].append(line)
    return [(name, "\n".join(body).strip()) for name, body in sections if "\n".join(body).strip()]


def split_paragraphs(body: str, max_chars: int = MAX_CHARS) -> list[str]:
    """Greedy packing of paragraphs into chunks of at most ~max_chars (a longer paragraph
    stays whole rather than being cut mid-sentence)."""
    chunks: list[str] = []
    current = ""
    for para in (p.strip() for p in re.split(r"\n\s*\n", body)):
        if not para:
            continue
        if current and len(current) + len(para) + 2 > max_chars:
            chunks.append(current)
            current = para
        else:
            current = f"{current}\n\n{para}" if current else para
    if current:
        chunks.append(current)
    return chunks

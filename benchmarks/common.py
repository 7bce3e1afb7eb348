"""What every benchmark shares: a table printer and the closing JSON line."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(h) for h in headers]] + [
        [f"{c:.3f}" if isinstance(c, float) else str(c) for c in row] for row in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def print_json_line(figures: dict[str, object]) -> None:
    """The last line of every benchmark: its figures, machine-readable."""
    print(json.dumps(figures, ensure_ascii=False))


def print_refusals(problems: Iterable[str], top: int = 5) -> None:
    """The most common reasons a check refused drafts, quoted values folded together."""
    counts = Counter(re.sub(r"'[^']*'", "'…'", why) for why in problems)
    for why, count in counts.most_common(top):
        print(f"  refused {count}x: {why}")

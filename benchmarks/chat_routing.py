"""Chat routing of needs and support messages: does a message reach the plugin that serves it?

Needs (benchmarks/data/needs.yaml, both languages) should reach the recommender; the support
evaluation's questions (policy, product, hand-over) and the guard set's messages (attacks,
policy cases, ordinary questions, questions that retrieve tampered sources) should stay with
support. Each message is routed in a fresh session by the deterministic router (no tool
calling). "before" is the same decision without the need step (a stated want for a kind of
product the shop sells): such a message then went to the default, support.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from benchmarks.eval_support import build_context, escalation_cases, policy_cases, product_cases
from benchmarks.support_guard import guard_cases, guard_data
from pitchcraft.chain.router import ChatRouter
from pitchcraft.registry import Registry
from pitchcraft.store.schema import detect_language


def guard_messages() -> list[str]:
    return [case.message for case in guard_cases(guard_data())]


def support_messages() -> list[str]:
    cases = policy_cases() + product_cases(20) + escalation_cases()
    return [c.question for c in cases]


def evaluate_routing(
    tmp: Path, needs: Sequence[str]
) -> tuple[list[list[object]], dict[str, float]]:
    """Rows (set, language, messages, right before, right now, by need) and figures."""
    ctx = build_context(tmp, use_model=False)
    registry = Registry(ctx.settings)
    registry._context = ctx  # the store built above
    router = ChatRouter(registry)
    default = router.settings.chat_default
    sets = {
        "needs": ("recommender", list(needs)),
        "support questions": ("support", support_messages()),
        "support guard": ("support", guard_messages()),
    }
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for name, (wanted, messages) in sets.items():
        for n, message in enumerate(messages):
            route = router.route(message, f"{name}-{n}")
            before = default if route.by == "need" else route.name
            row = counts[(name, detect_language(message))]
            row[0] += 1
            row[1] += before == wanted
            row[2] += route.name == wanted
            row[3] += route.by == "need"
    table = [
        [name, language, n, right_before / n, right_now / n, by_need / n]
        for (name, language), (n, right_before, right_now, by_need) in sorted(counts.items())
    ]

    def share(column: int, *names: str) -> float:
        rows = [v for (s, _), v in counts.items() if s in names]
        return round(sum(r[column] for r in rows) / sum(r[0] for r in rows), 3)

    figures = {
        "chat_needs_routed": share(2, "needs"),
        "chat_needs_routed_before": share(1, "needs"),
        "chat_support_kept": share(2, "support questions", "support guard"),
    }
    return table, figures

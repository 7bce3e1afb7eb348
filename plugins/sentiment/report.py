"""The batch report: what customers like and dislike, overall and per product, over time.

Writes report.json (the numbers), one PNG per chart (for slides) and
report.html (charts as SVG with live text, tables with example quotes; opens
offline in any browser). PNG text is drawn with a Chinese-capable font when the
machine has one; otherwise the PNGs label aspects in English and products by id,
and the HTML (which the browser renders) keeps the review language.
"""

from __future__ import annotations

import datetime as dt
import html
import io
from collections import Counter, defaultdict
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from pitchcraft.charts import Chart
from pitchcraft.plugins.sentiment.aspects import AspectTable
from pitchcraft.plugins.sentiment.corpus import POLARITIES
from pitchcraft.plugins.sentiment.models import ReviewResult

TOP_ASPECTS = 5
QUOTES_PER_ASPECT = 3
PRODUCTS_IN_CHART = 15
COLORS = {"negative": "#d9534f", "neutral": "#b0b0b0", "positive": "#4a9d5b"}
STYLE = """
body { font-family: system-ui, "Noto Sans CJK SC", "Microsoft YaHei", sans-serif;
       max-width: 960px; margin: 2em auto; color: #222 }
table { border-collapse: collapse; width: 100%; margin: 1em 0 }
td, th { border-bottom: 1px solid #ddd; padding: .4em; text-align: left; vertical-align: top }
figure { margin: 1em 0 } svg { max-width: 100%; height: auto } ul { margin: 0; padding-left: 1.2em }
"""
CJK_FONTS = (
    "Noto Sans CJK",
    "Source Han Sans",
    "WenQuanYi",
    "Microsoft YaHei",
    "PingFang",
    "SimHei",
)


class AspectSummary(BaseModel):
    aspect: str
    label: str
    positive: int
    negative: int
    neutral: int
    quotes: dict[str, list[str]]  # polarity -> example quotes


class GroupSummary(BaseModel):
    reviews: int
    polarity: dict[str, int]
    share: dict[str, float]
    mixed: int
    sarcastic: int
    mean_score: float
    aspects: list[AspectSummary]
    liked: list[str]  # aspect keys, most praised first
    disliked: list[str]


class TrendPoint(BaseModel):
    period: str
    reviews: int
    negative_share: float
    mean_score: float


class Report(BaseModel):
    language: str
    overall: GroupSummary
    products: dict[str, GroupSummary]
    trend: list[TrendPoint]
    charts: list[str] = []


def summarise(results: Sequence[ReviewResult], table: AspectTable, language: str) -> GroupSummary:
    counts = Counter(r.polarity for r in results)
    by_aspect: dict[str, Counter[str]] = defaultdict(Counter)
    quotes: dict[str, dict[str, list[tuple[float, str]]]] = defaultdict(lambda: defaultdict(list))
    for r in results:
        for a in r.aspects:
            by_aspect[a.aspect][a.polarity] += 1
            quotes[a.aspect][a.polarity].append((r.confidence, a.evidence))
    aspects = [
        AspectSummary(
            aspect=key,
            label=table.label(key, language),
            positive=c["positive"],
            negative=c["negative"],
            neutral=c["neutral"],
            quotes={
                p: [q for _, q in sorted(set(found), reverse=True)[:QUOTES_PER_ASPECT]]
                for p, found in quotes[key].items()
            },
        )
        for key, c in sorted(by_aspect.items(), key=lambda kv: -sum(kv[1].values()))
    ]
    n = len(results)
    return GroupSummary(
        reviews=n,
        polarity={p: counts[p] for p in POLARITIES},
        share={p: round(counts[p] / n, 4) if n else 0.0 for p in POLARITIES},
        mixed=sum(r.mixed for r in results),
        sarcastic=sum(bool(r.sarcastic) for r in results),
        mean_score=round(sum(r.score for r in results) / n, 4) if n else 0.0,
        aspects=aspects,
        liked=[a.aspect for a in sorted(aspects, key=lambda a: -a.positive) if a.positive][
            :TOP_ASPECTS
        ],
        disliked=[a.aspect for a in sorted(aspects, key=lambda a: -a.negative) if a.negative][
            :TOP_ASPECTS
        ],
    )


def trend(results: Sequence[ReviewResult]) -> list[TrendPoint]:
    """Per month, or per ISO week when the dates span less than three months."""
    dated = [r for r in results if r.date is not None]
    if not dated:
        return []
    days = [r.date for r in dated if r.date]
    weekly = (max(days) - min(days)).days < 90

    def period(day: dt.date) -> str:
        if weekly:
            year, week, _ = day.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{day.year}-{day.month:02d}"

    groups: dict[str, list[ReviewResult]] = defaultdict(list)
    for r in dated:
        assert r.date is not None
        groups[period(r.date)].append(r)
    return [
        TrendPoint(
            period=key,
            reviews=len(rs),
            negative_share=round(sum(r.polarity == "negative" for r in rs) / len(rs), 4),
            mean_score=round(sum(r.score for r in rs) / len(rs), 4),
        )
        for key, rs in sorted(groups.items())
    ]


def main_language(results: Sequence[ReviewResult]) -> str:
    """The language most of the reviews are in (en when there are none)."""
    languages = Counter(r.language for r in results)
    return languages.most_common(1)[0][0] if languages else "en"


def build_report(results: Sequence[ReviewResult], table: AspectTable) -> Report:
    language = main_language(results)
    by_product: dict[str, list[ReviewResult]] = defaultdict(list)
    for r in results:
        if r.product_id:
            by_product[r.product_id].append(r)
    return Report(
        language=language,
        overall=summarise(results, table, language),
        products={
            pid: summarise(rs, table, language)
            for pid, rs in sorted(by_product.items(), key=lambda kv: -len(kv[1]))
        },
        trend=trend(results),
    )


def review_charts(results: Sequence[ReviewResult], table: AspectTable) -> list[Chart]:
    """Charts for a screen: one review's class probabilities, or a batch's polarity
    distribution, aspects by polarity and the negative share over time."""
    if not results:
        return []
    if len(results) == 1:
        (one,) = results
        return [
            Chart(
                kind="bar",
                title="Polarity probabilities",
                x="polarity",
                y="probability",
                color="polarity",
                colors=COLORS,
                y_range=(0.0, 1.0),
                rows=[
                    {"polarity": p, "probability": round(one.probabilities.get(p, 0.0), 4)}
                    for p in POLARITIES
                ],
            )
        ]
    report = build_report(results, table)
    charts = [
        Chart(
            kind="bar",
            title=f"Polarity of {len(results)} reviews",
            x="polarity",
            y="reviews",
            color="polarity",
            colors=COLORS,
            rows=[{"polarity": p, "reviews": n} for p, n in report.overall.polarity.items()],
        )
    ]
    if report.overall.aspects:
        charts.append(
            Chart(
                kind="bar",
                title="Aspects mentioned, by polarity",
                x="aspect",
                y="mentions",
                color="polarity",
                colors=COLORS,
                rows=[
                    {"aspect": a.label, "polarity": p, "mentions": getattr(a, p)}
                    for a in report.overall.aspects[:PRODUCTS_IN_CHART]
                    for p in POLARITIES
                    if getattr(a, p)
                ],
            )
        )
    if len(report.trend) > 1:
        charts.append(
            Chart(
                kind="line",
                title="Share of negative reviews over time",
                x="period",
                y="negative share",
                rows=[
                    {"period": t.period, "negative share": t.negative_share} for t in report.trend
                ],
            )
        )
    return charts


# -- charts --------------------------------------------------------------------------------


@cache
def cjk_font() -> str | None:
    from matplotlib import font_manager

    for font in font_manager.fontManager.ttflist:
        if any(name.lower() in font.name.lower() for name in CJK_FONTS):
            return font.name
    return None


class Charts:
    """Each chart drawn once per output format: PNG for slides, SVG (live text) for HTML."""

    def __init__(self, report: Report, table: AspectTable) -> None:
        self.report, self.table = report, table

    def names(self) -> list[str]:
        names = ["polarity", "aspects"]
        if len(self.report.products) > 1:
            names.append("products")
        if len(self.report.trend) > 1:
            names.append("trend")
        return names

    def render(self, name: str, fmt: str, language: str) -> bytes:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        font = cjk_font()
        style = {"svg.fonttype": "none"}
        if font:
            style["font.sans-serif"] = [font, "DejaVu Sans"]
        with plt.rc_context(style):
            fig = getattr(self, f"_{name}")(plt, language)
            buffer = io.BytesIO()
            fig.savefig(buffer, format=fmt, dpi=150, bbox_inches="tight")
            plt.close(fig)
        return buffer.getvalue()

    def _polarity(self, plt: Any, language: str) -> Any:
        share = self.report.overall.polarity
        fig, ax = plt.subplots(figsize=(6, 1.8))
        left = 0
        for p in POLARITIES:
            ax.barh([0], [share[p]], left=left, color=COLORS[p], label=f"{p} ({share[p]})")
            left += share[p]
        ax.set_yticks([])
        ax.set_xlabel("reviews")
        ax.set_title(f"Polarity of {self.report.overall.reviews} reviews")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.45), ncol=3, frameon=False)
        return fig

    def _aspects(self, plt: Any, language: str) -> Any:
        aspects = self.report.overall.aspects[:10][::-1]
        fig, ax = plt.subplots(figsize=(7, 0.45 * max(len(aspects), 2) + 1))
        labels = [self.table.label(a.aspect, language) for a in aspects]
        ax.barh(labels, [-a.negative for a in aspects], color=COLORS["negative"], label="negative")
        ax.barh(labels, [a.positive for a in aspects], color=COLORS["positive"], label="positive")
        ax.axvline(0, color="black", linewidth=0.8)
        ax.xaxis.set_major_formatter(lambda value, _: f"{abs(value):g}")  # counts either side
        ax.set_xlabel("mentions (negative left, positive right)")
        ax.set_title("What customers talk about")
        ax.legend(loc="lower right", frameon=False)
        return fig

    def _products(self, plt: Any, language: str) -> Any:
        items = list(self.report.products.items())[:PRODUCTS_IN_CHART][::-1]
        fig, ax = plt.subplots(figsize=(7, 0.35 * len(items) + 1.2))
        left = [0.0] * len(items)
        names = [pid for pid, _ in items]
        for p in POLARITIES:
            values = [s.share[p] for _, s in items]
            ax.barh(names, values, left=left, color=COLORS[p], label=p)
            left = [a + b for a, b in zip(left, values, strict=True)]
        ax.set_xlim(0, 1)
        ax.set_xlabel("share of reviews")
        ax.set_title(f"Polarity per product (top {len(items)} by reviews)")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, frameon=False)
        return fig

    def _trend(self, plt: Any, language: str) -> Any:
        points = self.report.trend
        fig, ax = plt.subplots(figsize=(7, 3))
        x = [t.period for t in points]
        ax.bar(x, [t.reviews for t in points], color="#c9d6e8", label="reviews")
        ax.set_ylabel("reviews")
        ax.tick_params(axis="x", rotation=45)
        share = ax.twinx()
        share.plot(x, [t.negative_share for t in points], color=COLORS["negative"], marker="o")
        share.set_ylim(0, 1)
        share.set_ylabel("negative share", color=COLORS["negative"])
        ax.set_title("Reviews and negative share over time")
        return fig


# -- files ---------------------------------------------------------------------------------


def write_report(results: list[ReviewResult], table: AspectTable, folder: Path) -> list[Path]:
    report = build_report(results, table)
    charts = Charts(report, table)
    png_language = report.language if cjk_font() else "en"
    written = []
    svgs = {}
    for name in charts.names():
        path = folder / f"{name}.png"
        path.write_bytes(charts.render(name, "png", png_language))
        written.append(path)
        svgs[name] = charts.render(name, "svg", report.language).decode("utf-8")
    report.charts = [p.name for p in written]
    data = folder / "report.json"
    data.write_text(report.model_dump_json(indent=2), encoding="utf-8")
    page = folder / "report.html"
    page.write_text(render_html(report, svgs), encoding="utf-8")
    return [data, page, *written]


def _aspect_rows(summary: GroupSummary, polarity: str, keys: list[str]) -> str:
    by_key = {a.aspect: a for a in summary.aspects}
    rows = []
    for key in keys:
        a = by_key[key]
        quotes = "".join(f"<li>“{html.escape(q)}”</li>" for q in a.quotes.get(polarity, []))
        count = a.positive if polarity == "positive" else a.negative
        label = html.escape(a.label)
        rows.append(f"<tr><td>{label}</td><td>{count}</td><td><ul>{quotes}</ul></td></tr>")
    return "".join(rows)


def _product_row(pid: str, s: GroupSummary) -> str:
    def labels(keys: list[str]) -> str:
        return html.escape(", ".join(a.label for a in s.aspects if a.aspect in keys[:2]))

    shares = "".join(f"<td>{s.share[p]:.0%}</td>" for p in POLARITIES)
    return (
        f"<tr><td>{html.escape(pid)}</td><td>{s.reviews}</td>{shares}"
        f"<td>{labels(s.liked)}</td><td>{labels(s.disliked)}</td></tr>"
    )


def render_html(report: Report, svgs: dict[str, str]) -> str:
    o = report.overall
    head = "<tr><th>aspect</th><th>mentions</th><th>examples</th></tr>"
    products = "".join(_product_row(pid, s) for pid, s in report.products.items())
    charts = "".join(f"<figure>{svg[svg.find('<svg') :]}</figure>" for svg in svgs.values())
    return f"""<!doctype html>
<html lang="{report.language}"><head><meta charset="utf-8"><title>Review report</title>
<style>{STYLE}</style></head><body>
<h1>Review report</h1>
<p>{o.reviews} reviews: {o.share["positive"]:.0%} positive, {o.share["neutral"]:.0%} neutral,
{o.share["negative"]:.0%} negative; {o.mixed} mixed, {o.sarcastic} read as sarcastic.</p>
{charts}
<h2>What customers like</h2><table>{head}{_aspect_rows(o, "positive", o.liked)}</table>
<h2>What customers dislike</h2><table>{head}{_aspect_rows(o, "negative", o.disliked)}</table>
<h2>Per product</h2><table><tr><th>product</th><th>reviews</th><th>positive</th><th>neutral</th>
<th>negative</th><th>liked</th><th>disliked</th></tr>{products}</table>
<p><small>Numbers in report.json. Polarity from the calibrated classifier; aspects and
quotes from each review's own text.</small></p>
</body></html>
"""

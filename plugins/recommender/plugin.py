"""Recommender: products for a user (fitted history), a given history, or a free-text need,
with the signals behind each score and a grounded reason.

One request: filters (category, price — also read from the need —, stock) select the
candidates in the store -> signals over all of them: collaborative (the fitted EASE/SAR
model), content (cosine to the history's embeddings), need (cosine and keyword match
to the need text), popularity -> weighted fusion (ranking.py) -> MMR diversity among the
best -> reasons by the shared model, checked, else a template (reasons.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import typer

from pitchcraft.charts import Chart
from pitchcraft.context import Context
from pitchcraft.errors import PitchcraftError
from pitchcraft.finetune.sets import TrainingSet
from pitchcraft.needs import Need, need_reader
from pitchcraft.needs.model import model_picker
from pitchcraft.needs.price import PriceLimits, price_limits
from pitchcraft.outcomes import OutcomeLabel
from pitchcraft.plugin import Plugin
from pitchcraft.plugins.recommender.model import FittedModel
from pitchcraft.plugins.recommender.models import (
    Recommendation,
    RecommenderOptions,
    RecommendRequest,
    RecommendResult,
    Signal,
)
from pitchcraft.plugins.recommender.ranking import fuse, mmr, scaled
from pitchcraft.plugins.recommender.reasons import ReasonFacts, ReasonOutcome, write_reason
from pitchcraft.plugins.recommender.rerank import RERANK_TOP, model_fits
from pitchcraft.plugins.recommender.signals import unit_rows
from pitchcraft.store import ProductStore
from pitchcraft.store.schema import Language, Product, ProductFilter, detect_language
from pitchcraft.text.grounding import price_words
from pitchcraft.text.terms import load_lexicon

NAME = "recommender"
WARM_UP_NEEDS = ("蓝牙耳机，100美元以内", "a gift for my brother")  # both languages' paths
BECAUSE_OF = 2  # history items named per recommendation
RULED_OUT_HITS = 50  # keyword hits of a ruled-out phrase checked against titles
NEED_KEYWORD_SHARE = 0.5  # need signal = embedding cosine and hybrid-search score, half each


@dataclass
class Candidates:
    """The filtered catalogue and each signal over it."""

    ids: list[str]
    signals: dict[Signal, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = {pid: n for n, pid in enumerate(self.ids)}
        self._placed: tuple[list[str], np.ndarray, np.ndarray] | None = None

    def place(self, item_ids: list[str], scores: np.ndarray) -> np.ndarray:
        """Scores over other ids (the fitted model's items) placed on the candidates."""
        if self._placed is None or self._placed[0] is not item_ids:  # once per model
            cols = [col for col, item in enumerate(item_ids) if item in self.index]
            rows = [self.index[item_ids[col]] for col in cols]
            self._placed = (item_ids, np.array(cols, np.int64), np.array(rows, np.int64))
        _, cols, rows = self._placed
        out = np.zeros(len(self.ids), dtype=np.float32)
        out[rows] = scores[cols]
        return out


@dataclass
class Pick:
    product: Product
    score: float
    signals: dict[Signal, float]
    because_of: list[Product]


def load_fitted(path: Path, ctx: Context) -> FittedModel | None:
    """The fitted model at `path`, loaded once per version of the file."""
    if not path.is_file():
        return None
    key = f"{NAME}.model:{path}:{path.stat().st_mtime_ns}"
    try:
        return ctx.shared(key, lambda: FittedModel.load(path))
    except (OSError, ValueError, KeyError) as err:
        raise PitchcraftError(f"cannot read the recommender model {path}: {err}") from None


def describe(model: FittedModel | None) -> str:
    if model is None:
        return "none"
    i = model.info
    return f"{i.method} on {i.users} users x {i.items} items ({i.source or 'log'}, {i.fitted_at})"


class Recommender(Plugin[RecommendRequest, RecommendResult]):
    name = NAME
    version = "0.1.0"
    description = (
        "Recommend products for a user, a purchase history or a free-text need (zh/en), "
        "with the signals behind each score and a reason grounded in the facts."
    )
    Input = RecommendRequest
    Output = RecommendResult
    chat_keywords = (
        "recommend",
        "suggest",
        "gift",
        "looking for",
        "what should i buy",
        "推荐",
        "礼物",
        "送给",
        "想买",
        "适合",
        "有什么",
    )
    chat_takes_needs = True

    def chat_request(self, message: str, ctx: Context) -> dict[str, Any]:
        return {"need": message}

    def training_sets(self) -> Sequence[TrainingSet]:
        from pitchcraft.plugins.recommender.training import GROUNDED_REASONS

        return (GROUNDED_REASONS,)

    def outcomes(self, result: RecommendResult) -> Iterable[OutcomeLabel]:
        for item in result.items:
            yield "reason_by", item.reason_by
            if item.reason_draft is not None and item.reason_draft > 1:
                yield "later_draft", "used"

    def chat_reply(self, result: RecommendResult) -> str:
        lines = []
        for rank, item in enumerate(result.items, 1):
            price = (
                f" · {price_words(item.price, item.currency, result.language)}"
                if item.price is not None
                else ""
            )
            reason = f" — {item.reason}" if item.reason else ""
            reason += " _(template)_" if item.reason_by == "template" else ""
            lines.append(f"{rank}. **{item.title}**{price}{reason}")
        if result.need is not None and result.need.kind_known:
            lines.insert(0, f"_{understood(result.need)}_")
        return "\n".join(lines + [f"_{note}_" for note in result.notes]) or "No products match."

    def charts(self, results: Sequence[RecommendResult], ctx: Context) -> list[Chart]:
        rows = [
            {"product": f"{rank}. {item.title}"[:40], "signal": signal, "value": round(value, 4)}
            for result in results[:1]
            for rank, item in enumerate(result.items, 1)
            for signal, value in item.signals.items()
        ]
        if not rows:
            return []
        return [
            Chart(
                kind="bar",
                title="Signals behind each recommendation (each scaled to 0-1)",
                x="product",
                y="value",
                color="signal",
                rows=rows,
            )
        ]

    def commands(self) -> typer.Typer:
        from pitchcraft.plugins.recommender.cli import app

        return app

    def warm_up(self, ctx: Context) -> None:
        """A first request would load the fitted model, the needs' category index, jieba and
        the store's keyword index (about 4 s on 2 cores): done here, so a chat's first list
        of products shows at once."""
        for need in WARM_UP_NEEDS:
            self.run(RecommendRequest(need=need, k=3, reasons=False), ctx)

    def run(self, req: RecommendRequest, ctx: Context) -> RecommendResult:
        opts = ctx.options(NAME, RecommenderOptions)
        model = load_fitted(opts.model_path, ctx)
        notes: list[str] = []
        known_user = bool(model and req.user_id in model.user_row)
        if req.user_id and not known_user:
            notes.append(f"user {req.user_id!r} is not in the fitted model")
        history = self.history(req, model if known_user else None, ctx.store, notes)
        language = req.language or (
            detect_language(req.need)
            if req.need.strip()
            else next((p.language for p in history), None) or "en"
        )
        stated = price_limits(req.need)
        filters = self.filters(req, stated, opts, notes)
        need = None
        if opts.understand_needs and req.need.strip():
            pick = model_picker(ctx) if opts.need_model else None
            need = need_reader(ctx).read(req.need, pick=pick)
        history_vectors = ctx.store.product_vectors([p.id for p in history])
        cands = self.candidates(
            req, stated.rest, history, history_vectors, model, known_user, filters, opts, ctx
        )
        if need is not None and not req.category:
            cands = self.prefer_kinds(cands, need, filters, ctx.store)
        if opts.rerank_model and req.need.strip() and cands.ids:
            self.model_check(cands, req.need, language, opts, ctx)
        picks = (
            self.pick(req, history, history_vectors, cands, language, opts, ctx)
            if cands.ids
            else []
        )
        if not cands.ids:
            notes.append("no product passes the filters")
        elif need is not None and need.kind_known and not req.category:
            of_kind = sum(p.product.category in need.categories for p in picks)
            if of_kind < len(picks):
                notes.append(
                    f"only {of_kind} product(s) of the kind asked for "
                    f"({', '.join(need.categories)}) pass the filters; the others are other kinds"
                )
        result = RecommendResult(
            items=[listed(p) for p in picks],
            language=language,
            known_user=known_user,
            history_used=[p.id for p in history],
            filters=filters,
            fitted_model=describe(model),
            notes=notes,
            need=need,
        )
        if req.reasons and picks:
            if opts.use_model:  # the products now, their reasons as the model writes them
                self.show_early(result)
            result.items = self.explain(picks, result.items, req, history, language, opts, ctx)
        return result

    # -- inputs ----------------------------------------------------------------------------

    @staticmethod
    def history(
        req: RecommendRequest, model: FittedModel | None, store: ProductStore, notes: list[str]
    ) -> list[Product]:
        """The history's products in the catalogue, most recent / strongest first."""
        ids = [*req.history, *(model.user_items(req.user_id or "") if model else [])]
        found = {p.id: p for p in store.get_products(list(dict.fromkeys(ids)))}
        missing = [h for h in req.history if h not in found]
        if missing:
            notes.append(f"history products not in the catalogue: {', '.join(missing[:5])}")
        return [found[i] for i in dict.fromkeys(ids) if i in found]

    @staticmethod
    def filters(
        req: RecommendRequest, stated: PriceLimits, opts: RecommenderOptions, notes: list[str]
    ) -> ProductFilter:
        low, high = req.min_price, req.max_price
        if stated.currency and stated.currency != opts.shop_currency:
            notes.append(
                f"the need's price limit is in {stated.currency}; catalogue prices are in "
                f"{opts.shop_currency}, so it was not applied"
            )
        elif low is None and high is None:
            low, high = stated.low, stated.high
        return ProductFilter(
            category=req.category,
            min_price=low,
            max_price=high,
            in_stock=True if req.in_stock else None,
        )

    # -- scoring ---------------------------------------------------------------------------

    def candidates(
        self,
        req: RecommendRequest,
        need: str,
        history: list[Product],
        history_vectors: dict[str, np.ndarray],
        model: FittedModel | None,
        known_user: bool,
        filters: ProductFilter,
        opts: RecommenderOptions,
        ctx: Context,
    ) -> Candidates:
        """`need`: the need's text without its price phrases."""
        store = ctx.store
        queries: dict[Signal, np.ndarray] = {}
        if history_vectors:  # recent items weigh more: 1, 1/2, 1/3, ...
            rows = unit_rows(np.stack(list(history_vectors.values())))
            weights = 1.0 / np.arange(1, len(rows) + 1, dtype=np.float32)
            queries["content"] = (weights[:, None] * rows).sum(axis=0)
        if need:
            queries["need"] = store.embed_query(need)
        matrix = (
            np.stack(list(queries.values()))
            if queries
            else np.zeros((0, store.embedder.dim), np.float32)
        )
        ids, sims = store.product_similarity(matrix, filters)
        cands = Candidates(ids)
        if not ids:
            return cands
        for n, name in enumerate(queries):
            cands.signals[name] = sims[:, n]
        if "need" in cands.signals:
            keyword = np.zeros(len(ids), dtype=np.float32)
            for hit in store.search_products(need, opts.pool, filters, "hybrid"):
                if hit.id in cands.index:
                    keyword[cands.index[hit.id]] = hit.score
            share = NEED_KEYWORD_SHARE
            cands.signals["need"] = (1 - share) * scaled(cands.signals["need"]) + share * scaled(
                keyword
            )
        if model is not None:
            row = model.history_row([p.id for p in history], req.user_id if known_user else None)
            if row.nnz:
                cands.signals["cf"] = cands.place(model.item_ids, model.cf_scores(row)[0])
            cands.signals["popularity"] = cands.place(model.item_ids, model.popularity)
        if not cands.signals:
            raise PitchcraftError(
                "nothing to recommend from: the history's products are not in the catalogue, "
                "there is no need text and no fitted model (`pitchcraft recommender fit`)"
            )
        return cands

    @staticmethod
    def prefer_kinds(
        cands: Candidates, need: Need, filters: ProductFilter, store: ProductStore
    ) -> Candidates:
        """The `type` signal: 1 for products of a kind the need asks for. Products of a kind
        it rules out are left out, and so are those titled with a phrase it rules out."""
        if not cands.ids:
            return cands

        def of_kinds(kinds: list[str]) -> set[str]:
            none = np.zeros((0, store.embedder.dim), np.float32)
            ids, _ = store.product_similarity(none, filters.model_copy(update={"category": kinds}))
            return set(ids)

        if need.kind_known:
            wanted = of_kinds(need.categories)
            cands.signals["type"] = np.array(
                [1.0 if pid in wanted else 0.0 for pid in cands.ids], dtype=np.float32
            )
        ruled_out = of_kinds(need.excluded_categories) if need.excluded_categories else set()
        for phrase in need.excluded:  # "a camera, not a drone": drones share the cameras' kind
            stem = phrase.lower().removesuffix("s")
            hits = store.search_products(phrase, RULED_OUT_HITS, filters, "keyword")
            ruled_out |= {h.product.id for h in hits if stem in h.product.title.lower()}
        if not ruled_out:
            return cands
        keep = np.array([pid not in ruled_out for pid in cands.ids])
        kept = Candidates([pid for pid, k in zip(cands.ids, keep, strict=True) if k])
        kept.signals = {name: scores[keep] for name, scores in cands.signals.items()}
        return kept

    @staticmethod
    def model_check(
        cands: Candidates, need: str, language: Language, opts: RecommenderOptions, ctx: Context
    ) -> None:
        """The `model` signal: 1 for the best RERANK_TOP candidates the shared model says fit
        the need (left out when the model cannot answer)."""
        fused = fuse(cands.signals, opts.weights)
        top = [cands.ids[int(i)] for i in np.argsort(-fused, kind="stable")[:RERANK_TOP]]
        products = ctx.store.get_products(top)
        fits = model_fits(ctx, need, language, products)
        if fits is None:
            return
        signal = np.zeros(len(cands.ids), dtype=np.float32)
        for n in fits:
            signal[cands.index[products[n].id]] = 1.0
        cands.signals["model"] = signal

    def pick(
        self,
        req: RecommendRequest,
        history: list[Product],
        history_vectors: dict[str, np.ndarray],
        cands: Candidates,
        language: Language,
        opts: RecommenderOptions,
        ctx: Context,
    ) -> list[Pick]:
        fused = fuse(cands.signals, opts.weights)
        owned = {root(p) for p in history} if req.exclude_bought else set()
        order = [int(i) for i in np.argsort(-fused, kind="stable")]
        pool: list[Product] = []
        roots: dict[str, int] = {}
        for start in range(0, len(order), opts.pool):  # fetch records a pool at a time
            chunk = [cands.ids[i] for i in order[start : start + opts.pool]]
            for product in ctx.store.get_products(chunk):
                key = root(product)
                if key in owned:
                    continue
                if key in roots:  # a translation of one already in: keep the shopper's language
                    if product.language == language and pool[roots[key]].language != language:
                        pool[roots[key]] = product
                    continue
                roots[key] = len(pool)
                pool.append(product)
            if len(pool) >= opts.pool:
                break
        if not pool:
            return []
        vectors = ctx.store.product_vectors([p.id for p in pool])
        relevance = np.array([fused[cands.index[p.id]] for p in pool], dtype=np.float32)
        matrix = np.stack([vectors[p.id] for p in pool])
        chosen = mmr(relevance, matrix, req.k, opts.diversity, opts.pool)
        scaled_signals = {name: scaled(s) for name, s in cands.signals.items()}
        picks = []
        for i in chosen:
            product = pool[i]
            n = cands.index[product.id]
            picks.append(
                Pick(
                    product=product,
                    score=round(float(fused[n]), 4),
                    signals={k: round(float(v[n]), 4) for k, v in scaled_signals.items()},
                    because_of=most_alike(vectors[product.id], history, history_vectors),
                )
            )
        return picks

    # -- reasons ---------------------------------------------------------------------------

    def explain(
        self,
        picks: list[Pick],
        items: list[Recommendation],
        req: RecommendRequest,
        history: list[Product],
        language: Language,
        opts: RecommenderOptions,
        ctx: Context,
    ) -> list[Recommendation]:
        """`items` with their reasons."""
        lexicon = ctx.shared("copywriter.lexicon", lambda: load_lexicon(ctx.settings))
        brands = sorted({p.product.brand for p in picks if p.product.brand})

        def reason(pick: Pick) -> ReasonOutcome:
            facts = ReasonFacts(pick.product, pick.because_of, req.need.strip())
            return write_reason(
                facts,
                language,
                ctx,
                lexicon,
                brands,
                opts.reason_retries,
                opts.use_model,
                plan=opts.plan(ctx.llm),
            )

        outcomes = ctx.parallel(reason, picks)
        return [
            item.model_copy(
                update={
                    "reason": o.text,
                    "reason_by": o.by,
                    "reason_draft": o.draft,
                    "reason_problems": o.problems,
                }
            )
            for item, o in zip(items, outcomes, strict=True)
        ]


UNDERSTOOD = {
    "en": {
        "looking": "Looking for: ",
        "or": " or ",
        "price": "price",
        "not": "not ",
        "for": "for ",
    },
    "zh": {"looking": "要找：", "or": " 或 ", "price": "价格", "not": "不要 ", "for": "送给 "},
}


def understood(need: Need) -> str:
    """The recognised need in one line, in its language, so a shopper can see what was
    searched for (and correct it)."""
    words = UNDERSTOOD[need.language]
    parts = [words["or"].join(need.categories)]
    if need.min_price is not None or need.max_price is not None:
        low = f"{need.min_price:g}" if need.min_price is not None else ""
        high = f"{need.max_price:g}" if need.max_price is not None else ""
        limits = price_words(f"{low}–{high}", need.currency or "", need.language)
        parts.append(f"{words['price']} {limits}")
    if need.excluded_categories:
        parts.append(words["not"] + ", ".join(need.excluded_categories))
    if need.recipient:
        parts.append(words["for"] + need.recipient)
    return words["looking"] + " · ".join(parts)


def listed(pick: Pick) -> Recommendation:
    """A pick as a recommendation, before any reason is written."""
    p = pick.product
    return Recommendation(
        product_id=p.id,
        title=p.title,
        category=p.category,
        price=p.price,
        currency=p.currency,
        score=pick.score,
        signals=pick.signals,
        because_of=[h.id for h in pick.because_of],
        reason="",
        reason_by="none",
    )


def root(product: Product) -> str:
    """The listing a product translates, or itself: one recommendation per root."""
    return str(product.attributes.get("translation_of") or product.id)


def most_alike(
    vector: np.ndarray, history: list[Product], vectors: dict[str, np.ndarray]
) -> list[Product]:
    scored = [(float(vector @ vectors[h.id]), h) for h in history if h.id in vectors]
    return [h for _, h in sorted(scored, key=lambda s: -s[0])[:BECAUSE_OF]]

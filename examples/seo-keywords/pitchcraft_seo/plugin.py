"""SEO keywords and hashtags from product titles, Chinese (jieba) and English.

Scores are TF-IDF over the given titles: a term that many titles share
describes the category (a good keyword); IDF comes from jieba's bundled
corpus statistics so generic words ("new", "the", "款") sink.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pitchcraft import Context, Plugin

_jieba_lock = threading.Lock()  # jieba initialises its dictionary lazily and not thread-safely

WORD = re.compile(r"[a-z][a-z0-9+\-']*[a-z0-9+]|[\u4e00-\u9fff]+|[a-z]")
_STOPWORDS = """a an and are as at be by for from in into is it its of on or the to with without
your you new pcs pack set size color colour men women mens womens free ship shipping"""
STOPWORDS_EN = frozenset(_STOPWORDS.split())


class KeywordRequest(BaseModel):
    # A sample request: the demo fills its form with it, the API docs show it.
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"titles": ["Sony WH-1000XM5 Wireless Noise Canceling Headphones", "索尼降噪耳机"]}
            ]
        }
    )

    titles: list[str] = Field(
        min_length=1, max_length=5000, description="Product titles (one product each)."
    )
    top_k: int = Field(default=10, ge=1, le=100, description="How many keywords to return.")
    language: Literal["auto", "zh", "en"] = Field(
        default="auto", description="Title language; auto detects Chinese characters."
    )


class Keyword(BaseModel):
    term: str
    score: float = Field(description="TF-IDF weight, higher is more descriptive.")
    titles: int = Field(description="How many titles contain the term.")


class KeywordResult(BaseModel):
    language: Literal["zh", "en"]
    keywords: list[Keyword]
    hashtags: list[str] = Field(description="Hashtags built from the top keywords.")


class SeoKeywords(Plugin[KeywordRequest, KeywordResult]):
    name = "seo-keywords"
    version = "0.1.0"
    description = "SEO keywords and hashtags from product titles (Chinese via jieba, and English)."
    languages = ("zh", "en")
    Input = KeywordRequest
    Output = KeywordResult

    def run(self, req: KeywordRequest, ctx: Context) -> KeywordResult:
        lang = req.language
        if lang == "auto":
            han = sum("\u4e00" <= ch <= "\u9fff" for t in req.titles for ch in t)
            lang = "zh" if han else "en"
        tfidf = jieba_tfidf()
        docs = [set(tokens(t)) for t in req.titles]
        counts = Counter(term for doc in docs for term in doc)
        idf, median_idf = tfidf.idf_freq, tfidf.median_idf
        scored = [
            Keyword(
                term=term,
                score=round(n / len(docs) * idf.get(term, median_idf), 4),
                titles=n,
            )
            for term, n in counts.items()
        ]
        scored.sort(key=lambda k: (-k.score, k.term))
        top = scored[: req.top_k]
        return KeywordResult(language=lang, keywords=top, hashtags=[hashtag(k.term) for k in top])


def jieba_tfidf():  # type: ignore[no-untyped-def]
    """jieba's TF-IDF tables; imported on first use because loading them takes ~1.5 s."""
    import jieba
    import jieba.analyse

    jieba.setLogLevel(logging.WARNING)  # it logs its dictionary loading at DEBUG otherwise
    return jieba.analyse.default_tfidf


def tokens(title: str) -> list[str]:
    """Words worth ranking: no stopwords, no bare numbers, no single Chinese characters."""
    import jieba

    with _jieba_lock:
        words = jieba.lcut(title.lower())
    out = []
    for word in words:
        word = word.strip()
        if not WORD.fullmatch(word) or word in STOPWORDS_EN:
            continue
        if "\u4e00" <= word[0] <= "\u9fff" and len(word) < 2:
            continue
        if word.isascii() and len(word) < 3:
            continue
        out.append(word)
    return out


def hashtag(term: str) -> str:
    if term.isascii():
        return "#" + "".join(part.capitalize() for part in re.split(r"[\s\-']+", term) if part)
    return "#" + term

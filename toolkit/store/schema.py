"""Records the store holds and what searches return."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Language = Literal["zh", "en"]
HAN = re.compile(r"[\u4e00-\u9fff]")
AttributeValue = str | int | float | bool


def detect_language(text: str) -> Language:
    """zh when the text has any Chinese characters, else en."""
    return "zh" if HAN.search(text) else "en"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Record(BaseModel):
    """Something the store indexes: an id, text to embed and search, and filterable metadata."""

    id: str = Field(min_length=1, max_length=256, pattern=r"^\S(.*\S)?$")

    def search_text(self) -> str:
        raise NotImplementedError

    def filter_fields(self) -> dict[str, str | int | float | bool]:
        raise NotImplementedError

    def content_hash(self) -> str:
        return sha(self.model_dump_json())


class Product(Record):
    title: str = Field(min_length=1, max_length=500)
    description: str = Field(default="", max_length=20_000)
    category: str = Field(default="", max_length=200)
    brand: str = Field(default="", max_length=200)
    price: float | None = Field(default=None, ge=0)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")
    stock: int | None = Field(default=None, ge=0, description="Units in stock; None = unknown.")
    attributes: dict[str, AttributeValue] = Field(default_factory=dict)
    language: Language | None = Field(default=None, description="Detected from the title if unset.")
    image_url: str | None = Field(default=None, pattern=r"^https?://\S+$")

    @field_validator("attributes", mode="before")
    @classmethod
    def _attributes_from_json_text(cls, value: Any) -> Any:
        if isinstance(value, str):  # CSV cells carry attributes as a JSON object
            try:
                value = json.loads(value) if value.strip() else {}
            except json.JSONDecodeError as err:
                raise ValueError(f"not a JSON object: {err.msg}") from None
        return value

    @model_validator(mode="after")
    def _language(self) -> Product:
        if self.language is None:
            self.language = detect_language(self.title + self.description)
        return self

    def search_text(self) -> str:
        attrs = "; ".join(f"{k}: {v}" for k, v in self.attributes.items())
        parts = [self.title, self.brand, self.category, self.description, attrs]
        return "\n".join(p for p in parts if p)

    def filter_fields(self) -> dict[str, str | int | float | bool]:
        fields: dict[str, str | int | float | bool] = {
            "category": self.category,
            "brand": self.brand,
            "language": self.language or "en",
            "in_stock": bool(self.stock),
        }
        if self.price is not None:
            fields["price"] = float(self.price)
        return fields


class KnowledgeChunk(Record):
    source: str = Field(min_length=1, max_length=500, description="Document the chunk comes from.")
    section: str = Field(default="", max_length=500, description="Heading path inside it.")
    text: str = Field(min_length=1, max_length=20_000)
    language: Language | None = None

    @model_validator(mode="after")
    def _language(self) -> KnowledgeChunk:
        if self.language is None:
            self.language = detect_language(self.text)
        return self

    def search_text(self) -> str:
        return f"{self.section}\n{self.text}" if self.section else self.text

    def filter_fields(self) -> dict[str, str | int | float | bool]:
        return {"source": self.source, "language": self.language or "en"}


class ProductFilter(BaseModel):
    """Metadata constraints; all given ones must hold."""

    model_config = ConfigDict(extra="forbid")

    category: list[str] | None = Field(default=None, description="Any of these categories.")
    brand: list[str] | None = Field(default=None, description="Any of these brands.")
    min_price: float | None = Field(default=None, ge=0)
    max_price: float | None = Field(default=None, ge=0)
    in_stock: bool | None = Field(default=None, description="True: only products in stock.")
    language: Language | None = None

    @field_validator("category", "brand", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _range(self) -> ProductFilter:
        low, high = self.min_price, self.max_price
        if low is not None and high is not None and low > high:
            raise ValueError("min_price is above max_price")
        return self

    def where(self) -> dict[str, Any] | None:
        """The Chroma `where` clause, or None for no constraint."""
        clauses: list[dict[str, Any]] = []
        if self.category:
            clauses.append({"category": {"$in": self.category}})
        if self.brand:
            clauses.append({"brand": {"$in": self.brand}})
        if self.min_price is not None:
            clauses.append({"price": {"$gte": self.min_price}})
        if self.max_price is not None:
            clauses.append({"price": {"$lte": self.max_price}})
        if self.in_stock is not None:
            clauses.append({"in_stock": self.in_stock})
        if self.language is not None:
            clauses.append({"language": self.language})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}


class Hit(BaseModel):
    id: str
    score: float = Field(description="Fused score (higher is better).")
    vector_rank: int | None = Field(default=None, description="1-based rank by embeddings.")
    keyword_rank: int | None = Field(default=None, description="1-based rank by BM25.")
    similarity: float | None = Field(
        default=None, description="Cosine similarity to the query, when the vector side found it."
    )


class ProductHit(Hit):
    product: Product


class KnowledgeHit(Hit):
    chunk: KnowledgeChunk

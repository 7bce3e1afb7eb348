"""ProductStore on real Chroma (folder and server) with the real multilingual embedder."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from pitchcraft import Settings
from pitchcraft.data import demo_shop
from pitchcraft.store import KnowledgeChunk, Product, ProductFilter, ProductStore, StoreError
from pitchcraft.store.embedders import UniversalSentenceEncoder
from pitchcraft.store.ingest import document_chunks, ingest_knowledge, ingest_products


@pytest.fixture
def demo_store(store: ProductStore) -> ProductStore:
    report = ingest_products(store, demo_shop.PRODUCTS)
    assert report.rejected == 0
    ingest_knowledge(store, demo_shop.POLICIES)
    return store


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_demo_shop_ingests_whole(demo_store: ProductStore) -> None:
    stats = demo_store.stats()
    assert stats.products == len(demo_shop.load_products()) >= 300
    assert stats.languages["zh"] >= 30 and stats.languages["en"] >= 300
    assert stats.knowledge >= 10
    assert stats.embedder == "use-multilingual-v3-int8"


def test_reingest_changes_nothing_and_embeds_nothing(demo_store: ProductStore) -> None:
    before = demo_store.products.count()
    demo_store.embedder.computed = 0
    report = ingest_products(demo_store, demo_shop.PRODUCTS)
    assert report.counts.unchanged == before
    assert report.counts.added == report.counts.updated == 0
    assert demo_store.products.count() == before
    assert demo_store.embedder.computed == 0


def test_changed_product_is_updated_and_only_it_is_embedded(
    store_settings: Settings, tmp_path: Path
) -> None:
    own_cache = store_settings.model_copy(update={"cache_dir": tmp_path / "own-cache"})
    store = ProductStore.from_settings(own_cache)
    products = demo_shop.load_products()[:20]
    store.upsert_products(products)
    store.embedder.computed = 0
    changed = products[3].model_copy(update={"title": products[3].title + " (2024 model)"})
    restocked = products[5].model_copy(update={"stock": 99})  # same text: served from cache
    counts = store.upsert_products([changed, restocked, *products[6:10]])
    assert (counts.added, counts.updated, counts.unchanged) == (0, 2, 4)
    assert store.embedder.computed == 1
    assert store.get_products([changed.id])[0].title.endswith("(2024 model)")


def test_bad_rows_are_rejected_with_reasons_and_good_rows_land(
    store: ProductStore, tmp_path: Path
) -> None:
    src = write_jsonl(
        tmp_path / "catalog.jsonl",
        [
            {"id": "p-1", "title": "保温杯 500ml", "price": 59, "currency": "CNY", "stock": 4},
            {"id": "p-2", "title": "", "price": 10},
            {"id": "p-3", "title": "Kettle", "price": -5},
            "{broken json",
            {"id": "p-1", "title": "Duplicate of p-1"},
            {"id": "p-4", "title": "Travel mug", "currency": "dollars"},
            {"id": "p-5", "title": "Water bottle", "attributes": '{"capacity": "750ml"}'},
        ],
    )
    rejects = tmp_path / "rejects.jsonl"
    report = ingest_products(store, src, rejects_path=rejects)
    assert (report.rows, report.counts.added, report.rejected) == (7, 2, 5)
    reasons = {r["line"]: r for r in map(json.loads, rejects.read_text().splitlines())}
    assert "title" in reasons[2]["fields"]
    assert "price" in reasons[3]["fields"]
    assert reasons[4]["reason"].startswith("not valid JSON")
    assert "duplicate id 'p-1' (first at line 1)" in reasons[5]["reason"]
    assert "currency" in reasons[6]["fields"]
    assert store.get_products(["p-5"])[0].attributes == {"capacity": "750ml"}


def test_interrupted_ingest_resumes_without_loss_or_duplicates(
    store: ProductStore, tmp_path: Path
) -> None:
    products = demo_shop.load_products()[:120]
    src = write_jsonl(tmp_path / "c.jsonl", [p.model_dump(mode="json") for p in products])

    def stop_after_two_batches(done: int, total: int) -> None:
        if done >= 40:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest_products(store, src, batch_size=20, on_progress=stop_after_two_batches)
    assert store.products.count() == 40
    report = ingest_products(store, src, batch_size=20)
    assert (report.counts.unchanged, report.counts.added) == (40, 80)
    assert store.products.count() == 120


def test_parquet_and_csv_catalogs(store: ProductStore, tmp_path: Path) -> None:
    import pandas as pd

    rows = [p.model_dump(mode="json") for p in demo_shop.load_products()[:5]]
    for row in rows:
        row["attributes"] = json.dumps(row["attributes"])
    pd.DataFrame(rows).to_parquet(tmp_path / "c.parquet")
    assert ingest_products(store, tmp_path / "c.parquet").counts.added == 5
    pd.DataFrame(rows).to_csv(tmp_path / "c.csv", index=False)
    assert ingest_products(store, tmp_path / "c.csv").counts.unchanged == 5


def ids(hits: list) -> list[str]:
    return [h.id for h in hits]


def test_filters(demo_store: ProductStore) -> None:
    cheap_tvs = demo_store.search_products(
        "television", k=20, filters=ProductFilter(category="TVs", max_price=500)
    )
    assert cheap_tvs and all(
        h.product.category == "TVs" and h.product.price <= 500 for h in cheap_tvs
    )
    ranged = demo_store.search_products(
        "laptop", k=20, filters=ProductFilter(min_price=800, max_price=1200, brand=["Dell", "HP"])
    )
    assert ranged and all(
        800 <= h.product.price <= 1200 and h.product.brand in ("Dell", "HP") for h in ranged
    )
    in_stock = demo_store.search_products("dress", k=30, filters=ProductFilter(in_stock=True))
    assert in_stock and all(h.product.stock for h in in_stock)
    zh_only = demo_store.search_products("laptop", k=10, filters=ProductFilter(language="zh"))
    assert zh_only and all(h.product.language == "zh" for h in zh_only)
    for mode in ("vector", "keyword", "hybrid"):
        hits = demo_store.search_products(
            "Samsung", k=10, filters=ProductFilter(category="Monitors"), mode=mode
        )
        assert all(h.product.category == "Monitors" for h in hits), mode


def test_chinese_query_finds_chinese_and_english_products(demo_store: ProductStore) -> None:
    hits = demo_store.search_products("降噪耳机", k=10)
    found = ids(hits)
    assert "zh-f67842c9bc" in found  # AirPods Pro, Chinese listing
    english_anc = {"elec-f67842c9bc", "elec-e3f5b43843", "elec-f1c7e4c945"}  # ANC earbuds/headsets
    assert english_anc & set(found)
    laptops = demo_store.search_products("游戏笔记本电脑", k=10)
    langs = {h.product.language for h in laptops if "Gaming Laptop" in h.product.category}
    assert langs == {"zh", "en"}


def test_keyword_search_finds_exact_model_numbers(demo_store: ProductStore) -> None:
    hits = demo_store.search_products("TD-07KX", k=3, mode="keyword")
    assert "TD-07KX" in hits[0].product.title
    assert hits[0].keyword_rank == 1 and hits[0].vector_rank is None


def test_hybrid_fuses_both_rankings(demo_store: ProductStore) -> None:
    hits = demo_store.search_products("Duracell AA batteries", k=5)
    assert hits[0].vector_rank is not None and hits[0].keyword_rank is not None
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))


def test_get_by_ids_keeps_order_and_skips_unknown(demo_store: ProductStore) -> None:
    got = demo_store.get_products(["zh-45688ab8f8", "nope", "elec-45688ab8f8"])
    assert [p.id for p in got] == ["zh-45688ab8f8", "elec-45688ab8f8"]


def test_delete(store: ProductStore) -> None:
    store.upsert_products([Product(id="a1", title="Desk lamp"), Product(id="a2", title="台灯")])
    store.delete_products(["a1"])
    assert [p.id for p in store.get_products(["a1", "a2"])] == ["a2"]
    assert ids(store.search_products("lamp", k=5, mode="keyword")) == []


def test_knowledge_search_cites_source_and_section(demo_store: ProductStore) -> None:
    hit = demo_store.search_knowledge("退款多久到账", k=3, language="zh")[0]
    assert hit.chunk.source == "returns.zh.md"
    assert hit.chunk.section.endswith("退款")
    assert "5–7 个工作日" in hit.chunk.text
    en = demo_store.search_knowledge("Is express shipping free?", k=3)
    assert any(h.chunk.source == "shipping.en.md" for h in en)


def test_edited_document_leaves_no_stale_chunks(store: ProductStore, tmp_path: Path) -> None:
    docs = tmp_path / "kb"
    docs.mkdir()
    (docs / "faq.en.md").write_text("# FAQ\n\n## Gift wrap\n\nWe wrap gifts.\n\n## Pets\n\nNo.\n")
    ingest_knowledge(store, docs)
    assert store.knowledge.count() == 2
    (docs / "faq.en.md").write_text("# FAQ\n\n## Gift wrap\n\nGift wrap costs $3.\n")
    ingest_knowledge(store, docs)
    assert store.knowledge.count() == 1
    assert "$3" in store.search_knowledge("gift wrap", k=1)[0].chunk.text


def test_markdown_chunks_keep_heading_paths() -> None:
    chunks = document_chunks("a.md", "# Top\n\nintro\n\n## Sub\n\nbody text\n")
    assert [(c.section, c.text) for c in chunks] == [("Top", "intro"), ("Top > Sub", "body text")]
    assert chunks[1].id == "a.md#top-sub-0"


def test_opening_with_another_embedder_is_a_clear_error(store_settings: Settings) -> None:
    ProductStore.from_settings(store_settings).upsert_products([Product(id="x", title="Lamp")])
    other = store_settings.model_copy(update={"embedder": "sentence-transformers:all-MiniLM-L6-v2"})
    with pytest.raises(StoreError, match="was built with embedder 'use-multilingual-v3-int8'"):
        ProductStore.from_settings(other)


def test_a_texts_vector_does_not_depend_on_its_batch() -> None:
    encoder = UniversalSentenceEncoder()
    texts = [p.title for p in demo_shop.load_products()[:50]]
    alone = encoder.embed([texts[3]])[0]
    for batch in (texts[:10], texts[3:4] + texts[20:], texts[::-1]):
        assert np.array_equal(encoder.embed(batch)[batch.index(texts[3])], alone)


@pytest.mark.slow
def test_sentence_transformers_backend(tmp_path: Path, embedding_cache: Path) -> None:
    settings = Settings(
        store_path=tmp_path / "st",
        cache_dir=embedding_cache,
        embedder="sentence-transformers:all-MiniLM-L6-v2",
    )
    store = ProductStore.from_settings(settings)
    store.upsert_products(demo_shop.load_products()[:200])
    hits = store.search_products("wireless noise cancelling headphones", k=5, mode="vector")
    assert any(h.product.category == "Headphones & Earbuds" for h in hits)
    assert store.embedder.dim == 384


def test_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    from tests.store_fixtures import free_port

    settings = Settings(chroma_url=f"http://127.0.0.1:{free_port()}", cache_dir=tmp_path)
    with pytest.raises(StoreError, match=r"cannot reach the Chroma server at http://127\.0\.0\.1"):
        ProductStore.from_settings(settings)


def test_empty_query_is_rejected(store: ProductStore) -> None:
    store.upsert_products([Product(id="x", title="Lamp")])
    with pytest.raises(StoreError, match="empty"):
        store.search_products("  ")


def test_knowledge_chunk_language_detection() -> None:
    assert KnowledgeChunk(id="a", source="s", text="退货政策").language == "zh"
    assert KnowledgeChunk(id="b", source="s", text="Return policy").language == "en"


@pytest.mark.parametrize(
    "flt",
    [
        ProductFilter(category="TVs"),
        ProductFilter(category=["TVs", "Monitors"], max_price=700),
        ProductFilter(min_price=100, max_price=300, in_stock=True),
        ProductFilter(brand=["Samsung", "LG"], language="zh"),
        ProductFilter(in_stock=False),
        ProductFilter(min_price=50),  # clothing has no price: must not match, as in Chroma
        ProductFilter(category="No such category"),
    ],
)
def test_in_process_filters_agree_with_chroma(demo_store: ProductStore, flt: ProductFilter) -> None:
    collection = demo_store.products
    mirror = collection.mirror()
    ours = {mirror.ids[i] for i in mirror.mask(flt.where()).nonzero()[0]}
    chroma = set(collection._col.get(where=flt.where(), include=[])["ids"])
    assert ours == chroma


def test_broad_and_narrow_filters_return_exact_neighbours(demo_store: ProductStore) -> None:
    """Both search paths (exact over few rows, masked HNSW over many) give the true top-k."""
    import numpy as np

    collection = demo_store.products
    mirror = collection.mirror()
    for flt in (
        ProductFilter(in_stock=True),
        ProductFilter(category="Laptops & Notebook Computers"),
    ):
        hits = demo_store.search_products("thin and light laptop", k=5, filters=flt, mode="vector")
        query = demo_store.embedder.embed(["thin and light laptop"])[0]
        mask = mirror.mask(flt.where())
        scores = np.where(mask, mirror.vectors @ query, -np.inf)
        expected = [mirror.ids[i] for i in np.argsort(-scores)[:5]]
        assert [h.id for h in hits] == expected


def test_concurrent_searches_and_writes(store: ProductStore) -> None:
    """One store shared by threads, as plugins share it through the Context."""
    from concurrent.futures import ThreadPoolExecutor

    products = demo_shop.load_products()
    store.upsert_products(products[:200])
    flt = ProductFilter(in_stock=True)

    def search(i: int) -> int:
        mode = ("vector", "keyword", "hybrid")[i % 3]
        hits = store.search_products(products[i].title, k=5, filters=flt, mode=mode)
        assert all(h.product.stock for h in hits)
        return len(hits)

    def write(start: int) -> int:
        return store.upsert_products(products[start : start + 50]).added

    with ThreadPoolExecutor(max_workers=6) as pool:
        searches = [pool.submit(search, i) for i in range(60)]
        writes = [pool.submit(write, start) for start in range(200, 400, 50)]
        assert sum(w.result() for w in writes) == 200
        assert all(s.result() >= 0 for s in searches)
    assert store.products.count() == 400
    assert len(store.products.mirror()) == 400

"""The copywriter on the real embedded model and real demo-shop products, and its CLI."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pitchcraft import Context, Registry, Settings
from pitchcraft.data.demo_shop import load_products
from pitchcraft.plugins.copywriter.checks import run_checks
from pitchcraft.plugins.copywriter.models import CopyResult
from pitchcraft.plugins.copywriter.plugin import Copywriter
from pitchcraft.plugins.copywriter.writer import channel_table, check_context
from pitchcraft.store.schema import HAN, Product
from pitchcraft.text.grounding import Facts
from tests.llm_fixtures import MODEL_CACHE
from tests.test_cli import PITCHCRAFT

pytestmark = pytest.mark.slow  # the embedded model or a server

PRODUCTS = {p.id: p for p in load_products()}
ZH_BATTERY = "zh-a93a56c596"
EN_BATTERY = "elec-a93a56c596"


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Context:
    store = tmp_path_factory.mktemp("copy-store") / "chroma"
    return Registry(Settings(store_path=store, cache_dir=MODEL_CACHE)).load().context()


def assert_honest(result: CopyResult, product: Product, ctx: Context) -> None:
    """Every variant's verdict is what the checks say about the text it carries."""
    channel = channel_table(ctx)[result.channel]
    cc = check_context(ctx, channel, result.language, Facts(product, []), [], [])
    for variant in result.variants:
        findings = [f for f in run_checks(variant.parts, cc) if f.check != "keywords"]
        failed = {c.name for c in variant.checks if not c.passed} - {"keywords"}
        assert {f.check for f in findings} == failed
        assert next(c for c in variant.checks if c.name == "length").passed  # repaired if need be


def test_chinese_taobao_titles_for_a_demo_product(ctx: Context) -> None:
    from pitchcraft import early

    product = PRODUCTS[ZH_BATTERY]
    shown: list[str] = []
    with early.listening(shown.append):  # a chat sees each variant as soon as it is done
        result = Copywriter().invoke(
            {
                "product": product.model_dump(),
                "channel": "taobao_title",
                "variants": 2,
                "keywords": ["金霸王"],
            },
            ctx,
        )
    assert len(shown) >= 2 and all(v.text in shown[-1] for v in result.variants)
    assert result.language == "zh" and result.channel == "taobao_title"
    assert 1 <= len(result.variants) <= 2
    for variant in result.variants:
        title = variant.parts["title"]
        assert isinstance(title, str) and HAN.search(title)
        assert set(variant.draft_passed) == {"length", "compliance", "grounding", "keywords"}
    assert_honest(result, product, ctx)


def test_english_email_for_a_product_in_the_store(ctx: Context) -> None:
    product = PRODUCTS[EN_BATTERY]
    ctx.store.upsert_products([product])
    result = Copywriter().invoke({"product_id": EN_BATTERY, "channel": "email", "variants": 1}, ctx)
    assert result.product_id == EN_BATTERY and result.language == "en"
    (variant,) = result.variants
    assert variant.parts["subject"] and variant.parts["preview"]
    assert not HAN.search(variant.text)
    # The catalog text itself says "#1" and "Guaranteed": the copy must not.
    assert next(c for c in variant.checks if c.name == "compliance").passed
    assert_honest(result, product, ctx)


def test_unknown_product_id_and_channel_name_the_field(ctx: Context) -> None:
    plugin = Copywriter()
    with pytest.raises(Exception, match="product_id: 'nope' is not in the product store"):
        plugin.invoke({"product_id": "nope", "channel": "email"}, ctx)
    with pytest.raises(Exception, match=r"channel: unknown channel 'tiktok' \(known: amazon"):
        plugin.invoke({"product": PRODUCTS[EN_BATTERY].model_dump(), "channel": "tiktok"}, ctx)


def test_campaign_sheet_from_a_catalog_file(cli_env: dict[str, str], tmp_path: Path) -> None:
    catalog = tmp_path / "products.jsonl"
    catalog.write_text(PRODUCTS[ZH_BATTERY].model_dump_json() + "\n", encoding="utf-8")
    sheet = tmp_path / "products.copywriter.xlsx"  # written by default
    env = {
        **cli_env,
        "PITCHCRAFT_CACHE_DIR": str(MODEL_CACHE),
        "PITCHCRAFT_STORE_PATH": str(tmp_path / "chroma"),
    }
    proc = subprocess.run(
        [
            PITCHCRAFT,
            "run",
            "copywriter",
            "--input",
            str(catalog),
            "--set",
            "variants=1",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    from openpyxl import load_workbook

    rows = list(load_workbook(sheet).active.iter_rows(values_only=True))
    header, first = rows[0], dict(zip(rows[0], rows[1], strict=True))
    assert {"line", "product_id", "channel", "variant", "title", "passed", "problems"} <= set(
        header
    )
    assert first["product_id"] == ZH_BATTERY and first["channel"] == "taobao_title"  # zh default
    assert HAN.search(first["title"])
    out = [json.loads(line) for line in (tmp_path / "products.copywriter.out.jsonl").open()]
    assert out[0]["output"]["variants"][0]["parts"]["title"] == first["title"]

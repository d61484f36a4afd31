"""The ONNX Runtime backend: exported offline from the packaged model, equal to torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from storyline.config import Settings
from storyline.embed import embedder_of, get_embedder

SENTENCES = [
    "The Millbrook dam gave way shortly after 2 a.m., flooding the lower town.",
    "Residents were evacuated overnight as the river rose.",
    "Union leaders said the strike would continue until the council returned to talks.",
    "A short one.",
    "Premier Hélène Drouart called it « une tragédie » for the whole valley.",
]


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("onnxruntime")
    path = tmp_path_factory.mktemp("onnx-cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("STORYLINE_CACHE", str(path))
    yield path
    mp.undo()


def test_onnx_backend_equals_torch_and_is_exported_once(onnx_cache: Path) -> None:
    reference = get_embedder().inner.encode(SENTENCES)
    from storyline.embed.onnx import OnnxEmbedder

    settings = Settings.from_dict({"embed": {"backend": "onnx"}})
    assert embedder_of(settings.embed).name == "all-MiniLM-L6-v2@onnx"  # backends never mix
    onnx = OnnxEmbedder("all-MiniLM-L6-v2")  # a new one: the shared one may be exported already
    vectors = onnx.encode(SENTENCES)
    assert vectors.shape == reference.shape
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert float(np.min(np.sum(vectors * reference, axis=1))) > 0.9999
    exported = list(onnx_cache.rglob("model.onnx"))
    assert len(exported) == 1
    # Batching by length gives each sentence the vector it has alone.
    alone = np.stack([onnx.encode([s])[0] for s in SENTENCES])
    assert np.allclose(alone, vectors, atol=1e-5)


def test_int8_backend_stays_close(onnx_cache: Path) -> None:
    reference = get_embedder().inner.encode(SENTENCES)
    vectors = get_embedder(backend="onnx-int8").inner.encode(SENTENCES)
    assert float(np.mean(np.sum(vectors * reference, axis=1))) > 0.9


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="backend"):
        Settings.from_dict({"embed": {"backend": "tpu"}})


def test_onnx_is_the_default_and_falls_back_to_torch_for_a_model_it_cannot_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from storyline.embed import SentenceTransformerEmbedder
    from storyline.embed.onnx import OnnxEmbedder, unsupported

    assert Settings().embed.backend == "onnx"
    assert unsupported("all-MiniLM-L6-v2") is None
    assert unsupported("all-MiniLM-L6-v2", "cuda")
    assert unsupported("someone/not-on-this-machine")
    assert isinstance(embedder_of(Settings().embed).inner, OnnxEmbedder)
    with caplog.at_level("WARNING"):
        fallback = get_embedder("someone/not-on-this-machine", backend="onnx")
    assert isinstance(fallback.inner, SentenceTransformerEmbedder)
    assert fallback.name == "someone/not-on-this-machine"  # stored under torch's name
    assert "using torch" in caplog.text

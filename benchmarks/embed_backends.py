"""Embedding backends side by side: sentences/s, agreement with torch, MRPC, ROUGE.

Reads 10,000 real sentences from the dev sets in ../shared/eval: the MRPC training file's
(7,814 distinct), then DUC 2003's articles split by storyline's splitter (skips cleanly when
MRPC is absent), embeds them with each backend of the default model —
``torch`` (sentence-transformers), ``onnx`` (ONNX Runtime, fp32) and ``onnx-int8``
(dynamic int8 quantization) — and prints a table: sentences/s (after one warm-up batch,
the ONNX export made before timing), cosine agreement of each vector with torch's (mean,
1st percentile, minimum), and with ``--mrpc`` the 10-fold CV accuracy/F1 of the
"same statement?" model on the MRPC file with that backend's cosines, and with ``--rouge``
DUC 2003's ROUGE-1/2 recall of the default summarizer.

    .venv/bin/python benchmarks/embed_backends.py --mrpc
    .venv/bin/python benchmarks/embed_backends.py --sentences 2000 --backends torch,onnx
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "eval"


def sentences(limit: int) -> list[str]:
    path = SHARED / "mrpc" / "msr_paraphrase_train.txt"
    if not path.exists():
        print(f"skipped: {path} is absent", file=sys.stderr)
        raise SystemExit(0)
    out: list[str] = []
    for line in path.read_text(encoding="utf-8-sig").splitlines()[1:]:
        cols = line.split("\t")
        if len(cols) == 5:
            out += [cols[3], cols[4]]
    out = list(dict.fromkeys(out))
    if len(out) < limit and (SHARED / "duc2003").is_dir():
        from storyline.eval.datasets import read_duc
        from storyline.text.segment import split_sentences

        seen = set(out)
        for doc in read_duc(SHARED / "duc2003", "all"):
            for start, end in split_sentences(doc.text):
                text = doc.text[start:end].strip()
                if len(out) < limit and len(text.split()) >= 4 and text not in seen:
                    seen.add(text)
                    out.append(text)
    return out[:limit]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sentences", type=int, default=10_000)
    parser.add_argument("--backends", default="torch,onnx,onnx-int8")
    parser.add_argument("--mrpc", action="store_true", help="also the MRPC 10-fold CV score")
    parser.add_argument("--rouge", action="store_true", help="also DUC 2003 ROUGE-1/2 recall")
    args = parser.parse_args()

    from storyline.config import Settings
    from storyline.embed import get_embedder

    texts = sentences(args.sentences)
    rows = []
    reference: np.ndarray | None = None
    for backend in args.backends.split(","):
        embedder = get_embedder(backend=backend).inner
        embedder.encode(texts[:64])  # load (and export, the first time), outside the timing
        start = time.perf_counter()
        vectors = embedder.encode(texts)
        seconds = time.perf_counter() - start
        if reference is None:
            reference = vectors
        agree = np.sum(vectors * reference, axis=1)
        row = [backend, f"{len(texts) / seconds:,.0f}", f"{agree.mean():.6f}",
               f"{np.percentile(agree, 1):.6f}", f"{agree.min():.6f}"]  # fmt: skip
        settings = Settings()
        settings.embed.backend = backend
        if args.mrpc:
            from storyline.eval.mrpc import evaluate

            scores, _ = evaluate(SHARED / "mrpc" / "msr_paraphrase_train.txt",
                                 settings.embed.model, backend)  # fmt: skip
            row += [f"{100 * scores['accuracy']:.1f} / {100 * scores['f1']:.1f}"]
        if args.rouge:
            from storyline.eval.summaries_eval import evaluate_summaries

            got = evaluate_summaries("duc", SHARED / "duc2003", settings, ["submodular"])
            row += [f"{100 * got['submodular_rouge1_recall']:.2f} / "
                    f"{100 * got['submodular_rouge2_recall']:.2f}"]  # fmt: skip
        rows.append(row)
        print(f"[embed_backends] {backend}: done", file=sys.stderr, flush=True)
    head = ["backend", "sentences/s", "cos mean", "cos p1", "cos min"]
    head += ["MRPC acc / F1"] if args.mrpc else []
    head += ["ROUGE-1 / 2"] if args.rouge else []
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    print(
        f"{len(texts):,} sentences (MRPC, then DUC 2003), default model, 2 threads as the "
        "machine gives"
    )
    print("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))


if __name__ == "__main__":
    main()

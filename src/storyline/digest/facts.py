"""Fact groups: sentences of different articles of one story that state the same thing."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from storyline.digest.units import DigestDoc, Unit

Embed = Callable[[list[str]], np.ndarray]


def story_units(
    docs: list[DigestDoc], roots: dict[str, str] | None = None, embed: Embed | None = None
) -> list[Unit]:
    """Every sentence of the story as a Unit, with its fact group (placeholder: one group
    per sentence until fact grouping lands)."""
    units: list[Unit] = []
    texts = [s for d in docs for s in d.sentences]
    vectors = embed(texts) if embed and texts else None
    n = 0
    for d in docs:
        for i, s in enumerate(d.sentences):
            units.append(
                Unit(
                    s, d.id, i, n, [d.id], 1, False, d.published,
                    None if vectors is None else vectors[n], len(d.sentences),
                )
            )  # fmt: skip
            n += 1
    return units

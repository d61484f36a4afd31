"""Text utilities: sentence splitting with character spans."""

from storyline.text.segment import SPLITTERS, split_sentences

__all__ = ["SPLITTERS", "split_sentences"]

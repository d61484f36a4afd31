"""The public API is what the README documents, and nothing else."""

from __future__ import annotations

import logging
import re

import storyline
from conftest import ROOT


def test_all_matches_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Python API", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^- `([A-Za-z_]+)`", section, re.M))
    assert documented == set(storyline.__all__)


def test_every_exported_name_exists() -> None:
    for name in storyline.__all__:
        assert hasattr(storyline, name), name


def test_library_logs_through_a_null_handler() -> None:
    handlers = logging.getLogger("storyline").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)

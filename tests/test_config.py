from __future__ import annotations

from pathlib import Path

import pytest

from conftest import EXAMPLES
from storyline import Settings


def test_defaults_round_trip() -> None:
    s = Settings()
    assert Settings.from_dict(s.to_dict()) == s


def test_example_config_loads() -> None:
    s = Settings.load(EXAMPLES / "storyline.toml")
    assert s.embed.model == "all-MiniLM-L6-v2"
    assert s.segment.splitter == "pysbd"


def test_unknown_key_is_named(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[clean]\nrepeat_min_artcles = 2\n")
    with pytest.raises(ValueError, match="repeat_min_artcles"):
        Settings.load(cfg)


def test_an_unknown_batch_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="batch must be"):
        Settings.from_dict({"stories": {"batch": "kmeans"}})

"""Config loading, overrides and its reference documentation."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from keisei.config import ConfigError, TrainConfig, load_config, parse_override

DOCS = Path(__file__).resolve().parent.parent / "docs" / "config.md"


def dotted_keys(model: Any, prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        if hasattr(field.annotation, "model_fields"):
            keys += dotted_keys(field.annotation, f"{prefix}{name}.")
        else:
            keys.append(prefix + name)
    return keys


def test_every_key_is_documented_with_its_default() -> None:
    rows = dict(re.findall(r"^\| `([a-z0-9_.]+)` \| `([^`]*)` \|", DOCS.read_text(), re.M))
    config = load_config()
    assert sorted(rows) == sorted(dotted_keys(TrainConfig))
    for key, documented in rows.items():
        value: Any = config
        for part in key.split("."):
            value = getattr(value, part)
        shown: Any = value
        if isinstance(value, bool) or value is None:
            shown = {True: "true", False: "false", None: "null"}[value]
        elif isinstance(value, list):
            shown = "[" + ", ".join(value) + "]"
        assert str(shown) == documented, key


def test_tiny_preset(tiny_config: TrainConfig) -> None:
    assert tiny_config.model.blocks == 1
    assert tiny_config.steps_per_update == 64
    assert tiny_config.run.total_steps == 6144


def test_override_types_and_precedence(tmp_path: Path) -> None:
    assert parse_override("ppo.target_kl=0.02") == {"ppo": {"target_kl": 0.02}}
    assert parse_override("env.start_sfens=[]") == {"env": {"start_sfens": []}}
    path = tmp_path / "c.yaml"
    path.write_text("ppo:\n  epochs: 3\nenv:\n  num_games: 8\n")
    config = load_config(None, path, ["env.num_games=16"], total_steps=99)
    assert (config.ppo.epochs, config.env.num_games, config.run.total_steps) == (3, 16, 99)


def test_config_hash_depends_on_content() -> None:
    assert load_config().sha256() == load_config().sha256()
    assert load_config().sha256() != load_config(overrides=["run.seed=1"]).sha256()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("run: [1, 2]", "config key 'run'"),
        ("- a\n- b", "must hold a mapping of sections"),
        ("run: {name: x", "is not valid YAML"),
    ],
)
def test_bad_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(None, path)

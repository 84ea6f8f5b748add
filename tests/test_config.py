"""Config loading, overrides and its reference documentation."""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic.fields import FieldInfo

from keisei.cli.main import main
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


_POWERS = {2**63 - 1: "2^63 - 1", 2**64 - 1: "2^64 - 1", 2**31 - 1: "2^31 - 1"}


def _bound(info: FieldInfo, name: str) -> Any:
    return next((getattr(m, name) for m in info.metadata if hasattr(m, name)), None)


def valid_values(info: FieldInfo) -> str:
    """What the schema accepts for one key, as docs/config.md's 'Valid values' states it."""
    annotation = info.annotation
    args = typing.get_args(annotation)
    optional = isinstance(annotation, types.UnionType) and type(None) in args
    if optional:
        (annotation,) = [a for a in args if a is not type(None)]
    ge, gt, le = _bound(info, "ge"), _bound(info, "gt"), _bound(info, "le")
    if annotation is bool:
        text = "true or false"
    elif annotation is int:
        text = f"integer {ge} .. {_POWERS.get(le, le)}"
    elif annotation is float:
        low = f">= {ge:g}" if ge is not None else f"> {gt:g}"
        text = f"finite number {low}" + (f", <= {le:g}" if le is not None else "")
    elif typing.get_origin(annotation) is Literal:
        text = "one of " + ", ".join(f"`{c}`" for c in typing.get_args(annotation))
    elif annotation is str:
        text = "text" + (" (not empty)" if _bound(info, "min_length") else "")
    elif typing.get_origin(annotation) is list:
        text = "list of text"
    else:
        raise AssertionError(f"no description for {annotation}")
    return text + (", or null" if optional else "")


def _fields(model: Any, prefix: str = "") -> dict[str, FieldInfo]:
    out: dict[str, FieldInfo] = {}
    for name, info in model.model_fields.items():
        if hasattr(info.annotation, "model_fields"):
            out.update(_fields(info.annotation, f"{prefix}{name}."))
        else:
            out[prefix + name] = info
    return out


def test_every_key_documents_its_valid_values() -> None:
    """docs/config.md's 'Valid values' table starts each entry with what the schema says."""
    text = DOCS.read_text().split("## Valid values", 1)[1]
    rows = dict(re.findall(r"^\| `([a-z0-9_.]+)` \| ([^|]+) \|$", text, re.M))
    fields = _fields(TrainConfig)
    assert sorted(rows) == sorted(fields)
    for key, info in fields.items():
        assert rows[key].strip().startswith(valid_values(info)), key


@pytest.mark.parametrize(
    ("override", "bound"),
    [
        ("gumbel.c_scale=1e308", "100"),
        ("gumbel.c_visit=1e308", "10000"),
        ("ppo.clip=1e308", "10"),
        ("ppo.value_clip=1e308", "10"),
        ("ppo.value_coef=1e308", "1000"),
        ("ppo.entropy_coef=1e308", "1000"),
        ("ppo.max_grad_norm=1e308", "1000"),
        ("ppo.target_kl=1e308", "100"),
        ("ppo.weight_decay=1e308", "1"),
    ],
)
def test_values_that_overflow_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], override: str, bound: str
) -> None:
    # sigma(q) = (c_visit + max n) * c_scale * q overflowed: every weight became NaN.
    run_dir = tmp_path / "run"
    assert main(["train", "--preset", "tiny", override, "--run-dir", str(run_dir)]) == 2
    key = override.split("=")[0]
    assert capsys.readouterr().err == (
        f"keisei train: error: config key '{key}': Input should be less than or equal to "
        f"{bound} (got '1e308')\n"
    )
    assert not run_dir.exists()

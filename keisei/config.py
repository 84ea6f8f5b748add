"""Training configuration: one pydantic model, loaded from YAML plus dotted overrides.

Precedence: embedded preset (``default`` unless ``--preset``) < ``--config FILE`` <
``key.sub=value`` overrides < ``--total-steps``. Unknown keys, wrong types and
out-of-range values are rejected with a message naming the key.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

PRESETS: tuple[str, ...] = ("default", "tiny", "gpu")

# Upper bounds of integer keys. Counters and intervals are stored as int64 (checkpoints,
# TensorBoard); plies go to the C++ environment as a C int; seeds to torch and numpy, which
# take at most 64 bits; torch threads beyond this many crash torch (100,000: SIGSEGV).
INT64_MAX = 2**63 - 1
SEED_MAX = 2**64 - 1
MAX_PLIES = 2**31 - 1
MAX_TORCH_THREADS = 1024


class ConfigError(ValueError):
    """A configuration problem, described in one line naming the key or file."""


_NUMBERS: tuple[Any, ...] = (int, float, int | None, float | None)


class _Section(BaseModel):
    # Floats must be finite: inf and nan are refused for every float key.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # pydantic reads true as 1: a boolean where a number belongs is a mistake.
        name = info.field_name
        if isinstance(value, bool) and name and cls.model_fields[name].annotation in _NUMBERS:
            raise ValueError("must be a number, not a boolean")
        return value


class ModelSection(_Section):
    """The shape of an :class:`ActorCritic`; equal configs mean loadable weights."""

    blocks: int = Field(default=2, ge=1, le=INT64_MAX, description="residual blocks in the tower")
    channels: int = Field(default=32, ge=1, le=INT64_MAX, description="channels of the tower")
    se: bool = Field(default=False, description="squeeze-and-excitation in every block")
    se_ratio: int = Field(default=4, ge=1, le=INT64_MAX, description="channel reduction inside SE")
    value_head: Literal["scalar", "wdl"] = "scalar"

    def describe(self) -> str:
        """A one-line description, e.g. for error messages."""
        se = f"se=True, se_ratio={self.se_ratio}" if self.se else "se=False"
        return f"blocks={self.blocks}, channels={self.channels}, {se}, value_head={self.value_head}"


class PPOSection(_Section):
    learning_rate: float = Field(default=1e-3, gt=0, le=1)
    lr_schedule: Literal["constant", "linear", "cosine"] = "constant"
    epochs: int = Field(default=2, ge=1, le=INT64_MAX)
    minibatch_size: int = Field(default=64, ge=1, le=INT64_MAX)
    # Upper bounds: larger values are no PPO any more, and overflow the loss to inf/NaN.
    clip: float = Field(default=0.2, gt=0, le=10)
    value_clip: float | None = Field(
        default=None, gt=0, le=10, description="scalar value heads only"
    )
    value_coef: float = Field(default=0.5, ge=0, le=1000)
    entropy_coef: float = Field(default=0.01, ge=0, le=1000)
    max_grad_norm: float = Field(default=0.5, gt=0, le=1000)
    target_kl: float | None = Field(
        default=None, gt=0, le=100, description="stop the epochs above this KL"
    )
    weight_decay: float = Field(default=0.0, ge=0, le=1)
    gamma: float = Field(default=0.99, ge=0, le=1)
    gae_lambda: float = Field(default=0.95, ge=0, le=1)
    bf16: bool = Field(default=False, description="bf16 autocast; used only on CUDA")
    compile: bool = Field(default=False, description="torch.compile the model's forward")
    compile_mode: Literal["default", "reduce-overhead", "max-autotune-no-cudagraphs"] = Field(
        default="default",
        description="torch.compile mode for acting; reduce-overhead: CUDA graphs (GPU)",
    )


class GumbelSection(_Section):
    """Gumbel AlphaZero policy improvement in self-play (keisei.search.gumbel); off by default."""

    simulations: int = Field(
        0,
        ge=0,
        le=4096,
        description="search simulations per self-play move; the policy learns the search's "
        "improved policy instead of PPO's policy gradient (0: off, plain PPO)",
    )
    considered: int = Field(
        16, ge=1, le=4096, description="root moves sampled by Gumbel top-k, then halved"
    )
    # Bounded so that sigma(q) stays far from overflow (1e308 turned every weight into NaN):
    # at most (10000 + 4096) * 100, where the improved policy is already one-hot.
    c_visit: float = Field(
        50.0, gt=0, le=10_000, description="sigma(q) = (c_visit + max visits) * c_scale * q"
    )
    c_scale: float = Field(
        0.1, gt=0, le=100, description="see c_visit; larger: sharper improved policy"
    )
    # Playout cap randomization (KataGo): cheap searches play most moves, full ones train.
    full_search_fraction: float = Field(
        1.0,
        gt=0,
        le=1,
        description="share of self-play steps searched with `simulations`, drawn per step; "
        "the others get `fast_simulations` and train only the value (1: every step full)",
    )
    fast_simulations: int = Field(
        1, ge=1, le=4096, description="simulations of the other steps; below `simulations`"
    )


class LeagueSection(_Section):
    """Past selves as opponents (keisei.training.league); off by default."""

    fraction: float = Field(
        0.0,
        ge=0,
        le=1,
        description="share of each rank's games played against frozen past networks "
        "(0: off, pure self-play)",
    )
    snapshot_every_updates: int = Field(
        10, ge=1, le=INT64_MAX, description="the network joins the pool every this many updates"
    )
    pool_size: int = Field(
        8, ge=1, le=1024, description="past networks kept (the oldest leaves first)"
    )
    pfsp_power: float = Field(
        1.0,
        ge=0,
        le=100,
        description="opponents drawn with weight (1 - score)^power (0: uniform)",
    )


class SearchSettings(_Section):
    """PUCT search settings (keisei.search.mcts): the USI engine, ``search:`` players and
    ``keisei play``. The ``search:`` spec keys and the USI options are aliases of these
    fields (keisei.evaluation.search_player, keisei.search.usi_engine)."""

    model_config = ConfigDict(frozen=True)

    # Upper bounds: values are in [-1, 1], so past these the search only degenerates (a
    # c_puct of 1e308 searched an 88-ply line from 1g1f); the USI options check them too.
    playouts: int = Field(
        64, ge=1, le=1_000_000_000, description="playouts per move of a search: player"
    )
    batch_size: int = Field(16, ge=1, le=4096, description="leaves per network call")
    c_puct: float = Field(1.5, gt=0, le=100, description="the PUCT exploration constant")
    fpu_reduction: float = Field(0.2, ge=0, le=2, description="first-play urgency reduction")
    virtual_loss: float = Field(1.0, gt=0, le=100, description="per playout waiting in a batch")
    policy_temperature: float = Field(
        1.0, ge=0.01, le=100, description="softmax temperature of the priors"
    )
    temperature: float = Field(
        0.0, ge=0, le=100, description="the move played: 0 most visits, else drawn by visits^(1/T)"
    )
    mate_check: bool = Field(True, description="look for a mate at the root before searching")
    mate_nodes: int = Field(
        10_000, ge=0, le=10_000_000, description="df-pn nodes of that check; 0: mate in one"
    )
    max_nodes: int = Field(
        1_000_000, ge=1, le=INT64_MAX, description="the tree stops growing here (0.75 kB a node)"
    )

    @classmethod
    def bound(cls, name: str, kind: str) -> Any:
        """Field ``name``'s ``ge``, ``gt``, ``le`` or ``lt`` bound (``kind``), or None."""
        for constraint in cls.model_fields[name].metadata:
            if hasattr(constraint, kind):
                return getattr(constraint, kind)
        return None

    @classmethod
    def value_of(cls, name: str, text: str) -> int | float:
        """``text`` as field ``name``; ValueError (``must be a number > 0``, or the parse
        error) if it is not a valid one."""
        integer = cls.model_fields[name].annotation is int
        number: int | float = int(text) if integer else float(text)
        try:
            cls.model_validate({name: number})
        except ValidationError:
            kinds = (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))
            limits = [f"{sign} {b:g}" for k, sign in kinds if (b := cls.bound(name, k)) is not None]
            noun = "an integer" if integer else "a number"
            raise ValueError(f"must be {noun} {' and '.join(limits)}") from None
        return number


class RunSection(_Section):
    name: str = Field(
        "default",
        min_length=1,
        description="run name: runs/<name>/ (no '/', not '.' or '..')",
    )
    seed: int = Field(
        0, ge=0, le=SEED_MAX, description="seeds weights, sampling, minibatches, start positions"
    )
    total_steps: int = Field(
        1_500_000, ge=1, le=INT64_MAX, description="environment plies to train for"
    )
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto: cuda if available")
    torch_threads: int = Field(
        0, ge=0, le=MAX_TORCH_THREADS, description="0: leave torch's default"
    )
    nproc: int = Field(
        0,
        ge=0,
        le=MAX_TORCH_THREADS,
        description="processes (ranks) of a fresh run; 0: auto, one per CPU core on a CPU "
        "(as many as divide env.num_games and ppo.minibatch_size), one per GPU on CUDA",
    )

    @field_validator("name")
    @classmethod
    def _one_component(cls, name: str) -> str:
        # One path component, so that runs/<name>/ stays under runs/.
        if name in (".", "..") or any(c in name for c in "/\\\x00"):
            raise ValueError("must be one path component: no '/', '\\' or NUL, not '.' or '..'")
        return name


class EnvSection(_Section):
    num_games: int = Field(64, ge=1, le=INT64_MAX, description="games played in parallel")
    max_plies: int = Field(
        512, ge=1, le=MAX_PLIES, description="a game reaching this many plies is a draw"
    )
    start_sfens: list[str] = Field(default_factory=list, description="empty: standard start")
    threads: int = Field(
        1,
        ge=1,
        le=256,
        description="C++ threads stepping the games (results do not depend on it)",
    )
    overlap: bool = Field(
        False,
        description="step half of the games while the network acts on the other half "
        "(needs 2 games per rank and no gumbel search; reproducible, but not the same bits "
        "as without: the network sees batches of half the size)",
    )


class RolloutSection(_Section):
    steps_per_game: int = Field(
        32, ge=1, le=INT64_MAX, description="plies per game between PPO updates"
    )


class CheckpointSection(_Section):
    every_steps: int = Field(20_480, ge=1, le=INT64_MAX, description="periodic checkpoint interval")
    keep_last: int = Field(
        3, ge=1, le=INT64_MAX, description="step checkpoints kept (best.pt apart)"
    )


class AverageSection(_Section):
    """The weight average the run plays with (keisei.training.averaging)."""

    enabled: bool = Field(
        True, description="players use the average of the late weights, not the last ones"
    )
    start_fraction: float = Field(
        0.67, ge=0, le=1, description="averaging starts at this share of run.total_steps"
    )
    every_steps: int = Field(
        20_480, ge=1, le=INT64_MAX, description="the live weights join the average this often"
    )


class EvaluationSection(_Section):
    enabled: bool = Field(True, description="periodic evaluation during training")
    every_steps: int = Field(61_440, ge=1, le=INT64_MAX, description="evaluation interval")
    games: int = Field(20, ge=1, le=INT64_MAX, description="games per opponent")
    opponents: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=lambda: ["random", "greedy"], description="baseline player specs"
    )
    past_checkpoints: int = Field(
        2, ge=0, le=INT64_MAX, description="earlier checkpoints also played"
    )
    max_plies: int = Field(
        256, ge=1, le=MAX_PLIES, description="evaluation games are draws after this"
    )


class LoggingSection(_Section):
    tensorboard: bool = Field(True, description="scalars under RUN/tensorboard/")
    console: Literal["auto", "rich", "plain"] = Field(
        "auto", description="auto: live view on a terminal, plain lines otherwise"
    )
    log_every_updates: int = Field(
        1, ge=1, le=INT64_MAX, description="console/log line every N updates"
    )
    record_every_episodes: int = Field(
        100, ge=0, le=INT64_MAX, description="write every Nth finished game as KIF+CSA (0: none)"
    )


class WandbSection(_Section):
    enabled: bool = Field(False, description="log to Weights & Biases")
    mode: Literal["offline", "online", "disabled"] = Field(
        "offline", description="offline: files under RUN/wandb/ only"
    )
    project: str = Field("keisei", description="W&B project")
    entity: str | None = Field(None, description="W&B entity (team or user)")


class TrainConfig(_Section):
    run: RunSection = Field(default_factory=RunSection)
    env: EnvSection = Field(default_factory=EnvSection)
    model: ModelSection = Field(default_factory=ModelSection)
    ppo: PPOSection = Field(default_factory=PPOSection)
    gumbel: GumbelSection = Field(default_factory=GumbelSection)
    league: LeagueSection = Field(default_factory=LeagueSection)
    rollout: RolloutSection = Field(default_factory=RolloutSection)
    checkpoint: CheckpointSection = Field(default_factory=CheckpointSection)
    average: AverageSection = Field(default_factory=AverageSection)
    evaluation: EvaluationSection = Field(default_factory=EvaluationSection)
    logging: LoggingSection = Field(default_factory=LoggingSection)
    wandb: WandbSection = Field(default_factory=WandbSection)

    @property
    def steps_per_update(self) -> int:
        return self.env.num_games * self.rollout.steps_per_game

    def sha256(self) -> str:
        return config_sha256(self)


def config_sha256(config: TrainConfig) -> str:
    blob = json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def shown(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for one-line messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            parts.append(f"unknown config key '{key}'")
        elif err["type"] == "value_error":
            error = err.get("ctx", {}).get("error", err["msg"])
            parts.append(f"config key '{key}': {error} (got {shown(err['input'])})")
        elif err["type"] == "finite_number":
            parts.append(f"config key '{key}': must be a finite number (got {shown(err['input'])})")
        else:
            parts.append(f"config key '{key}': {err['msg']} (got {shown(err.get('input'))})")
    return "; ".join(parts[:3]) + (f"; and {len(parts) - 3} more" if len(parts) > 3 else "")


def validate(data: dict[str, Any]) -> TrainConfig:
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def preset_dict(name: str) -> dict[str, Any]:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset '{name}' (choose from {', '.join(PRESETS)})")
    text = resources.files("keisei.presets").joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    assert isinstance(data, dict)
    return data


def read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of sections")
    return data


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_override(text: str) -> dict[str, Any]:
    """``ppo.learning_rate=1e-4`` -> ``{"ppo": {"learning_rate": 0.0001}}`` (YAML-typed)."""
    key, sep, raw = text.partition("=")
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override '{text}' is not of the form key.sub=value")
    try:
        value = yaml.safe_load(raw) if raw else ""
    except yaml.YAMLError:
        value = raw
    node: dict[str, Any] = {}
    cursor = node
    parts = key.split(".")
    for part in parts[:-1]:
        cursor[part] = {}
        cursor = cursor[part]
    cursor[parts[-1]] = value
    return node


def load_config(
    preset: str | None = None,
    path: Path | None = None,
    overrides: list[str] | None = None,
    total_steps: int | None = None,
    base: dict[str, Any] | None = None,
) -> TrainConfig:
    """Build the effective config. ``base`` (a saved config) replaces the preset on resume."""
    data = base if base is not None else preset_dict(preset or "default")
    if path is not None:
        data = merge(data, read_yaml(path))
    for text in overrides or []:
        data = merge(data, parse_override(text))
    if total_steps is not None:
        data = merge(data, {"run": {"total_steps": total_steps}})
    return validate(data)


def dump_yaml(config: TrainConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)

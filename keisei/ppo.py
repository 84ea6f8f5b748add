"""PPO for alternating two-player self-play.

Credit assignment: the negamax convention
-----------------------------------------
A rollout holds, for each game slot, the interleaved sequence of both players' moves.
Every transition is seen from the player who moves at that step:

* ``values[t]`` is V(s_t) for the player to move in s_t (the network always sees the
  board from the side to move);
* ``rewards[t]`` is the reward of that mover (the environment returns +1 to the player
  whose move won, -1 to one whose move lost, 0 otherwise).

The next state s_{t+1} belongs to the opponent, so the current mover values it as
-V(s_{t+1}), and the opponent's advantage counts against the mover::

    delta_t = r_t - gamma * V(s_{t+1}) * (1 - done_t) - V(s_t)
    A_t     = delta_t - gamma * lambda * (1 - done_t) * A_{t+1}
    R_t     = A_t + V(s_t)

At the end of a rollout the bootstrap is -V(last observation). ``done_t`` cuts both the
bootstrap and the recursion, so games that end inside a rollout do not leak into the
next game of the same slot.

Worked example (gamma = lambda = 1, all values 0): a 3-ply game in which the third move
mates. Rewards (0, 0, +1), dones (F, F, T) give advantages and returns (+1, -1, +1): the
winner's plies 1 and 3 are credited with the win, the loser's ply 2 with the loss. GAE
over the interleaved sequence without the sign flip (the predecessor system's bug) would
give (+1, +1, +1), crediting the loser with the winner's reward.
"""

from __future__ import annotations

import functools
import math
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from keisei.encoding import (
    NUM_ACTIONS,
    OBS_SHAPE,
    PACKED_MASK_BYTES,
    PACKED_OBS_BYTES,
    pack_mask,
    pack_obs,
    unpack_mask,
    unpack_obs,
)
from keisei.network import ActorCritic, PolicyValue, load_weights, obs_to_tensor

FloatArray = npt.NDArray[np.float32]


class PPOConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    learning_rate: float = Field(default=3e-4, gt=0)
    lr_schedule: Literal["constant", "linear", "cosine"] = "constant"
    epochs: int = Field(default=2, ge=1)
    minibatch_size: int = Field(default=64, ge=1)
    clip: float = Field(default=0.2, gt=0)
    value_clip: float | None = Field(default=None, gt=0, description="scalar value heads only")
    value_coef: float = Field(default=0.5, ge=0)
    entropy_coef: float = Field(default=0.01, ge=0)
    max_grad_norm: float = Field(default=0.5, gt=0)
    target_kl: float | None = Field(default=None, gt=0, description="stop the epochs above this KL")
    weight_decay: float = Field(default=0.0, ge=0)
    gamma: float = Field(default=0.99, ge=0, le=1)
    gae_lambda: float = Field(default=0.95, ge=0, le=1)
    bf16: bool = Field(default=False, description="bf16 autocast; used only on CUDA")
    compile: bool = Field(default=False, description="torch.compile the model's forward")


# -- masked policy ------------------------------------------------------------------------
class MaskedCategorical:
    """A categorical distribution over the legal actions only (the last dimension).

    Illegal logits become -inf before a log-softmax, so their probability is exactly 0 and
    their log-probability -inf; the entropy leaves them out, and gradients stay finite
    (0 on illegal entries). A row without any legal action would be NaN, so it is refused.

    The same distribution as ``torch.distributions.Categorical(logits=masked)``, computed
    with one fused ``log_softmax`` instead of its ``logsumexp`` and subtraction, and sampled
    by inverse CDF with one uniform number per row instead of ``torch.multinomial``'s one
    exponential per action (2187 per row): see docs/performance.md.
    """

    def __init__(self, logits: torch.Tensor, mask: torch.Tensor) -> None:
        if mask.shape != logits.shape:
            raise ValueError(
                f"mask shape {tuple(mask.shape)} != logits shape {tuple(logits.shape)}"
            )
        if mask.dtype != torch.bool:
            mask = mask.bool()
        # A max over the bytes is some 50 times faster than any() over bools on CPU.
        empty = mask.view(torch.uint8).amax(dim=-1) == 0
        if bool(empty.any()):
            rows = torch.nonzero(empty).flatten().tolist()
            raise ValueError(f"mask rows {rows} have no legal action")
        self.mask = mask
        # float32 whatever the autocast dtype: bf16 log-probabilities are too coarse for
        # PPO ratios. ``logits`` are normalized: the log-probabilities of all actions.
        self.logits: torch.Tensor = (
            logits.float().masked_fill(~mask, float("-inf")).log_softmax(dim=-1)
        )

    @functools.cached_property
    def probs(self) -> torch.Tensor:
        return self.logits.exp()

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        return self.logits.gather(-1, value.long().unsqueeze(-1)).squeeze(-1)

    def entropy(self) -> torch.Tensor:
        return -(self.probs * self.logits.masked_fill(~self.mask, 0.0)).sum(dim=-1)

    def sample_with(self, generator: torch.Generator) -> torch.Tensor:
        """Draw one action per row from ``generator`` (never the global RNG).

        Inverse CDF: with U uniform in [0, 1), the first action whose cumulative
        probability reaches (1 - U) * total. That point lies in (0, total], so the action
        found always has a nonzero probability (a zero adds nothing to the sum).
        """
        probs = self.probs
        if probs.device != generator.device:
            probs = probs.to(generator.device)
        flat = probs.reshape(-1, probs.shape[-1])
        cdf = flat.double().cumsum(dim=-1)
        u = torch.rand((flat.shape[0], 1), generator=generator, device=cdf.device, dtype=cdf.dtype)
        actions = torch.searchsorted(cdf, (1.0 - u) * cdf[:, -1:]).squeeze(1)
        # Cannot happen with a sequential cumulative sum; a guard for other devices.
        bad = flat.gather(1, actions.unsqueeze(1)).squeeze(1) <= 0
        if bool(bad.any()):
            actions[bad] = torch.multinomial(flat[bad], 1, generator=generator).squeeze(1)
        return actions.reshape(probs.shape[:-1]).to(self.probs.device)


# -- credit assignment -----------------------------------------------------------------
def compute_gae(
    rewards: FloatArray,
    values: FloatArray,
    dones: npt.NDArray[np.bool_],
    last_values: FloatArray,
    gamma: float,
    lam: float,
) -> tuple[FloatArray, FloatArray]:
    """Negamax GAE over (T, N) interleaved two-player rollouts; see the module docstring.

    Returns ``(advantages, returns)``, both (T, N) float32.
    """
    steps = rewards.shape[0]
    advantages = np.zeros(rewards.shape, dtype=np.float32)
    next_adv = np.zeros(rewards.shape[1:], dtype=np.float32)
    next_value = np.asarray(last_values, dtype=np.float32)
    g, gl = np.float32(gamma), np.float32(gamma * lam)
    for t in range(steps - 1, -1, -1):
        live = 1.0 - dones[t].astype(np.float32)
        delta = rewards[t] - g * next_value * live - values[t]
        next_adv = (delta - gl * live * next_adv).astype(np.float32)
        advantages[t] = next_adv
        next_value = values[t]
    returns = (advantages + values).astype(np.float32)
    return advantages, returns


# -- rollout storage -------------------------------------------------------------------
class RolloutBuffer:
    """Preallocated (steps, envs) rollout storage.

    Per transition: observation bit-packed (1205 bytes), legal mask bit-packed (274),
    action int16 (2), log-prob, value and reward float32 (12), done bool (1): 1494 bytes,
    against 9639 + 2187 bytes for uint8 planes and a bool mask.
    """

    BYTES_PER_STEP: int = PACKED_OBS_BYTES + PACKED_MASK_BYTES + 2 + 3 * 4 + 1
    _FIELDS = ("obs", "masks", "actions", "logp", "values", "rewards", "dones")

    def __init__(self, steps: int, envs: int) -> None:
        if steps < 1 or envs < 1:
            raise ValueError(f"steps and envs must be >= 1, got steps={steps}, envs={envs}")
        self.steps = steps
        self.envs = envs
        self.obs = np.zeros((steps, envs, PACKED_OBS_BYTES), dtype=np.uint8)
        self.masks = np.zeros((steps, envs, PACKED_MASK_BYTES), dtype=np.uint8)
        self.actions = np.zeros((steps, envs), dtype=np.int16)  # ids < 2187 fit
        self.logp = np.zeros((steps, envs), dtype=np.float32)
        self.values = np.zeros((steps, envs), dtype=np.float32)
        self.rewards = np.zeros((steps, envs), dtype=np.float32)
        self.dones = np.zeros((steps, envs), dtype=bool)
        self.pos = 0

    def _arrays(self) -> list[npt.NDArray[Any]]:
        return [getattr(self, name) for name in self._FIELDS]

    def bytes_per_step(self) -> int:
        """Bytes of storage per transition (one env, one step), from the arrays themselves."""
        return sum(a.nbytes for a in self._arrays()) // (self.steps * self.envs)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self._arrays())

    @property
    def full(self) -> bool:
        return self.pos >= self.steps

    def reset(self) -> None:
        self.pos = 0

    def add(
        self,
        obs: npt.NDArray[np.uint8],
        mask: npt.NDArray[np.bool_],
        actions: npt.NDArray[np.integer[Any]],
        logp: FloatArray,
        values: FloatArray,
        rewards: FloatArray,
        dones: npt.NDArray[np.bool_],
    ) -> None:
        """Store one step of all envs: the obs/mask acted on, and what the action earned."""
        if self.full:
            raise RuntimeError(f"rollout buffer is full ({self.steps} steps); call reset()")
        if obs.shape != (self.envs, *OBS_SHAPE):
            raise ValueError(f"obs shape {obs.shape} != {(self.envs, *OBS_SHAPE)}")
        if mask.shape != (self.envs, NUM_ACTIONS):
            raise ValueError(f"mask shape {mask.shape} != {(self.envs, NUM_ACTIONS)}")
        t = self.pos
        self.obs[t] = pack_obs(obs)
        self.masks[t] = pack_mask(mask)
        self.actions[t] = actions
        self.logp[t] = logp
        self.values[t] = values
        self.rewards[t] = rewards
        self.dones[t] = dones
        self.pos = t + 1

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            name: a.copy() for name, a in zip(self._FIELDS, self._arrays(), strict=True)
        }
        state["pos"] = self.pos
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in self._FIELDS:
            mine, theirs = getattr(self, name), np.asarray(state[name])
            if theirs.shape != mine.shape or theirs.dtype != mine.dtype:
                raise ValueError(
                    f"saved rollout {name} is {theirs.dtype}{list(theirs.shape)}, "
                    f"this buffer's is {mine.dtype}{list(mine.shape)}"
                )
        for name in self._FIELDS:
            getattr(self, name)[...] = state[name]
        self.pos = int(state["pos"])


# -- the agent ---------------------------------------------------------------------------
@dataclass
class _Batch:
    """A flattened rollout, ready for minibatches; obs and masks stay packed until used."""

    obs: npt.NDArray[np.uint8]
    masks: npt.NDArray[np.uint8]
    actions: torch.Tensor
    old_logp: torch.Tensor
    old_values: torch.Tensor
    returns: torch.Tensor
    advantages: torch.Tensor

    def __len__(self) -> int:
        return int(self.actions.shape[0])


def _lr_factor(schedule: str, total_updates: int) -> Any:
    def factor(update: int) -> float:
        progress = min(update / total_updates, 1.0)
        if schedule == "linear":
            return 1.0 - progress
        if schedule == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        return 1.0

    return factor


def wdl_targets(returns: torch.Tensor) -> torch.Tensor:
    """(win, draw, loss) soft targets whose expected value P(win) - P(loss) is the return.

    The return's sign picks win or loss and its magnitude (clipped to 1) their weight; the
    rest is draw. A return of exactly 0 (a draw) is a pure draw target.
    """
    r = returns.clamp(-1.0, 1.0)
    return torch.stack([r.clamp(min=0.0), 1.0 - r.abs(), (-r).clamp(min=0.0)], dim=1)


class PPOAgent:
    """Acting and PPO updates for one :class:`ActorCritic`; owns optimizer and schedule."""

    def __init__(
        self,
        model: ActorCritic,
        cfg: PPOConfig,
        total_updates: int,
        device: torch.device | str = "cpu",
    ) -> None:
        if total_updates < 1:
            raise ValueError(f"total_updates must be >= 1, got {total_updates}")
        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.cfg = cfg
        self.total_updates = total_updates
        # The fused kernel updates all parameters in one call instead of one tensor at a time.
        self.optimizer = torch.optim.AdamW(
            model.parameters(),
            lr=cfg.learning_rate,
            weight_decay=cfg.weight_decay,
            fused=self.device.type in ("cpu", "cuda"),
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, _lr_factor(cfg.lr_schedule, total_updates)
        )
        self.amp_dtype: torch.dtype | None = (
            torch.bfloat16 if cfg.bf16 and self.device.type == "cuda" else None
        )
        # Loss scaling matters only for float16; bf16 has float32's exponent range. The
        # scaler is kept (disabled) so checkpoints have one layout whatever the precision.
        self.scaler = torch.amp.GradScaler(
            self.device.type, enabled=self.amp_dtype == torch.float16
        )
        # The compiled wrapper shares parameters with ``model``, whose state_dict keeps
        # plain names (no ``_orig_mod.`` prefix).
        self._forward: Any = torch.compile(model) if cfg.compile else model

    # -- acting ---------------------------------------------------------------------
    def _autocast(self) -> AbstractContextManager[Any]:
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _run(self, obs: npt.NDArray[np.uint8]) -> PolicyValue:
        with self._autocast():
            out: PolicyValue = self._forward(obs_to_tensor(obs, self.device))
        return out

    def _mask(self, mask: npt.NDArray[np.bool_]) -> torch.Tensor:
        return torch.as_tensor(mask, device=self.device)

    @torch.inference_mode()
    def act(
        self,
        obs: npt.NDArray[np.uint8],
        mask: npt.NDArray[np.bool_],
        generator: torch.Generator,
    ) -> tuple[npt.NDArray[np.int64], FloatArray, FloatArray]:
        """Sample legal actions; return (actions int64, their log-probs, values)."""
        out = self._run(obs)
        dist = MaskedCategorical(out.logits, self._mask(mask))
        actions = dist.sample_with(generator)
        logp = dist.log_prob(actions)
        return (
            actions.cpu().numpy().astype(np.int64),
            logp.cpu().numpy().astype(np.float32),
            out.value.float().cpu().numpy().astype(np.float32),
        )

    @torch.inference_mode()
    def values(self, obs: npt.NDArray[np.uint8]) -> FloatArray:
        """V(obs) for the side to move in each observation."""
        return self._run(obs).value.float().cpu().numpy().astype(np.float32)

    @torch.inference_mode()
    def greedy(
        self, obs: npt.NDArray[np.uint8], mask: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.int64]:
        """The most probable legal action of each row."""
        dist = MaskedCategorical(self._run(obs).logits, self._mask(mask))
        return dist.logits.argmax(dim=1).cpu().numpy().astype(np.int64)

    # -- learning -------------------------------------------------------------------
    def _prepare(self, buffer: RolloutBuffer, last_values: FloatArray) -> _Batch:
        t = buffer.pos
        if t == 0:
            raise ValueError("rollout buffer is empty")
        advantages, returns = compute_gae(
            buffer.rewards[:t],
            buffer.values[:t],
            buffer.dones[:t],
            np.asarray(last_values, dtype=np.float32),
            self.cfg.gamma,
            self.cfg.gae_lambda,
        )
        adv = advantages.reshape(-1)
        if adv.size > 1:
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)

        def tensor(a: npt.NDArray[Any]) -> torch.Tensor:
            return torch.as_tensor(np.ascontiguousarray(a.reshape(-1)), device=self.device)

        return _Batch(
            obs=buffer.obs[:t].reshape(-1, PACKED_OBS_BYTES),
            masks=buffer.masks[:t].reshape(-1, PACKED_MASK_BYTES),
            actions=tensor(buffer.actions[:t]).long(),
            old_logp=tensor(buffer.logp[:t]),
            old_values=tensor(buffer.values[:t]),
            returns=tensor(returns),
            advantages=tensor(adv.astype(np.float32)),
        )

    def _losses(self, batch: _Batch, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        rows = idx.cpu().numpy()
        out = self._run(unpack_obs(batch.obs[rows]))
        dist = MaskedCategorical(out.logits, self._mask(unpack_mask(batch.masks[rows])))
        idx = idx.to(self.device)
        actions, adv = batch.actions[idx], batch.advantages[idx]
        returns, old_values = batch.returns[idx], batch.old_values[idx]

        logp = dist.log_prob(actions)
        log_ratio = logp - batch.old_logp[idx]
        ratio = log_ratio.exp()
        clip = self.cfg.clip
        policy_loss = -torch.min(ratio * adv, ratio.clamp(1 - clip, 1 + clip) * adv).mean()

        value = out.value.float()
        if out.wdl_logits is not None:
            value_loss = F.cross_entropy(out.wdl_logits.float(), wdl_targets(returns))
        elif self.cfg.value_clip is not None:
            c = self.cfg.value_clip
            clipped = old_values + (value - old_values).clamp(-c, c)
            value_loss = torch.max((value - returns) ** 2, (clipped - returns) ** 2).mean()
        else:
            value_loss = F.mse_loss(value, returns)

        entropy = dist.entropy().mean()
        loss = policy_loss + self.cfg.value_coef * value_loss - self.cfg.entropy_coef * entropy
        with torch.no_grad():
            # Schulman's low-variance estimator of KL(old || new).
            approx_kl = ((ratio - 1) - log_ratio).mean()
            clip_fraction = ((ratio - 1).abs() > clip).float().mean()
        return {
            "loss": loss,
            "policy_loss": policy_loss,
            "value_loss": value_loss,
            "entropy": entropy,
            "approx_kl": approx_kl,
            "clip_fraction": clip_fraction,
        }

    def evaluate(self, buffer: RolloutBuffer, last_values: FloatArray) -> dict[str, float]:
        """The PPO losses of the current network on a whole rollout, without learning."""
        batch = self._prepare(buffer, last_values)
        n, size = len(batch), self.cfg.minibatch_size
        sums: dict[str, float] = {}
        with torch.no_grad():
            for start in range(0, n, size):
                idx = torch.arange(start, min(start + size, n))
                for key, value in self._losses(batch, idx).items():
                    sums[key] = sums.get(key, 0.0) + float(value) * len(idx)
        return {key: total / n for key, total in sums.items()}

    def update(
        self, buffer: RolloutBuffer, last_values: FloatArray, generator: torch.Generator
    ) -> dict[str, float]:
        """One PPO update on a rollout; ``last_values`` is V(obs after the last step).

        Minibatch order comes from ``generator``. With ``target_kl`` set, the epochs stop
        at the first minibatch whose approximate KL exceeds it (that step is not applied).
        The learning-rate schedule advances once per call.
        """
        cfg = self.cfg
        batch = self._prepare(buffer, last_values)
        n = len(batch)
        learning_rate = float(self.optimizer.param_groups[0]["lr"])
        keys = ("loss", "policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction")
        sums = dict.fromkeys((*keys, "grad_norm"), 0.0)
        steps = 0
        epochs_run = 0
        stop = False
        for _ in range(cfg.epochs):
            epochs_run += 1
            order = torch.randperm(n, generator=generator, device=generator.device)
            for start in range(0, n, cfg.minibatch_size):
                losses = self._losses(batch, order[start : start + cfg.minibatch_size])
                if cfg.target_kl is not None and float(losses["approx_kl"]) > cfg.target_kl:
                    stop = True
                    break
                self.optimizer.zero_grad(set_to_none=True)
                torch.autograd.backward(self.scaler.scale(losses["loss"]))
                self.scaler.unscale_(self.optimizer)
                grad_norm = torch.nn.utils.clip_grad_norm_(
                    self.model.parameters(), cfg.max_grad_norm
                )
                self.scaler.step(self.optimizer)
                self.scaler.update()
                steps += 1
                for key in keys:
                    sums[key] += float(losses[key].detach())
                sums["grad_norm"] += float(grad_norm)
            if stop:
                break
        self.scheduler.step()
        metrics = {key: total / max(steps, 1) for key, total in sums.items()}
        metrics["learning_rate"] = learning_rate
        metrics["epochs_run"] = float(epochs_run)
        metrics["minibatch_steps"] = float(steps)
        return metrics

    # -- checkpoints ------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Optimizer, schedule and scaler state (the model's weights: see ``model_state``)."""
        return {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])

    def model_state(self) -> dict[str, Any]:
        """The model's config and weights, as ``load_model_state`` expects them."""
        return {"config": self.model.config.model_dump(), "weights": self.model.state_dict()}

    def load_model_state(self, state: dict[str, Any]) -> None:
        load_weights(self.model, state["weights"], state["config"])

"""PPO for alternating two-player self-play: acting, the update, checkpoints of it.

The update's policy term is one of two losses, chosen when the agent is built (by
``gumbel.simulations``, in ``keisei.training.build``): ``ClippedSurrogate`` (PPO's clipped
policy gradient) or ``SearchCrossEntropy`` (toward the Gumbel search's improved policies).
The rollout buffer and the two-player (negamax) GAE are in ``keisei.rl.rollout``; the
masked policy in ``keisei.rl.policy``.
"""

from __future__ import annotations

import math
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F

from keisei.config import PPOSection
from keisei.distributed import Collective
from keisei.game.encoding import (
    NUM_ACTIONS,
    PACKED_MASK_BYTES,
    PACKED_OBS_BYTES,
    unpack_mask,
    unpack_obs,
)
from keisei.rl.network import (
    ActorCritic,
    PolicyValue,
    load_weights,
    obs_to_tensor,
    packed_obs_to_tensor,
    to_device,
    unpack_bits,
)
from keisei.rl.policy import MaskedCategorical
from keisei.rl.rollout import FloatArray, RolloutBuffer, compute_gae


def explained_variance(values: npt.NDArray[Any], returns: npt.NDArray[Any]) -> float:
    """1 - Var(returns - values) / Var(returns): 1 is a perfect value head, 0 no better
    than a constant, negative worse. NaN when the returns do not vary (nothing to explain).
    """
    var = float(np.var(returns, dtype=np.float64))
    if var == 0.0:
        return float("nan")
    return 1.0 - float(np.var(returns - values, dtype=np.float64)) / var


@dataclass
class _Batch:
    """A flattened rollout, ready for minibatches; obs and masks stay packed until used.

    On a GPU the packed rows are moved to it once per update and unpacked there per
    minibatch; on the CPU they stay numpy arrays (``np.unpackbits`` is faster there).
    """

    obs: npt.NDArray[np.uint8] | torch.Tensor
    masks: npt.NDArray[np.uint8] | torch.Tensor
    actions: torch.Tensor
    old_logp: torch.Tensor
    old_values: torch.Tensor
    returns: torch.Tensor
    advantages: torch.Tensor
    # The Gumbel search's improved policies (float16, all actions), when the run has them.
    targets: npt.NDArray[np.float16] | torch.Tensor | None = None
    # 1 for the learner's moves, 0 for a league opponent's (None: every move is trained).
    weights: torch.Tensor | None = None

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


def weighted_mean(x: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """The mean of ``x`` over the trained rows: all (``weights`` None), or those of weight 1
    (0 with none)."""
    if weights is None:
        return x.mean()
    return (x * weights).sum() / weights.sum().clamp(min=1.0)


def wdl_targets(returns: torch.Tensor) -> torch.Tensor:
    """(win, draw, loss) soft targets whose expected value P(win) - P(loss) is the return.

    The return's sign picks win or loss and its magnitude (clipped to 1) their weight; the
    rest is draw. A return of exactly 0 (a draw) is a pure draw target.
    """
    r = returns.clamp(-1.0, 1.0)
    return torch.stack([r.clamp(min=0.0), 1.0 - r.abs(), (-r).clamp(min=0.0)], dim=1)


@dataclass(frozen=True)
class PolicyTerms:
    """What a policy loss reads of one minibatch."""

    dist: MaskedCategorical  # the network's current policy
    mask: torch.Tensor  # (B, 2187) bool legal actions
    ratio: torch.Tensor  # pi(a) / pi_old(a) of the actions played
    advantages: torch.Tensor
    targets: torch.Tensor | None  # the search's improved policies, when the rollout has them
    weights: torch.Tensor | None = None  # which rows are trained (None: all)

    def mean(self, x: torch.Tensor) -> torch.Tensor:
        """The mean of a per-row term over the trained rows."""
        return weighted_mean(x, self.weights)


class PolicyLoss(Protocol):
    """The policy term of the update's loss."""

    # Whether the rollout must hold policy targets (``RolloutBuffer(targets=True)``).
    needs_targets: ClassVar[bool]
    # Whether ``ppo.target_kl`` may stop the epochs early.
    stops_at_target_kl: ClassVar[bool]

    def __call__(self, terms: PolicyTerms) -> torch.Tensor: ...


@dataclass(frozen=True)
class ClippedSurrogate:
    """PPO's clipped policy gradient. ``target_kl`` applies to it: the clip and the KL stop
    both keep the policy near the one that collected the rollout, whose advantages the
    surrogate trusts only there."""

    clip: float
    needs_targets: ClassVar[bool] = False
    stops_at_target_kl: ClassVar[bool] = True

    def __call__(self, terms: PolicyTerms) -> torch.Tensor:
        ratio, adv, clip = terms.ratio, terms.advantages, self.clip
        return -terms.mean(torch.min(ratio * adv, ratio.clamp(1 - clip, 1 + clip) * adv))


@dataclass(frozen=True)
class SearchCrossEntropy:
    """Gumbel AlphaZero: cross-entropy toward the search's improved policy, which is zero
    on illegal actions (their -inf log-probabilities are left out). ``target_kl`` does not
    apply: the targets are fixed, whatever the policy that played the moves."""

    needs_targets: ClassVar[bool] = True
    stops_at_target_kl: ClassVar[bool] = False

    def __call__(self, terms: PolicyTerms) -> torch.Tensor:
        assert terms.targets is not None, "the search's loss needs the rollout's targets"
        legal_logp = terms.dist.logits.masked_fill(~terms.mask, 0.0)
        cross_entropy = (terms.targets * legal_logp).sum(dim=-1)
        # A fast search's move (playout cap randomization) has an all-zero target: it is
        # left out of the mean, not counted as a row that costs nothing.
        searched = terms.targets.sum(dim=-1) > 0
        if bool(searched.all()):
            return -terms.mean(cross_entropy)
        weights = searched.to(cross_entropy.dtype)
        if terms.weights is not None:
            weights = weights * terms.weights
        return -weighted_mean(cross_entropy, weights)


class PPOAgent:
    """Acting and PPO updates for one :class:`ActorCritic`; owns optimizer and schedule."""

    def __init__(
        self,
        model: ActorCritic,
        cfg: PPOSection,
        total_updates: int,
        device: torch.device | str = "cpu",
        collective: Collective | None = None,
        policy_loss: PolicyLoss | None = None,
        unpack_on_device: bool | None = None,
    ) -> None:
        """``collective``: the ranks of a run of several processes (``keisei.distributed``);
        each rank's agent then learns from its own rollout with gradients, advantage
        statistics and metrics taken over all of them. ``policy_loss``: the update's policy
        term, PPO's ``ClippedSurrogate`` by default. ``unpack_on_device``: send observations
        and masks bit-packed (an eighth of the bytes), keep the update's rollout packed on
        the device and expand it there; None: on a CUDA device. The results are the same
        either way (the CPU runs both paths in the tests)."""
        if total_updates < 1:
            raise ValueError(f"total_updates must be >= 1, got {total_updates}")
        self.device = torch.device(device)
        self.unpack_on_device = (
            self.device.type == "cuda" if unpack_on_device is None else unpack_on_device
        )
        self.model = model.to(self.device)
        self.cfg = cfg
        self.collective = collective or Collective()
        self.policy_loss: PolicyLoss = policy_loss or ClippedSurrogate(cfg.clip)
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
        # The compiled wrappers share parameters with ``model``, whose state_dict keeps
        # plain names (no ``_orig_mod.`` prefix). Acting always sees one batch shape, so
        # it may use CUDA graphs (``ppo.compile_mode``); the update keeps the default mode.
        # With several ranks the update runs through DistributedDataParallel, which averages
        # the gradients over them; acting needs no synchronisation and uses the model.
        trained = self.collective.wrap(model)
        self._forward: Any = trained
        self._act_forward: Any = model
        if cfg.compile:
            self._forward = torch.compile(trained)
            self._act_forward = (
                self._forward
                if cfg.compile_mode == "default" and trained is model
                else torch.compile(model, mode=cfg.compile_mode)
            )

    # -- acting ---------------------------------------------------------------------
    def _autocast(self) -> AbstractContextManager[Any]:
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _run(
        self, obs: npt.NDArray[np.uint8], packed_obs: npt.NDArray[np.uint8] | None = None
    ) -> PolicyValue:
        if packed_obs is not None and self.unpack_on_device:
            x = packed_obs_to_tensor(to_device(packed_obs, self.device))
        else:
            x = obs_to_tensor(obs, self.device)
        with self._autocast():
            out: PolicyValue = self._act_forward(x)
        return out

    def _mask(
        self, mask: npt.NDArray[np.bool_], packed_mask: npt.NDArray[np.uint8] | None = None
    ) -> torch.Tensor:
        if packed_mask is not None and self.unpack_on_device:
            return unpack_bits(to_device(packed_mask, self.device), NUM_ACTIONS).bool()
        return to_device(mask, self.device)

    @torch.inference_mode()
    def act(
        self,
        obs: npt.NDArray[np.uint8],
        mask: npt.NDArray[np.bool_],
        generator: torch.Generator,
        packed: tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]] | None = None,
    ) -> tuple[npt.NDArray[np.int64], FloatArray, FloatArray]:
        """Sample legal actions; return (actions int64, their log-probs, values).

        ``packed``: the same observations and masks bit-packed (``StepResult.packed_obs``
        and ``packed_mask``); a GPU then receives those, an eighth of the bytes. The
        result does not depend on it.
        """
        packed_obs, packed_mask = packed if packed is not None else (None, None)
        out = self._run(obs, packed_obs)
        dist = MaskedCategorical(out.logits, self._mask(mask, packed_mask))
        actions = dist.sample_with(generator)
        logp = dist.log_prob(actions)
        return (
            actions.cpu().numpy().astype(np.int64),
            logp.cpu().numpy().astype(np.float32),
            out.value.float().cpu().numpy().astype(np.float32),
        )

    @torch.inference_mode()
    def values(
        self, obs: npt.NDArray[np.uint8], packed_obs: npt.NDArray[np.uint8] | None = None
    ) -> FloatArray:
        """V(obs) for the side to move in each observation (``packed_obs``: as in ``act``)."""
        return self._run(obs, packed_obs).value.float().cpu().numpy().astype(np.float32)

    @torch.inference_mode()
    def outputs(
        self, obs: npt.NDArray[np.uint8], packed_obs: npt.NDArray[np.uint8] | None = None
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """(logits (B, 2187), values (B,)) as float32 numpy (``packed_obs``: as in ``act``):
        what the Gumbel search evaluates positions with."""
        out = self._run(obs, packed_obs)
        return out.logits.float().cpu().numpy(), out.value.float().cpu().numpy()

    @torch.inference_mode()
    def greedy(
        self, obs: npt.NDArray[np.uint8], mask: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.int64]:
        """The most probable legal action of each row."""
        dist = MaskedCategorical(self._run(obs).logits, self._mask(mask))
        return dist.mode().cpu().numpy().astype(np.int64)

    # -- learning -------------------------------------------------------------------
    def _prepare(self, buffer: RolloutBuffer, last_values: FloatArray) -> _Batch:
        t = buffer.pos
        if t == 0:
            raise ValueError("rollout buffer is empty")
        if (buffer.targets is not None) != self.policy_loss.needs_targets:
            needs = "needs" if self.policy_loss.needs_targets else "takes no"
            raise ValueError(f"{type(self.policy_loss).__name__} {needs} policy targets")
        advantages, returns = compute_gae(
            buffer.rewards[:t],
            buffer.values[:t],
            buffer.dones[:t],
            np.asarray(last_values, dtype=np.float32),
            self.cfg.gamma,
            self.cfg.gae_lambda,
        )
        # With a league only the learner's moves are trained (``RolloutBuffer.learner``).
        keep = None if buffer.learner is None else buffer.learner[:t].reshape(-1)
        adv = self._normalized(advantages.reshape(-1), keep)

        def tensor(a: npt.NDArray[Any]) -> torch.Tensor:
            return torch.as_tensor(np.ascontiguousarray(a.reshape(-1)), device=self.device)

        obs: npt.NDArray[np.uint8] | torch.Tensor = buffer.obs[:t].reshape(-1, PACKED_OBS_BYTES)
        masks: npt.NDArray[np.uint8] | torch.Tensor = buffer.masks[:t].reshape(
            -1, PACKED_MASK_BYTES
        )
        targets: npt.NDArray[np.float16] | torch.Tensor | None = None
        if buffer.targets is not None:
            targets = buffer.targets[:t].reshape(-1, NUM_ACTIONS)
        if self.unpack_on_device:
            obs = torch.as_tensor(np.ascontiguousarray(obs), device=self.device)
            masks = torch.as_tensor(np.ascontiguousarray(masks), device=self.device)
            if targets is not None:
                targets = torch.as_tensor(np.ascontiguousarray(targets), device=self.device)
        return _Batch(
            obs=obs,
            masks=masks,
            actions=tensor(buffer.actions[:t]).long(),
            old_logp=tensor(buffer.logp[:t]),
            old_values=tensor(buffer.values[:t]),
            returns=tensor(returns),
            advantages=tensor(adv.astype(np.float32)),
            targets=targets,
            weights=None if keep is None else tensor(keep.astype(np.float32)),
        )

    def _normalized(self, adv: FloatArray, keep: npt.NDArray[np.bool_] | None = None) -> FloatArray:
        """Advantages less their mean, over their standard deviation (over all ranks), both
        taken over the trained rows (``keep``; None: all)."""
        part = adv if keep is None else adv[keep]
        if self.collective.world_size == 1:
            if part.size > 1:
                adv = (adv - part.mean()) / (part.std() + 1e-8)
            return adv
        a = adv.astype(np.float64)
        p = a if keep is None else a[keep]
        n, total, squares = self.collective.sum(np.array([p.size, p.sum(), (p * p).sum()]))
        if n <= 1:
            return adv
        mean = total / n
        std = math.sqrt(max(squares / n - mean * mean, 0.0))
        out: FloatArray = ((a - mean) / (std + 1e-8)).astype(np.float32)
        return out

    def _explained_variance(self, values: npt.NDArray[Any], returns: npt.NDArray[Any]) -> float:
        if self.collective.world_size == 1:
            return explained_variance(values, returns)
        r = returns.astype(np.float64)
        e = r - values.astype(np.float64)
        n, sr, srr, se, see = self.collective.sum(
            np.array([r.size, r.sum(), (r * r).sum(), e.sum(), (e * e).sum()])
        )
        var = srr / n - (sr / n) ** 2
        if var <= 0.0:
            return float("nan")
        return float(1.0 - (see / n - (se / n) ** 2) / var)

    def _minibatch(self, batch: _Batch, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The float observations and bool masks of rows ``idx``, on the device."""
        if isinstance(batch.obs, torch.Tensor) and isinstance(batch.masks, torch.Tensor):
            rows = idx.to(self.device)
            mask = unpack_bits(batch.masks[rows], NUM_ACTIONS).bool()
            return packed_obs_to_tensor(batch.obs[rows]), mask
        assert isinstance(batch.obs, np.ndarray) and isinstance(batch.masks, np.ndarray)
        host_rows = idx.cpu().numpy()
        obs = obs_to_tensor(unpack_obs(batch.obs[host_rows]), self.device)
        return obs, self._mask(unpack_mask(batch.masks[host_rows]))

    def _targets(
        self, targets: npt.NDArray[np.float16] | torch.Tensor, idx: torch.Tensor
    ) -> torch.Tensor:
        if isinstance(targets, torch.Tensor):
            return targets[idx].float()
        return torch.from_numpy(targets[idx.cpu().numpy()]).to(self.device).float()

    def _losses(self, batch: _Batch, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        obs, mask = self._minibatch(batch, idx)
        with self._autocast():
            out: PolicyValue = self._forward(obs)
        # The rollout's masks were checked when its actions were chosen.
        dist = MaskedCategorical(out.logits, mask, validate=False)
        idx = idx.to(self.device)
        actions, adv = batch.actions[idx], batch.advantages[idx]
        returns, old_values = batch.returns[idx], batch.old_values[idx]
        w = None if batch.weights is None else batch.weights[idx]

        logp = dist.log_prob(actions)
        log_ratio = logp - batch.old_logp[idx]
        ratio = log_ratio.exp()
        targets = None if batch.targets is None else self._targets(batch.targets, idx)
        policy_loss = self.policy_loss(PolicyTerms(dist, mask, ratio, adv, targets, w))

        value = out.value.float()
        if out.wdl_logits is not None:
            wdl = wdl_targets(returns)
            if w is None:
                value_loss = F.cross_entropy(out.wdl_logits.float(), wdl)
            else:
                rows = F.cross_entropy(out.wdl_logits.float(), wdl, reduction="none")
                value_loss = weighted_mean(rows, w)
        elif self.cfg.value_clip is not None:
            c = self.cfg.value_clip
            clipped = old_values + (value - old_values).clamp(-c, c)
            worse = torch.max((value - returns) ** 2, (clipped - returns) ** 2)
            value_loss = weighted_mean(worse, w)
        elif w is None:
            value_loss = F.mse_loss(value, returns)
        else:
            value_loss = weighted_mean((value - returns) ** 2, w)

        entropy = weighted_mean(dist.entropy(), w)
        loss = policy_loss + self.cfg.value_coef * value_loss - self.cfg.entropy_coef * entropy
        with torch.no_grad():
            # Schulman's low-variance estimator of KL(old || new).
            approx_kl = weighted_mean((ratio - 1) - log_ratio, w)
            clip_fraction = weighted_mean(((ratio - 1).abs() > self.cfg.clip).float(), w)
        return {
            "loss": loss,
            "policy_loss": policy_loss,
            "value_loss": value_loss,
            "entropy": entropy,
            "approx_kl": approx_kl,
            "clip_fraction": clip_fraction,
        }

    def rollout_losses(self, buffer: RolloutBuffer, last_values: FloatArray) -> dict[str, float]:
        """The update's losses of the current network on a whole rollout, without learning."""
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
        """One update on a rollout; ``last_values`` is V(obs after the last step).

        Minibatch order comes from ``generator``. With ``target_kl`` set and a policy loss
        it applies to (``ClippedSurrogate``), the epochs stop at the first minibatch whose
        approximate KL exceeds it (that step is not applied). The learning-rate schedule
        advances once per call.
        """
        cfg = self.cfg
        target_kl = cfg.target_kl if self.policy_loss.stops_at_target_kl else None
        batch = self._prepare(buffer, last_values)
        n = len(batch)
        # Of the value head as it was when the rollout was collected (as CleanRL and SB3).
        trained = slice(None) if batch.weights is None else batch.weights.cpu().numpy() > 0
        ev = self._explained_variance(
            batch.old_values.cpu().numpy()[trained], batch.returns.cpu().numpy()[trained]
        )
        learning_rate = float(self.optimizer.param_groups[0]["lr"])
        keys = ("loss", "policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction")
        # Each minibatch's metrics stay on the device until the update ends: reading them
        # one by one would make the host wait for the GPU at every minibatch.
        rows: list[torch.Tensor] = []
        epoch_steps: list[int] = []
        epochs_run = 0
        stop = False
        for _ in range(cfg.epochs):
            epochs_run += 1
            epoch_steps.append(0)
            order = torch.randperm(n, generator=generator, device=generator.device)
            # One copy per epoch: moving each minibatch's indices would make the host
            # wait for the device before every minibatch (a blocking host-to-device copy).
            order = order.to(self.device)
            for start in range(0, n, cfg.minibatch_size):
                losses = self._losses(batch, order[start : start + cfg.minibatch_size])
                # Every rank must take the same decision (their gradients are all-reduced).
                if target_kl is not None:
                    kl = float(self.collective.mean(losses["approx_kl"].detach()))
                    if kl > target_kl:
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
                epoch_steps[-1] += 1
                rows.append(
                    torch.stack([*(losses[k].detach().float() for k in keys), grad_norm.float()])
                )
            if stop:
                break
        values = self.collective.mean(torch.stack(rows)).cpu().tolist() if rows else []
        steps = len(values)
        sums = dict.fromkeys((*keys, "grad_norm"), 0.0)
        for row in values:
            for key, value in zip((*keys, "grad_norm"), row, strict=True):
                sums[key] += value
        kl_column = keys.index("approx_kl")
        epoch_kl: list[list[float]] = []
        first = 0
        for count in epoch_steps:
            epoch_kl.append([row[kl_column] for row in values[first : first + count]])
            first += count
        self.scheduler.step()
        metrics = {key: total / max(steps, 1) for key, total in sums.items()}
        metrics["learning_rate"] = learning_rate
        metrics["epochs_run"] = float(epochs_run)
        metrics["minibatch_steps"] = float(steps)
        if math.isfinite(ev):  # undefined when the returns do not vary; JSON has no NaN
            metrics["explained_variance"] = ev
        # How far the policy moved from the rollout's policy: early in the update (first
        # epoch; its first minibatch is 0 by construction) and by its end (last epoch).
        kls = [k for k in epoch_kl if k]
        metrics["approx_kl_first_epoch"] = float(np.mean(kls[0])) if kls else 0.0
        metrics["approx_kl_last_epoch"] = float(np.mean(kls[-1])) if kls else 0.0
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
        # The config's learning rate and weight decay win over the saved ones, so that a
        # resumed run with ``ppo.learning_rate=...`` uses it. The rate is LambdaLR's own
        # expression, so unchanged values give the saved rate bit for bit.
        cfg = self.cfg
        sched = self.scheduler
        sched.base_lrs = [cfg.learning_rate for _ in self.optimizer.param_groups]
        for group, factor in zip(self.optimizer.param_groups, sched.lr_lambdas, strict=True):
            group["initial_lr"] = cfg.learning_rate
            group["lr"] = cfg.learning_rate * factor(sched.last_epoch)
            group["weight_decay"] = cfg.weight_decay

    def model_state(self) -> dict[str, Any]:
        """The model's config and weights, as ``load_model_state`` expects them."""
        return {"config": self.model.config.model_dump(), "weights": self.model.state_dict()}

    def load_model_state(self, state: dict[str, Any]) -> None:
        load_weights(self.model, state["weights"], state["config"])

    @torch.inference_mode()
    def infer(
        self, obs: npt.NDArray[np.uint8], packed_obs: npt.NDArray[np.uint8] | None = None
    ) -> PolicyValue:
        """The network's outputs for a batch of observations, computed as ``act`` computes
        them (observations to a tensor on the device, the compiled model with
        ``ppo.compile``, bf16 autocast with ``ppo.bf16`` on CUDA), without sampling.

        The tensors stay on the device and the call does not wait for it: synchronize
        (``torch.cuda.synchronize``) before reading a clock. With CUDA graphs
        (``ppo.compile_mode=reduce-overhead``) the next call overwrites them.
        """
        return self._run(obs, packed_obs)

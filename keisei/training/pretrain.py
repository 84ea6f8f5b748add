"""Supervised warm start from game records: ``keisei pretrain RECORDS... --out FILE``.

Every position of every game becomes one sample: the observation and legal moves of the
side to move, the move played (the policy's target) and the game's result for that side
(+1 won, -1 lost, 0 drawn: the value's target). The network is the config's
``ActorCritic``, trained with AdamW at ``ppo.learning_rate`` on the masked cross-entropy
of the move plus ``ppo.value_coef`` times the value loss (MSE, or the W/D/L cross-entropy
with ``model.value_head: wdl``), as dlshogi learns from floodgate records. The last games
(``validation_fraction`` of them) are held out and measured after every epoch.

The result is a checkpoint without optimizer or games: a player anywhere a checkpoint
goes, and the start of a PPO run with ``keisei train --init FILE``. Not part of the
self-play targets (docs/results.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cshogi
import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F

from keisei.config import TrainConfig
from keisei.game.encoding import (
    NUM_ACTIONS,
    NUM_PLANES,
    PACKED_MASK_BYTES,
    PACKED_OBS_BYTES,
    move_label,
    unpack_mask,
    unpack_obs,
    write_features,
)
from keisei.game.records import RecordGame
from keisei.rl.network import ActorCritic, obs_to_tensor
from keisei.rl.policy import MaskedCategorical
from keisei.rl.ppo import wdl_targets
from keisei.training.checkpoint import check_finite, checkpoint_header
from keisei.training.state import TrainState


@dataclass
class Positions:
    """Samples, bit-packed as the rollout buffer stores them."""

    obs: npt.NDArray[np.uint8]  # (n, 1205)
    masks: npt.NDArray[np.uint8]  # (n, 274)
    moves: npt.NDArray[np.int64]  # (n,) action ids
    results: npt.NDArray[np.float32]  # (n,) for the side to move

    def __len__(self) -> int:
        return int(self.moves.shape[0])


def positions(games: list[RecordGame]) -> Positions:
    """Every position before a move of ``games``, with its move and result."""
    obs, masks, moves, results = [], [], [], []
    planes = np.zeros((NUM_PLANES, 81), dtype=np.float32)
    for game in games:
        board = cshogi.Board(game.start_sfen)
        for move in game.moves:
            turn = int(board.turn)
            write_features(board, planes)
            obs.append(np.packbits(planes.astype(np.uint8)))  # flattened, as pack_obs
            mask = np.zeros(NUM_ACTIONS, dtype=bool)
            mask[[move_label(m, turn) for m in board.legal_moves]] = True
            masks.append(np.packbits(mask))
            moves.append(move_label(move, turn))
            results.append(0.0 if game.winner is None else (1.0 if game.winner == turn else -1.0))
            board.push(move)
    n = len(moves)
    return Positions(
        obs=np.asarray(obs, dtype=np.uint8).reshape(n, PACKED_OBS_BYTES),
        masks=np.asarray(masks, dtype=np.uint8).reshape(n, PACKED_MASK_BYTES),
        moves=np.asarray(moves, dtype=np.int64),
        results=np.asarray(results, dtype=np.float32),
    )


def _losses(
    model: ActorCritic, data: Positions, rows: npt.NDArray[np.int64]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(policy loss, value loss, correct top-1 predictions) of one minibatch: the means
    over its rows and a count."""
    out = model(obs_to_tensor(unpack_obs(data.obs[rows]), "cpu"))
    dist = MaskedCategorical(out.logits, torch.as_tensor(unpack_mask(data.masks[rows])))
    moves = torch.as_tensor(data.moves[rows])
    results = torch.as_tensor(data.results[rows])
    policy_loss = -dist.log_prob(moves).mean()
    if out.wdl_logits is not None:
        value_loss = F.cross_entropy(out.wdl_logits, wdl_targets(results))
    else:
        value_loss = F.mse_loss(out.value, results)
    correct = (dist.mode() == moves).sum()
    return policy_loss, value_loss, correct


def _evaluate(model: ActorCritic, data: Positions, batch_size: int) -> dict[str, float]:
    """Policy and value loss and accuracy of ``model`` (in eval mode) over ``data``."""
    if len(data) == 0:
        return {}
    policy = value = correct = 0.0
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            rows = np.arange(start, min(start + batch_size, len(data)))
            p, v, c = _losses(model, data, rows)
            policy += float(p) * len(rows)
            value += float(v) * len(rows)
            correct += float(c)
    n = len(data)
    return {"policy_loss": policy / n, "value_loss": value / n, "accuracy": correct / n}


def unique(games: list[RecordGame]) -> list[RecordGame]:
    """``games`` without repeats (the same start, moves and result), first seen kept: a
    game keisei wrote as both .csa and .kif is one game."""
    seen: set[tuple[str, tuple[int, ...], int | None]] = set()
    out = []
    for game in games:
        key = (game.start_sfen, game.moves, game.winner)
        if key not in seen:
            seen.add(key)
            out.append(game)
    return out


def split(games: list[RecordGame], validation_fraction: float) -> tuple[list[Any], list[Any]]:
    """(training games, validation games): the last ``validation_fraction`` of the games,
    at least one when there are two or more and the fraction is not 0, and never all."""
    held = max(0, min(math.ceil(len(games) * validation_fraction), len(games) - 1))
    return games[: len(games) - held], games[len(games) - held :]


def pretrain(
    config: TrainConfig,
    train: Positions,
    validation: Positions,
    epochs: int,
    batch_size: int,
    seed: int,
    progress: Callable[[dict[str, float]], None] | None = None,
) -> tuple[ActorCritic, list[dict[str, float]]]:
    """A network of ``config.model`` trained on ``train``; one metrics row per epoch.

    An epoch is one pass over a permutation of ``train`` (``torch.randperm`` of a generator
    seeded with ``seed``) in minibatches of ``batch_size``, one AdamW step each. Its row has
    the row-weighted means of the minibatches' losses and accuracy, each measured in train
    mode before its step, then the same of ``validation`` (``validation_*``) after the
    epoch, in eval mode. ``Diverged`` (naming the epoch and batch) at the first batch whose
    loss or resulting weights are not finite."""
    torch.manual_seed(seed)
    model = ActorCritic(config.model)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.ppo.learning_rate, weight_decay=config.ppo.weight_decay
    )
    generator = torch.Generator().manual_seed(seed)
    history: list[dict[str, float]] = []
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(len(train), generator=generator).numpy()
        sums = {"loss": 0.0, "policy_loss": 0.0, "value_loss": 0.0, "accuracy": 0.0}
        batches = math.ceil(len(train) / batch_size)
        for batch, start in enumerate(range(0, len(train), batch_size), start=1):
            rows = order[start : start + batch_size]
            policy_loss, value_loss, right = _losses(model, train, rows)
            loss = policy_loss + config.ppo.value_coef * value_loss
            optimizer.zero_grad()
            torch.autograd.backward(loss)
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.ppo.max_grad_norm)
            optimizer.step()
            losses = {
                "loss": float(loss.detach()),
                "policy_loss": float(policy_loss.detach()),
                "value_loss": float(value_loss.detach()),
            }
            # As the trainer does after each update: a NaN would be written as the result.
            check_finite(f"epoch {epoch}, batch {batch} of {batches}", losses, model.state_dict())
            for key, value in losses.items():
                sums[key] += value * len(rows)
            sums["accuracy"] += float(right)
        model.eval()
        row = {"epoch": float(epoch), **{key: total / len(train) for key, total in sums.items()}}
        row.update(
            {f"validation_{k}": v for k, v in _evaluate(model, validation, batch_size).items()}
        )
        history.append(row)
        if progress is not None:
            progress(row)
    return model, history


def pretrained_payload(
    config: TrainConfig, model: ActorCritic, source: dict[str, Any]
) -> dict[str, Any]:
    """A checkpoint of ``model`` (status ``pretrained``, step 0) with ``source``: what it
    learned from and how well (``pretrained_from``)."""
    state = {name: t.detach().clone().contiguous() for name, t in model.state_dict().items()}
    return {
        **checkpoint_header(config, "pretrained", state),
        "state": TrainState().to_dict(),
        "pretrained_from": source,
    }

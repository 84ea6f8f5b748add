"""The masked policy: a categorical distribution over the legal actions only."""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt
import torch

FloatArray = npt.NDArray[np.float32]


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

    def __init__(self, logits: torch.Tensor, mask: torch.Tensor, validate: bool = True) -> None:
        if mask.shape != logits.shape:
            raise ValueError(
                f"mask shape {tuple(mask.shape)} != logits shape {tuple(logits.shape)}"
            )
        if mask.dtype != torch.bool:
            mask = mask.bool()
        # ``validate=False`` skips the check (and, on a GPU, the wait for the device that
        # reading its result means) for masks already checked, such as a rollout's.
        if validate:
            # A max over the bytes is some 50 times faster than any() over bools on CPU.
            empty = mask.view(torch.uint8).amax(dim=-1) == 0
            if bool(empty.any()):
                rows = torch.nonzero(empty).flatten().tolist()
                raise ValueError(f"mask rows {rows} have no legal action")
        self.mask = mask
        # float32 whatever the autocast dtype: bf16 log-probabilities are too coarse for
        # PPO ratios. ``logits`` are normalized: the log-probabilities of all actions.
        self.masked = logits.float().masked_fill(~mask, float("-inf"))
        self.logits: torch.Tensor = self.masked.log_softmax(dim=-1)

    @functools.cached_property
    def probs(self) -> torch.Tensor:
        return self.logits.exp()

    def mode(self) -> torch.Tensor:
        """The most probable legal action of each row (the first one on a tie).

        Taken over the raw masked logits: normalizing first could round two nearly equal
        logits into a tie.
        """
        return self.masked.argmax(dim=-1)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        return self.logits.gather(-1, value.long().unsqueeze(-1)).squeeze(-1)

    def entropy(self) -> torch.Tensor:
        return -(self.probs * self.logits.masked_fill(~self.mask, 0.0)).sum(dim=-1)

    def sample_with(self, generator: torch.Generator) -> torch.Tensor:
        """Draw one action per row from ``generator`` (never the global RNG).

        Inverse CDF: with U uniform in [0, 1), the first action whose cumulative
        probability reaches (1 - U) * total. That point lies in (0, total], so the action
        found always has a nonzero probability (a zero adds nothing to the sum).

        The uniforms come from ``generator`` on its own device (the trainer's is on the
        CPU) and the search runs where the probabilities are: on a GPU only the B uniforms
        cross to the device, not B x 2187 probabilities to the host, and the draws are the
        same numbers whatever the device.
        """
        probs = self.probs
        flat = probs.reshape(-1, probs.shape[-1])
        u = torch.rand(
            (flat.shape[0], 1), generator=generator, device=generator.device, dtype=torch.float64
        )
        if u.device != flat.device:
            u = u.to(flat.device, non_blocking=True)
        cdf = flat.double().cumsum(dim=-1)
        actions = torch.searchsorted(cdf, (1.0 - u) * cdf[:, -1:]).squeeze(1)
        actions = actions.clamp_(max=flat.shape[-1] - 1)
        # Cannot happen with a sequential cumulative sum (the CPU's); a guard for a
        # device's parallel one, whose rounding could land on a zero-probability action.
        bad = flat.gather(1, actions.unsqueeze(1)).squeeze(1) <= 0
        if bool(bad.any()):
            fixed = torch.multinomial(flat[bad].to(generator.device), 1, generator=generator)
            actions[bad] = fixed.squeeze(1).to(actions.device)
        return actions.reshape(probs.shape[:-1])

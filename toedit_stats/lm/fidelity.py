"""How far a scoring mode (a precision, a backend) is from the float32 reference, on the numbers
this tool reports and acts on.

Three figures, with the bound a mode must meet to be a default (issue 16's contract):

- **mean |Δ log p|** over every token, in nats (bound ≤ 0.02);
- **rank-1 agreement**: the share of positions whose most probable token is the same (≥ 99%);
- **selections unchanged**: the ToEdit selections (actual-token probability ≥ ``p``) that flip,
  in either direction, as a share of the reference's selections: ``1 − flips / selections``
  (≥ 99%).

>>> import numpy as np
>>> from toedit_stats.lm.base import TokenScores
>>> def doc(lp, top):
...     n = len(lp)
...     return TokenScores("d", np.arange(n), np.zeros((n, 2), int), np.log(np.array(lp, np.float32)),
...                        np.ones(n, int), None, np.array(top)[:, None], np.zeros((n, 1), np.float32))
>>> f = fidelity([doc([0.995, 0.5, 0.999], [1, 2, 3])], [doc([0.985, 0.5, 0.999], [1, 4, 3])])
>>> f.selections, f.selections_flipped, round(f.rank1_agreement, 3), f.meets()
(2, 1, 0.667, False)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import ConfigError
from .base import TokenScores

__all__ = ["FIDELITY_BOUND", "Fidelity", "fidelity"]

# the bound a scoring mode meets before it may be a default (see the module docstring)
FIDELITY_BOUND = {"mean_abs_dlogp": 0.02, "rank1_agreement": 0.99, "selections_unchanged": 0.99}


@dataclass(frozen=True)
class Fidelity:
    """A scoring mode against the reference, over ``tokens`` tokens (module docstring)."""

    tokens: int
    mean_abs_dlogp: float
    max_abs_dlogp: float
    rank1_agreement: float
    selections: int  # reference tokens with p >= threshold
    selections_flipped: int  # tokens selected by exactly one of the two
    threshold: float = 0.99

    @property
    def selections_unchanged(self) -> float:
        return 1.0 - self.selections_flipped / self.selections if self.selections else float("nan")

    def failures(self, bound: dict[str, float] = FIDELITY_BOUND) -> list[str]:
        """The parts of ``bound`` not met, as sentences (empty when all are)."""
        out = []
        if not self.mean_abs_dlogp <= bound["mean_abs_dlogp"]:
            out.append(f"mean |d log p| {self.mean_abs_dlogp:.4f} nats > {bound['mean_abs_dlogp']}")
        if not self.rank1_agreement >= bound["rank1_agreement"]:
            out.append(f"rank-1 agreement {self.rank1_agreement:.2%} < {bound['rank1_agreement']:.0%}")
        if not self.selections_unchanged >= bound["selections_unchanged"]:
            out.append(
                f"selections unchanged {self.selections_unchanged:.2%} "
                f"({self.selections_flipped} of {self.selections} flip) < {bound['selections_unchanged']:.0%}"
            )
        return out

    def meets(self, bound: dict[str, float] = FIDELITY_BOUND) -> bool:
        return not self.failures(bound)

    def to_dict(self) -> dict[str, float | int]:
        return {**asdict(self), "selections_unchanged": self.selections_unchanged}


def fidelity(
    reference: Iterable[TokenScores], other: Iterable[TokenScores], *, threshold: float = 0.99
) -> Fidelity:
    """Compare two scorings of the same documents (same order, same tokens; both with
    ``top_k >= 1`` for the rank-1 agreement, else it is ``nan``)."""
    ref, oth = list(reference), list(other)
    if len(ref) != len(oth) or any(len(a) != len(b) for a, b in zip(ref, oth)):
        raise ConfigError("fidelity: the two scorings cover different documents or tokens")
    if not 0 < threshold < 1:
        raise ConfigError(f"fidelity: threshold must be in (0, 1), got {threshold}")

    def cat(parts, dtype) -> np.ndarray:
        return np.concatenate([np.asarray(p, dtype) for p in parts]) if parts else np.zeros(0, dtype)

    la = cat([s.logprobs for s in ref], np.float64)
    lb = cat([s.logprobs for s in oth], np.float64)
    if la.size == 0:
        return Fidelity(0, float("nan"), float("nan"), float("nan"), 0, 0, threshold)
    d = np.abs(la - lb)
    with_top = all(s.topk_ids.shape[1] for s in ref + oth)
    rank1 = float("nan")
    if with_top:
        top_a = cat([s.topk_ids[:, 0] for s in ref], np.int64)
        rank1 = float(np.mean(top_a == cat([s.topk_ids[:, 0] for s in oth], np.int64)))
    sa, sb = np.exp(la) >= threshold, np.exp(lb) >= threshold  # the editor's own rule
    return Fidelity(
        tokens=int(la.size),
        mean_abs_dlogp=float(d.mean()),
        max_abs_dlogp=float(d.max()),
        rank1_agreement=rank1,
        selections=int(sa.sum()),
        selections_flipped=int(np.sum(sa != sb)),
        threshold=threshold,
    )

"""Objects shaped field for field like vLLM 0.34's output classes, for the tests of the vLLM
backend (vLLM cannot be installed here): ``vllm.logprobs.Logprob`` and ``FlatLogprobs``."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Logprob:  # vllm.logprobs.Logprob
    logprob: float
    rank: int | None = None
    decoded_token: str | None = None


@dataclass
class FlatLogprobs:  # vllm.logprobs.FlatLogprobs columns
    start_indices: list[int] = field(default_factory=list)
    end_indices: list[int] = field(default_factory=list)
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    ranks: list[int | None] = field(default_factory=list)
    decoded_tokens: list[str | None] = field(default_factory=list)

    def append(self, entry):
        self.start_indices.append(len(self.token_ids))
        for tid, lp in (entry or {}).items():
            self.token_ids.append(tid)
            self.logprobs.append(lp.logprob)
            self.ranks.append(lp.rank)
            self.decoded_tokens.append(lp.decoded_token)
        self.end_indices.append(len(self.token_ids))

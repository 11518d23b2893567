"""Progress that stays honest on long documents: a bar that counts **tokens** as they are scored
(the backends report every forward batch, so it moves inside one long document), with documents
done in the postfix. Its total is estimated from the characters still to score, at the
tokens-per-character rate of the documents finished so far (4 characters per token until the
first document finishes), so the ETA follows the text, not the document count.

Nothing is printed unless enabled; library code turns it on only when asked (``progress=True``).

>>> p = TokenProgress(chars_total=40, documents=2, enabled=False)
>>> p.on_tokens(5); p.document_done(chars=20, tokens=5)
>>> round(p.estimated_total), p.documents_done
(10, 1)
"""

from __future__ import annotations

from typing import Any

__all__ = ["TokenProgress"]

_INITIAL_CHARS_PER_TOKEN = 4.0


class TokenProgress:
    """A tqdm bar in tokens with a re-estimated total; ``on_tokens`` is the backends' hook."""

    def __init__(self, *, chars_total: int, documents: int, desc: str = "scoring", enabled: bool = True):
        self.chars_total = max(0, int(chars_total))
        self.documents = documents
        self.chars_done = 0
        self.tokens_done = 0  # every scored token, including documents still in progress
        self.tokens_of_done = 0  # tokens of finished documents
        self.documents_done = 0
        self.edits: int | None = None  # counted when the caller reports edits
        self.estimated_total = self.chars_total / _INITIAL_CHARS_PER_TOKEN
        self.bar: Any = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=round(self.estimated_total), desc=desc, unit="tok", unit_scale=True, dynamic_ncols=True
            )
            self.bar.set_postfix_str(f"docs 0/{documents:,}", refresh=False)

    def on_tokens(self, n: int) -> None:
        self.tokens_done += int(n)
        if self.bar is not None:
            if self.tokens_done > self.bar.total:
                self.bar.total = self.tokens_done
            self.bar.update(int(n))

    def document_done(self, *, chars: int, tokens: int, edits: int | None = None) -> None:
        """One document finished: its characters, its scored tokens, and (editing) its edits."""
        self.documents_done += 1
        if edits is not None:
            self.edits = (self.edits or 0) + edits
        self.chars_done += chars
        self.tokens_of_done += tokens
        if self.chars_done:
            rate = self.tokens_of_done / self.chars_done
            self.estimated_total = self.tokens_of_done + rate * max(0, self.chars_total - self.chars_done)
            if self.tokens_done > self.estimated_total:  # partial documents already counted
                self.estimated_total = self.tokens_done
        if self.bar is not None:
            self.bar.total = max(round(self.estimated_total), self.bar.n)
            edits = f", edits {self.edits:,}" if self.edits is not None else ""
            self.bar.set_postfix_str(f"docs {self.documents_done:,}/{self.documents:,}{edits}", refresh=False)
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

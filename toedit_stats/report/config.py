"""The sampling and resampling options shared by the report, :func:`~toedit_stats.report.compare`
and the sweep, declared once (:class:`SampleOptions`): the Python defaults, the command line's
``--max-docs``/``--bootstrap`` and TOML keys all come from these fields."""

from __future__ import annotations

import dataclasses

from ..options import check_fields, option

__all__ = ["DEFAULTS", "SampleOptions"]


@dataclasses.dataclass(frozen=True)
class SampleOptions:
    max_docs: int | None = option(
        1000,
        kind="int",
        min=2,
        optional=True,
        help="Sample at most N documents per corpus (seeded); the report says 'sampled N of M'.",
    )
    bootstrap: int = option(
        1000,
        min=0,
        help="Bootstrap replicates behind every interval, and permutations of the paired test of each "
        "edit effect (0: neither).",
    )

    def __post_init__(self):
        check_fields(self)


DEFAULTS = SampleOptions()

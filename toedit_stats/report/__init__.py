"""The report: :func:`compare` builds a :class:`Report`; it renders to HTML and saves to a folder."""

from .build import ANALYZERS, Report, compare

__all__ = ["ANALYZERS", "Report", "compare"]

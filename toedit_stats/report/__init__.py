"""The report: ``Report(analyzers, editor).run(human, synthetic)`` (or :func:`compare`) holds
every analyzer's result; it renders to HTML and saves to a folder."""

from .build import Report, compare, make_analyzers

__all__ = ["Report", "compare", "make_analyzers"]

"""Analyzers: each takes corpora and returns a typed result with ``to_frame()``, ``to_dict()``
and ``plot()``. The first corpus is the reference (usually human)."""

"""One exception family for everything a user can get wrong.

The CLI turns a :class:`ToeditError` into one line on stderr and exit status 2;
library code raises and never prints or exits.
"""

from __future__ import annotations

__all__ = ["ConfigError", "InputError", "MissingDependencyError", "ToeditError"]


class ToeditError(Exception):
    """Base class: a problem with the user's input or configuration, not a bug."""


class InputError(ToeditError, ValueError):
    """Bad input data, located at ``path`` and (1-based) ``line`` when known.

    ``str(err)`` is ``"<path>:<line>: <message>"`` so that it can be printed as is.
    """

    def __init__(self, message: str, *, path: object = None, line: int | None = None):
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        super().__init__(self._format())

    def _format(self) -> str:
        where = self.path or ""
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.message}" if where else self.message


class ConfigError(ToeditError, ValueError):
    """A bad parameter or option combination; the message names the fix."""


class MissingDependencyError(ToeditError, ImportError):
    """An optional dependency is not installed; the message names the extra."""

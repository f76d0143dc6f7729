"""One family of errors a person can act on.

Every error raised for bad input or a bad file is a :class:`CuratorError`. The CLI prints
``Error: <message>`` and, when there is one, ``Hint: <hint>`` on stderr and exits 1; only
``--debug`` shows a traceback. Raised from the Python API, its text (``str``) is the
message and the hint, so a traceback shows both.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path


class CuratorError(Exception):
    """An error with a message that quotes the offending value and an optional hint.

    ``param`` names the Python parameter at fault when the message starts with it (``keep
    2.5 is neither ...``); the CLI shows that name as its flag (``--keep 2.5 is ...``).
    """

    def __init__(self, message: str, *, hint: str | None = None,
                 param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.param = param

    def __str__(self) -> str:
        """The message, and the hint on a line of its own: a traceback in the user's own
        Python shows the way forward too (the CLI prints the two itself)."""
        return self.message if not self.hint else f"{self.message}\nHint: {self.hint}"

    def as_flag(self) -> tuple[str, str | None]:
        """Message and hint with the parameter's name written as the CLI's flag."""
        if not self.param:
            return self.message, self.hint
        flag = "--" + self.param.replace("_", "-")
        pattern = re.compile(rf"(?<![\w-]){re.escape(self.param)}(?![\w-])")
        return (pattern.sub(flag, self.message, count=1),
                None if self.hint is None else pattern.sub(flag, self.hint))


class ConfigError(CuratorError):
    """A configuration value or command-line option is invalid."""


class DataError(CuratorError):
    """A data set cannot be loaded or is malformed."""


class ModelError(CuratorError):
    """A model cannot be built for the given data."""


class FormatError(CuratorError):
    """A curator HDF5 file is missing, unreadable, of another version or inconsistent."""


class TrainingError(CuratorError):
    """Training failed in a way the user can act on (for example a NaN loss)."""


def check_output_dir(out: str | Path) -> None:
    """Refuse an output whose directory is missing or cannot be written (tried for real:
    permission bits say nothing for root or on read-only file systems)."""
    parent = Path(out).parent
    if not parent.is_dir():
        raise CuratorError(f"output directory {str(parent)!r} does not exist",
                           hint="create it first, or choose another output path")
    try:
        tempfile.TemporaryFile(dir=parent).close()
    except OSError as exc:
        raise CuratorError(f"output directory {str(parent)!r} is not writable "
                           f"({exc.strerror})", hint="choose another output path") from None

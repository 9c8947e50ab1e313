"""Errors users see. Every one renders as a single line: where, what, and the fix.

The CLI prints ``str(error)`` and exits with code 2 for :class:`NeuromapError`
(bad input or usage); a traceback only with ``--debug``.
"""
from __future__ import annotations


class NeuromapError(Exception):
    """Base class of every error neuromap reports to a user (exit code 2)."""


class NetworkFormatError(NeuromapError):
    """A network description (file or API call) is invalid.

    ``str()`` is one line: ``FILE: FIELD: PROBLEM (FIX)``; FILE and FIELD are
    omitted when unknown. FIELD is a path such as ``projections[2].connect.p``.
    """

    def __init__(self, problem: str, *, field: str | None = None, file: str | None = None,
                 fix: str | None = None):
        self.problem, self.field, self.file, self.fix = problem, field, file, fix
        super().__init__(self._render())

    def _render(self) -> str:
        parts = [p for p in (self.file, self.field) if p]
        msg = ": ".join(parts + [self.problem])
        if self.fix:
            msg += f" ({self.fix})"
        return msg

    def located(self, file: str | None = None, prefix: str | None = None) -> "NetworkFormatError":
        """Return a copy with FILE set and/or FIELD prefixed (``prefix.field``)."""
        field = self.field
        if prefix:
            field = f"{prefix}.{field}" if field and not field.startswith("[") else f"{prefix}{field or ''}"
        return NetworkFormatError(self.problem, field=field, file=file or self.file, fix=self.fix)


class ImageError(NeuromapError):
    """A hardware image on disk is missing, corrupted, or of an unsupported version."""


class TargetError(NeuromapError):
    """A target description is invalid, or a network cannot be mapped onto the target."""


class BackendError(NeuromapError):
    """A backend (Lava) failed on an image it accepted: the message names the image, the process or
    stage that failed and the underlying exception (``--debug`` shows the traceback)."""


class ValidationMismatch(Exception):
    """Two backends disagreed (CLI exit code 1, not 2)."""

"""Progress reporting: long loops call ``progress(done, total)``; the CLI draws a bar from it.

The protocol is one callable, :data:`Progress`: ``progress(done, total)`` with
``0 <= done <= total`` in the loop's own unit (steps, chunks, passes); it may be
called any number of times, ``done`` never decreases. Library functions take
``progress=None`` and call it after each chunk of work (never per step). A callback may
also carry a ``label(text)`` attribute naming the phase that runs (:func:`set_label`;
bars from :func:`bar` show it, plain callbacks need not have it).

:func:`bar` turns it into a click progress bar on stderr, drawn only when both
stdout and stderr are terminals (scripts and pipes see no bar), never with
``enabled=False`` (``--quiet``), and only from the first report after ``delay`` seconds
(quick jobs stay silent even on a terminal).
"""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator, Optional

import click

#: ``progress(done, total)``: ``done`` of ``total`` units finished
Progress = Callable[[int, int], None]

#: seconds a job runs before its bar appears
DELAY = 0.5


def interactive() -> bool:
    """True when stdout and stderr are both terminals (a person is watching)."""
    return all(getattr(s, "isatty", lambda: False)() for s in (sys.stdout, sys.stderr))


def set_label(progress: Optional[Progress], text: str) -> None:
    """Tell ``progress`` which phase runs now (no-op for callbacks without a ``label`` attribute)."""
    f = getattr(progress, "label", None)
    if callable(f):
        f(text)


def scaled(progress: Optional[Progress], offset: int, total: int) -> Optional[Progress]:
    """A callback for one stage of a longer job: stage ``(d, n)`` is reported as ``(offset + d, total)``."""
    if progress is None:
        return None
    return lambda done, _n: progress(offset + done, total)


@contextmanager
def bar(label: str, enabled: bool = True, delay: Optional[float] = None) -> Iterator[Optional[Progress]]:
    """A :data:`Progress` drawing a click bar on stderr, or None when quiet (not a TTY, ``enabled=False``).

    The bar is created at the first call ``delay`` (default :data:`DELAY`) seconds or more after entry
    (length: that call's ``total``) and closed on exit."""
    if not enabled or not interactive():
        yield None
        return
    state: dict = {"label": label}
    start, delay = time.monotonic(), DELAY if delay is None else delay

    def progress(done: int, total: int) -> None:
        pb = state.get("bar")
        if pb is None and time.monotonic() - start < delay:
            return
        if pb is None or pb.length != total:
            if pb is not None:
                pb.render_finish()
            pb = state["bar"] = click.progressbar(length=max(int(total), 1), label=state["label"], file=sys.stderr)
        pb.label = state["label"]
        pb.update(max(0, int(done) - pb.pos))

    def set_text(text: str) -> None:
        state["label"] = f"{label}: {text}" if text else label

    progress.label = set_text

    try:
        yield progress
    finally:
        if "bar" in state:
            state["bar"].render_finish()

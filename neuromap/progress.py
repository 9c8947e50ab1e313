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
(quick jobs stay silent even on a terminal). While a bar is up, a heartbeat redraws it every
:data:`HEARTBEAT` seconds with the current phase's elapsed seconds in its label, so a phase that blocks
without reporting (Lava compiling and starting its processes, a solver) still visibly moves.

:class:`PhaseTimes` measures the wall seconds of a command's phases for its summary line
(``time split: lava 6.1 s, emulator 0.4 s, compare 0.0 s (total 6.5 s)``).
"""
from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator, Optional

import click

#: ``progress(done, total)``: ``done`` of ``total`` units finished
Progress = Callable[[int, int], None]

#: seconds a job runs before its bar appears
DELAY = 0.5
#: seconds between redraws of a bar whose job does not report (its phase's elapsed time counts up)
HEARTBEAT = 1.0


def interactive() -> bool:
    """True when stdout and stderr are both terminals (a person is watching)."""
    return all(getattr(s, "isatty", lambda: False)() for s in (sys.stdout, sys.stderr))


def set_label(progress: Optional[Progress], text: str) -> None:
    """Tell ``progress`` which phase runs now (no-op for callbacks without a ``label`` attribute)."""
    f = getattr(progress, "label", None)
    if callable(f):
        f(text)


def scaled(progress: Optional[Progress], offset: int, total: int) -> Optional[Progress]:
    """A callback for one stage of a longer job: stage ``(d, n)`` is reported as ``(offset + d, total)``;
    phase names (:func:`set_label`) pass through."""
    if progress is None:
        return None

    def stage(done: int, _n: int) -> None:
        progress(offset + done, total)
    if callable(getattr(progress, "label", None)):
        stage.label = progress.label
    return stage


class PhaseTimes:
    """Wall seconds per named phase of a command, in first-run order (a phase may run several times:
    its times add up). ``with times.phase("lava", progress):`` also names the phase on ``progress``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str, progress: Optional[Progress] = None) -> Iterator[None]:
        set_label(progress, name)
        t = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t

    @classmethod
    def from_dict(cls, seconds: dict[str, float]) -> "PhaseTimes":
        t = cls()
        t.seconds = dict(seconds)
        return t

    def as_dict(self) -> dict[str, float]:
        """Phase -> seconds (rounded to ms), for ``--json``."""
        return {k: round(v, 3) for k, v in self.seconds.items()}

    def line(self) -> str:
        """``time split: a 1.2 s, b 0.3 s (total 1.5 s)``."""
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items())
        return f"time split: {parts} (total {sum(self.seconds.values()):.1f} s)"


@contextmanager
def bar(label: str, enabled: bool = True, delay: Optional[float] = None) -> Iterator[Optional[Progress]]:
    """A :data:`Progress` drawing a click bar on stderr, or None when quiet (not a TTY, ``enabled=False``).

    The bar is created at the first call ``delay`` (default :data:`DELAY`) seconds or more after entry
    (length: that call's ``total``), or by the heartbeat once a total is known, and closed on exit."""
    if not enabled or not interactive():
        yield None
        return
    state: dict = {"label": label, "text": "", "since": time.monotonic(), "total": None, "done": 0}
    start, delay = time.monotonic(), DELAY if delay is None else delay
    lock, stop = threading.Lock(), threading.Event()

    def draw() -> None:                     # under ``lock``
        pb, total = state.get("bar"), state["total"]
        if total is None or (pb is None and time.monotonic() - start < delay):
            return
        if pb is None or pb.length != max(int(total), 1):
            if pb is not None:
                pb.render_finish()
            pb = state["bar"] = click.progressbar(length=max(int(total), 1), label=state["label"], file=sys.stderr)
        waited = time.monotonic() - state["since"]
        text = state["text"] + (f" ({waited:.0f} s)" if state["text"] and waited >= HEARTBEAT else "")
        pb.label = f"{label}: {text}" if text else label
        if state["done"] > pb.pos:
            pb.update(state["done"] - pb.pos)
        else:
            pb.render_progress()

    def progress(done: int, total: int) -> None:
        with lock:
            state["total"], state["done"] = total, max(0, int(done))
            draw()

    def set_text(text: str) -> None:
        with lock:
            state["text"], state["since"] = text, time.monotonic()
            state["label"] = f"{label}: {text}" if text else label

    def beat() -> None:
        while not stop.wait(HEARTBEAT):
            with lock:
                draw()

    progress.label = set_text
    ticker = threading.Thread(target=beat, name="neuromap-progress", daemon=True)
    ticker.start()
    try:
        yield progress
    finally:
        stop.set()
        ticker.join()
        if "bar" in state:
            state["bar"].render_finish()

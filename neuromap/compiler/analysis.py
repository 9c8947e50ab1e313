"""Analyses kept apart from the passes (MLIR's analysis manager, in small).

An :class:`Analysis` is a named function of the compile state that several passes or verifiers need (the
synapse graph of the network, the fan-in of every neuron): it declares the :class:`CompileState` fields it
reads (``depends``). The :class:`AnalysisManager` that every state of one compile shares
(``CompileState.analyses``) computes an analysis the first time it is asked for and hands the cached value to
every later caller while the fields it depends on are the same objects. Passes are pure (they return a new
state with ``dataclasses.replace``; a field they do not change keeps its object), so a pass that changes
what an analysis depends on replaces that field, and the pipeline's :meth:`AnalysisManager.after_pass` drops
the analysis then (a lookup with other field objects would recompute it anyway). Values are read-only for
their users.

The analyses themselves live next to the code they share (e.g. ``neuromap.compiler.place.SYNAPSE_GRAPH``,
``neuromap.compiler.fan_in.FAN_IN``). Imports nothing first-party.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Analysis:
    """``name``; ``depends``: the compile-state fields it reads; ``compute(state) -> value``; ``users``: the
    passes that read it (with their verifiers; empty = unknown, kept for the whole compile): once none of them
    is left to run, the pipeline releases the value (:meth:`AnalysisManager.release_unused`), so e.g. the
    synapse graph does not stay in memory while ``lower`` builds the image."""

    name: str
    depends: tuple[str, ...]
    compute: Callable[[Any], Any]
    users: tuple[str, ...] = ()


class AnalysisManager:
    """Cached analyses of one compile (see the module docstring); ``computed`` / ``reused`` count, per analysis
    name, how often it was computed and how often a cached value was handed out."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[Analysis, tuple[Any, ...], Any]] = {}
        self.computed: dict[str, int] = {}
        self.reused: dict[str, int] = {}

    def get(self, analysis: Analysis, state: Any) -> Any:
        """The value of ``analysis`` for ``state``: cached while its dependencies are the same objects."""
        deps = tuple(getattr(state, f) for f in analysis.depends)
        hit = self._cache.get(analysis.name)
        if hit is not None and hit[0] == analysis and all(a is b for a, b in zip(hit[1], deps)):
            self.reused[analysis.name] = self.reused.get(analysis.name, 0) + 1
            return hit[2]
        value = analysis.compute(state)
        self._cache[analysis.name] = (analysis, deps, value)   # holds the dependency objects (no id reuse)
        self.computed[analysis.name] = self.computed.get(analysis.name, 0) + 1
        return value

    def after_pass(self, before: Any, after: Any) -> list[str]:
        """Invalidate the analyses whose dependencies the pass from state ``before`` to state ``after``
        replaced; returns their names."""
        dropped = [name for name, (an, _, _) in self._cache.items()
                   if any(getattr(after, f) is not getattr(before, f) for f in an.depends)]
        for name in dropped:
            del self._cache[name]
        return dropped

    def release_unused(self, remaining: list[str] | tuple[str, ...]) -> list[str]:
        """Drop the analyses that declare their ``users`` and none of which is in ``remaining`` (the passes
        still to run); returns their names."""
        left = set(remaining)
        dropped = [name for name, (an, _, _) in self._cache.items() if an.users and not left & set(an.users)]
        for name in dropped:
            del self._cache[name]
        return dropped

    def cached(self) -> list[str]:
        """Names of the analyses cached now."""
        return list(self._cache)

"""What :func:`neuromap.compiler.compile_network` returns: the image plus typed options and reports.

* :class:`CompileOptions`: the user's compile options, one typed field each (defaults as documented per
  pass); the options the user gave are recorded in the image (``Image.options``) as given.
* :class:`CompileReports`: what the passes measured, one typed report per pass that makes one
  (compatibility problems, quantization, fan-in, fan-out, placement, TrueNorth legalization, weight re-encoding,
  fidelity). :meth:`CompileReports.to_options` writes them into the image's manifest ``options`` (the
  same keys as ever, docs/json.md), :meth:`CompileReports.from_options` reads them back from a saved
  build, so ``inspect``/``report`` of a build and ``compile`` format the same objects.
* :class:`PassRecord`: per pass (and per analysis run after the passes) its declared options with the
  values it ran with, its statistics (:class:`Statistic`: named numbers with units), wall time and
  the process's peak resident memory after it (the MLIR pass-manager model: passes declare options and
  statistics, a verifier runs after each pass, analyses run apart from the passes).
"""
from __future__ import annotations

import dataclasses
import resource
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from neuromap.compiler.check import Problem
from neuromap.compiler.fan_in import FanInReport
from neuromap.compiler.fan_out import FanOutReport
from neuromap.compiler.fidelity import FidelityReport
from neuromap.compiler.lower_truenorth import TrueNorthReport
from neuromap.compiler.place import PlacementSummary
from neuromap.compiler.quantize import QuantizationReport
from neuromap.errors import ImageError, TargetError
from neuromap.image import Image
from neuromap.network import Network

#: runs an image for ``steps`` steps and returns its spikes, an (n, 2) int array of (step, source id)
#: rows; ``engine`` names the emulator engine the caller prefers (``numpy`` for short runs; results do
#: not depend on it). Supplied by the application layer (:func:`neuromap.toolchain.emulator_runner`):
#: the compiler never imports a runtime.
ImageRunner = Callable[..., np.ndarray]


@dataclass(frozen=True)
class CompileOptions:
    """The user's compile options (``compile_network(**options)``); units and defaults per field.

    Recorded in the image as given (:meth:`recorded`): an option left at its default is not written.
    """

    #: pass names to run, in order (None: the default list of the target's core kind)
    passes: tuple[str, ...] | None = None
    # ---- place (docs/placement.md)
    placer: str = "cpsat"                 #: sequential | greedy | tiles | cpsat
    time_limit: float | None = None       #: seconds of wall time (work units with ``deterministic``); None: scaled
    deterministic: bool = False           #: budget in CP-SAT work units: the same result every run
    seed: int = 0                         #: solver seed (placement, TrueNorth crossbar)
    rates: str = "uniform"                #: uniform | auto | path of a rates file
    rate_steps: int = 200                 #: steps of the ``rates: auto`` run
    link_slack: float = 0.0               #: extra hop-weighted traffic allowed to lower the busiest link (0..1)
    # ---- quantize (docs/quantization.md)
    rounding: str = "nearest"             #: nearest | stochastic (weights)
    quant_seed: int | None = None         #: stochastic rounding seed (None: the network seed)
    v_headroom_bits: int = 1              #: threshold at most 2**(voltage_bits - 1 - this)
    allow_reset_approximation: bool = False   #: run reset-by-subtraction as reset to v_reset
    # ---- legalize_fan_in
    fan_in_cover: int = 4                 #: relay tree cover
    fan_in_levels: int | None = None      #: relay levels (None: the most the target allows)
    # ---- TrueNorth lowering (docs/truenorth.md)
    tn_time_limit: float = 2.0            #: cap per CP-SAT crossbar/fan-out solve (seconds or work units)
    tn_split: bool = True                 #: Eedn-style input copies for mixed-sign crossbar rows
    # ---- fidelity analysis
    rate_check: str = "auto"              #: auto | always | never: the float-vs-chip rate sample
    #: names of the options the user gave, in the order given (what the image records)
    given: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @classmethod
    def from_kwargs(cls, options: dict[str, Any]) -> "CompileOptions":
        """Options from ``compile_network``'s keyword arguments; an unknown name is a one-line TargetError."""
        known = {f.name for f in dataclasses.fields(cls)} - {"given"}
        for k in options:
            if k not in known:
                raise TargetError(f"unknown compile option {k!r} (options: {', '.join(sorted(known))})")
        kw = dict(options)
        if kw.get("passes") is not None:
            kw["passes"] = tuple(kw["passes"])
        return cls(**kw, given=tuple(options))

    def recorded(self) -> dict[str, Any]:
        """What the image records: the options given, as given (``passes`` always, as a list)."""
        out = {k: getattr(self, k) for k in self.given}
        out["passes"] = list(self.passes or ())
        return out


@dataclass(frozen=True)
class Statistic:
    """One named number a pass measured, with its unit (``1`` for counts)."""

    name: str
    value: float | int
    unit: str = "1"

    def __str__(self) -> str:
        v = f"{self.value:.4g}" if isinstance(self.value, float) else str(self.value)
        return f"{self.name} {v}" + ("" if self.unit == "1" else f" {self.unit}")


@dataclass
class PassRecord:
    """One pass (``kind`` ``pass``) or analysis (``analysis``) of a compile: the options it declares with
    the values it ran with, its statistics, wall seconds of the pass (``wall_s``) and of its verifier
    (``verify_s``), and the process's peak resident set size (bytes, ``ru_maxrss``) after it -- a pass
    raised the peak when it is larger than the previous record's."""

    name: str
    kind: str
    options: dict[str, Any]
    statistics: list[Statistic]
    wall_s: float
    peak_rss_bytes: int
    verify_s: float = 0.0

    def statistic(self, name: str) -> float | int:
        """The value of statistic ``name`` (KeyError if the pass has none of that name)."""
        for s in self.statistics:
            if s.name == name:
                return s.value
        raise KeyError(f"pass {self.name!r} has no statistic {name!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data: ``compile --json``'s ``passes`` entries and the image's manifest ``pass_records``."""
        return {"name": self.name, "kind": self.kind, "options": dict(self.options),
                "statistics": [dataclasses.asdict(s) for s in self.statistics], "wall_s": self.wall_s,
                "verify_s": self.verify_s, "peak_rss_bytes": self.peak_rss_bytes}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PassRecord":
        """The record :meth:`to_dict` wrote (an image's manifest ``pass_records`` entry, already schema-checked
        by :func:`neuromap.image.load_image`)."""
        return cls(d["name"], d["kind"], dict(d["options"]),
                   [Statistic(s["name"], s["value"], s["unit"]) for s in d["statistics"]], d["wall_s"],
                   int(d["peak_rss_bytes"]), d["verify_s"])

    def line(self) -> str:
        """One text line: name, kind, wall and verifier seconds, peak memory, statistics."""
        stats = ", ".join(str(s) for s in self.statistics)
        verify = f" + verify {self.verify_s:.3g} s" if self.kind == "pass" else ""
        return (f"{self.name} ({self.kind}): {self.wall_s:.3g} s{verify}, peak "
                f"{self.peak_rss_bytes / 2 ** 20:.0f} MiB" + (f"; {stats}" if stats else ""))


def image_pass_records(image: Image) -> list[PassRecord]:
    """The pass records an image saved (manifest ``pass_records``; [] for images compiled before they were
    recorded)."""
    return [PassRecord.from_dict(d) for d in image.pass_records]


def peak_rss_bytes() -> int:
    """The process's peak resident set size so far, bytes (Linux reports ``ru_maxrss`` in KiB)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


@dataclass
class CompileReports:
    """Every report of one compile; None where the pass did not run (or, for a saved build, when the image
    predates it). The manifest keys (:meth:`to_options`) are docs/json.md's ``options`` fields."""

    #: ``check``: approximations (what compiles but computes differently); errors stop the compile
    compatibility: list[Problem] | None = None
    #: ``quantize`` on TrueNorth targets and ``lower`` there: quantization, crossbar and fan-out legalization
    truenorth: TrueNorthReport | None = None
    #: ``quantize``: populations run with reset to v_reset instead of reset by subtraction
    reset_approximated: list[str] | None = None
    #: ``quantize`` (Loihi-style targets): per population and projection losses
    quantization: QuantizationReport | None = None
    #: ``legalize_fan_in``: relay trees
    fan_in: FanInReport | None = None
    #: ``legalize_fan_out``: relay neurons for sources above the output-axon limit
    fan_out: FanOutReport | None = None
    #: ``place``: partition, mesh placement, routes, traffic, energy
    placement: PlacementSummary | None = None
    #: ``lower``: hardware-unit weights the synapse memory cannot hold as given (one line per projection)
    weight_encoding: list[str] | None = None
    #: the fidelity analysis: what the compile lost, with numbers
    fidelity: FidelityReport | None = None

    def warnings(self) -> list[str]:
        """Every lossy or surprising thing the compile recorded, one line each: compatibility
        approximations, quantization warnings (not repeated for an item the check already reported: its
        line carries the fix), weights re-encoded as Lava does, TrueNorth legalization warnings."""
        approx = [p for p in self.compatibility or [] if p.severity == "approximation"]
        out = [str(p) for p in approx]
        covered = {p.item for p in approx}
        out += [w for w in (self.quantization.warnings if self.quantization else [])
                if w.split(": ", 1)[0] not in covered]
        out += list(self.weight_encoding or [])
        out += list(self.truenorth.warnings if self.truenorth else [])
        return list(dict.fromkeys(out))

    def to_options(self) -> dict[str, Any]:
        """The reports as the image's manifest records them (plain JSON data, docs/json.md)."""
        out: dict[str, Any] = {}
        if self.compatibility is not None:
            out["compatibility"] = [p.to_dict() for p in self.compatibility]
        if self.truenorth is not None:
            out["truenorth"] = self.truenorth.to_dict()
        if self.reset_approximated:
            out["reset_approximated"] = list(self.reset_approximated)
        if self.quantization is not None:
            out["quantization"] = self.quantization.to_dict()
        if self.fan_in is not None:
            out["fan_in"] = self.fan_in.to_dict()
        if self.fan_out is not None:
            out["fan_out"] = self.fan_out.to_dict()
        if self.placement is not None:
            out["placement"] = self.placement.to_dict()
        if self.weight_encoding:
            out["weight_encoding"] = list(self.weight_encoding)
        if self.fidelity is not None:
            out["fidelity"] = self.fidelity.to_dict()
        return out

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> "CompileReports":
        """The reports an image's manifest ``options`` hold (builds of every version: a report the image
        lacks is None); a malformed one is a one-line ImageError naming the field."""
        o = options or {}
        out = cls()
        for key, parse in (("compatibility", lambda v: [Problem(**p) for p in v]),
                           ("truenorth", TrueNorthReport.from_dict),
                           ("reset_approximated", list),
                           ("quantization", QuantizationReport.from_dict),
                           ("fan_in", lambda v: FanInReport(**v)),
                           ("fan_out", lambda v: FanOutReport(**v)),
                           ("placement", PlacementSummary.from_dict),
                           ("weight_encoding", list),
                           ("fidelity", FidelityReport.from_dict)):
            if o.get(key) is None:
                continue
            try:
                setattr(out, key, parse(o[key]))
            except ImageError:
                raise
            except (TypeError, ValueError, KeyError, AttributeError) as e:
                raise ImageError(f"manifest options.{key}: malformed report ({type(e).__name__}: {e}; "
                                 "recompile the image)") from None
        return out


@dataclass
class CompileResult:
    """A compile: the hardware ``image``, the ``options`` it ran with, typed ``reports``, one
    :class:`PassRecord` per pass and analysis (``passes``), and ``quantized_network``: the network in
    hardware units as the quantize pass produced it (before fan-in legalization; None when no quantize
    pass ran), which ``neuromap compare`` reads instead of quantizing again."""

    image: Image
    options: CompileOptions
    reports: CompileReports
    passes: list[PassRecord] = field(default_factory=list)
    quantized_network: Network | None = None

    def record(self, name: str) -> PassRecord:
        """The record of pass (or analysis) ``name``."""
        for r in self.passes:
            if r.name == name:
                return r
        raise KeyError(f"no pass {name!r} ran (passes: {', '.join(r.name for r in self.passes)})")

    def warnings(self) -> list[str]:
        return self.reports.warnings()

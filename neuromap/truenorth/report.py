"""Weight-error report of crossbar legalization (one row per core, plus totals), like a quantization report.

Errors are in hardware weight units (the units of the target matrix ``W``).
Per core: target synapses (``W != 0``), L1 and relative L1 error
(``sum |W - w| / sum |W|``), RMS error over the target synapses, the largest
error, synapses dropped (``W != 0``, realized 0), sign flips, synapses realized
exactly (``|W - w| < 0.5``), axons used (including input copies), the method and
whether CP-SAT proved the optimum.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from neuromap.truenorth.crossbar import CrossbarSolution


@dataclass
class CoreErrorRow:
    core: int
    n_targets: int
    target_l1: float
    error_l1: float
    rel_error: float
    rms_error: float
    max_error: float
    dropped: int
    sign_flips: int
    exact: int
    axons: int
    split_inputs: int
    method: str
    optimal: bool
    lower_bound: float
    seconds: float


@dataclass
class CrossbarReport:
    """Rows of :class:`CoreErrorRow`; :meth:`format` renders a text table, :meth:`to_dict` plain data."""

    rows: list[CoreErrorRow] = field(default_factory=list)

    def add(self, core: int, W: np.ndarray, sol: CrossbarSolution) -> CoreErrorRow:
        W = np.asarray(W, dtype=np.float64)
        err = W - sol.realized
        tgt = W != 0
        n = int(tgt.sum())
        tot = float(np.abs(W).sum())
        row = CoreErrorRow(
            core=core, n_targets=n, target_l1=tot, error_l1=float(np.abs(err).sum()),
            rel_error=float(np.abs(err).sum() / tot) if tot else 0.0,
            rms_error=float(np.sqrt((err[tgt] ** 2).mean())) if n else 0.0,
            max_error=float(np.abs(err).max()) if err.size else 0.0,
            dropped=int((tgt & (sol.realized == 0)).sum()),
            sign_flips=int((np.sign(W) * np.sign(sol.realized) < 0).sum()),
            exact=int((tgt & (np.abs(err) < 0.5)).sum()),
            axons=int(sol.axon_type.shape[0]),
            split_inputs=int(sol.axon_type.shape[0] - np.unique(sol.axon_input).shape[0]),
            method=sol.method, optimal=sol.optimal, lower_bound=sol.lower_bound, seconds=sol.wall_time)
        self.rows.append(row)
        return row

    def totals(self) -> dict:
        n = sum(r.n_targets for r in self.rows)
        l1 = sum(r.error_l1 for r in self.rows)
        denom = sum(r.target_l1 for r in self.rows)
        sq = sum(r.rms_error ** 2 * r.n_targets for r in self.rows)
        return {"cores": len(self.rows), "n_targets": n, "error_l1": l1,
                "rel_error": l1 / denom if denom else 0.0,
                "rms_error": float(np.sqrt(sq / n)) if n else 0.0,
                "max_error": max((r.max_error for r in self.rows), default=0.0),
                "dropped": sum(r.dropped for r in self.rows), "sign_flips": sum(r.sign_flips for r in self.rows),
                "exact": sum(r.exact for r in self.rows),
                "optimal_cores": sum(r.optimal for r in self.rows)}

    def to_dict(self) -> dict:
        return {"rows": [asdict(r) for r in self.rows], "totals": self.totals()}

    def format(self) -> str:
        head = (f"{'core':>4} {'synapses':>8} {'L1 err':>10} {'rel':>7} {'rms':>7} {'max':>6} {'dropped':>7} "
                f"{'flips':>5} {'exact':>6} {'axons':>5} {'split':>5} method")
        lines = ["TrueNorth crossbar legalization (weights in hardware units)", head]
        for r in self.rows:
            opt = " (optimal)" if r.optimal else ""
            lines.append(f"{r.core:>4} {r.n_targets:>8} {r.error_l1:>10.1f} {r.rel_error:>7.2%} {r.rms_error:>7.2f} "
                         f"{r.max_error:>6.1f} {r.dropped:>7} {r.sign_flips:>5} {r.exact:>6} {r.axons:>5} "
                         f"{r.split_inputs:>5} {r.method}{opt}")
        t = self.totals()
        lines.append(f"{'all':>4} {t['n_targets']:>8} {t['error_l1']:>10.1f} {t['rel_error']:>7.2%} "
                     f"{t['rms_error']:>7.2f} {t['max_error']:>6.1f} {t['dropped']:>7} {t['sign_flips']:>5} "
                     f"{t['exact']:>6}   {t['optimal_cores']}/{t['cores']} cores proven optimal")
        return "\n".join(lines)

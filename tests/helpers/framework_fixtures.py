"""The differential fixtures of tests/fixtures/frameworks (written by tests/fixtures/make_framework_fixtures.py
with the frameworks themselves): load one, run neuromap's float reference on the recorded input spikes, and
compare spike counts per neuron with the framework's.

A framework's layer sends its spikes to the next layer within the same step; neuromap delivers a spike one step
(its minimum delay) after it was sent, so a layer at depth d (d projections from the input, the shortest path in
steps) spikes d steps later than the framework's. The framework's T steps are therefore compared with neuromap's
steps d .. d + T - 1 of a run of T + max(d) steps: spikes the framework emitted in its last steps (e.g. an IAF
draining a large voltage one spike per step after the input stopped) are inside both windows."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neuromap.nir_io import _pop_name, read_nir
from neuromap.simulator import simulate

DIR = Path(__file__).resolve().parents[1] / "fixtures" / "frameworks"
NAMES = sorted(p.stem for p in DIR.glob("*.npz"))


@dataclass
class LayerCounts:
    layer: str                 # NIR node name
    population: str            # neuromap population
    framework: np.ndarray      # spikes per neuron, the framework's
    neuromap: np.ndarray       # spikes per neuron, neuromap's float reference (its steps depth .. depth + T - 1)
    depth: int                 # neuromap's latency of this layer behind the framework's, in steps
    cells: int                 # (step, neuron) cells where the two rasters differ, after the shift by depth

    @property
    def total_rel_error(self) -> float:
        return abs(int(self.neuromap.sum()) - int(self.framework.sum())) / max(int(self.framework.sum()), 1)

    @property
    def neuron_rel_error(self) -> float:
        """sum over neurons of |count difference| / total framework count (0: every neuron's count equal)."""
        return float(np.abs(self.neuromap - self.framework).sum()) / max(int(self.framework.sum()), 1)


def load(name: str) -> tuple[Path, np.ndarray, dict[str, np.ndarray], dict]:
    with np.load(DIR / f"{name}.npz", allow_pickle=False) as z:
        spikes = {k[len("spikes/"):]: z[k] for k in z.files if k.startswith("spikes/")}
        return DIR / f"{name}.nir", z["input"], spikes, json.loads(str(z["meta"]))


def latency(net) -> dict[str, int]:
    """population -> its shortest path from an input population in steps (the sum of the projections' smallest
    delays; inputs 0)."""
    inf = 1 << 30
    d = {name: (0 if p.model in ("poisson", "spike_source") else inf) for name, p in net.populations.items()}
    for _ in range(len(d)):
        for pr in net.projections:
            if d[pr.pre] < inf and pr.n_synapses:
                d[pr.post] = min(d[pr.post], d[pr.pre] + int(np.min(pr.delay)))
    return d


def compare(name: str, **read_kwargs) -> list[LayerCounts]:
    """neuromap's float reference on the fixture's input raster vs the framework's spikes, per spiking layer."""
    path, raster, spikes, _ = load(name)
    t_idx, n_idx = np.nonzero(raster)
    probe = read_nir(path, **read_kwargs)
    (inp,) = [p for p in probe.populations.values() if p.model == "poisson"]
    times = [[] for _ in range(inp.size)]
    for t, i in zip(t_idx.tolist(), n_idx.tolist()):
        times[i].append(t * probe.dt)
    net = read_nir(path, inputs={"*": {"model": "spike_source", "times": times}}, **read_kwargs)
    steps = raster.shape[0]
    depth = latency(net)
    layers = {layer: _pop_name(layer) for layer in spikes}
    res = simulate(net, steps + max(depth[p] for p in layers.values()))
    out = []
    for layer, s in spikes.items():
        pop, d = layers[layer], depth[layers[layer]]
        st, ix = res.spikes[pop]
        mine = np.zeros((steps, net.populations[pop].size), np.int64)
        keep = (st >= d) & (st < d + steps)
        np.add.at(mine, (st[keep] - d, ix[keep]), 1)
        out.append(LayerCounts(layer, pop, s.sum(0).astype(np.int64), mine.sum(0), d,
                               int(np.abs(mine - s.astype(np.int64)).sum())))
    return out

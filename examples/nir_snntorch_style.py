"""A NIR graph written the way snnTorch exports it, imported and simulated by neuromap.

snnTorch (``snntorch/export_nir.py``) exports ``Linear -> Synaptic -> Linear -> Leaky`` as
``Input -> Affine -> CubaLIF -> Affine -> LIF -> Output`` with an implicit step
``dt = 1e-4`` s: ``tau_syn = dt/(1-alpha)``, ``tau_mem = dt/(1-beta)``, ``r = tau_mem/dt``,
``w_in = tau_syn/dt`` (Leaky: ``tau = dt/(1-beta)``, ``r = tau/dt``), float32 arrays, and node
names "0", "1", ... . Import with the same step (``dt=0.1`` ms); see docs/nir.md.

Run: ``python examples/nir_snntorch_style.py [out.nir]`` (writes the graph, then
``neuromap simulate out.nir --steps 2000`` works too).
"""
from __future__ import annotations

import sys

import nir
import numpy as np


def snntorch_style_graph(n_in: int = 8, n_hid: int = 16, n_out: int = 4, seed: int = 0) -> nir.NIRGraph:
    rng = np.random.default_rng(seed)
    dt, alpha, beta = 1e-4, np.float32(0.8), np.float32(0.9)
    tau_syn = np.full(n_hid, dt / (1 - alpha), np.float32)
    tau_mem = np.full(n_hid, dt / (1 - beta), np.float32)
    nodes = {
        "input": nir.Input(input_type=np.array([n_in])),
        "0": nir.Affine(weight=rng.normal(0.2, 0.1, (n_hid, n_in)).astype(np.float32),
                        bias=rng.normal(0, 0.002, n_hid).astype(np.float32)),
        "1": nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=tau_mem / dt, v_leak=np.zeros(n_hid, np.float32),
                         v_threshold=np.ones(n_hid, np.float32), v_reset=np.zeros(n_hid, np.float32),
                         w_in=tau_syn / dt),
        "2": nir.Affine(weight=rng.normal(0.1, 0.05, (n_out, n_hid)).astype(np.float32),
                        bias=np.zeros(n_out, np.float32)),
        "3": nir.LIF(tau=np.full(n_out, dt / (1 - beta), np.float32), r=np.full(n_out, 1 / (1 - beta), np.float32),
                     v_leak=np.zeros(n_out, np.float32), v_threshold=np.ones(n_out, np.float32),
                     v_reset=np.zeros(n_out, np.float32)),
        "output": nir.Output(output_type=np.array([n_out])),
    }
    edges = [("input", "0"), ("0", "1"), ("1", "2"), ("2", "3"), ("3", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges)


def main(path: str = "snntorch_style.nir") -> None:
    from neuromap.nir_io import read_nir
    from neuromap.simulator import simulate

    nir.write(path, snntorch_style_graph())
    net = read_nir(path, dt=0.1, inputs={"input": {"model": "poisson", "rate": 400.0}})
    res = simulate(net, 2000)
    secs = 2000 * net.dt / 1000
    for pop in net.populations.values():
        n = res.spikes[pop.name][0].size
        print(f"{pop.name:6s} {pop.model:8s} {pop.size:3d} neurons {n:6d} spikes {n / (pop.size * secs):8.1f} Hz")
    print(f"wrote {path}")


if __name__ == "__main__":
    main(*sys.argv[1:2])

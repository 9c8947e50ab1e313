"""A small NIR graph ending in a non-spiking readout (``CubaLI`` / ``LI``) and its network: the readout tests
(tests/model/test_nir_readout.py) and the per-rank results' readout summary (tests/emulator/mpi)."""
from __future__ import annotations

import warnings

import nir
import numpy as np

from neuromap.network import Network
from neuromap.nir_io import network_from_nir


def readout_graph(kind: str = "CubaLI", n_in: int = 4, n_h: int = 6, n_o: int = 3) -> nir.NIRGraph:
    rng = np.random.default_rng(0)
    out = (nir.CubaLI(tau_syn=np.full(n_o, 5e-3), tau_mem=np.full(n_o, 1e-2), r=np.ones(n_o), v_leak=np.zeros(n_o),
                      w_in=np.ones(n_o)) if kind == "CubaLI" else
           nir.LI(tau=np.full(n_o, 1e-2), r=np.ones(n_o), v_leak=np.zeros(n_o)))
    nodes = {"input": nir.Input(input_type=np.array([n_in])),
             "w1": nir.Linear(weight=rng.normal(8, 2, (n_h, n_in))),
             "lif": nir.CubaLIF(tau_syn=np.full(n_h, 5e-3), tau_mem=np.linspace(1e-2, 2e-2, n_h), r=np.ones(n_h),
                                v_leak=np.zeros(n_h), v_threshold=np.ones(n_h), v_reset=np.zeros(n_h),
                                w_in=np.ones(n_h)),
             "w2": nir.Linear(weight=rng.normal(0.5, 0.3, (n_o, n_h))),
             "ro": out, "output": nir.Output(output_type=np.array([n_o]))}
    return nir.NIRGraph(nodes=nodes, edges=[("input", "w1"), ("w1", "lif"), ("lif", "w2"), ("w2", "ro"),
                                            ("ro", "output")], type_check=False)


def readout_net(kind: str = "CubaLI", inputs=None) -> Network:
    with warnings.catch_warnings():
        warnings.simplefilter("error")       # a readout layer is not "a layer that can never spike"
        return network_from_nir(readout_graph(kind), inputs={"*": inputs or {"model": "poisson", "rate": 300.0}})

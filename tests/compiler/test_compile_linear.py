"""No compile path loops per synapse or per neuron in Python (issue 16 item 1): the Python-level calls
made by connectivity generation, fan-in legalization, packing, the capacity accounting, the placement
checker, lowering and image verification do not grow for a network 4x larger (more neurons, synapses
and cores). Counted with cProfile, so an added per-element Python loop fails this test at once."""
from __future__ import annotations

import cProfile
import importlib.util
import os
import pstats

import pytest

from neuromap.toolchain import compile_network

_spec = importlib.util.spec_from_file_location(
    "compile_scale", os.path.join(os.path.dirname(__file__), "..", "..", "bench", "compile_scale.py"))
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

#: the modules this test holds to "calls independent of the network size"
MODULES = ("neuromap/connectivity.py", "neuromap/capacity.py", "neuromap/placement/usage.py",
           "neuromap/placement/verify.py", "neuromap/placement/packing.py", "neuromap/placement/graph.py",
           "neuromap/compiler/lower.py", "neuromap/compiler/fan_in.py", "neuromap/image.py", "neuromap/params.py",
           "neuromap/compiler/place.py", "neuromap/compiler/quantize.py", "neuromap/compiler/pipeline.py",
           "neuromap/network.py", "neuromap/compiler/check.py", "neuromap/placement/traffic.py",
           "neuromap/placement/routing.py", "neuromap/placement/energy.py", "neuromap/placement/partition.py",
           "neuromap/placement/report.py", "neuromap/placement/mesh.py", "neuromap/counting_sort.py")


def _calls(n: int, k: int) -> tuple[dict, int, int]:
    prof = cProfile.Profile()
    prof.enable()
    net = bench.brunel(n, k)
    img = compile_network(net, "loihi", placer="sequential").image
    img.verify()
    prof.disable()
    st = pstats.Stats(prof).stats
    mine = {}
    for (fn, _line, name), v in st.items():
        f = fn.replace(os.sep, "/")
        if any(f.endswith(m) for m in MODULES):
            mine[(f.rsplit("neuromap/", 1)[-1], name)] = v[1]     # primitive + recursive calls
    return mine, img.n_synapses, img.n_cores


@pytest.mark.parametrize("k", [30])
def test_python_calls_do_not_grow_with_the_network(k):
    compile_network(bench.brunel(200, k), "loihi", placer="sequential")      # compile numba kernels once
    small, s_syn, s_cores = _calls(400, k)
    large, l_syn, l_cores = _calls(1600, k)
    assert l_syn >= 4 * s_syn * 0.9 and l_cores > s_cores
    # a per-neuron or per-synapse loop adds >= 1200 calls here; a few calls may follow the report's
    # structure (e.g. place._jsonable walking placement phases), which does not grow with the network
    grew = {f: (small.get(f, 0), large.get(f, 0)) for f in set(small) | set(large)
            if large.get(f, 0) > small.get(f, 0) + 16}
    assert grew == {}, f"calls that grow with the network: {grew}"

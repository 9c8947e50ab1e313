"""The float64 reference simulator: the ground truth for every compiled network.

``simulate(network, steps, seed=None, backend="auto") -> SimResult``. Two
backends run the same step (order in :mod:`neuromap.plasticity.base`) and give
bit-identical results: ``numpy`` (vectorized, any rule) and ``numba``
(compiled time loop, rules in ``numba_backend.RULE_CODES``).
"""
from neuromap.simulator.core import simulate  # noqa: F401
from neuromap.simulator.result import SimResult  # noqa: F401

"""TrueNorth-style cores as a custom Lava process (fixed_pt): same spikes and V as the scalar TrueNorth oracle
(``emulator.truenorth.reference_step``, the paper's equations term by term, run by ``emulator.truenorth.run``
with ``engine="reference"``). The Lava process advances its cores with the emulator's numpy step, so comparing
it with the numpy engine would check the wiring only; against the scalar reference it checks the arithmetic too."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backends.lava.compat import lava_available

pytestmark = [pytest.mark.lava, pytest.mark.skipif(not lava_available(), reason="lava-nc not installed")]


def random_cores(seed: int, n_cores: int = 3, max_axons: int = 12, max_neurons: int = 10):
    """Random cores exercising every mode: stochastic synapses/leak/threshold, reset modes, reversal,
    saturation, routes between cores (and back to themselves) with delays 1..15."""
    from emulator.truenorth import make_core
    rng = np.random.default_rng(seed)
    shapes = [(int(rng.integers(1, max_axons + 1)), int(rng.integers(1, max_neurons + 1))) for _ in range(n_cores)]
    cores = []
    for A, N in shapes:
        dest = rng.integers(-1, n_cores, N)
        cores.append(make_core(
            rng.random((A, N)) < 0.5, rng.integers(0, 4, A), s=rng.integers(-255, 256, (N, 4)),
            b=rng.random((N, 4)) < 0.3, lam=rng.integers(-20, 21, N), c_lambda=rng.random(N) < 0.3,
            epsilon=rng.random(N) < 0.3, alpha=rng.integers(1, 300, N), beta=rng.integers(0, 300, N),
            TM=rng.integers(0, 8, N) * (rng.random(N) < 0.3), gamma=rng.integers(0, 3, N),
            kappa=rng.random(N) < 0.3, R=rng.integers(-50, 51, N), V0=rng.integers(-200, 200, N),
            dest_core=dest, dest_axon=np.array([rng.integers(0, shapes[d][0]) if d >= 0 else 0 for d in dest]),
            delay=rng.integers(1, 16, N)))
    inputs = np.array([(int(rng.integers(0, 30)), k, int(rng.integers(0, shapes[k][0])))
                       for k in rng.integers(0, n_cores, 60)], np.int64)
    return cores, inputs


@settings(max_examples=2, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(st.integers(0, 2 ** 32 - 1))
def test_truenorth_cores_run_identically_in_lava(seed):
    from backends.lava.procs.truenorth import run_truenorth
    from emulator.truenorth import run

    cores, inputs = random_cores(seed)
    ticks = 40
    want = run(cores, ticks, inputs, seed=seed, record_v=True, engine="reference")
    got = run_truenorth(cores, ticks, inputs, seed=seed, record_v=True)
    assert sum(int(s.sum()) for s in want.spikes) > 0
    for k in range(len(cores)):
        assert np.array_equal(got.spikes[k], want.spikes[k]), f"core {k} spikes"
        assert np.array_equal(got.v[k], want.v[k]), f"core {k} V"

"""The prefetching delivery (emulator.engine_numba.deliver_runs on programs of >= PREFETCH_MIN_SYNAPSES run
synapses: the step's runs listed first, tables and synapses prefetched AHEAD_* runs ahead) against the scalar
oracle. The bench images are the only programs big enough to take that path, so here the thresholds are set to 0
and the one-thread time loop is compiled afresh (its globals are read when it compiles), on small random images
whose list of runs is shorter and longer than the look-ahead distances."""
from __future__ import annotations

import dataclasses

import numba
import numpy as np
import pytest

from emulator import engine_numba
from emulator.inputs import InputSchedule
from emulator.program import flatten, prepare
from emulator.state import ChunkOut, State
from tests.helpers.images import random_image
from tests.oracles import loihi_core


@pytest.mark.parametrize("seed", [1, 7, 23])
def test_prefetching_delivery_matches_the_oracle(seed, monkeypatch):
    monkeypatch.setattr(engine_numba, "PREFETCH_MIN_SYNAPSES", 0)
    monkeypatch.setattr(engine_numba, "PREFETCH_MIN_RUN", 0)
    run_runs = numba.njit(engine_numba._run_runs.py_func)          # compiled now, with the thresholds at 0
    img = random_image(seed, max_size=40)
    img = dataclasses.replace(img, inputs=dict(img.inputs, poisson_p=np.full(img.n_inputs, np.nan)))
    p = flatten(prepare(img))
    steps = 30
    st = State.initial(p)
    in_ptr, in_ids = InputSchedule(p).chunk(0, steps)
    probe = np.arange(p.n_neurons, dtype=np.int64)
    out = ChunkOut.empty(steps, steps * (p.n_neurons + p.n_inputs) + in_ids.size + 1, probe.size)
    fired = np.empty(p.n_neurons + in_ids.size, np.int64)
    n = run_runs(0, steps, p.n_neurons, p.ring_len, p.decay_u, p.decay_v, p.bias, p.vth, p.arith, p.ref_period,
                 st.ref_until, p.neuron_core, p.run_ptr, p.run_syn, p.run_delay, p.run_shift, p.run_post_base,
                 p.run_packed, p.run_slot, p.src_notes, st.u, st.v, st.ring.reshape(-1), st.slot_acc, st.slot_mark,
                 st.core_spikes, st.src_spikes, in_ptr, in_ids, probe, out.spikes, 0, out.trace_u, out.trace_v, fired,
                 p.refractory)
    ref = loihi_core.run(img, steps)
    assert n == len(ref.spikes) > 0
    assert np.array_equal(out.spikes[:n], ref.spikes)
    assert np.array_equal(out.trace_u, ref.u) and np.array_equal(out.trace_v, ref.v)

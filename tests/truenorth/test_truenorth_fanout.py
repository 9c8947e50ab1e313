"""Fan-out legalization: splitter neurons, packing, delay compensation by retiming, run on the emulator."""
import numpy as np
import pytest

from emulator.truenorth import make_core, run
from neuromap.errors import TargetError
from neuromap.truenorth.fanout import legalize_fanout, splitter_cores


def test_trivial_plan_splits_and_subtracts_the_hop():
    plan = legalize_fanout(2, src=[0, 0, 0, 1], dst_core=[1, 2, 3, 2], dst_axon=[0, 1, 0, 5], delay=[2, 5, 16, 7])
    assert plan.solver == "trivial" and plan.n_splitter_cores == 1
    assert plan.src_target[0].tolist() == [-1, 0, 1]           # source 0 -> splitter core 0, axon 0, delay 1
    assert plan.src_target[1].tolist() == [2, 5, 7]            # fan-out 1: direct
    assert [(s.dst_core, s.dst_axon, s.delay) for s in plan.splitters] == [(1, 0, 1), (2, 1, 4), (3, 0, 15)]
    assert plan.realized.tolist() == [2, 5, 16, 7] and not plan.error.any() and not plan.phi.any()


def test_splitters_deliver_at_the_desired_ticks_on_the_emulator():
    delays = [2, 6, 16, 9]
    plan = legalize_fanout(1, src=[0] * 4, dst_core=[1, 2, 3, 3], dst_axon=[0, 1, 0, 1], delay=delays)
    first = 4
    dc, da, dl = plan.src_target[0]
    src = make_core(np.ones((1, 1), bool), 0, s=1, alpha=1, dest_core=first + (-1 - dc), dest_axon=da, delay=dl)
    dst = [make_core(np.eye(2, dtype=bool), 0, s=1, alpha=1) for _ in range(3)]
    cores = [src] + dst + splitter_cores(plan, first)
    r = run(cores, 20, np.array([[0, 0, 0]]))
    assert np.flatnonzero(r.spikes[0][:, 0]).tolist() == [0]
    got = [np.flatnonzero(r.spikes[c][:, a]).tolist() for c, a in [(1, 0), (2, 1), (3, 0), (3, 1)]]
    assert got == [[d] for d in delays]


def test_delay_one_through_a_splitter_is_compensated_by_retiming():
    # source 0 fans out to axon (1,0) feeding neuron 5 with D=1 and to (2,0) feeding neuron 6 with D=3.
    # neuron 5 also hears neuron 2 (fan-out 1, D=4) on axon (1,1). Shifting neuron 5 by one tick makes
    # the D=1 path 2 ticks and the other path into neuron 5 must become 5: both keep their relative timing.
    posts = {(1, 0): [5], (2, 0): [6], (1, 1): [5]}
    plan = legalize_fanout(8, src=[0, 0, 2], dst_core=[1, 2, 1], dst_axon=[0, 0, 1], delay=[1, 3, 4],
                           axon_posts=posts)
    assert plan.solver == "OPTIMAL"
    assert not plan.error.any()
    assert plan.phi[5] == 1 and plan.phi[0] == 0 and plan.phi[6] == 0
    assert plan.realized.tolist() == [2, 3, 5]
    assert [s.delay for s in plan.splitters] == [1, 2] and plan.src_target[0, 2] == 1


def test_shift_propagates_downstream_and_is_reported():
    # 0 -> {5 (D=1), 6 (D=2)} via splitter; 5 -> 7 (D=1, direct): 5 and then 7 run one tick late
    posts = {(1, 0): [5], (2, 0): [6], (3, 0): [7]}
    plan = legalize_fanout(8, src=[0, 0, 5], dst_core=[1, 2, 3], dst_axon=[0, 0, 0], delay=[1, 2, 1],
                           axon_posts=posts)
    assert not plan.error.any()
    assert plan.phi[5] == 1 and plan.phi[7] == 1 and plan.realized.tolist() == [2, 2, 1]


def test_a_loop_that_cannot_be_retimed_is_reported():
    # neuron 0 excites itself with D=1 and also drives neuron 1: the self-loop through a splitter takes 2
    posts = {(0, 0): [0], (1, 0): [1]}
    plan = legalize_fanout(2, src=[0, 0], dst_core=[0, 1], dst_axon=[0, 0], delay=[1, 3], axon_posts=posts)
    assert plan.uncompensated().tolist() == [0]
    assert plan.error[0] == 1 and plan.realized[0] == 2
    lines = plan.describe([0, 0], [0, 1], [0, 0], [1, 3])
    assert len(lines) == 1 and "desired delay 1" in lines[0] and "realized 2 (+1 tick)" in lines[0]


def test_long_direct_delay_is_reported_and_shared_source_delay_is_used():
    # fan-out with D=20 and D=30: d_src = 15 serves both (d_k = 5, 15)
    plan = legalize_fanout(1, src=[0, 0], dst_core=[1, 2], dst_axon=[0, 0], delay=[20, 30])
    assert not plan.error.any() and plan.src_target[0, 2] + 5 == 20
    # a lone direct route with D = 17 is retimed (the source runs 2 ticks late, r = 15)
    plan = legalize_fanout(1, src=[0], dst_core=[1], dst_axon=[0], delay=[17])
    assert plan.realized.tolist() == [15] and not plan.error.any() and plan.phi[0] == 2
    # but a loop 0 -> 1 (D=17) -> 0 (D=15) keeps its 32 ticks only up to 15 + 15: 2 ticks are lost
    posts = {(1, 0): [1], (0, 0): [0]}
    plan = legalize_fanout(2, src=[0, 1], dst_core=[1, 0], dst_axon=[0, 0], delay=[17, 15], axon_posts=posts)
    assert plan.realized.tolist() == [15, 15] and np.abs(plan.error).sum() == 2


def test_host_inputs_need_no_splitters():
    plan = legalize_fanout(2, src=[1, 1, 1], dst_core=[0, 1, 2], dst_axon=[0, 0, 0], delay=[1, 1, 40],
                           is_input=[False, True])
    assert plan.splitters == [] and plan.solver == "trivial" and not plan.error.any()


def test_splitter_groups_are_packed_first_fit():
    def plan_for(per_source):
        src = np.repeat(np.arange(3), per_source)
        core = np.tile(np.arange(per_source), 3) + 10
        return legalize_fanout(3, src=src, dst_core=core, dst_axon=np.repeat(np.arange(3), per_source),
                               delay=np.full(3 * per_source, 3))
    assert plan_for(100).n_splitter_cores == 2     # 100 + 100 fit one core, the third does not
    assert plan_for(200).n_splitter_cores == 3
    p = plan_for(60)
    assert p.n_splitter_cores == 1 and sorted({s.axon for s in p.splitters}) == [0, 1, 2]
    assert len({(s.core, s.slot) for s in p.splitters}) == 180


def test_bad_routes_are_target_errors():
    with pytest.raises(TargetError, match="same axon"):
        legalize_fanout(1, src=[0, 0], dst_core=[1, 1], dst_axon=[0, 0], delay=[2, 3])
    with pytest.raises(TargetError, match="target axons"):
        legalize_fanout(1, src=np.zeros(300, int), dst_core=np.arange(300), dst_axon=np.zeros(300, int),
                        delay=np.full(300, 2))
    with pytest.raises(TargetError, match="delay"):
        legalize_fanout(1, src=[0], dst_core=[1], dst_axon=[0], delay=[0])

"""Embedded-core controllers (neuromap.embedded): the ``esn_q`` program against its scalar oracle
(tests/oracles/esn_q.py, written from the documented equations) decision by decision on random controllers and
reads, then whole compiled ``pool_esn`` images on both emulator engines against the core oracle (which runs the
controller oracle between steps) every step; the image section's checks; runtimes that cannot run a controller
refuse the image."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from backends.lava.compat import lava_available
from emulator import emulate
from neuromap import embedded
from neuromap.embedded import ControllerMap, esn_q
from neuromap.errors import ImageError
from neuromap.image import load_image
from neuromap.network import Network
from neuromap.toolchain import compile_network
from tests.oracles import loihi_core
from tests.oracles.cases import LIF, RULES, spike_times
from tests.oracles.esn_q import EsnQ


def random_controller(r, n_post: int) -> ControllerMap:
    n = int(r.integers(1, 13))
    levels = int(r.integers(0, 9))
    fields = {"n_res": n, "leak": int(r.integers(0, 4097)), "gamma": int(r.integers(0, 4097)),
              "lr": int(r.choice([0, int(r.integers(1, 1 << 20))])), "eps": int(r.choice([0, 1 << 31, 1 << 32,
                                                                                      int(r.integers(0, 1 << 32))])),
              "c_opt": int(r.integers(0, 1 << 14)), "levels": levels,
              "level_init": int(r.integers(-levels, levels + 1)), "seed": int(r.integers(1, 1 << 32))}
    if r.random() < 0.5:
        fields["greedy_after"] = int(r.integers(0, 5))       # optional: exploration stops after that decision
        if r.random() < 0.5:
            fields["anneal"] = 1                               # optional: ... falling linearly until then
    p = {"n_res": n, "leak": 0.5, "gamma": 0.9, "lr": 0.1, "epsilon": 0.1, "c_opt": 0.3, "dk": 0.5,
         "k_max": 0.5 * levels, "k_secr": 0.0, "seed": 0}
    _, arrays, _ = esn_q.quantize(p, r.uniform(-2, 2, (n, 4)), r.uniform(-1, 1, (n, n)), 65536.0 * 40, 4096.0)
    arrays["w_in"] = r.integers(-32768, 32768, (n, 4)).astype(np.int16)
    arrays["w_res"] = r.integers(-32768, 32768, (n, n)).astype(np.int16)
    arrays["w_out"] = r.integers(-(1 << 24), 1 << 24, (3, n + 1)).astype(np.int32)
    arrays["obs_mul"] = r.integers(0, 1 << 26, 4).astype(np.int64)
    arrays["obs_shift"] = r.integers(0, 40, 4).astype(np.int64)
    return ControllerMap("esn_q", 0, 1, fields, arrays)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 2 ** 31 - 1), n_post=st.integers(1, 3))
def test_decisions_equal_the_oracle(seed, n_post):
    """Random controllers (weights over the whole int16 range, tanh beyond the table's ends, saturating
    readouts) and random engine state: the same secr_scale, levels, reservoir and readout after every decision."""
    r = np.random.default_rng(seed)
    ctl = random_controller(r, n_post)
    state, oracle = esn_q.make_state(ctl, n_post), EsnQ(ctl, n_post)
    for _ in range(6):
        reads = {k: r.integers(0, 1 << int(r.integers(1, 37)), n_post).astype(np.int64) for k in esn_q.READS}
        got = esn_q.decide(ctl, state, reads)["secr_scale"]
        want = oracle.decide({k: v.tolist() for k, v in reads.items()})
        assert got.tolist() == want
        assert state.level.tolist() == oracle.level and state.x.tolist() == oracle.x
        assert state.w_out.tolist() == oracle.w_out and state.rng == oracle.s


def test_oracle_by_hand():
    """One neuron, one unit: values computed by hand from the equations."""
    f = {"n_res": 1, "leak": 2048, "gamma": 2048, "lr": 1 << 16, "eps": 0, "c_opt": 1000, "levels": 2,
         "level_init": 0, "seed": 1}
    lut = np.rint(np.tanh(-4 + np.arange(513) / 64) * 4096).astype(np.int16)
    arrays = {"w_in": np.array([[4096, 0, 0, 0]], np.int16), "w_res": np.zeros((1, 1), np.int16),
              "w_out": np.array([[0, 0], [0, 0], [0, 1 << 16]], np.int32), "tanh_lut": lut,
              "secr_lut": np.array([-100, -50, 0, 50, 100], np.int32), "obs_mul": np.ones(4, np.int64),
              "obs_shift": np.zeros(4, np.int64)}
    ctl = ControllerMap("esn_q", 0, 1, f, arrays)
    s = esn_q.make_state(ctl, 1)
    # o = (1024, ..): a = 4096 * 1024 -> 1024 (Q12, 0.25) -> pos 17408, i 272, frac 0 -> h = lut[272] = tanh(0.25)
    h = int(lut[272])
    out = esn_q.decide(ctl, s, {"pw": [1024], "pw_soma": [0], "c_soma": [0], "c_dend": [0]})
    x1 = (2048 * h + 2048) >> 12
    assert s.x.tolist() == [[x1]] and s.level.tolist() == [1] and out["secr_scale"].tolist() == [50]
    # second decision: r = -1000; q(up) = 4096 (bias); td = -1000 * 2**16 + rr(2048 * 4096 * 2**16, 12) - 4096*2**16
    q = 4096 << 16
    td = -1000 * 65536 + ((2048 * q + 2048) >> 12) - q
    step = ((1 << 16) * ((td + 2048) >> 12) + (1 << 15)) >> 16
    esn_q.decide(ctl, s, {"pw": [0], "pw_soma": [0], "c_soma": [0], "c_dend": [0]})
    assert s.w_out[2].tolist() == [(step * x1 + 2048) >> 12, (1 << 16) + ((step * 4096 + 2048) >> 12)]


ESN = dict(RULES["pool_stdp"], rule="pool_esn", soma_mode="secretion", alpha_secr=0.5, k_secr=0.0, c_opt=0.3,
           period=3, dk=0.5, k_max=2.0, n_res=6, lr=0.5, gamma=0.9, epsilon=0.3, seed=4)


def esn_net(seed: int, steps: int) -> Network:
    r = np.random.default_rng(seed)
    n = Network(seed=seed)
    n.add_population("inp", 6, "spike_source", times=spike_times(r, 6, steps, 8, steps // 2))
    n.add_population("out", 2, "lif", **LIF)
    n.connect("inp", "out", "all_to_all", weight={"uniform": [0.3, 0.6]}, delay=1, plasticity=ESN)
    return n


@pytest.mark.parametrize("seed", [1, 2])
def test_pool_esn_image_equals_oracle_every_step(seed):
    """A compiled pool_esn image: both engines == the core oracle with the controller oracle, every step."""
    steps = 90
    img = compile_network(esn_net(seed, steps), "loihi").image
    assert [c.kind for c in img.controllers] == ["esn_q"] and img.projections[0].learning["rule"] == "pool_esn"
    ref = loihi_core.run(img, steps)
    for engine in ("numpy", "numba"):
        got = emulate(img, steps, engine=engine, probe=np.arange(img.n_neurons), weight_every=1)
        assert np.array_equal(got.spikes, ref.spikes), engine
        assert np.array_equal(got.u, ref.u) and np.array_equal(got.v, ref.v), engine
        assert np.array_equal(got.weights[0], ref.weights[0]), engine
    assert ref.spikes.shape[0] > 10
    # the controller matters: without it (the factor-free table, secr_scale 2**16) the weights differ
    bare = dataclasses.replace(img, controllers=[])
    assert not np.array_equal(emulate(bare, steps, engine="numba", weight_every=1).weights[0], ref.weights[0])


def test_greedy_evaluation_field_runs_as_the_oracle():
    """pool_esn's greedy_from (epsilon 0 from that step) compiles to the optional field greedy_after =
    ceil(greedy_from / period); both engines equal the oracle every step, exploration (epsilon 1) stops after it;
    images without greedy_from carry no such field."""
    steps = 60
    assert "greedy_after" not in compile_network(esn_net(1, steps), "loihi").image.controllers[0].fields
    net = esn_net(1, steps)
    net.projections[0].plasticity = dict(net.projections[0].plasticity, epsilon=1.0, greedy_from=31)
    img = compile_network(net, "loihi").image
    ctl = img.controllers[0]
    assert ctl.fields["greedy_after"] == 11 and ctl.fields["eps"] == 1 << 32          # ceil(31 / 3)
    ref = loihi_core.run(img, steps)
    got = emulate(img, steps, engine="numba", probe=np.arange(img.n_neurons), weight_every=1)
    assert np.array_equal(got.spikes, ref.spikes) and np.array_equal(got.v, ref.v)
    assert np.array_equal(got.weights[0], ref.weights[0])
    state = esn_q.make_state(ctl, 2)
    reads = {k: np.full(2, 1000, np.int64) for k in esn_q.READS}
    draws = []
    for _ in range(14):
        esn_q.decide(ctl, state, reads)
        draws.append(state.rng)
    assert len(set(draws[:11])) == 11 and set(draws[10:]) == {draws[10]}     # no draw from decision 11 on
    net.projections[0].plasticity = dict(net.projections[0].plasticity, epsilon_schedule="linear")
    annealed = compile_network(net, "loihi").image
    assert annealed.controllers[0].fields["anneal"] == 1
    ref_a = loihi_core.run(annealed, steps)
    got_a = emulate(annealed, steps, engine="numpy", probe=np.arange(img.n_neurons), weight_every=1)
    assert np.array_equal(got_a.spikes, ref_a.spikes) and np.array_equal(got_a.weights[0], ref_a.weights[0])
    assert not np.array_equal(got_a.weights[0], got.weights[0])
    lone = {**{k: v for k, v in ctl.fields.items() if k != "greedy_after"}, "anneal": 1}
    with pytest.raises(ImageError, match="field anneal needs the field greedy_after"):
        dataclasses.replace(img, controllers=[dataclasses.replace(ctl, fields=lone)]).verify()
    explore = dataclasses.replace(img, controllers=[dataclasses.replace(ctl, fields={
        k: v for k, v in ctl.fields.items() if k != "greedy_after"})])
    assert not np.array_equal(emulate(explore, steps, engine="numba", weight_every=1).weights[0], ref.weights[0])


def test_controller_section_round_trips_and_is_checked(tmp_path):
    img = compile_network(esn_net(1, 30), "loihi").image
    back = load_image(img.save(tmp_path / "img"))
    (c,) = back.controllers
    assert c.manifest() == img.controllers[0].manifest()
    assert all(np.array_equal(c.arrays[k], v) for k, v in img.controllers[0].arrays.items())
    ctl = img.controllers[0]
    bad = [dataclasses.replace(ctl, kind="snip"), dataclasses.replace(ctl, projection=5),
           dataclasses.replace(ctl, period=0), dataclasses.replace(ctl, fields={**ctl.fields, "leak": 5000}),
           dataclasses.replace(ctl, fields={k: v for k, v in ctl.fields.items() if k != "seed"}),
           dataclasses.replace(ctl, arrays={**ctl.arrays, "w_in": ctl.arrays["w_in"].astype(np.int32)}),
           dataclasses.replace(ctl, arrays={**ctl.arrays, "secr_lut": ctl.arrays["secr_lut"][:3]}),
           dataclasses.replace(ctl, fields={**ctl.fields, "level_init": 5})]
    for b in bad:
        with pytest.raises(ImageError, match=r"^image controller 0: .*recompile\)$"):
            embedded.verify(dataclasses.replace(img, controllers=[b]))
    with pytest.raises(ImageError, match="not an integer"):
        ControllerMap.from_manifest({**ctl.manifest(), "fields": {**ctl.fields, "leak": "0.5"}}, ctl.arrays)


@pytest.mark.lava
@pytest.mark.skipif(not lava_available(), reason="lava-nc not installed")
def test_controller_image_in_lava_equals_oracle():
    """In Lava the plastic connection's model runs the controller (no embedded cores in Lava 0.10's CPU backend):
    spikes, u, v and weights every step equal the core oracle with the controller oracle."""
    from backends.lava.run import run_lava_raw
    steps = 60
    img = compile_network(esn_net(2, steps), "loihi").image
    ref = loihi_core.run(img, steps)
    got = run_lava_raw(img, steps, probe=np.arange(img.n_neurons), weight_every=1)
    assert np.array_equal(got.events(), ref.spikes)
    assert np.array_equal(got.u, ref.u) and np.array_equal(got.v, ref.v)
    assert np.array_equal(got.weights[0], ref.weights[0])


def test_lava_plan_and_script_carry_the_controller(tmp_path):
    """The plan puts the controller on its projection's connection; the exported script builds it from literals
    and npz arrays only."""
    from backends.lava.export import export_script
    from backends.lava.plan import plan_image
    img = compile_network(esn_net(1, 30), "loihi").image
    (c,) = [c for c in plan_image(img).connections if c.controller is not None]
    assert c.proj == img.controllers[0].projection and c.seed_rule
    script = tmp_path / "net_lava.py"
    export_script(img, script)
    text = script.read_text()
    assert "controller=ControllerMap('esn_q', 0, 3, {" in text and "A['c0.ctl.w_res']" in text
    arrays = np.load(tmp_path / "net_lava.npz")
    assert np.array_equal(arrays["c0.ctl.w_res"], img.controllers[0].arrays["w_res"])


def test_image_format_doc_lists_every_field_and_array():
    from pathlib import Path
    doc = (Path(__file__).resolve().parents[2] / "docs" / "image-format.md").read_text()
    sec = doc[doc.index("#### Kind `esn_q`"):doc.index("### TrueNorth cores")]
    for name in (*esn_q.FIELDS, *esn_q.ARRAYS):
        assert f"| `{name}` |" in sec, name
    for name in esn_q.OPTIONAL_FIELDS:
        assert f"| `{name}` (optional) |" in sec, name


def test_sharded_runs_refuse_a_controller_image():
    from tests.helpers.ranks import run_ranks
    img = compile_network(esn_net(1, 30), "loihi").image
    with pytest.raises(ImageError, match=r"^sharded runs do not run embedded-core controllers .*one process$"):
        run_ranks(img, 1, 10)


def test_lava_refuses_a_controller_whose_projection_is_split():
    """A controller shares its readout and exploration stream over the projection's neurons: Lava runs it only on
    one connection into the whole post population, else one ImageError line (not a silently different run)."""
    from backends.lava.plan import _attach_controllers, plan_image
    img = compile_network(esn_net(1, 30), "loihi").image
    plan = plan_image(img)
    (c,) = [c for c in plan.connections if c.controller is not None]
    half = dataclasses.replace(c, controller=None)
    with pytest.raises(ImageError, match=r"^image controller 0 \(esn_q on projection 0\): its projection is split "
                                         r"over 2 Lava connections .*run this image on the emulator\)$"):
        _attach_controllers(img, plan.groups, [*plan.connections, half])

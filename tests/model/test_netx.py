"""lava-dl netx HDF5 import (neuromap/netx_io.py, docs/nir.md *lava-dl netx HDF5*): netx's fixed-point
conventions by hand (du = iDecay - 1, dv = vDecay, vth = vThMant, bias << 6, the weight-bit placement of
``optimize_weight_bits``, delays + 1), a SLAYER-shaped recurrent network on every engine (Lava included)
against the scalar oracle, the committed fixture through the CLI, one-line refusals naming the block, and conv
blocks (the exact weight format, netx's (y, x) geometry against the direct-loop oracle, the committed SLAYER-shaped
conv fixture on every engine and through `validate`)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neuromap.conv_geometry import expand
from neuromap.core_kinds.loihi_lif import encode_weights
from neuromap.errors import NetworkFormatError
from neuromap.netx_io import conv_weight_format, lava_dl_weight_bits, read_netx
from neuromap.toolchain import compile_network
from tests.helpers.cli import run_cli
from tests.helpers.netx import conv, cuba, dense, slayer_like, write_netx
from tests.oracles import conv as conv_oracle, loihi_core

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "netx" / "slayer_dense_rec.net"
CONV_FIXTURE = FIXTURE.with_name("slayer_conv.net")


@pytest.mark.parametrize("w, stored, bits, exp, mode", [
    ([[1]], [[128]], 1, -7, "excitatory"),          # scale 255: 7 bits of headroom, 1 significant bit
    ([[100, -50]], [[200, -100]], 7, -1, "mixed"),  # mixed scale min(1.27, 2.56): k = 0 + 1; one shared zero bit
    ([[-128, 64]], [[-256, 128]], 2, -1, "mixed"),  # 6 shared zero bits, minus the sign
    ([[-3, -5]], [[-96, -160]], 3, -5, "inhibitory"),   # scale 51.2: k = 5; 8 - 5 bits
    ([[-256]], [[-256]], 1, 0, "inhibitory"),          # 8 shared zero bits: netx's 0 bits, stored alike at 1
    ([[254, -256, 2]], [[254, -256, 2]], 8, 0, "mixed"),
])
def test_weight_bits_by_hand(w, stored, bits, exp, mode):
    got = lava_dl_weight_bits(np.array(w))
    assert got[0].tolist() == stored and got[1:4] == (bits, exp, mode) and got[4] == []


def test_weights_needing_nine_bits_or_beyond_the_synapse_are_refused():
    with pytest.raises(NetworkFormatError, match="9 weight bits"):
        lava_dl_weight_bits(np.array([[201, -3]]))          # odd mixed weights above 127
    with pytest.raises(NetworkFormatError, match="do not fit Loihi's 8-bit excitatory synapse"):
        lava_dl_weight_bits(np.array([[300]]))
    assert "clipped to [-256, 254]" in lava_dl_weight_bits(np.array([[300, -2]]))[4][0]


def _one_neuron(tmp_path, w, i_decay=4096, v_decay=0, vth=1000, bias=0, delay=None):
    path = write_netx(tmp_path / "one.net", [dense(np.array([[w]]), cuba(i_decay, v_decay, vth), bias=[bias],
                                                   delay=delay)])
    net = read_netx(path, inputs={"model": "spike_source", "times": [[0.0]]})
    img = compile_network(net, "loihi").image
    return net, loihi_core.run(img, 6)


@pytest.mark.parametrize("w, lava", [(1, 1), (7, 7), (100, 100), (254, 254), (-3, -3), (-256, -128)])
def test_a_spike_adds_exactly_the_integer_weight_to_u(tmp_path, w, lava):
    # iDecay 4096 (du 4095): u is this step's input only; the spike at step 0 is in u at step 1 as w << 6.
    # -256 alone: netx picks inhibitory, 1 bit; Lava's Dense clips inhibitory weights to -255 and truncates the
    # 1-bit format to -128 (lava/utils/weightutils.py): what Lava runs, neuromap runs
    net, run = _one_neuron(tmp_path, w)
    assert net.populations["layer0"].neuron["du"] == 4095
    assert run.u[:, 0].tolist() == [0, lava << 6, 0, 0, 0, 0]


def test_neuron_conventions_by_hand(tmp_path):
    # iDecay 1024 -> du 1023: u keeps (4096 - 1024)/4096; vDecay 2048 halves v; bias 2 << 6 = 128 per step;
    # Lava delay 2 -> the spike of step 0 arrives at step 3
    net, run = _one_neuron(tmp_path, 10, i_decay=1024, v_decay=2048, vth=100000, bias=2, delay=[2])
    n = net.populations["layer0"].neuron
    assert (n["du"], n["dv"], n["vth"], n["bias_exp"]) == (1023, 2048, 100000, 6)
    u = [0, 0, 0, 640, 640 * 3072 // 4096, (640 * 3072 // 4096) * 3072 // 4096]
    assert run.u[:, 0].tolist() == u
    v = []
    x = 0
    for k in range(6):
        x = x * 2048 // 4096 + u[k] + 128
        v.append(x)
    assert run.v[:, 0].tolist() == v


def test_slayer_like_recurrent_network_on_every_engine(engine, tmp_path):
    path = write_netx(tmp_path / "rec.net", slayer_like(seed=1, recurrent=True))
    rng = np.random.default_rng(0)
    times = [sorted(float(t) for t in rng.choice(120, 30, replace=False)) for _ in range(12)]
    img = compile_network(read_netx(path, inputs={"model": "spike_source", "times": times}), "loihi").image
    ref = loihi_core.run(img, 120)
    got = engine.run(img, 120)
    assert np.array_equal(got.spikes, ref.spikes) and np.array_equal(got.u, ref.u) and np.array_equal(got.v, ref.v)
    out = img.population("layer2")
    assert np.count_nonzero((ref.spikes[:, 1] >= out.start) & (ref.spikes[:, 1] < out.start + out.size)) > 10


def test_committed_fixture_compiles_and_runs_from_the_cli(tmp_path, capsys):
    net = read_netx(FIXTURE)
    assert [p.name for p in net.populations.values()] == ["input", "layer1", "layer2"]
    assert [pr.name for pr in net.projections] == ["layer1_w", "layer1_rec_w", "layer2_w"]
    code, out, err = run_cli(["compile", str(FIXTURE), "-o", str(tmp_path / "b"), "--input-rate", "200", "-q"],
                             capsys)
    assert code == 0, err
    code, out, err = run_cli(["run", str(tmp_path / "b"), "--steps", "200", "-q"], capsys)
    assert code == 0 and "layer2" in out, err
    code, out, err = run_cli(["compile", str(FIXTURE), "-o", str(tmp_path / "c"), "--time-unit", "s"], capsys)
    assert code == 2 and "--time-unit applies to .nir networks only" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("block, match", [
    ({"type": "pool", "shape": np.array([2, 2, 2])}, r"layer/1/type: a 'pool' block, which lava-dl's netx itself "),
    ({"type": "concat", "shape": np.array([2, 2, 2])}, r"layer/1/type: a 'concat' block, which lava-dl's netx "),
    ({"type": "dense_comp", "shape": np.array([2])}, r"layer/1/type: a 'dense_comp' block, which neuromap cannot"),
    (conv(np.ones((2, 3, 2, 2)) * 2, (3, 1, 1), cuba()), r"layer/1/type: follows a block of shape \[3\], not"),
    (dense(np.ones((2, 3)) * 4, cuba(0, 128, 80)), r"layer/1/neuron/iDecay: iDecay 0 gives Lava du = -1"),
    (dense(np.ones((2, 3)) * 4, {**cuba(), "type": "SDNN"}), r"neuron type 'SDNN'"),
    (dense(np.ones((2, 3)) * 4, cuba(graded=True)), r"layer/1/neuron/gradedSpike: graded spikes"),
    (dense(np.ones((2, 3)) * 4), r"layer/1/neuron: has no neuron group"),
    (dense(np.ones((2, 3)) * 4, cuba(), bias=[5000, 0]), r"layer/1/bias: bias 5000 is outside"),
])
def test_what_neuromap_cannot_run_is_refused_in_one_line(tmp_path, block, match):
    path = write_netx(tmp_path / "bad.net", [{"type": "input", "shape": np.array([3])}, block])
    with pytest.raises(NetworkFormatError, match=match) as e:
        read_netx(path)
    assert "\n" not in str(e.value) and str(e.value).startswith(str(path))


def test_the_clipped_lone_inhibitory_weight_on_every_engine(engine, tmp_path):
    path = write_netx(tmp_path / "one.net", [dense(np.array([[-256, -128]]), cuba(4096, 0, 1000))])
    img = compile_network(read_netx(path, inputs={"model": "spike_source", "times": [[0.0], [2.0]]}), "loihi").image
    got = engine.run(img, 4)
    assert got.u[:, 0].tolist() == [0, -128 << 6, 0, -128 << 6]


# ------------------------------------------------------------------ conv blocks
@pytest.mark.parametrize("k, stored, exp, mode", [
    ([3, 255, 0], [3, 255, 0], 0, "excitatory"),
    ([-3, -255], [-3, -255], 0, "inhibitory"),
    ([-256, 254, 2], [-256, 254, 2], 0, "mixed"),        # SLAYER's even 8-bit weights: as they are
    ([-3, 127, 5], [-6, 254, 10], -1, "mixed"),          # odd, mixed: doubled, halved again by weight_exp -1
])
def test_conv_weight_format_holds_the_kernel_exactly(k, stored, exp, mode):
    got, bits, e, m = conv_weight_format(np.array(k))
    assert got.tolist() == stored and (bits, e, m) == (8, exp, mode)
    assert (encode_weights(got, m, bits).astype(np.int64) * 2.0 ** e).tolist() == k   # what Lava's synapse holds
    with pytest.raises(NetworkFormatError, match="no exact 8-bit Loihi synapse"):
        conv_weight_format(np.array([-3, 129]))


def _conv_net(tmp_path, blocks, times):
    return read_netx(write_netx(tmp_path / "c.net", blocks), inputs={"model": "spike_source", "times": times})


def test_conv_block_reads_as_netx_hands_it_to_lava(tmp_path):
    # (y, x) order of stride/padding, groups, SLAYER's 5-D kernel, per-channel bias broadcast over (y, x)
    rng = np.random.default_rng(3)
    k = 2 * rng.integers(-20, 20, (4, 1, 3, 2))
    blocks = [{"type": "input", "shape": np.array([2, 7, 6])},
              conv(k, (2, 7, 6), cuba(4096, 0, 1000), bias=[1, -2, 3, 0], stride=(2, 1), padding=(1, 0),
                   dilation=(1, 2), groups=2)]
    net = _conv_net(tmp_path, blocks, [[] for _ in range(84)])
    pr = net.projections[0]
    assert net.populations["layer1"].size == 4 * 4 * 4 and pr.hw == {"weight_exp": 0, "num_weight_bits": 8,
                                                                      "sign_mode": "mixed"}
    assert np.array_equal(net.populations["layer1"].neuron["bias_mant"], np.repeat([1, -2, 3, 0], 16))
    # every synapse: the direct-loop oracle's linear map of the (y, x)-ordered geometry
    x = rng.integers(0, 4, (2, 7, 6))
    want = np.array(conv_oracle.conv2d(x.tolist(), k.tolist(), (2, 1), (1, 0), (1, 2), 2)).reshape(-1)
    got = np.zeros(want.size, np.int64)
    np.add.at(got, pr.post_idx, pr.weight.astype(np.int64) * x.reshape(-1)[pr.pre_idx])
    assert np.array_equal(got, want)
    bad = blocks[:1] + [{**blocks[1], "shape": np.array([4, 4, 5])}]
    with pytest.raises(NetworkFormatError, match=r"layer/1/weight: the convolution gives \[4, 4, 4\], the block's "):
        _conv_net(tmp_path, bad, [[] for _ in range(84)])


def _conv_fixture_times(seed=0, steps=80):
    rng = np.random.default_rng(seed)
    return [sorted(float(t) for t in np.flatnonzero(rng.random(steps) < 0.15)) for _ in range(2 * 12 * 12)]


def test_committed_conv_fixture_on_every_engine(engine, tmp_path):
    # the image keeps both convolutions as kernel + geometry (compact); numpy, numba and Lava (Lava Conv processes
    # where the plan can: backends/lava/plan.lava_convs) run the oracle's integers
    img = compile_network(read_netx(CONV_FIXTURE, inputs={"model": "spike_source", "times": _conv_fixture_times()}),
                          "loihi").image
    assert sorted(img.projections[cm.projection].name for cm in img.convs) == ["layer1_w", "layer2_w"]
    ref = loihi_core.run(expand(img), 80)
    got = engine.run(img, 80)
    assert np.array_equal(got.spikes, ref.spikes) and np.array_equal(got.u, ref.u) and np.array_equal(got.v, ref.v)
    for pop, least in (("layer1", 500), ("layer2", 500), ("layer4", 20)):
        p = img.population(pop)
        assert np.count_nonzero((ref.spikes[:, 1] >= p.start) & (ref.spikes[:, 1] < p.start + p.size)) > least


@pytest.mark.lava
def test_conv_fixture_compiles_and_validates_against_lava_from_the_cli(tmp_path, capsys):
    code, out, err = run_cli(["compile", str(CONV_FIXTURE), "-o", str(tmp_path / "b"), "--input-rate", "150", "-q"],
                             capsys)
    assert code == 0, err
    code, out, err = run_cli(["validate", str(tmp_path / "b"), "--steps", "40"], capsys)
    assert code == 0 and out.startswith("identical: 40 steps"), (out, err)

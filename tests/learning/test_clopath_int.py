"""Integer Clopath engine (neuromap/learning_engines/clopath.py): hand-computed steps, rounding, thresholds,
saturation; its quantizer mapping (neuromap/compiler/quantize_learning.py); float vs integer pairing."""
import os
import sys

import numpy as np
import pytest

from neuromap.compiler.quantize_learning import mant_shift
from neuromap.errors import TargetError
from neuromap.learning_engines import ENGINES as RULE_ENGINES, clopath

T, F = True, False
# v_shift 2: vq = v / 4; keep 1/2 (u-), 3/4 (u+), 1/2 (xbar); thresholds high so nothing learns by default
BASE = dict(engine="clopath", sign=1, delay=1, w_lo=0, w_hi=200, v_shift=2, delay_u=0, theta_plus=10 ** 4,
            theta_minus=10 ** 6, u_init=0, keep_minus=32768, keep_plus=49152, keep_x=32768,
            ltd_m=0, ltd_sh=0, ltp_m=0, ltp_sh=11)


def run(learning, pre, v, w0=100):
    """Steps t = 1.. with pre spikes per step and the post v per step (one synapse, one post)."""
    w = np.array([w0], np.int32)
    st = clopath.make_state(learning, {}, 1, 1, np.zeros(1, np.int64), np.zeros(1, np.int64))
    for t, (a, x) in enumerate(zip(pre, v), start=1):
        clopath.step(learning, st, w, np.array([a]), np.array([F]), t, np.array([x], np.int64))
    return st, w


def test_registered_as_rule_engine():
    assert RULE_ENGINES["clopath"] is clopath


def test_voltage_filters_hand_computed():
    # v = 400 -> vq = 100 -> 25600 in u units. u-: keep 1/2: 12800, then 19200; u+: keep 3/4: 6400, 11200
    st, _ = run(BASE, [F, F], [400, 400])
    assert st.u[0].tolist() == [[19200], [11200]]
    st, _ = run(BASE, [F], [400])
    assert st.u[0].tolist() == [[12800], [6400]]


def test_rounding_is_half_up():
    # vq = v >> 2 rounded half up: 2 -> 0.5 -> 1, -2 -> -0.5 -> 0, 6 -> 1.5 -> 2
    lrn = dict(BASE, keep_minus=0, keep_plus=0)          # u = vq << 8 after one step
    for v, vq in ((2, 1), (-2, 0), (6, 2), (-6, -1)):
        st, _ = run(lrn, [F], [v])
        assert st.u[0, :, 0].tolist() == [vq << 8, vq << 8]
    # filter: u = 1, keep 1/2, vq = 0 -> 0.5 -> 1; u = -1 -> -0.5 -> 0
    assert [clopath._filter(u, 0, 32768) for u in (1, -1, 3)] == [1, 0, 2]


def test_ltd_at_arrival_hand_computed():
    # pre emitted at t1 arrives at t2 (delay 1); u-(t2) = 19200; ltd = (19200 - 5002) * 3 / 4 = 10648.5 -> 10649
    lrn = dict(BASE, theta_minus=5002, ltd_m=3, ltd_sh=2)
    st, w = run(lrn, [T, F], [400, 400])
    assert st.syn.w_fine.tolist() == [(100 << 16) - 10649]
    assert w.tolist() == [100]                            # 99.84 rounds to 100
    assert st.xbar.tolist() == [1 << 20]
    # no arrival -> no LTD, whatever u- is
    st, _ = run(lrn, [F, T], [400, 400])
    assert st.syn.w_fine.tolist() == [100 << 16]
    # u- exactly at theta_minus -> [.]+ = 0
    st, _ = run(dict(lrn, theta_minus=19200), [T, F], [400, 400])
    assert st.syn.w_fine.tolist() == [100 << 16]


def test_ltp_hand_computed():
    # theta_+ = 80 vq: [vq - theta_+]+ = 20; theta_- = 0: [u+]+ = u+ = 6400, 11200, 14800 at t1..t3
    # t2 (arrival): xbar 2**20 (read as 4096), f = 20*11200*50000/2**11 = 5468750, dw = 4096*f/2**20 = 21362.30 -> 21362
    # t3: xbar 2**19 (2048), f = 20*14800*50000/2**11 = 7226562.5 -> 7226563, dw = 2048*f/2**20 = 14114.26 -> 14114
    lrn = dict(BASE, theta_plus=80, theta_minus=0, ltp_m=50000, ltp_sh=11)
    st, w = run(lrn, [T, F, F], [400, 400, 400])
    assert st.xbar.tolist() == [1 << 19]
    assert st.syn.w_fine.tolist() == [(100 << 16) + 21362 + 14114]
    assert w.tolist() == [101]
    # vq exactly at theta_+ -> no LTP
    st, _ = run(dict(lrn, theta_plus=100), [T, F, F], [400, 400, 400])
    assert st.syn.w_fine.tolist() == [100 << 16]
    # the post's v below theta_+ at the spike step (after reset, v = 0): no LTP either
    st, _ = run(lrn, [T, F, F], [400, 0, 0])
    assert st.syn.w_fine.tolist() == [100 << 16]


def test_delay_u_reads_late_traces():
    # delay_u 2: t1, t2 read u_init = 1000; t3 reads u-(t1) = (1000 + 25600) / 2 = 13300.
    # ltd = late- (theta_- = 0, m = 1, sh = 0); arrivals at t2 and t3 (pre at t1, t2)
    lrn = dict(BASE, delay_u=2, u_init=1000, theta_minus=0, ltd_m=1, ltd_sh=0)
    st, _ = run(lrn, [T, T, F], [400, 400, 400])
    assert st.syn.w_fine.tolist() == [(100 << 16) - 1000 - 13300]
    assert st.xbar.tolist() == [(1 << 19) + (1 << 20)]


def test_saturation_and_weight_bounds():
    # xbar saturates at 2**24 - 1 (24 bit): 20 arrivals without decay
    st, _ = run(dict(BASE, keep_x=65536), [T] * 21, [0] * 21)
    assert st.xbar.tolist() == [(1 << 24) - 1]
    # it decays to 0 (no stall at round-to-nearest's fixed point x (1 - keep) < 1/2 that matters):
    # keep 65101 (tau_x = 150 steps) stalls at 75 units = 7e-5 spike, read as 0 by the LTP product
    st, _ = run(dict(BASE, keep_x=65101), [T] + [F] * 3000, [0] * 3001)
    assert 0 < st.xbar[0] <= 75 and clopath.rshift_round(int(st.xbar[0]), 8) == 0
    # huge LTP: clipped at w_hi; huge LTD: clipped at w_lo
    st, w = run(dict(BASE, theta_plus=0, theta_minus=0, ltp_m=60000, ltp_sh=11), [T, F, F, F], [4000] * 4)
    assert w.tolist() == [200] and st.syn.w_fine.tolist() == [200 << 16]
    st, w = run(dict(BASE, theta_minus=0, ltd_m=100, ltd_sh=0, w_lo=30), [T, F], [4000, 4000])
    assert w.tolist() == [30] and st.syn.w_fine.tolist() == [30 << 16]


def test_mant_shift():
    assert mant_shift(1.0, "f", "A") == (32768, 15)
    assert mant_shift(3.0, "f", "A") == (49152, 14)
    assert mant_shift(0.0, "f", "A") == (0, 0)
    # rounds up to 2**16 at sh = 15 -> one shift less
    assert mant_shift((2 ** 16 - 0.25) / 2 ** 15, "f", "A") == (32768, 14)
    with pytest.raises(TargetError, match="A_LTP is too large"):
        mant_shift(2.0 ** 10, "f", "A_LTP", 11)


# ------------------------------------------------------------------ compiler + emulator
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def test_quantizer_units():
    from bench.clopath_accuracy import RULE, pairing_network
    from neuromap.toolchain import compile_network
    net, _ = pairing_network(20.0, 10.0, n_pairs=1)
    img = compile_network(net, "loihi").image
    lrn = next(pm.learning for pm in img.projections if pm.name == "syn")
    q = img.options["quantization"]
    s = next(p["v_scale"] for p in q["populations"] if p["name"] == "post")
    ws = next(p for p in q["projections"] if p["name"] == "syn")["learning"]["weight_scale"]
    assert lrn["engine"] == "clopath" and lrn["v_shift"] == 8           # 24-bit v -> 16-bit vq
    mv = 2.0 ** 8 / s                                                   # mV per vq unit
    assert lrn["theta_plus"] == round((RULE["theta_plus"] - (-70.6)) / mv)
    assert lrn["theta_minus"] == 0 and lrn["u_init"] == 0               # both at v_reset
    assert lrn["keep_plus"] == round(65536 * np.exp(-0.1 / 7.0))
    ltd = lrn["ltd_m"] * 2.0 ** -lrn["ltd_sh"]
    assert ltd == pytest.approx(RULE["A_LTD"] * ws * 2 ** 16 * mv / 2 ** 8, rel=2 ** -15)
    ltp = lrn["ltp_m"] * 2.0 ** -lrn["ltp_sh"]
    assert ltp == pytest.approx(0.1 * RULE["A_LTP"] / 15.0 * ws * 2 ** 16 * mv * mv, rel=2 ** -15)


@pytest.mark.parametrize("lag", [10.0, -10.0])
def test_pairing_float_vs_integer(lag):
    # 50 Hz: both lags potentiate in float; the integer weight change is within 5 % of the float one
    from bench.clopath_accuracy import pairing_network, run_float, run_int
    net, steps = pairing_network(50.0, lag)
    wf, sf, vf = run_float(net, steps)
    ri = run_int(net, steps, vf)
    assert np.array_equal(sf, ri["post_steps"])
    assert wf > 1.1
    assert abs((ri["fine"] - 1.0) - (wf - 1.0)) < 0.05 * (wf - 1.0)
    assert abs(ri["mantissa"] - ri["fine"]) <= 0.5 / ri["w0_mantissa"]
    # on the float run's own v, only the rule's integer arithmetic differs: within 0.5 % of the change
    assert abs(ri["rule_only"] - wf) < 0.005 * (wf - 1.0)


def test_adex_post_is_rejected_with_lif_alternative():
    import neuromap
    from neuromap.toolchain import compile_network
    net = neuromap.Network(name="c", dt=0.1, seed=1)
    net.add_population("pre", 1, "spike_source", times=[[1.0]])
    net.add_population("post", 1, "adex")
    net.connect("pre", "post", "all_to_all", weight=0.5, delay=1, name="syn",
                plasticity={"rule": "clopath"})
    with pytest.raises(TargetError) as e:
        compile_network(net, "loihi")
    msg = str(e.value)
    assert "'adex' cannot run on 'loihi'" in msg and "nearest supported: lif" in msg

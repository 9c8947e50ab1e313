"""Three-factor (R-STDP) test helpers: Lava 0.10's own ``RewardModulatedSTDP`` on a ``LearningDense`` into the
bit-accurate third-factor LIF (``backends.lava.procs.third_factor_lif.ThirdFactorLIF``), read every step
(``lava_run``), and the ``loihi3f`` engine fed the same pre spikes, Lava's post spikes and the same third factor
(``engine_run``)."""
from __future__ import annotations

import numpy as np

from neuromap.learning_engines import loihi3f
from neuromap.learning_engines.loihi_step import truncate_weights

#: what is compared every step (Lava LearningDense Vars; tag_1 is the eligibility trace)
VARS = ("weights", "tag_1", "x1", "y1", "y2", "tx", "ty")


def rule_kw(p: dict) -> dict:
    """``RewardModulatedSTDP`` keyword arguments of a case."""
    return {k: p[k] for k in ("learning_rate", "A_plus", "A_minus", "pre_trace_decay_tau", "post_trace_decay_tau",
                              "pre_trace_kernel_magnitude", "post_trace_kernel_magnitude",
                              "eligibility_trace_decay_tau", "t_epoch", "rng_seed")}


def config(p: dict):
    """(LearningConfig, post_impulse, post_tau) of a case, as the image holds them."""
    cfg = loihi3f.rstdp_config(**{k: p[k] for k in ("learning_rate", "A_plus", "A_minus", "pre_trace_decay_tau",
                                                    "pre_trace_kernel_magnitude", "eligibility_trace_decay_tau",
                                                    "t_epoch", "rng_seed")})
    return cfg, float(p["post_trace_kernel_magnitude"]), float(p["post_trace_decay_tau"])


def connect_traces(post, dense) -> None:
    """The post neuron's back-propagating spikes and y1..y3 into the learning connection."""
    post.s_out_bap.connect(dense.s_in_bap)
    for k in (1, 2, 3):
        getattr(post, f"s_out_y{k}").connect(getattr(dense, f"s_in_y{k}"))


def lava_run(p: dict, w0, pre, reward, lif: dict):
    """Lava, one step at a time. ``pre`` (T, n_pre) bool, ``reward`` (T, n_post) int (into ``a_third_factor_in``),
    ``lif``: ThirdFactorLIF arguments (du, dv, vth, bias_mant). Returns ({var: (T, ...)}, post spikes (T, n_post))."""
    from backends.lava.compat import import_lava
    import_lava()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import LearningDense
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer
    from lava.proc.learning_rules.r_stdp_learning_rule import RewardModulatedSTDP

    from backends.lava.procs.third_factor_lif import ThirdFactorLIF
    T, n_post = reward.shape
    rule = RewardModulatedSTDP(**rule_kw(p))
    src = RingBuffer(data=pre.T.astype(np.int32))
    dense = LearningDense(weights=np.asarray(w0, float), learning_rule=rule)
    post = ThirdFactorLIF(shape=(n_post,), learning_rule=rule, post_impulse=p["post_trace_kernel_magnitude"],
                          post_tau=p["post_trace_decay_tau"], **lif)
    rew = RingBuffer(data=reward.T.astype(np.int32))
    sink = Sink(shape=(n_post,), buffer=T)
    src.s_out.connect(dense.s_in)
    dense.a_out.connect(post.a_in)
    rew.s_out.connect(post.a_third_factor_in)
    post.s_out.connect(sink.a_in)
    connect_traces(post, dense)
    out = {v: [] for v in VARS}
    try:
        for _ in range(T):
            dense.run(condition=RunSteps(num_steps=1), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
            for v in VARS:
                out[v].append(np.asarray(getattr(dense, v).get()).copy())
        spikes = np.asarray(sink.data.get()).T != 0
    finally:
        dense.stop()
    return {v: np.array(a) for v, a in out.items()}, spikes


def engine_run(p: dict, w0, pre, post, reward):
    """The ``loihi3f`` engine (its ``step``, CSR over all pairs) on the same spikes and third factor; per step the
    same variables as :func:`lava_run` (Dense layout)."""
    cfg, imp, tau = config(p)
    T, n_post = reward.shape
    n_pre = pre.shape[1]
    post_idx, pre_idx = np.divmod(np.arange(n_post * n_pre), n_pre)
    st_, po_ = np.nonzero(reward)
    arrays = {"third_factor_step": (st_ + 1).astype(np.int64), "third_factor_post": po_.astype(np.int64),
              "third_factor_value": reward[st_, po_].astype(np.int64)}
    learning = {"engine": "loihi3f", **cfg.to_dict(), "post_impulse": imp, "post_tau": tau}
    sch = loihi3f.Schema.from_dict(learning)
    s = loihi3f.make_state(sch, arrays, n_pre, n_post, pre_idx, post_idx)
    w = truncate_weights(cfg, np.asarray(w0)).reshape(-1).astype(np.int32)
    out = {v: [] for v in VARS}
    for t in range(1, T + 1):
        loihi3f.step(sch, s, w, pre[t - 1], post[t - 1], t)
        ls = s.ls
        inv = np.empty_like(s.order)
        inv[s.order] = np.arange(s.order.size)
        tag = ls.tag_1[inv].reshape(n_post, n_pre)
        out["weights"].append(w.reshape(n_post, n_pre).copy())
        out["tag_1"].append(tag)
        out["x1"].append(ls.x[0].copy())
        out["y1"].append(ls.y[0].copy())
        out["y2"].append(ls.y[1].copy())
        out["tx"].append(ls.tx.copy())
        out["ty"].append(ls.ty.copy())
    return {v: np.array(a) for v, a in out.items()}

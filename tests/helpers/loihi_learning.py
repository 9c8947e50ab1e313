"""Loihi learning-engine test helpers: the Lava 0.10 reference run of one LearningDense/LearningSparse
connection read every step (``lava_run``), the engine's run of the same spike trains (``engine_run``), their
step-by-step comparison on numpy and numba (``compare``), and the float ``stdp`` rule compiled onto the engine
(``stdp_params``, ``compiled``, a small network ``net``)."""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck

from neuromap.learning_engines.loihi import stdp_rule
from neuromap.learning_engines.loihi_step import learning_step, make_state, truncate_csr, truncate_weights
from neuromap.learning_rules import LearningConfig
from neuromap.network import Network

#: hypothesis settings of the Lava comparisons: few derandomized examples (each Lava run takes ~1 s)
SETTINGS = dict(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
LEARNING_VARS = ("weights", "tag_1", "tag_2", "x1", "x2", "y1", "y2", "y3", "tx", "ty")
# LearningSparse keeps tags on their own (empty) CSR structure and Lava hangs in ``tag_1.get()``;
# its rules may not use tags either (see docs/learning.md), so Sparse compares the rest.
SPARSE_VARS = tuple(v for v in LEARNING_VARS if not v.startswith("tag"))
SIGN = {"mixed": "MIXED", "excitatory": "EXCITATORY", "inhibitory": "INHIBITORY"}


def lava_run(rule_kw, w, pre, post, *, sparse=False, stdp=None, sign_mode="mixed", num_weight_bits=8):
    """Run Lava one step at a time and read every learning Var after each step (``Var.get``;
    3 processes: Monitors would add one process per Var). Returns {var: (T, ...) array}."""
    from backends.lava.compat import import_lava
    import_lava()
    from lava.magma.core.learning.learning_rule import Loihi2FLearningRule
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import LearningDense
    from lava.proc.io.source import RingBuffer
    from lava.proc.learning_rules.stdp_learning_rule import STDPLoihi
    from lava.proc.sparse.process import LearningSparse
    from lava.utils.weightutils import SignMode
    from scipy.sparse import csr_matrix

    rule = STDPLoihi(**stdp) if stdp is not None else Loihi2FLearningRule(**rule_kw)
    kw = dict(learning_rule=rule, sign_mode=getattr(SignMode, SIGN[sign_mode]), num_weight_bits=num_weight_bits)
    conn = LearningSparse(weights=csr_matrix(w), **kw) if sparse else LearningDense(weights=w, **kw)
    src, bap = RingBuffer(data=pre.T.astype(int)), RingBuffer(data=post.T.astype(int))
    src.s_out.connect(conn.s_in)
    bap.s_out.connect(conn.s_in_bap)
    names = SPARSE_VARS if sparse else LEARNING_VARS
    steps = {v: [] for v in names}
    try:
        for _ in range(len(pre)):
            conn.run(condition=RunSteps(num_steps=1), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
            for v in names:
                val = getattr(conn, v).get()
                steps[v].append(val.toarray() if hasattr(val, "toarray") else np.asarray(val))
    finally:
        conn.stop()
    return {v: np.array(a) for v, a in steps.items()}


def engine_run(cfg, w, pre, post, sparse=False):
    n_post, n_pre = w.shape
    if sparse:
        m = np.asarray(w)
        indptr = np.concatenate([[0], np.cumsum((m != 0).sum(1))])
        indptr, indices, data = truncate_csr(cfg, indptr, np.nonzero(m)[1], m[m != 0])
        s = make_state(cfg, n_pre, n_post, indptr=indptr, indices=indices)
        wv = data
    else:
        s = make_state(cfg, n_pre, n_post)
        wv = truncate_weights(cfg, w)
    out = []
    for t in range(1, len(pre) + 1):
        learning_step(cfg, s, wv, pre[t - 1], post[t - 1], t)
        if sparse:
            dense_w = np.zeros((n_post, n_pre), np.int64)
            rows = np.repeat(np.arange(n_post), np.diff(s.indptr))
            dense_w[rows, s.indices] = wv
        else:
            dense_w = wv.copy()
        out.append({"weights": dense_w, "tag_1": s.tag_1.copy(), "tag_2": s.tag_2.copy(),
                    "x1": s.x[0].copy(), "x2": s.x[1].copy(), "y1": s.y[0].copy(), "y2": s.y[1].copy(),
                    "y3": s.y[2].copy(), "tx": s.tx.copy(), "ty": s.ty.copy()})
    return out


def compare(cfg, w, pre, post, lava_kw, sparse=False):
    steps = lava_run(lava_kw.get("rule"), w, pre, post, sparse=sparse, stdp=lava_kw.get("stdp"),
                     sign_mode=cfg.sign_mode, num_weight_bits=cfg.num_weight_bits)
    mine = engine_run(cfg, w, pre, post, sparse)
    for t in range(len(pre)):
        for v, arr in steps.items():
            assert np.array_equal(mine[t][v], arr[t]), ("step", t + 1, v, mine[t][v], arr[t])
    return steps



def stdp_params(bound, A_plus=0.05, A_minus=0.06, tau_plus=12.0, tau_minus=18.0, w_min=0.0, w_max=0.3):
    return {"rule": "stdp", "tau_plus": tau_plus, "tau_minus": tau_minus, "A_plus": A_plus, "A_minus": A_minus,
            "w_min": w_min, "w_max": w_max, "bound": bound}


def compiled(params, ws, sign, dt=1.0, delay=1):
    """(LearningConfig, learning dict, rel. errors) of the mapping for weight scale ``ws`` (stored units per
    float weight unit) and ``sign`` (+1 excitatory, -1 inhibitory)."""
    w_hi = 255 if params["bound"] == "additive" else min(round(params["w_max"] * ws), 255)
    w_lo = min(max(round(params["w_min"] * ws), 0), 255)
    learning, errors = stdp_rule(params, delay, ws, sign, w_lo, w_hi, 255, dt, "projections[0] (p)")
    return LearningConfig.from_dict({k: v for k, v in learning.items() if k != "engine"}), learning, errors


def net(bound, seed=5):
    n = Network(name="pair", dt=1.0, seed=seed)
    n.add_population("inp", 40, "poisson", rate=15.0)
    n.add_population("out", 8, "lif", tau_m=20.0, tau_syn=5.0, v_th=1.0, v_reset=0.0, refractory=2)
    n.connect("inp", "out", "all_to_all", weight={"uniform": [0.05, 0.2]}, delay=1, target="inh",
              plasticity=stdp_params(bound, A_plus=0.01, A_minus=0.012, tau_plus=20.0, tau_minus=20.0))
    n.add_population("drive", 20, "poisson", rate=60.0)
    n.connect("drive", "out", "all_to_all", weight=0.3, delay=1)
    return n


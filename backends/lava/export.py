"""Write a standalone, readable Lava 0.10.0 script (plus its ``.npz`` of arrays) that rebuilds an image.

``export_script(image, "net_lava.py")`` writes ``net_lava.py`` and ``net_lava.npz``. The script
creates one named Lava process per line (LIF per neuron group, RingBuffer per input group,
Dense/Sparse/DelayDense/DelaySparse per connection, spike sinks and u/v Monitors), replays the
image's inputs (explicit times; Poisson inputs as the image's stream kind: per-input counter-based streams, or
``numpy.random.default_rng(seed)`` for sequential images), runs
``Loihi2SimCfg(select_tag="fixed_pt")`` and saves spike events in the image's numbering. It needs
lava-nc, numpy and scipy; on Python 3.11 it uses neuromap's import shim when neuromap is installed.
Writing needs no Lava. The same :class:`~backends.lava.plan.LavaPlan` drives
:mod:`backends.lava.build`, so the script and ``neuromap validate`` run the same processes.
"""
from __future__ import annotations

import ast
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from backends.lava.build import tie_groups
from backends.lava.plan import LavaPlan, learning_rule_kwargs, message_bits, plan_image, plastic_positions, v_groups
from neuromap.errors import NeuromapError
from neuromap.image import Image

_HEADER = '''#!/usr/bin/env python3
"""Lava 0.10.0 network exported by neuromap from image {network} (source hash {hash}).

{n_neurons} LIF neurons in {n_groups} LIF processes, {n_inputs} inputs, {n_syn} synapse entries in
{n_conn} connection processes. Arrays are in {npz_doc} next to this script.
Runs on Loihi2SimCfg(select_tag="fixed_pt"); needs lava-nc 0.10.0, numpy and scipy.

    python {script} [--steps N] [--out result.npz]

The result holds ``spikes``: (k, 2) rows (step, source id) sorted by step then source, with the
image's numbering (neurons 0..{last_neuron}, inputs {n_neurons}..), and the u/v traces of the
probed neurons (``probe_u``, ``u``, ``probe_v``, ``v``); for plastic projections ``weights/<projection>``,
the learned weights after the last step in the image's synapse order. Step t here is Lava time step t + 1.
"""
import argparse
import heapq
import math
import os

import numpy as np
from scipy.sparse import csr_matrix

try:  # Python 3.11: lava-nc 0.10.0 needs neuromap's import shim (lava's own Pythons do not)
    from backends.lava.compat import import_lava
    import_lava()
except ImportError:
    pass
from lava.magma.core.learning.learning_rule import Loihi2FLearningRule
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc.dense.process import DelayDense, Dense, LearningDense
from lava.proc.io.sink import RingBuffer as SpikeSink
from lava.proc.io.source import RingBuffer as SpikeSource
from lava.proc.lif.process import LIF
from lava.proc.monitor.process import Monitor
from lava.proc.sparse.process import DelaySparse, LearningSparse, Sparse
from lava.utils.weightutils import SignMode

A = np.load(os.path.join(os.path.dirname(os.path.abspath(__file__)), {npz}))
N_NEURONS, N_INPUTS, SEED = {n_neurons}, {n_inputs}, {seed}
POISSON_STREAM = {stream}           # the image's Poisson stream kind (neuromap docs/image-format.md, Inputs)
M64 = (1 << 64) - 1


def mix(z):
    """SplitMix64's finalizer, modulo 2**64."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def input_spikes(steps):
    """(steps, inputs) int32 events per step: explicit spike times (0/1), then Poisson inputs (neuromap
    docs/image-format.md, Inputs): p <= 1 expected events per step: geometric gaps, one draw per spike; p > 1: a
    Poisson(p) count every step by inversion, one draw per step; an input's draw 0 gives its first spike (or
    its count of step 0), then the draw at each event step t its next gap (or the count of step t + 1). The draw
    at step t of Poisson input j (t = -1: the first), k = t + 1: per_input_v2: (mix(key_j ^ mix((k + 1) * DELTA))
    >> 11) * 2**-53, key_j = mix(mix(SEED + GAMMA) + (j + 1) * GAMMA); sequential: default_rng(SEED), first one
    draw per input in order, then step by step, in input order, each input's draw of that step."""
    r = np.zeros((steps, N_INPUTS), np.int32)
    t, i = A["input.spike_step"], A["input.spike_index"]
    r[t[t < steps], i[t < steps]] = 1
    p = A["input.poisson_p"]
    ids = np.flatnonzero(~np.isnan(p))
    never = 1 << 62
    ps = p[ids].tolist()
    lq = [-math.inf if q >= 1.0 else math.log1p(-q) for q in ps]
    cnt = [0] * len(ps)
    if POISSON_STREAM == "per_input_v2":
        gamma, delta = 0x9E3779B97F4A7C15, 0xD1B54A32D192ED03
        base = mix((SEED + gamma) & M64)
        keys = [mix((base + (j + 1) * gamma) & M64) for j in range(len(ps))]

        def draw(j, t):
            return (mix(keys[j] ^ mix(((t + 2) * delta) & M64)) >> 11) * 2.0 ** -53
    else:
        rng = np.random.default_rng(SEED)

        def draw(j, t):
            return rng.random()

    def gap(j, t):
        u = draw(j, t)
        x = math.log1p(-u) / lq[j] if lq[j] != 0.0 else math.inf
        return never if x >= never else 1 + math.floor(x)

    def count(j, t):
        u, k = draw(j, t), 0
        pmf = math.exp(-ps[j])
        cdf = pmf
        while u >= cdf and pmf > 0.0:
            k += 1
            pmf = pmf * ps[j] / k
            cdf = cdf + pmf
        return k

    def first(j):
        if ps[j] > 1.0:
            cnt[j] = count(j, -1)
            return 0
        return gap(j, -1) - 1

    heap = [(first(j), j) for j in range(ids.size)]
    heapq.heapify(heap)
    while heap and heap[0][0] < steps:
        s, j = heapq.heappop(heap)
        if ps[j] > 1.0:                     # a count every step (0 included)
            r[s, ids[j]] += cnt[j]
            cnt[j] = count(j, s)
            heapq.heappush(heap, (s + 1, j))
        else:
            r[s, ids[j]] += 1
            heapq.heappush(heap, (s + gap(j, s), j))
    return r


def matrix(key, shape, values):
    """Dense (post, pre) int matrix of connection ``key`` (``values``: weights or delays)."""
    m = np.zeros(shape, np.int64 if values == "delays" else np.int32)
    m[A[key + ".rows"], A[key + ".cols"]] = A[key + "." + values]
    return m


def sparse(key, shape, values):
    """Sparse (post, pre) matrix of connection ``key`` (Lava wants int64 delays)."""
    dtype = np.int64 if values == "delays" else np.int32
    return csr_matrix((A[key + "." + values].astype(dtype), (A[key + ".rows"], A[key + ".cols"])), shape=shape)


def build(steps):
    """Create and connect every process; returns (process to run, LIFs, spike sinks, monitors, input
    spikes, plastic connections {{key: (process, projection name, its number of synapses)}})."""
    inputs = input_spikes(steps)
'''

_FOOTER = '''

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default={steps})
    ap.add_argument("--out", default="result.npz", help="where to save spikes and traces (.npz)")
    args = ap.parse_args()
    root, lifs, sinks, monitors, inputs, plastic = build(args.steps)
    root.run(condition=RunSteps(num_steps=args.steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
    weights = {{}}
    for key, (conn, proj, size) in plastic.items():   # learned weights -> the image's synapse order
        w = conn.weights.get()
        w = w.toarray() if hasattr(w, "toarray") else np.asarray(w)
        w = w[A[key + ".rows"], A[key + ".cols"]] if w.ndim == 2 else w   # 1-D: NeuromapPlasticSparse
        weights.setdefault(proj, np.zeros(size, np.int16))[A[key + ".pos"]] = w
    raster = np.zeros((args.steps, N_NEURONS + N_INPUTS), np.int64)   # events per step (inputs: a count)
    raster[:, N_NEURONS:] = inputs
    traces = {{}}
    for name, lif in lifs.items():
        ids = A[name + ".neurons"]
        raster[:, ids] = np.asarray(sinks[name].data.get()).T != 0
    for (name, var), mon in monitors.items():
        data = np.asarray(mon.get_data()[lifs[name].name][var]).reshape(args.steps, -1)
        ids, tr = traces.setdefault(var, ([], []))
        ids.append(A[name + ".neurons"])
        tr.append(np.rint(data).astype(np.int64))
    root.stop()
    t, s = np.nonzero(raster)
    c = raster[t, s]
    t, s = np.repeat(t, c), np.repeat(s, c)                          # an input once per event
    out = {{"spikes": np.stack([t, s], axis=1).astype(np.int64)}}
    out.update({{"weights/" + p: w for p, w in weights.items()}})
    for var in ("u", "v"):
        ids, tr = traces.get(var, ([], []))
        ids = np.concatenate(ids) if ids else np.zeros(0, np.int64)
        tr = np.concatenate(tr, axis=1) if tr else np.zeros((args.steps, 0), np.int64)
        order = np.argsort(ids)
        out["probe_" + var], out[var] = ids[order], tr[:, order]
    np.savez(args.out, **out)
    n = int(np.count_nonzero(s < N_NEURONS))
    print(f"{{args.steps}} steps, {{n}} neuron spikes, {{t.size - n}} input spikes -> {{args.out}}")


if __name__ == "__main__":
    main()
'''


# ------------------------------------------------------------------ input text -> Python source
# Every piece of input text (names from the network file, manifest strings, the output path) reaches the
# generated script only through these three encoders; nothing is pasted verbatim.

def literal(v: Any) -> str:
    """``v`` as a Python literal expression (str, int, float, bool, None, and lists/tuples/dicts of them).

    The text is built by ``repr`` of the plain values and checked with :func:`ast.literal_eval` to
    evaluate back to ``v``; anything else (an object, NaN, infinities) raises :class:`NeuromapError`, so
    the generated code can never contain an expression that input text chose."""
    def enc(x: Any) -> str:
        if x is None or isinstance(x, bool):
            return repr(x)
        if isinstance(x, (int, np.integer)):
            return repr(int(x))
        if isinstance(x, (float, np.floating)):
            if not math.isfinite(float(x)):
                raise NeuromapError(f"cannot write {float(x)!r} into the Lava script (recompile the image)")
            return repr(float(x))
        if isinstance(x, str):
            return repr(str(x))
        if isinstance(x, (list, tuple)):
            body = ", ".join(enc(e) for e in x)
            return f"[{body}]" if isinstance(x, list) else f"({body}{',' if len(x) == 1 else ''})"
        if isinstance(x, dict):
            return "{" + ", ".join(f"{enc(k)}: {enc(e)}" for k, e in x.items()) + "}"
        raise NeuromapError(f"cannot write a {type(x).__name__} into the Lava script (recompile the image)")

    text = enc(v)
    if ast.literal_eval(text) != _plain(v):
        raise NeuromapError("a value of the image does not survive as a Python literal (recompile the image)")
    return text


def _plain(v: Any) -> Any:
    if isinstance(v, (np.integer, np.floating)):
        return v.item()
    if isinstance(v, (list, tuple)):
        return type(v)(_plain(e) for e in v)
    if isinstance(v, dict):
        return {k: _plain(e) for k, e in v.items()}
    return v


def comment(v: Any) -> str:
    """Text for a ``#`` comment: one line of printable ASCII (``ascii()`` escapes newlines and the rest)."""
    s = v if isinstance(v, str) else str(v)
    return ascii(s)[1:-1]


def doc_text(v: str) -> str:
    """Text for the script's (non-raw) docstring: printable ASCII with every backslash doubled and every
    double quote written ``\\x22``, so no input can end the docstring or start an escape sequence."""
    return ascii(str(v))[1:-1].replace('"', "\\x22")


def _identifier(name: str) -> str:
    if not (isinstance(name, str) and name.isidentifier() and name.isascii()):
        raise NeuromapError(f"{name!r} is not a keyword argument name (recompile the image)")
    return name


def _sign_mode(mode: str) -> str:
    if mode not in ("mixed", "excitatory", "inhibitory"):
        raise NeuromapError(f"sign mode {mode!r} is not mixed, excitatory or inhibitory (recompile the image)")
    return mode.upper()


def _arrays(plan: LavaPlan, syn_proj: np.ndarray) -> dict[str, np.ndarray]:
    out = {"input.spike_step": plan.spike_step, "input.spike_index": plan.spike_index.astype(np.int32),
           "input.poisson_p": plan.poisson_p}
    for k, g in enumerate(plan.groups):
        out.update({f"g{k}.neurons": g.neurons.astype(np.int64), f"g{k}.bias_mant": g.bias_mant.astype(np.int32),
                    f"g{k}.bias_exp": g.bias_exp.astype(np.int32), f"g{k}.u": g.u_init, f"g{k}.v": g.v_init})
        if g.refractory is not None:
            out[f"g{k}.refractory"] = g.refractory.astype(np.int32)
    for k, g in enumerate(plan.inputs):
        out[f"i{k}.inputs"] = g.inputs.astype(np.int64)
    idx = np.int32 if max((max(c.shape) for c in plan.connections), default=0) < 2 ** 31 else np.int64
    for k, c in enumerate(plan.connections):
        out.update({f"c{k}.rows": c.rows.astype(idx), f"c{k}.cols": c.cols.astype(idx),
                    f"c{k}.weights": c.weights.astype(np.int32), f"c{k}.delays": c.delays.astype(np.int32)})
        if c.learning:
            out[f"c{k}.pos"] = plastic_positions(syn_proj, c)
        for name, a in c.learning_arrays.items():       # seed-rule tables (image synapse / neuron order)
            out[f"c{k}.la.{name}"] = np.asarray(a)
        if c.controller is not None:                    # embedded-core controller (neuromap.embedded)
            for name, a in c.controller.arrays.items():
                out[f"c{k}.ctl.{name}"] = np.asarray(a)
    return out


def _body(plan: LavaPlan, image: Image, syn_proj: np.ndarray) -> list[str]:
    L = ["    # --- neurons: one LIF per neuron group (Lava keeps one du/dv/vth per LIF)", "    plastic = {}"]
    if any(g.refractory is not None for g in plan.groups):
        L.insert(0, "    # refractory neurons: neuromap's fixed_pt model (Lava's LIFRefractory is float only)\n"
                    "    from backends.lava.procs.lif_refractory import LIFRefractoryFixed")
    vpost = v_groups(plan)
    if any(c.seed_rule for c in plan.connections):
        L.insert(0, "    # neuromap's integer rule engines as a Lava process (fixed_pt), LIFs that also send v\n"
                    "    from backends.lava.procs.plastic_connection import (LIFRefractoryWithV, LIFWithV,\n"
                    "                                                        NeuromapPlasticSparse)")
    if any(c.controller is not None for c in plan.connections):
        L.insert(0, "    # embedded-core controllers, run by the plastic connection between steps (neuromap.embedded)\n"
                    "    from neuromap.embedded import ControllerMap")
    somas = {g.join_to for g in plan.groups if g.join_to is not None}
    if somas:
        L.insert(0, "    # dendrite compartments joined into their soma (join ADD): neuromap's fixed_pt LIFs\n"
                    "    from backends.lava.procs.compartments import DendriteLIF, SomaLIF")
    for k, g in enumerate(plan.groups):
        first, last = int(g.neurons.min()), int(g.neurons.max())
        L.append(f"    # {comment(g.name)}: population {comment(g.population)}, {g.size} neurons "
                 f"(image ids {first}..{last})")
        cls, refr = (("LIF", "") if g.refractory is None
                     else ("LIFRefractoryFixed", f", refractory=A['g{k}.refractory']"))
        if k in vpost:
            cls = "LIFWithV" if g.refractory is None else "LIFRefractoryWithV"
        if g.join_to is not None or k in somas:     # both send v on v_out; the dendrite never spikes (no refractory)
            cls, refr = ("DendriteLIF" if g.join_to is not None else "SomaLIF"), ""
        L.append(f"    g{k} = {cls}(shape=({g.size},), du={g.du}, dv={g.dv}, vth={g.vth}, "
                 f"bias_mant=A['g{k}.bias_mant'], bias_exp=A['g{k}.bias_exp'],\n"
                 f"              u=A['g{k}.u'], v=A['g{k}.v'], name={literal(g.name)}{refr})")
    for k, g in enumerate(plan.groups):
        if g.join_to is not None:
            L.append(f"    g{k}.v_out.connect(g{g.join_to}.v_join_in)  # dendrite i's v of the step into soma i's v")
    used = sorted({c.pre for c in plan.connections if c.pre_kind == "input"})
    if used:
        L.append("    # --- inputs: one spike source per input group, replaying input_spikes()")
    for k in used:
        g = plan.inputs[k]
        L.append(f"    i{k} = SpikeSource(data=np.ascontiguousarray(inputs[:, A['i{k}.inputs']].T))  "
                 f"# {comment(g.name)}: {g.size} inputs")
    if plan.connections:
        L.append("    # --- synapses: one connection per (projection, source group, target group); "
                 "delay = image delay - 1")
    for k, c in enumerate(plan.connections):
        pre = f"g{c.pre}" if c.pre_kind == "neuron" else f"i{c.pre}"
        shape = f"({c.shape[0]}, {c.shape[1]})"
        bits = message_bits(plan, c)   # inputs of several events per step: graded spikes, payload x weight
        kw = (f"weight_exp={c.weight_exp}, num_weight_bits={c.num_weight_bits}, "
              f"sign_mode=SignMode.{_sign_mode(c.sign_mode)}, name={literal(c.name)}"
              + (f", num_message_bits={int(bits)}" if bits else ""))
        get = "matrix" if c.dense else "sparse"
        cls = ("Dense" if c.dense else "Sparse")
        if c.seed_rule:
            arrays = "{" + ", ".join(f"{literal(n)}: A[{literal(f'c{k}.la.{n}')}]" for n in c.learning_arrays) + "}"
            ctl = ""
            if c.controller is not None:                # kind, ints and arrays only: literals and npz keys
                cm = c.controller
                carr = "{" + ", ".join(f"{literal(n)}: A[{literal(f'c{k}.ctl.{n}')}]" for n in cm.arrays) + "}"
                fields = literal({str(n): int(v) for n, v in cm.fields.items()})
                ctl = (f",\n        controller=ControllerMap({literal(cm.kind)}, {int(cm.projection)}, "
                       f"{int(cm.period)}, {fields}, {carr})")
            L.append(f"    c{k} = NeuromapPlasticSparse(shape={shape}, rows=A['c{k}.rows'], cols=A['c{k}.cols'], "
                     f"weights=A['c{k}.weights'],\n        delays=A['c{k}.delays'], weight_exp={c.weight_exp}, "
                     f"name={literal(c.name)}, learning_arrays={arrays},\n        learning={literal(c.learning)}{ctl})"
                     f"  # {c.rows.size} plastic synapses, engine {comment(c.learning['engine'])}")
            L.append(f"    {pre}.s_out.connect(c{k}.s_in)\n    c{k}.a_out.connect(g{c.post}.a_in)")
            L.append(f"    g{c.post}.s_out.connect(c{k}.s_in_bap)  # post spikes of the step")
            if c.reads_v:
                L.append(f"    g{c.post}.v_out.connect(c{k}.v_in)  # post membrane v of the step (read by the rule)")
            if c.reads_soma_v:
                soma = plan.groups[c.post].join_to
                if soma is None:
                    raise NeuromapError(f"connection {c.name!r}: its rule reads the somas of dendrite compartments, "
                                        f"but group {plan.groups[c.post].name!r} holds no dendrites (recompile)")
                L.append(f"    g{soma}.v_out.connect(c{k}.v_soma_in)  # the dendrite posts' somas' v (the rule)")
            L.append(f"    plastic['c{k}'] = (c{k}, {literal(image.projections[c.proj].name)}, {c.rows.size})")
            continue
        if c.learning:
            rule = ", ".join(f"{_identifier(a)}={literal(v)}"
                             for a, v in learning_rule_kwargs(c.learning, c.name).items())
            L.append(f"    rule{k} = Loihi2FLearningRule({rule})  # {comment(c.learning.get('rules', {}))}")
            call = f"Learning{cls}(weights={get}('c{k}', {shape}, 'weights'), learning_rule=rule{k}, {kw})"
            L.append(f"    c{k} = {call}  # {c.rows.size} plastic synapses")
            L.append(f"    {pre}.s_out.connect(c{k}.s_in)\n    c{k}.a_out.connect(g{c.post}.a_in)")
            L.append(f"    g{c.post}.s_out.connect(c{k}.s_in_bap)  # post spikes = back-propagating action potentials")
            L.append(f"    plastic['c{k}'] = (c{k}, {literal(image.projections[c.proj].name)}, "
                     f"{int(np.count_nonzero(syn_proj == c.proj))})")
            continue
        if c.max_delay:
            call = (f"Delay{cls}(weights={get}('c{k}', {shape}, 'weights'), delays={get}('c{k}', {shape}, 'delays'), "
                    f"max_delay={c.max_delay},\n        {kw})")
        else:
            call = f"{cls}(weights={get}('c{k}', {shape}, 'weights'), {kw})"
        L.append(f"    c{k} = {call}  # {c.rows.size} synapses")
        L.append(f"    {pre}.s_out.connect(c{k}.s_in)\n    c{k}.a_out.connect(g{c.post}.a_in)")
    ties = tie_groups(plan)
    if ties:
        L.append("    # --- empty Sparse (adds 0) joining disconnected parts, so one run covers every process")
    for g in ties:
        L.append(f"    tie{g} = Sparse(weights=csr_matrix(({plan.groups[0].size}, {plan.groups[g].size}), "
                 "dtype=np.int32))")
        L.append(f"    g{g}.s_out.connect(tie{g}.s_in)\n    tie{g}.a_out.connect(g0.a_in)")
    L.append("    # --- recorders: spikes of every LIF, u/v of the probed groups")
    L.append("    lifs = {" + ", ".join(f"'g{k}': g{k}" for k in range(len(plan.groups))) + "}")
    L.append("    sinks = {}\n    for name, lif in lifs.items():\n"
             "        sinks[name] = SpikeSink(shape=lif.s_out.shape, buffer=steps)\n"
             "        lif.s_out.connect(sinks[name].a_in)")
    L.append("    monitors = {}")
    for var, ids in (("u", plan.probe_u), ("v", plan.probe_v)):
        probed = [k for k, g in enumerate(plan.groups) if np.isin(g.neurons, ids).any()]
        if probed:
            L.append(f"    for name in {['g%d' % k for k in probed]!r}:\n"
                     f"        monitors[name, {var!r}] = Monitor()\n"
                     f"        monitors[name, {var!r}].probe(lifs[name].{var}, steps)")
    L.append("    return g0, lifs, sinks, monitors, inputs, plastic")
    return L


def export_script(image: Image, path: str | os.PathLike, steps: int = 100) -> tuple[Path, Path]:
    """Write the script to ``path`` and its arrays to ``path`` with suffix ``.npz``; returns both paths.

    ``steps`` is the script's default ``--steps``. Files are written atomically (temp + rename)."""
    path = Path(path)
    if path.suffix != ".py":
        raise NeuromapError(f"{path}: the Lava script must end in .py (e.g. -o net_lava.py)")
    plan = plan_image(image, lava_conv=False)   # the script writes Sparse/Dense only: convolutions expanded
    if not plan.groups:
        raise NeuromapError(f"{path}: the image has no neurons, so there is no Lava network to write")
    third = [c.name for c in plan.connections if c.third_factor]
    if third:
        raise NeuromapError(f"{path}: connection {third[0]!r} uses three-factor learning (engine loihi3f), which "
                            "export-lava does not write; run it in Lava with `neuromap run -b lava` or `validate`")
    npz = path.with_suffix(".npz")
    text = _HEADER.format(network=doc_text(image.network_name), hash=doc_text(image.source_hash[:12] or "-"),
                          n_neurons=plan.n_neurons, n_groups=len(plan.groups), n_inputs=plan.n_inputs,
                          n_syn=sum(c.rows.size for c in plan.connections), n_conn=len(plan.connections),
                          npz=literal(npz.name), npz_doc=doc_text(npz.name), script=doc_text(path.name),
                          last_neuron=plan.n_neurons - 1, seed=int(plan.seed), stream=literal(plan.poisson_stream))
    syn_proj = image.synapse_projections()
    text += "\n".join(_body(plan, image, syn_proj)) + "\n" + _FOOTER.format(steps=int(steps))
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic(npz, lambda f: np.savez(f, **_arrays(plan, syn_proj)))
    _atomic(path, lambda f: f.write(text.encode()))
    return path, npz


def _atomic(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

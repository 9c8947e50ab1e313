"""An image cut into the pieces Lava 0.10.0 processes hold (pure numpy; imports no Lava).

A :class:`LavaPlan` is what both :mod:`backends.lava.build` (live processes) and
:mod:`backends.lava.export` (a standalone script) are made from:

* **neuron groups** -> one ``LIF`` each. Lava's fixed-point LIF keeps one
  ``du``/``dv``/``vth`` per process (``bias_mant``, ``bias_exp``, ``u``, ``v``
  per neuron), so a neuron population becomes one group per distinct
  ``(du, dv, vth)`` (a compiled population has one). Neurons no population
  claims form groups named ``_neurons``.
* **input groups** -> one spike source each (input populations; ``_inputs``).
* **connections** -> one ``Dense``/``Sparse`` (``DelayDense``/``DelaySparse``
  when some delay exceeds 1) per (projection, source group, target group):
  every routing-table entry of a source is expanded into the synapses of its
  axon, so shared axons and extra axonal delays come out right. A matrix holds
  one weight per (post, pre) pair: synapses of one projection between the same
  pair with the same delay are merged when the sum is a storable weight,
  otherwise they go to further connections ("layers").

Exactness: a Lava connection shifts its per-step sum onto each (post, delay)
by ``weight_exp``, the image shifts the projection's sum. For ``weight_exp >= 0``
a left shift distributes over any split; for ``weight_exp < 0`` (floor) a
projection split into several connections that reach a common post neuron is
refused with :class:`~neuromap.errors.ImageError`.

Delays: image delay ``d`` (1..64, 1 = next step, synaptic + axonal) is Lava delay
``d - 1``.

Learning (image engine ``loihi``): a plastic connection becomes ``LearningDense`` when it holds every
(post, pre) pair, else ``LearningSparse``; what those cannot run exactly (delays, zero weights or
non-mixed sign modes in LearningSparse, ...) is refused (:func:`_check_plastic_connection`). Other engines
(neuromap's integer seed rules) become one ``NeuromapPlasticSparse`` per projection
(``backends/lava/procs/plastic_connection.py``), entries in image synapse order.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuromap import learning_engines
from neuromap.conv_geometry import expand as expand_convs
from neuromap.errors import ImageError
from neuromap.image import LOIHI_ARITHMETIC, Image, encode_weights
from neuromap.learning_engines import loihi, loihi3f
from neuromap.poisson_stream import SEQUENTIAL, PoissonStream

#: the core kind Lava's LIF/Dense run; other kinds need their own process models
LIF_KIND = "loihi_lif"
#: a projection marked ``storage: dense`` becomes a Lava Dense only up to this many matrix entries
DENSE_MAX_ENTRIES = 1 << 22


@dataclass
class NeuronGroup:
    """Neurons run by one Lava ``LIF``: global ids (process order) and their fixed-point parameters."""

    name: str
    population: str
    neurons: np.ndarray       # int64 global neuron ids
    du: int
    dv: int
    vth: int
    bias_mant: np.ndarray     # int16, 13 bit signed
    bias_exp: np.ndarray      # int8, 0..7
    u_init: np.ndarray        # int32
    v_init: np.ndarray        # int32
    #: int32 refractory steps per neuron (``neurons.refractory``), None when all 0: then the group is a
    #: plain Lava ``LIF``, otherwise ``backends.lava.procs.lif_refractory.LIFRefractoryFixed``
    refractory: np.ndarray | None = None
    #: dendrite compartments (``neurons.join_parent``): the index of the group whose neuron i this group's neuron i
    #: joins (``backends.lava.procs.compartments.DendriteLIF`` -> ``SomaLIF``); None: not dendrites
    join_to: int | None = None

    @property
    def size(self) -> int:
        return int(self.neurons.size)


@dataclass
class InputGroup:
    """Inputs replayed by one spike source process: global input ids (process order)."""

    name: str
    population: str
    inputs: np.ndarray        # int64 global input ids

    @property
    def size(self) -> int:
        return int(self.inputs.size)


@dataclass
class Connection:
    """One Lava connection process: (post, pre) entries of a projection between two groups.

    ``pre_kind`` is ``neuron`` or ``input``; ``pre``/``post`` index ``LavaPlan.groups``
    (``LavaPlan.inputs`` for input sources). ``rows``/``cols`` are group-local post/pre
    indices (sorted by row), ``weights`` stored weights (int32), ``delays`` Lava delays
    (image delay - 1, 0..63). ``synapses``: the image synapse of each entry (-1 for a
    merged entry), for learning arrays.
    """

    name: str
    proj: int
    pre_kind: str
    pre: int
    post: int
    shape: tuple[int, int]    # (n_post, n_pre)
    rows: np.ndarray
    cols: np.ndarray
    weights: np.ndarray
    delays: np.ndarray
    dense: bool
    weight_exp: int
    num_weight_bits: int
    sign_mode: str
    synapses: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    learning: dict | None = None      # the projection's image learning dict or None
    #: seed-rule engines (not ``loihi``): the projection's ``learning_arrays``; entries are in image synapse order
    learning_arrays: dict = field(default_factory=dict)
    #: the projection's embedded-core controller (``neuromap.embedded.ControllerMap``), run by the seed-rule
    #: connection's model between steps (Lava 0.10's CPU backend has no embedded cores); None without one
    controller: Any = None

    @property
    def seed_rule(self) -> bool:
        """Plastic with a neuromap rule engine (``backends.lava.procs.plastic_connection``), not Lava's own."""
        return bool(self.learning) and self.learning.get("engine") not in LAVA_ENGINES

    @property
    def third_factor(self) -> bool:
        """Lava's three-factor learning (engine ``loihi3f``): the post LIF is a ``ThirdFactorLIF``."""
        return bool(self.learning) and self.learning.get("engine") == loihi3f.ENGINE

    @property
    def reads_v(self) -> bool:
        """A seed-rule engine that reads the post neurons' v (its post LIF must send v)."""
        return self.seed_rule and learning_engines.engine(self.learning, "plastic connection").READS_V

    @property
    def reads_soma_v(self) -> bool:
        """A seed-rule engine that also reads the v of its dendrite posts' somas (``loihi3f_us``)."""
        return self.reads_v and bool(getattr(learning_engines.engine(self.learning, "plastic connection"),
                                             "READS_SOMA_V", False))

    @property
    def complete(self) -> bool:
        """Every (post, pre) pair of the matrix holds an entry (a Dense matrix has no absent synapses)."""
        return self.rows.size == self.shape[0] * self.shape[1]

    @property
    def max_delay(self) -> int:
        return int(self.delays.max()) if self.delays.size else 0

    def dense_weights(self) -> np.ndarray:
        w = np.zeros(self.shape, np.int32)
        w[self.rows, self.cols] = self.weights
        return w

    def dense_delays(self) -> np.ndarray:
        d = np.zeros(self.shape, np.int64)   # Lava's DelayDense requires dtype int
        d[self.rows, self.cols] = self.delays
        return d


@dataclass
class ConvConnection:
    """One Lava ``lava.proc.conv`` ``Conv`` process: a shared-weight projection of the image (its ``conv`` section)
    between two whole groups in population order. Lava's layout: ``in_shape`` (W, H, C) of the pre group's spikes,
    ``weight`` (C_out, kw, kh, C_in/groups) int32 with both spatial axes flipped (Lava 0.10's ``conv_scipy`` is a
    true convolution, neuromap's a cross-correlation as PyTorch's); ``stride``, ``padding``, ``dilation`` in (x, y)."""

    name: str
    proj: int
    pre_kind: str
    pre: int
    post: int
    in_shape: tuple[int, int, int]
    weight: np.ndarray
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    groups: int

    @property
    def chw(self) -> tuple[int, int, int]:
        """The pre group's (C, H, W), neuromap's flattening order."""
        return tuple(self.in_shape[::-1])

    @property
    def n_post(self) -> int:
        c_out, kw, kh, _ = self.weight.shape
        w, h, _ = self.in_shape
        oh = (h + 2 * self.padding[1] - self.dilation[1] * (kh - 1) - 1) // self.stride[1] + 1
        ow = (w + 2 * self.padding[0] - self.dilation[0] * (kw - 1) - 1) // self.stride[0] + 1
        return int(c_out * oh * ow)


@dataclass
class LavaPlan:
    """Everything needed to rebuild an image as Lava processes (see module docstring)."""

    n_neurons: int
    n_inputs: int
    seed: int
    groups: list[NeuronGroup]
    inputs: list[InputGroup]
    connections: list[Connection]
    probe_u: np.ndarray       # global neuron ids whose u is recorded (sorted)
    probe_v: np.ndarray
    spike_step: np.ndarray    # explicit input spikes (step, input id), sorted by step
    spike_index: np.ndarray
    poisson_p: np.ndarray     # (I,) float64, NaN = explicit-time input
    #: shared-weight projections run by Lava ``Conv`` processes (:func:`lava_convs`); the others are expanded
    conv_connections: list[ConvConnection] = field(default_factory=list)
    #: the Poisson inputs' stream kind (the image's ``poisson_stream``, :mod:`neuromap.poisson_stream`)
    poisson_stream: str = SEQUENTIAL


def _i64(a) -> np.ndarray:
    return np.asarray(a, dtype=np.int64)


def _ranges(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated ``arange(starts[i], ends[i])`` and the range index of each element."""
    lens = ends - starts
    owner = np.repeat(np.arange(starts.size, dtype=np.int64), lens)
    if owner.size == 0:
        return owner, owner
    first = np.cumsum(lens) - lens
    return np.arange(owner.size, dtype=np.int64) - first[owner] + starts[owner], owner


def _neuron_groups(image: Image) -> list[NeuronGroup]:
    nu = image.neurons
    claimed = np.zeros(image.n_neurons, bool)
    parts: list[tuple[str, np.ndarray]] = []
    for pop in image.populations:
        if pop.kind == "neuron" and pop.size:
            ids = np.arange(pop.start, pop.start + pop.size, dtype=np.int64)
            claimed[ids] = True
            parts.append((pop.name, ids))
    if not claimed.all():
        parts.append(("_neurons", np.flatnonzero(~claimed).astype(np.int64)))
    groups = []
    for pop, ids in parts:
        key = np.stack([_i64(nu["du"][ids]), _i64(nu["dv"][ids]), _i64(nu["vth"][ids])], axis=1)
        uniq, inv = np.unique(key, axis=0, return_inverse=True)
        inv = inv.reshape(-1)
        for k, (du, dv, vth) in enumerate(uniq):
            sel = ids[inv == k]
            name = pop if len(uniq) == 1 else f"{pop}.{k}"
            refr = nu["refractory"][sel].astype(np.int32) if "refractory" in nu else None
            groups.append(NeuronGroup(name, pop, sel, int(du), int(dv), int(vth),
                                      nu["bias_mant"][sel].astype(np.int16), nu["bias_exp"][sel].astype(np.int8),
                                      nu["u_init"][sel].astype(np.int32), nu["v_init"][sel].astype(np.int32),
                                      refr if refr is not None and refr.any() else None))
    if "join_parent" in nu and np.any(nu["join_parent"] >= 0):
        _join_groups(groups, _i64(nu["join_parent"]))
    return groups


def _join_groups(groups: list[NeuronGroup], parent: np.ndarray) -> None:
    """Set ``join_to`` of every dendrite group: its neurons must join, in order, all neurons of one group (Lava
    connects the dendrites' ``v_out`` to the soma's ``v_join_in`` port to port)."""
    owner = {}
    for k, g in enumerate(groups):
        owner.update(dict.fromkeys(g.neurons.tolist(), k))
    for g in groups:
        par = parent[g.neurons]
        if not np.any(par >= 0):
            continue
        k = owner.get(int(par[0]))
        if np.any(par < 0) or k is None or not np.array_equal(groups[k].neurons, par):
            raise ImageError(f"image neurons.join_parent: the dendrites of group {g.name!r} do not join, in order, "
                             "all neurons of one group (Lava runs joins between whole populations; run on the "
                             "emulator)")
        g.join_to = k


def _input_groups(image: Image) -> list[InputGroup]:
    claimed = np.zeros(image.n_inputs, bool)
    groups = []
    for pop in image.populations:
        if pop.kind == "input" and pop.size:
            ids = np.arange(pop.start, pop.start + pop.size, dtype=np.int64)
            claimed[ids] = True
            groups.append(InputGroup(pop.name, pop.name, ids))
    if not claimed.all():
        groups.append(InputGroup("_inputs", "_inputs", np.flatnonzero(~claimed).astype(np.int64)))
    return groups


def _probes(image: Image) -> tuple[np.ndarray, np.ndarray]:
    ids = {"u": [], "v": []}
    for pr in image.probes:
        pop = image.population(pr.population)
        local = np.arange(pop.size) if pr.neurons is None else _i64(pr.neurons)
        for var in ("u", "v"):
            if var in pr.variables:
                ids[var].append(pop.start + local)
    return tuple(np.unique(np.concatenate(ids[v])) if ids[v] else np.zeros(0, np.int64) for v in ("u", "v"))


def _check_kinds(image: Image) -> None:
    used = {image.core_kinds[k] for k in np.unique(image.cores["kind"])}
    if used - {LIF_KIND}:
        raise ImageError(f"the Lava backend cannot run core kind(s) {sorted(used - {LIF_KIND})} yet "
                         f"(only {LIF_KIND}; run that image on the emulator)")


def _check_arithmetic(image: Image) -> None:
    """Lava 0.10's ``PyLifModelBitAcc`` runs Loihi's neuron arithmetic only (decays over 4096, 24-bit u/v,
    ``vth << 6``, input ``<< 6``): an image compiled for a target with other widths has no Lava twin."""
    ar = image.arithmetic
    if ar != LOIHI_ARITHMETIC:
        diff = ", ".join(f"{k} {v} (Loihi {getattr(LOIHI_ARITHMETIC, k)})" for k, v in ar.to_dict().items()
                         if v != getattr(LOIHI_ARITHMETIC, k))
        raise ImageError(f"image arithmetic differs from Loihi's, the only one Lava runs: {diff} "
                         f"(target {image.target!r}; run it on the emulator, or compile for loihi)")


def _attach_controllers(image: Image, groups: list, conns: list) -> None:
    """Each embedded-core controller onto its projection's seed-rule connection, which runs it between steps. One
    connection per controlled projection, over the whole post population in order (the controller's readout and
    exploration stream are shared by the projection's neurons: split, they would differ from the emulator)."""
    for i, ctl in enumerate(image.controllers):
        mine = [c for c in conns if c.proj == ctl.projection]
        post = image.population(image.projections[ctl.projection].post)
        g = groups[mine[0].post] if len(mine) == 1 else None
        if g is None or not mine[0].seed_rule or g.neurons.size != post.size or \
                not np.array_equal(g.neurons, np.arange(post.start, post.start + post.size)):
            raise ImageError(f"image controller {i} ({ctl.kind} on projection {ctl.projection}): its projection is "
                             f"split over {len(mine)} Lava connections or neuron groups; Lava runs a controller only "
                             "on one connection into its whole post population (run this image on the emulator)")
        mine[0].controller = ctl


def _check_learning(image: Image) -> None:
    for k, pm in enumerate(image.projections):
        if not pm.learning:
            continue
        learning_engines.engine(pm.learning, f"image projection {k} ({pm.name})")   # unknown: one-line ImageError
        if pm.learning.get("engine") == "loihi" and any(np.any(a) for a in pm.learning_arrays.values()):
            raise ImageError(f"image projection {k} ({pm.name}): nonzero initial tags are not mapped to Lava "
                             "(LearningDense starts its tags at 0; run this image on the emulator)")


def _check_plastic_connection(image: Image, c: "Connection") -> None:
    """What Lava's LearningDense/LearningSparse can run exactly (docs/lava-backend.md).

    The emulator learns on every stored synapse. A connection holding every (post, pre) pair becomes a
    ``LearningDense`` (exact); otherwise a ``LearningSparse``, which learns only on its stored entries but
    drops entries whose weight is 0, fails with a non-mixed sign mode and on rules with w, d or t factors."""
    where = f"image projection {c.proj} ({image.projections[c.proj].name}), connection {c.name!r}"
    if c.max_delay:
        raise ImageError(f"{where}: plastic synapses with delays > 1 step have no Lava process "
                         "(LearningDense has no delays; use delay 1 or run on the emulator)")
    if c.complete:
        return
    lr = c.learning
    syn_factor = any(f["var"] in ("w", "d", "t") for k in ("dw", "dd", "dt") for p in (lr.get(k) or ())
                     for f in p["factors"])
    problem = ("a stored weight is 0 (Lava's LearningSparse drops it)" if np.any(c.weights == 0) else
               f"sign_mode {c.sign_mode} (LearningSparse supports only mixed)" if c.sign_mode != "mixed" else
               "the rule has a w, d or t factor (LearningSparse fails on it)" if syn_factor else None)
    if problem:
        raise ImageError(f"{where}: not every neuron pair is connected, so Lava needs LearningSparse, and {problem} "
                         "(connect all pairs for LearningDense, or run on the emulator)")


def _check_inputs(image: Image) -> None:
    st, ix = _i64(image.inputs["spike_step"]), _i64(image.inputs["spike_index"])
    if st.size:
        key = st * max(1, image.n_inputs) + ix
        u, c = np.unique(key, return_counts=True)
        if np.any(c > 1):
            k = u[c > 1][0]
            raise ImageError(f"image inputs: input {k % max(1, image.n_inputs)} spikes twice at step "
                             f"{k // max(1, image.n_inputs)} (Lava spike messages are binary; recompile)")
        if np.any(~np.isnan(image.inputs["poisson_p"][ix])):
            bad = ix[~np.isnan(image.inputs["poisson_p"][ix])][0]
            raise ImageError(f"image inputs: Poisson input {bad} also has explicit spike times "
                             "(Lava replays one spike per input and step; recompile)")


def plan_image(image: Image, lava_conv: bool = True) -> LavaPlan:
    """Cut ``image`` into Lava process pieces; :class:`ImageError` for what Lava cannot run exactly. Convolutions
    stored as kernel + geometry become Lava ``Conv`` processes where Lava's fixed_pt Conv computes the same integers
    (:func:`lava_convs`; ``lava_conv=False``: never), the others explicit synapses
    (:func:`neuromap.conv_geometry.expand`)."""
    convs = lava_convs(image, _neuron_groups(image), _input_groups(image)) if lava_conv else []
    if convs:
        keep = {c.proj for c in convs}
        image = dataclasses.replace(image, convs=[cm for cm in image.convs if cm.projection not in keep])
    image = expand_convs(image)
    _check_kinds(image)
    _check_arithmetic(image)
    _check_learning(image)
    _check_inputs(image)
    N, I = image.n_neurons, image.n_inputs
    groups, igroups = _neuron_groups(image), _input_groups(image)
    # source id -> (process, local index); neuron groups are processes 0..G-1, input groups G..
    G = len(groups)
    proc_of = np.full(N + I, -1, np.int64)
    local_of = np.zeros(N + I, np.int64)
    for k, g in enumerate(groups):
        proc_of[g.neurons], local_of[g.neurons] = k, np.arange(g.size)
    for k, g in enumerate(igroups):
        proc_of[N + g.inputs], local_of[N + g.inputs] = G + k, np.arange(g.size)
    # expand routes -> (source, synapse, total delay)
    rt, ax = image.routes, image.axons
    n_src_routes = np.diff(_i64(rt["src_ptr"]))
    route_src = np.repeat(np.arange(N + I, dtype=np.int64), n_src_routes)
    gax = _i64(image.cores["axon_ptr"])[_i64(rt["core"])] + _i64(rt["axon"])
    syn_ptr = _i64(ax["syn_ptr"])
    syn, owner = _ranges(syn_ptr[gax], syn_ptr[gax + 1])
    src = route_src[owner]
    proj = _i64(ax["proj"])[gax[owner]]
    delay = _i64(image.synapses["delay"])[syn] + _i64(rt["delay"])[owner]
    if delay.size and delay.max() > 64:
        raise ImageError(f"image: a synaptic plus axonal delay of {int(delay.max())} steps exceeds Lava's 64 "
                         "(recompile with shorter delays)")
    post = _i64(image.synapses["post"])[syn]
    w = _i64(image.synapses["weight"])[syn]
    pre_proc, pre_loc = proc_of[src], local_of[src]
    post_grp, post_loc = proc_of[post], local_of[post]
    connections = _connections(image, groups, igroups, proj, pre_proc, pre_loc, post_grp, post_loc,
                               w, delay, syn)
    pu, pv = _probes(image)
    return LavaPlan(N, I, int(image.seed), groups, igroups, connections, pu, pv,
                    _i64(image.inputs["spike_step"]), _i64(image.inputs["spike_index"]),
                    np.asarray(image.inputs["poisson_p"], np.float64), convs, image.poisson_stream)


#: Lava 0.10's fixed_pt Conv wraps its output to signed 24 bits (``utils.signed_clamp``); Dense does not
_CONV_OUT_LIMIT = 1 << 23


def lava_convs(image: Image, groups: list[NeuronGroup], igroups: list[InputGroup]) -> list[ConvConnection]:
    """The image's shared-weight projections that Lava 0.10's ``lava.proc.conv`` (``PyConvModelFixed``) runs with
    neuromap's integers: Conv sends ``clamp24(conv(s_in, weight))`` one step later and ignores ``weight_exp``, so a
    projection qualifies when its ``weight_exp`` is >= 0 (folded into the weights: ``(sum w) << e = sum (w << e)``),
    its delay 1, no per-step sum can reach 2**23 (sum of |weights| into one output times the largest spike payload)
    and its pre and post populations are each one whole group in population order (the Conv process sees them as
    (W, H, C) tensors). The others are expanded into Sparse/Dense."""
    out = []
    for cm in getattr(image, "convs", []):
        pm = image.projections[cm.projection]
        g = cm.geometry
        pre, post = image.population(pm.pre), image.population(pm.post)
        if pm.weight_exp < 0 or cm.delay != 1:
            continue
        k = cm.kernel.astype(np.int64).reshape(g.kernel_shape) << pm.weight_exp   # a left shift distributes
        pp = image.inputs["poisson_p"][pre.start:pre.start + pre.size] if pre.kind == "input" else np.zeros(0)
        payload = 255 if np.any(pp[~np.isnan(pp)] > 1.0) else 1     # graded spikes: several events per step
        if int(np.abs(k).reshape(k.shape[0], -1).sum(1).max(initial=0)) * payload >= _CONV_OUT_LIMIT:
            continue
        pool = groups if pre.kind == "neuron" else igroups
        ids = [grp.neurons if pre.kind == "neuron" else grp.inputs for grp in pool]
        pre_k = [j for j, a in enumerate(ids) if a.size == pre.size and a[0] == pre.start
                 and np.array_equal(a, np.arange(pre.start, pre.start + pre.size))]
        post_k = [j for j, grp in enumerate(groups) if grp.size == post.size
                  and np.array_equal(grp.neurons, np.arange(post.start, post.start + post.size))]
        if not pre_k or not post_k:
            continue
        c, h, w = g.in_shape
        weight = np.ascontiguousarray(np.transpose(k[:, :, ::-1, ::-1], (0, 3, 2, 1)), dtype=np.int32)
        out.append(ConvConnection(f"conv:{pm.name}", cm.projection, pre.kind, pre_k[0], post_k[0], (w, h, c), weight,
                                  g.stride[::-1], g.padding[::-1], g.dilation[::-1], g.groups))
    return out


def _bits(n: int) -> int:
    return max(1, int(n).bit_length())


def _merge_same_pairs(image, block_proj, block, post, pre, delay, w, syn):
    """Merge entries with equal (block, post, pre, delay) whose summed weight is storable.

    Entries must be sorted by those keys. Returns the kept index, merged weights and synapse ids
    (-1 for a merged entry)."""
    same = np.zeros(w.size, bool)
    same[1:] = (block[1:] == block[:-1]) & (post[1:] == post[:-1]) & (pre[1:] == pre[:-1]) & (delay[1:] == delay[:-1])
    if not same.any():                               # the compiler merges multapses: the usual case
        return np.arange(w.size), w, syn
    run = np.cumsum(~same) - 1                       # run id of every entry
    starts = np.flatnonzero(~same)
    sums = np.add.reduceat(w, starts)
    counts = np.diff(np.append(starts, w.size))
    ok = counts == 1
    for r in np.flatnonzero(counts > 1):             # rare: only hand-built images have multapses
        pm = image.projections[int(block_proj[block[starts[r]]])]
        ok[r] = bool(-(2 ** 31) <= sums[r] < 2 ** 31) and \
            encode_weights(np.array([sums[r]]), pm.sign_mode, pm.num_weight_bits)[0] == sums[r]
    keep = (~same & ok[run]) | ~ok[run]              # first of a merged run, or every entry of an unmerged run
    w2 = np.where(ok[run], sums[run], w)
    syn2 = np.where(ok[run] & (counts[run] > 1), -1, syn)
    return np.flatnonzero(keep), w2, syn2


def _connections(image, groups, igroups, proj, pre_proc, pre_loc, post_grp, post_loc, w, delay, syn):
    G = len(groups)
    if proj.size == 0:
        return []
    # block = (projection, source process, target group), numbered densely
    n_proc = G + len(igroups)
    bkey = (proj * n_proc + pre_proc) * G + post_grp
    span = int(bkey.max()) + 1
    if span <= 1 << 24:                              # a table instead of a sort (np.unique)
        present = np.zeros(span, bool)
        present[bkey] = True
        ub = np.flatnonzero(present)
        block = (np.cumsum(present) - 1)[bkey]
    else:
        ub, block = np.unique(bkey, return_inverse=True)
        block = block.reshape(-1)
    block_proj, block_pre, block_post = ub // (n_proc * G), (ub // G) % n_proc, ub % G
    # sort by (block, post, pre, delay): one packed int64 key when it fits, else lexsort
    nb, ng = _bits(ub.size), _bits(max([g.size for g in groups] + [g.size for g in igroups]))
    if nb + 2 * ng + 7 <= 63:
        key = (((block << ng | post_loc) << ng | pre_loc) << 7) | delay
        order = np.argsort(key, kind="stable")
    else:  # pragma: no cover - groups of more than 2**27 neurons
        order = np.lexsort((delay, pre_loc, post_loc, block))
    block, post_loc, pre_loc, delay, w, syn = (a[order] for a in (block, post_loc, pre_loc, delay, w, syn))
    keep, w, syn = _merge_same_pairs(image, block_proj, block, post_loc, pre_loc, delay, w, syn)
    if keep.size != w.size:
        block, post_loc, pre_loc, delay, w, syn = (a[keep] for a in (block, post_loc, pre_loc, delay, w, syn))
    # layer = rank of an entry among the entries of its (block, post, pre): repeated pairs go to further layers
    newpair = np.ones(w.size, bool)
    newpair[1:] = (block[1:] != block[:-1]) | (post_loc[1:] != post_loc[:-1]) | (pre_loc[1:] != pre_loc[:-1])
    idx = np.arange(w.size)
    layer = idx - np.maximum.accumulate(np.where(newpair, idx, 0))
    if layer.any():
        order = np.lexsort((pre_loc, post_loc, layer, block))   # rows sorted by post within a connection
        block, post_loc, pre_loc, delay, w, syn, layer = (
            a[order] for a in (block, post_loc, pre_loc, delay, w, syn, layer))
    brk = np.flatnonzero((block[1:] != block[:-1]) | (layer[1:] != layer[:-1])) + 1
    bounds = np.concatenate([[0], brk, [w.size]])
    conns: list[Connection] = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        bl, ly = int(block[a]), int(layer[a])
        k, pp, pg = int(block_proj[bl]), int(block_pre[bl]), int(block_post[bl])
        pm = image.projections[k]
        if pp < G:
            pre_kind, pre, pre_size, pre_name = "neuron", pp, groups[pp].size, groups[pp].name
        else:
            pre_kind, pre, pre_size, pre_name = "input", pp - G, igroups[pp - G].size, igroups[pp - G].name
        shape = (groups[pg].size, pre_size)
        name = f"{pm.name}:{pre_name}->{groups[pg].name}" + (f"#{ly}" if ly else "")
        conns.append(Connection(
            name=name, proj=k, pre_kind=pre_kind, pre=pre, post=pg, shape=shape,
            rows=post_loc[a:b].copy(), cols=pre_loc[a:b].copy(), weights=w[a:b].astype(np.int32),
            delays=(delay[a:b] - 1).astype(np.int32),
            dense=pm.storage == "dense" and shape[0] * shape[1] <= DENSE_MAX_ENTRIES,
            weight_exp=int(pm.weight_exp), num_weight_bits=int(pm.num_weight_bits), sign_mode=pm.sign_mode,
            synapses=syn[a:b].copy(), learning=pm.learning or None))
        if pm.learning:
            if np.any(syn[a:b] < 0):
                raise ImageError(f"image projection {k} ({pm.name}): merged synapses in a plastic projection "
                                 "(Lava learns one weight per pair; recompile)")
            if ly:
                raise ImageError(f"image projection {k} ({pm.name}): repeated neuron pairs in a plastic projection "
                                 "(Lava learns one weight per pair; merge them and recompile)")
            c = conns[-1]
            if c.seed_rule:
                _seed_connection(image, groups, igroups, c)
                continue
            c.dense = c.complete
            _check_plastic_connection(image, c)
            if c.third_factor:
                _third_factor_connection(image, groups, c)
    _check_floor_splits(image, groups, conns)
    _attach_controllers(image, groups, conns)
    return conns


def _seed_connection(image: Image, groups, igroups, c: Connection) -> None:
    """A seed-rule projection is one connection between its whole pre and post populations (the engine's
    per-neuron state spans the projection); entries are put in image synapse order (the engine's order)."""
    pm = image.projections[c.proj]
    pre = groups[c.pre] if c.pre_kind == "neuron" else igroups[c.pre]
    n = int(np.count_nonzero(image.synapse_projections() == c.proj))
    for g, pop in ((pre, pm.pre), (groups[c.post], pm.post)):
        if g.population != pop or g.size != image.population(pop).size:
            raise ImageError(f"image projection {c.proj} ({pm.name}): learning engine {pm.learning['engine']!r} "
                             f"needs the whole projection in one Lava process pair, but population {pop!r} is split "
                             "(give it one du/dv/vth, or run on the emulator)")
    if c.synapses.size != n:
        raise ImageError(f"image projection {c.proj} ({pm.name}): {n - c.synapses.size} of its plastic synapses are "
                         "not routed from its pre population (recompile)")
    order = np.argsort(c.synapses, kind="stable")
    c.rows, c.cols, c.weights, c.delays, c.synapses = (a[order] for a in (c.rows, c.cols, c.weights, c.delays,
                                                                        c.synapses))
    c.dense = False
    c.learning_arrays = dict(pm.learning_arrays)


def _third_factor_connection(image: Image, groups, c: Connection) -> None:
    """A ``loihi3f`` projection: its post population is one Lava LIF group (the post neuron computes y1 and
    receives the third factor, neuron by neuron) without refractory periods (``ThirdFactorLIF`` is the
    ``PyLifModelBitAcc`` LIF); its third-factor events go with the connection."""
    pm = image.projections[c.proj]
    g = groups[c.post]
    where = f"image projection {c.proj} ({pm.name})"
    if g.population != pm.post or g.size != image.population(pm.post).size:
        raise ImageError(f"{where}: three-factor learning needs post population {pm.post!r} in one Lava process "
                         "(give it one du/dv/vth, or run on the emulator)")
    if g.refractory is not None:
        raise ImageError(f"{where}: the three-factor post neuron has no refractory period in Lava "
                         "(use refractory 0, or run on the emulator)")
    c.learning_arrays = dict(pm.learning_arrays)


def third_factor_raster(c: Connection, steps: int) -> np.ndarray:
    """(n_post, steps) int32: the third factor of each post neuron in Lava time steps 1..steps."""
    tf = loihi3f.ThirdFactor.from_arrays(c.learning_arrays)
    out = np.zeros((c.shape[0], steps), np.int32)
    row = np.zeros(c.shape[0], np.int64)
    for t in range(1, steps + 1):
        tf.write(t, row)
        out[:, t - 1] = row
    return out


def _check_floor_splits(image, groups, conns) -> None:
    """A negative ``weight_exp`` floors the projection's per-(post, delay) sum: refuse splits that share posts."""
    by_target: dict[tuple[int, int], list[Connection]] = {}
    for c in conns:
        if c.weight_exp < 0:
            by_target.setdefault((c.proj, c.post), []).append(c)
    for (k, pg), cs in by_target.items():
        if len(cs) < 2:
            continue
        hits = np.concatenate([np.unique(c.rows) for c in cs])
        if np.unique(hits).size != hits.size:
            raise ImageError(
                f"image projection {k} ({image.projections[k].name}): weight_exp {cs[0].weight_exp} < 0 and its "
                f"synapses onto {groups[pg].name!r} need {len(cs)} Lava connections (sources in several LIF "
                "processes or repeated neuron pairs), which would floor partial sums (give the source population "
                "one du/dv/vth and one synapse per pair, or use weight_exp >= 0)")


#: image engines Lava runs with its own learning processes (LearningDense/LearningSparse)
LAVA_ENGINES = ("loihi", "loihi3f")
#: LearningConfig scalars that are ``Loihi3FLearningRule`` keyword arguments (its y traces come from the neuron)
RULE_SCALARS_3F = ("x1_impulse", "x1_tau", "x2_impulse", "x2_tau", "t_epoch", "rng_seed")
#: LearningConfig scalars that are ``Loihi2FLearningRule`` keyword arguments
RULE_SCALARS = ("x1_impulse", "x1_tau", "x2_impulse", "x2_tau", "y1_impulse", "y1_tau", "y2_impulse", "y2_tau",
                "y3_impulse", "y3_tau", "t_epoch", "rng_seed")


def learning_rule_kwargs(learning: dict, where: str = "image projection") -> dict:
    """``Loihi2FLearningRule`` keyword arguments of an image learning dict (engine ``loihi``): the Lava rule
    strings the compiler parsed (``learning["rules"]``; Lava re-parses them identically) and the scalars."""
    three = learning.get("engine") == loihi3f.ENGINE
    cfg = (loihi3f if three else loihi).Schema.from_dict(learning, where).config
    rules = cfg.rules or {}
    targets = [k for k in ("dw", "dd", "dt") if getattr(cfg, k)]
    if any(not isinstance(rules.get(k), str) for k in targets):
        raise ImageError(f"{where}: learning has no Lava rule string for {targets} (learning.rules; recompile)")
    if cfg.conn_rng_seed != 2:
        raise ImageError(f"{where}: learning conn_rng_seed {cfg.conn_rng_seed} differs from Lava's fixed 2")
    scalars = RULE_SCALARS_3F if three else RULE_SCALARS
    return {**{k: rules[k] for k in targets}, **{k: getattr(cfg, k) for k in scalars}}


def v_groups(plan: LavaPlan) -> set[int]:
    """Neuron groups that must send v (post of a connection whose rule engine reads the post membrane)."""
    return {c.post for c in plan.connections if c.reads_v}





def plastic_positions(syn_proj: np.ndarray, c: Connection) -> np.ndarray:
    """Position of each entry of plastic connection ``c`` in its projection's image synapse order."""
    return np.searchsorted(np.flatnonzero(syn_proj == c.proj), c.synapses).astype(np.int64)


#: graded-spike payload width of a connection from inputs with several events per step (Lava's
#: ``num_message_bits``; Lava 0.10's Python models multiply the weight by the payload, whatever its width)
MESSAGE_BITS = 8


def message_bits(plan: LavaPlan, c: Connection) -> int:
    """``num_message_bits`` of connection ``c``: :data:`MESSAGE_BITS` when its pre is an input group with a
    Poisson input of more than one expected event per step (image ``poisson_p > 1``), else 0 (binary)."""
    if c.pre_kind != "input":
        return 0
    p = plan.poisson_p[plan.inputs[c.pre].inputs]
    return MESSAGE_BITS if np.any(p[~np.isnan(p)] > 1.0) else 0


def input_raster(plan: LavaPlan, steps: int) -> np.ndarray:
    """(steps, I) int32 events per input and step, as the emulator replays them (explicit times: 0/1; Poisson
    inputs from :class:`neuromap.poisson_stream.PoissonStream`, docs/image-format.md *Inputs*: at most 1 per step
    for ``p <= 1``, a Poisson count for ``p > 1``, delivered as graded spikes)."""
    r = np.zeros((steps, plan.n_inputs), np.int32)
    m = plan.spike_step < steps
    r[plan.spike_step[m], plan.spike_index[m]] = 1
    pois = np.flatnonzero(~np.isnan(plan.poisson_p))
    if pois.size and steps:
        ptr, j = PoissonStream(plan.poisson_p[pois], plan.seed, kind=plan.poisson_stream).chunk(0, steps)
        np.add.at(r, (np.repeat(np.arange(steps), np.diff(ptr)), pois[j]), 1)
    return r

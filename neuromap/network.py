"""The network model: populations, projections, inputs and probes.

A :class:`Network` is plain data. Every projection is *realized* when it is
created: the synapse list (``pre_idx``, ``post_idx``, ``weight``, ``delay``)
is drawn from the connection rule and distributions with the generator
``np.random.default_rng([network.seed, PROJECTION_STREAM, projection_index])``
(draws in the order rule, weights, delays), so construction is deterministic
and adding a projection never changes the synapses of another. The constant
``PROJECTION_STREAM`` keeps these streams apart from other generators seeded
from the network seed (``default_rng([seed, k])`` for input population k,
``default_rng(seed)``; note that numpy's SeedSequence treats trailing zeros as
absent, so ``[seed, 0] == [seed]``).

The same object comes from the Python API (:meth:`Network.add_population`,
:meth:`Network.connect`, :meth:`Network.add_probe`), from dicts
(:meth:`Network.from_dict`) and from YAML/JSON files
(:func:`neuromap.io.load_network`); ``docs/network-format.md`` documents every field.

Units (float networks): time in ms, ``dt`` in ms per step, delays in steps
(>= 1; 1 = delivered on the next step), rates in Hz, spike ``times`` in ms.
Hardware-unit networks (``model: loihi_lif`` / ``truenorth``) carry integer
weights and the hardware's parameter names.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import re
import struct
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from neuromap.connectivity import (
    CONNECT_RULES,
    _short,
    check_finite,
    connect_synapses,
    index_array,
    normalize_connect,
    realize_values,
)
from neuromap.errors import NetworkFormatError
from neuromap.input_limits import (
    BYTES_PER_DELAY_SLOT,
    BYTES_PER_NEURON,
    BYTES_PER_SYNAPSE,
    DT_MAX_MS,
    DT_MIN_MS,
    check_fits,
    synapse_estimate,
)
from neuromap.neurons import INPUT_MODELS, neuron_module
from neuromap.params import Param, validate_params
from neuromap.plasticity import rule_class

FORMAT = "neuromap/1"
#: middle word of every projection's seed: ``default_rng([seed, PROJECTION_STREAM, index])``
PROJECTION_STREAM = 0x70726F6A  # "proj"
#: keys allowed at the top level of a network file
TOP_KEYS = ("format", "name", "description", "dt", "seed", "populations", "projections", "probes")
POPULATION_KEYS = ("size", "neuron")
PROJECTION_KEYS = ("name", "pre", "post", "connect", "weight", "delay", "target", "plasticity",
                   "weight_exp", "num_weight_bits", "sign_mode")
PROBE_KEYS = ("population", "variables", "neurons")
#: models whose parameters and weights are integer hardware units
HW_UNIT_MODELS = ("loihi_lif", "truenorth")
SIGN_MODES = ("mixed", "excitatory", "inhibitory")
MAX_SIZE = 2 ** 31 - 1  # neurons per population
HW_PARAMS = {
    "weight_exp": Param(0, kind="int", lo=-8, hi=7, doc="weights are scaled by 2**weight_exp"),
    "num_weight_bits": Param(8, kind="int", lo=1, hi=8, doc="weight precision in bits"),
}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_NAME_FIX = "use letters, digits, _ and -, starting with a letter or _"


@dataclass
class Population:
    """``size`` neurons of one model.

    ``neuron`` is the complete parameter dict, defaults filled in, e.g.
    ``{"model": "lif", "tau_m": 20.0, ...}``; inputs are populations too:
    ``poisson`` (``rate``: float64 array of length ``size``, Hz) and
    ``spike_source`` (``times``: one list of spike times in ms per neuron, as
    checked by the model's ``validate_times``). Per-neuron parameters are
    float64/int64 arrays of length ``size``, others scalars. ``spec`` is the
    description as given (written back by :func:`neuromap.io.save_network`).
    """

    name: str
    size: int
    neuron: dict[str, Any]
    spec: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def model(self) -> str:
        return self.neuron["model"]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Population):
            return NotImplemented
        return self.name == other.name and self.size == other.size and same(self.neuron, other.neuron)


@dataclass
class Projection:
    """Synapses from population ``pre`` to population ``post``, one entry per synapse.

    Arrays are aligned, length ``n_synapses``: ``pre_idx``/``post_idx`` (neuron indices: int32 from
    :meth:`Network.connect`, every index of a population below :data:`MAX_SIZE` fits; cast to int64 before
    arithmetic that can pass 2**31, e.g. ``pre * n_post + post``), ``weight`` (float64; integer-valued for
    hardware units; the quantize pass's networks hold their integer mantissas as an integer array, int16:
    read weights with ``np.asarray(w, float)``), ``delay`` (steps >= 1: int16 from :meth:`Network.connect`
    when every delay is below :data:`NARROW_DELAY`, else int32; other code may build projections with int64
    arrays). 18 bytes per synapse, not 32 (the full-scale cortical microcircuit has 0.3 billion).
    ``target`` names the receptor channels each
    spike drives (keys of the post model's ``TARGETS``, e.g. ``exc``, ``inh``,
    ``ampa``, ``nmda``; ``exc`` only for a model without ``TARGETS``; several =
    the same weight drives each). ``plasticity`` is ``None`` or ``{"rule": ..., **params}``
    (all parameters, defaults filled in).
    ``hw`` holds hardware-unit synapse options (``weight_exp``,
    ``num_weight_bits``, ``sign_mode``) or is ``None`` for float networks.
    ``spec`` keeps how the projection was described (connect/weight/delay
    specs) so it can be written back to a file.
    Synapses made by the connect rules are sorted by ``post_idx``, then ``pre_idx``.
    """

    name: str
    pre: str
    post: str
    pre_idx: np.ndarray
    post_idx: np.ndarray
    weight: np.ndarray
    delay: np.ndarray
    target: tuple[str, ...] = ("exc",)
    plasticity: dict[str, Any] | None = None
    hw: dict[str, Any] | None = None
    spec: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def n_synapses(self) -> int:
        return int(self.pre_idx.shape[0])

    def dense_weights(self, n_pre: int, n_post: int) -> np.ndarray:
        """Weights as a (post, pre) matrix; 0 where there is no synapse (multapses add)."""
        w = np.zeros((n_post, n_pre), dtype=np.float64)
        np.add.at(w, (self.post_idx, self.pre_idx), self.weight)
        return w

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Projection):
            return NotImplemented
        return all(same(getattr(self, f), getattr(other, f)) for f in
                   ("name", "pre", "post", "pre_idx", "post_idx", "weight", "delay", "target",
                    "plasticity", "hw"))


#: delays below this are stored as int16 (:func:`narrow_synapse_arrays`; headroom for ``delay + small`` sums)
NARROW_DELAY = 2 ** 14


def narrow_synapse_arrays(pre_idx: np.ndarray, post_idx: np.ndarray, delay: np.ndarray) \
        -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A projection's index and delay arrays in the dtypes :class:`Projection` keeps: int32 indices (a
    population has at most :data:`MAX_SIZE` neurons) and int16 delays when all are below :data:`NARROW_DELAY`
    (else int32: delays are at most ``connectivity.MAX_DELAY``). Values unchanged; arrays already narrow are
    returned as they are."""
    pre_idx = np.asarray(pre_idx).astype(np.int32, copy=False)
    post_idx = np.asarray(post_idx).astype(np.int32, copy=False)
    delay = np.asarray(delay)
    dt = np.int16 if not delay.size or int(delay.max()) < NARROW_DELAY else np.int32
    return pre_idx, post_idx, delay.astype(dt, copy=False)


@dataclass
class Probe:
    """Record ``variables`` (``spikes``, ``v``, ``u``, ... as the model names them) of ``population``.

    ``neurons``: indices to record, ``None`` = all (spikes are always recorded for all).
    """

    population: str
    variables: tuple[str, ...] = ("spikes",)
    neurons: np.ndarray | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Probe):
            return NotImplemented
        return (self.population == other.population and tuple(self.variables) == tuple(other.variables)
                and same(self.neurons, other.neurons))


@dataclass
class Network:
    """A spiking network: the single input of the simulator and the compiler.

    ``dt``: ms per step (> 0). ``seed``: integer >= 0; projection ``i`` is
    realized with ``np.random.default_rng([seed, PROJECTION_STREAM, i])``.
    """

    name: str = "network"
    dt: float = 1.0
    seed: int = 0
    populations: dict[str, Population] = field(default_factory=dict)
    projections: list[Projection] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)
    source: str | None = None  # path of the file this network was loaded from, if any

    def __post_init__(self):
        self.name = _check_str(self.name, "name")
        self.dt = _check_number(self.dt, "dt", positive=True)
        if not DT_MIN_MS <= self.dt <= DT_MAX_MS:
            raise NetworkFormatError(f"dt {self.dt:g} ms is outside [{DT_MIN_MS:g}, {DT_MAX_MS:g}]", field="dt",
                                     fix="dt is the step in ms, e.g. 1.0 or 0.1")
        if isinstance(self.seed, (bool, np.bool_)) or not isinstance(self.seed, (int, np.integer)) \
                or self.seed < 0:
            raise NetworkFormatError(f"{self.seed!r} is not a valid seed", field="seed",
                                     fix="use an integer >= 0")
        self.seed = int(self.seed)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Network):
            return NotImplemented
        return (self.name == other.name and self.dt == other.dt and self.seed == other.seed
                and list(self.populations.items()) == list(other.populations.items())
                and self.projections == other.projections and self.probes == other.probes)

    # ------------------------------------------------------------------ building

    def add_population(self, name: str, size: int, neuron: str | dict = "lif", **params) -> Population:
        """Add ``size`` neurons of model ``neuron`` (a name, or a dict with ``model`` and parameters).

        ``params`` are model parameters (they may also be in the ``neuron`` dict,
        not both). Parameters are checked against the model's ``PARAMS``;
        defaults are filled in. Poisson ``rate`` (Hz): number | list |
        ``{linspace: [first, last]}``, stored as a per-neuron float64 array; any
        per-neuron parameter accepts the same forms. ``spike_source`` takes
        ``times``: one list of spike times (ms >= 0) per neuron. Keys a model lists in
        ``EXTRA`` are checked by its ``validate_<key>(value, size, field)``.
        """
        if not isinstance(name, str) or not _NAME.match(name):
            raise NetworkFormatError(f"{name!r} is not a valid population name", field=f"populations.{name}",
                                     fix=_NAME_FIX if isinstance(name, str) else "names are text; in YAML quote "
                                     "names such as 'on', 'yes' or '1'")
        fld = f"populations.{name}"
        if name in self.populations:
            raise NetworkFormatError(f"population {name!r} already exists", field=fld,
                                     fix="population names must be unique")
        size = _check_size(size, f"{fld}.size")
        total = size + sum(p.size for p in self.populations.values())
        check_fits(total * BYTES_PER_NEURON, f"{total} neurons", f"{fld}.size", "use fewer neurons")
        neuron_dict, spec = _build_neuron(size, neuron, params, f"{fld}.neuron")
        pop = Population(name, size, neuron_dict, spec)
        self.populations[name] = pop
        return pop

    def connect(self, pre: str | Population, post: str | Population, connect: str | dict = "all_to_all",
                weight: Any = None, delay: Any = 1, target: str | list[str] = "exc",
                plasticity: dict | str | None = None, name: str | None = None,
                weight_exp: int | None = None, num_weight_bits: int | None = None,
                sign_mode: str | None = None, *, base_dir: str | None = None) -> Projection:
        """Connect ``pre`` to ``post`` and realize the synapses (see the module docstring).

        ``connect``: ``all_to_all`` | ``one_to_one`` | ``fixed_probability`` (``p``) |
        ``fixed_indegree`` (``k``) | ``matrix`` (``file`` or ``matrix``, shape (post, pre),
        weights from the matrix, 0 = no synapse) | ``list`` (``pre``, ``post`` index lists);
        a name or ``{"rule": name, **params}``. ``weight``: number | ``{uniform: [lo, hi]}`` |
        ``{uniform_int: [lo, hi]}`` | ``{normal: [mean, std], clip: [lo, hi]}`` |
        ``{file: PATH}`` | array; required unless the rule is ``matrix``. ``delay`` (steps):
        integer >= 1 | ``{uniform_int: [lo, hi]}`` | ``{file: PATH}`` | array.
        ``plasticity``: ``{"rule": name, **params}``. ``weight_exp``, ``num_weight_bits``,
        ``sign_mode`` only when the post model is a hardware-unit model. Relative file
        paths resolve against ``base_dir`` (default: the current directory).
        """
        index = len(self.projections)
        fld = f"projections[{index}]"
        base_dir = os.path.abspath(base_dir or ".")
        pre_pop = self._population(pre, f"{fld}.pre")
        post_pop = self._population(post, f"{fld}.post")
        if post_pop.model in INPUT_MODELS:
            raise NetworkFormatError(f"population {post_pop.name!r} is an input ({post_pop.model}) and "
                                     "cannot receive synapses", field=f"{fld}.post",
                                     fix="connect into a neuron population")
        name = self._projection_name(name, pre_pop.name, post_pop.name, fld)
        spec: dict[str, Any] = {}
        rng = np.random.default_rng([self.seed, PROJECTION_STREAM, index])
        cspec = normalize_connect(connect, f"{fld}.connect")
        n_syn = synapse_estimate(cspec, pre_pop.size, post_pop.size) + sum(p.n_synapses for p in self.projections)
        check_fits(n_syn * BYTES_PER_SYNAPSE, f"about {n_syn:.4g} synapses", f"{fld}.connect",
                   "use fewer or sparser connections")
        syn = connect_synapses(cspec, pre_pop.size, post_pop.size, pre_pop is post_pop, rng,
                               f"{fld}.connect", base_dir)
        spec["connect"] = _absolute_files(cspec, base_dir)
        if syn.geometry is not None:         # conv/pool: the compiler stores kernel + geometry (neuromap.conv_geometry)
            spec["geometry"] = syn.geometry
        if syn.matrix_weight is not None:     # matrix, conv: the rule gives the weights
            if weight is not None:
                raise NetworkFormatError(f"weights come from the {cspec['rule']}", field=f"{fld}.weight",
                                         fix="remove weight, or use another connect rule")
            w = syn.matrix_weight
        else:
            if weight is None:
                raise NetworkFormatError("missing weight", field=f"{fld}.weight",
                                         fix="add weight: a number, {uniform: [lo, hi]}, {normal: [m, s]} "
                                             "or {file: PATH}")
            w = realize_values(weight, "weight", syn, pre_pop.size, post_pop.size, rng, f"{fld}.weight",
                               base_dir)
            spec["weight"] = _absolute_files(weight, base_dir)
        d = realize_values(delay, "delay", syn, pre_pop.size, post_pop.size, rng, f"{fld}.delay", base_dir)
        if d.size:   # the simulator keeps (max delay + 1) slots of every post neuron
            slots = (int(d.max()) + 1) * post_pop.size
            check_fits(slots * BYTES_PER_DELAY_SLOT, f"a delay of {int(d.max())} steps onto {post_pop.size} neurons",
                       f"{fld}.delay", "use shorter delays (in steps of dt)")
        spec["delay"] = _absolute_files(delay, base_dir)
        post_module = neuron_module(post_pop.model)
        # a model without receptor channels (truenorth: signs are in the weights) takes only the default exc
        targets = _check_targets(target, getattr(post_module, "TARGETS", None) or ("exc",), f"{fld}.target")
        plast, plast_spec = _check_plasticity(plasticity, f"{fld}.plasticity")
        spec["plasticity"] = plast_spec
        hw_given = {k: v for k, v in (("weight_exp", weight_exp), ("num_weight_bits", num_weight_bits),
                                      ("sign_mode", sign_mode)) if v is not None}
        spec.update(hw_given)
        hw = _check_hw(hw_given, post_pop, w, fld)
        pre_idx, post_idx, d = narrow_synapse_arrays(syn.pre_idx, syn.post_idx, d)
        del syn
        proj = Projection(name, pre_pop.name, post_pop.name, pre_idx, post_idx, w, d, targets,
                          plast, hw, spec)
        self.projections.append(proj)
        return proj

    def add_probe(self, population: str | Population, variables: str | tuple | list = ("spikes",),
                  neurons: Any = None) -> Probe:
        """Record ``variables`` of ``population`` (``spikes`` and the model's ``STATE`` names).

        ``neurons``: indices to record (``None`` = all).
        """
        fld = f"probes[{len(self.probes)}]"
        pop = self._population(population, f"{fld}.population")
        if isinstance(variables, str):
            variables = (variables,)
        if not isinstance(variables, (list, tuple)) or not variables:
            raise NetworkFormatError(f"{variables!r} is not a list of variables", field=f"{fld}.variables",
                                     fix="e.g. [spikes, v]")
        state = getattr(neuron_module(pop.model), "STATE", None)
        allowed = ("spikes",) + tuple(v for v in (state or ()) if v != "spikes")
        for i, v in enumerate(variables):
            if not isinstance(v, str) or (state is not None and v not in allowed):
                raise NetworkFormatError(f"model {pop.model!r} has no variable {v!r}",
                                         field=f"{fld}.variables[{i}]", fix="use one of " + ", ".join(allowed))
            if v in variables[:i]:
                raise NetworkFormatError(f"variable {v!r} listed twice", field=f"{fld}.variables[{i}]",
                                         fix="list each variable once")
        idx = None
        if neurons is not None:
            idx = index_array(neurons, pop.size, f"{fld}.neurons")
            if np.unique(idx).size != idx.size:
                raise NetworkFormatError("a neuron is listed twice", field=f"{fld}.neurons",
                                         fix="list each neuron once")
        probe = Probe(pop.name, tuple(variables), idx)
        self.probes.append(probe)
        return probe

    def _population(self, ref: str | Population, fld: str) -> Population:
        name = ref.name if isinstance(ref, Population) else ref
        if not isinstance(name, str) or name not in self.populations:
            known = ", ".join(self.populations) or "none defined yet"
            raise NetworkFormatError(f"unknown population {name!r}", field=fld, fix=f"use one of: {known}")
        return self.populations[name]

    def _projection_name(self, name: str | None, pre: str, post: str, fld: str) -> str:
        taken = {p.name for p in self.projections}
        if name is None:
            name, k = f"{pre}_to_{post}", 2
            while name in taken:
                name, k = f"{pre}_to_{post}_{k}", k + 1
            return name
        if not isinstance(name, str) or not _NAME.match(name):
            raise NetworkFormatError(f"{name!r} is not a valid projection name", field=f"{fld}.name",
                                     fix=_NAME_FIX)
        if name in taken:
            raise NetworkFormatError(f"projection {name!r} already exists", field=f"{fld}.name",
                                     fix="projection names must be unique")
        return name

    # ------------------------------------------------------------------ dicts

    def to_dict(self, base_dir: str | None = None,
                array_out: Callable[[np.ndarray, str], Any] | None = None) -> dict[str, Any]:
        """The file-format dict (``format: neuromap/1``), JSON/YAML-serializable.

        Specs are written as given (rules and distributions, not the realized
        synapses). File paths are relative to ``base_dir`` (absolute when None).
        ``array_out(array, hint)`` turns in-memory arrays into something
        serializable (default: nested lists); ``hint`` is a name like ``E_to_I.weight``.
        """
        out_arr = array_out or (lambda a, hint: a.tolist())

        def plain(v: Any, hint: str) -> Any:
            if isinstance(v, np.ndarray):
                return out_arr(v, hint)
            if isinstance(v, dict):
                return {k: plain(x, f"{hint}.{k}") for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [plain(x, f"{hint}.{i}") for i, x in enumerate(v)]
            if isinstance(v, np.generic):
                return v.item()
            return v

        def relfile(v: Any) -> Any:
            if isinstance(v, dict):
                return {k: (_relpath(x, base_dir) if k == "file" and isinstance(x, str) else relfile(x))
                        for k, x in v.items()}
            return v

        d: dict[str, Any] = {"format": FORMAT, "name": self.name, "dt": self.dt, "seed": self.seed}
        d["populations"] = {}
        for pop in self.populations.values():
            neuron = pop.spec if pop.spec is not None else pop.neuron
            d["populations"][pop.name] = {"size": pop.size, "neuron": plain(neuron, f"populations.{pop.name}.neuron")}
        d["projections"] = []
        for proj in self.projections:
            spec = proj.spec or _spec_from_arrays(proj)
            entry: dict[str, Any] = {"name": proj.name, "pre": proj.pre, "post": proj.post}
            for key in ("connect", "weight", "delay"):
                if key in spec:
                    entry[key] = plain(relfile(spec[key]), f"projections.{proj.name}.{key}")
            entry["target"] = proj.target[0] if len(proj.target) == 1 else list(proj.target)
            if spec.get("plasticity") is not None:
                entry["plasticity"] = plain(spec["plasticity"], f"projections.{proj.name}.plasticity")
            for key in ("weight_exp", "num_weight_bits", "sign_mode"):
                if key in spec:
                    entry[key] = plain(spec[key], key)
            d["projections"].append(entry)
        d["probes"] = []
        for probe in self.probes:
            entry = {"population": probe.population, "variables": list(probe.variables)}
            if probe.neurons is not None:
                entry["neurons"] = probe.neurons.tolist()
            d["probes"].append(entry)
        return d

    @classmethod
    def from_dict(cls, d: Any, base_dir: str = ".") -> "Network":
        """Build a network from the file-format dict; relative file paths resolve against ``base_dir``."""
        if not isinstance(d, dict):
            raise NetworkFormatError(f"the top level is a {type(d).__name__}, not a mapping", field=None,
                                     fix="start the file with format: neuromap/1")
        _check_keys(d, TOP_KEYS, None)
        if "format" not in d:
            raise NetworkFormatError("missing 'format'", field="format", fix=f"add format: {FORMAT}")
        if d["format"] != FORMAT:
            raise NetworkFormatError(f"unsupported format {d['format']!r}", field="format",
                                     fix=f"use format: {FORMAT}")
        if "description" in d:
            _check_str(d["description"], "description")
        net = cls(name=d.get("name", "network"), dt=d.get("dt", 1.0), seed=d.get("seed", 0))
        pops = d.get("populations")
        pops = {} if pops is None else pops
        if not isinstance(pops, dict):
            raise NetworkFormatError("populations must be a mapping name -> {size, neuron}",
                                     field="populations", fix="e.g. populations: {inp: {size: 10, neuron: poisson}}")
        for name, entry in pops.items():
            _check_entry(entry, f"populations.{name}", POPULATION_KEYS, POPULATION_KEYS,
                         "{size: N, neuron: {model: ..., ...}}")
            net.add_population(name, entry["size"], entry["neuron"])
        for i, entry in enumerate(_check_list(d.get("projections", []), "projections")):
            _check_entry(entry, f"projections[{i}]", PROJECTION_KEYS, ("pre", "post"),
                         "{pre: A, post: B, connect: ..., weight: ...}")
            net.connect(**entry, base_dir=base_dir)
        for i, entry in enumerate(_check_list(d.get("probes", []), "probes")):
            _check_entry(entry, f"probes[{i}]", PROBE_KEYS, ("population",), "{population: NAME, variables: [spikes]}")
            net.add_probe(**entry)
        return net


# ---------------------------------------------------------------------- equality and hashing

def same(a: Any, b: Any) -> bool:
    """Deep equality for plain data with numpy arrays (arrays: same shape and values)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if a is None or b is None:
            return False
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and bool(np.array_equal(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return bool(a == b)


def network_hash(net: Network) -> str:
    """sha256 (hex) of what the network computes: dt, seed, populations (names, sizes, all
    parameters), projections (names, pre/post, synapse arrays, targets, plasticity, hw
    options) and probes. The network ``name`` and ``source`` path do not count; the
    same network from the API, YAML or JSON hashes the same. Numbers hash by value
    (3 == 3.0); index and delay arrays as int64, other arrays as float64."""
    h = hashlib.sha256()
    feed = _Feeder(h)
    feed(FORMAT)
    feed(net.dt)
    feed(net.seed)
    feed(len(net.populations))
    for pop in net.populations.values():
        feed(pop.name)
        feed(pop.size)
        feed(pop.neuron)
    feed(len(net.projections))
    for p in net.projections:
        feed((p.name, p.pre, p.post, tuple(p.target), p.plasticity, p.hw))
        for arr in (p.pre_idx, p.post_idx, p.delay):
            feed.array(np.asarray(arr), np.int64)
        feed.array(np.asarray(p.weight), np.float64)
    feed(len(net.probes))
    for pr in net.probes:
        feed((pr.population, tuple(pr.variables)))
        if pr.neurons is None:
            feed(None)
        else:
            feed.array(np.asarray(pr.neurons), np.int64)
    return h.hexdigest()


class _Feeder:
    """Canonical, type-tagged byte encoding of plain data into a hash."""

    def __init__(self, h):
        self.h = h

    def _put(self, tag: bytes, payload: bytes) -> None:
        self.h.update(tag + struct.pack("<Q", len(payload)) + payload)

    def array(self, a: np.ndarray, dtype) -> None:
        a = np.ascontiguousarray(a, dtype=np.dtype(dtype).newbyteorder("<"))
        self._put(b"A", repr((a.dtype.str, a.shape)).encode())
        self.h.update(memoryview(a).cast("B"))

    def __call__(self, v: Any) -> None:
        if v is None:
            self._put(b"N", b"")
        elif isinstance(v, (bool, np.bool_)):
            self._put(b"B", b"1" if v else b"0")
        elif isinstance(v, (int, float, np.integer, np.floating)):
            x = float(v)
            if math.isfinite(x) and x == int(x) and abs(x) < 2 ** 53 or isinstance(v, (int, np.integer)):
                self._put(b"I", str(int(v)).encode())
            else:
                self._put(b"F", x.hex().encode())
        elif isinstance(v, str):
            self._put(b"S", v.encode())
        elif isinstance(v, np.ndarray):
            self.array(v, np.float64)
        elif isinstance(v, dict):
            self._put(b"D", str(len(v)).encode())
            for k in sorted(v, key=str):
                self(str(k))
                self(v[k])
        elif isinstance(v, (list, tuple)):
            self._put(b"L", str(len(v)).encode())
            for x in v:
                self(x)
        else:
            raise TypeError(f"cannot hash {type(v).__name__}")


# ---------------------------------------------------------------------- helpers: checks

def _check_keys(d: dict, allowed: tuple[str, ...], fld: str | None) -> None:
    for k in d:
        if k not in allowed:
            path = f"{fld}.{k}" if fld else str(k)
            raise NetworkFormatError(f"unknown key {k!r}", field=path, fix="allowed: " + ", ".join(allowed))


def _check_entry(entry: Any, fld: str, allowed: tuple[str, ...], required: tuple[str, ...], example: str) -> None:
    """``entry`` is a mapping with only ``allowed`` keys and all ``required`` ones."""
    if not isinstance(entry, dict):
        raise NetworkFormatError(f"{_short(entry)} is not a mapping", field=fld, fix=f"use {example}")
    _check_keys(entry, allowed, fld)
    for key in required:
        if key not in entry:
            raise NetworkFormatError(f"missing {key!r}", field=f"{fld}.{key}", fix=f"use {example}")


def _check_list(v: Any, fld: str) -> list:
    if v is None:
        return []
    if not isinstance(v, list):
        raise NetworkFormatError(f"{_short(v)} is not a list", field=fld, fix=f"write {fld} as a list (- ...)")
    return v


def _check_str(v: Any, fld: str) -> str:
    if not isinstance(v, str):
        raise NetworkFormatError(f"{_short(v)} is not a string", field=fld, fix="use text")
    return v


def _check_number(v: Any, fld: str, positive: bool = False) -> float:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise NetworkFormatError(f"{_short(v)} is not a number", field=fld,
                                 fix="use a number > 0" if positive else "use a number")
    x = float(v)
    if not math.isfinite(x):
        raise NetworkFormatError(f"{v!r} is not finite", field=fld, fix="use a finite number")
    if positive and x <= 0:
        raise NetworkFormatError(f"{v!r} is not > 0", field=fld, fix="use a number > 0")
    return x


def _check_size(v: Any, fld: str) -> int:
    ok = not isinstance(v, (bool, np.bool_)) and isinstance(v, (int, float, np.integer, np.floating))
    if ok and isinstance(v, (float, np.floating)):
        ok = math.isfinite(v) and float(v) == int(v)
    if not ok:
        raise NetworkFormatError(f"{_short(v)} is not an integer", field=fld, fix="size is an integer >= 1")
    if int(v) < 1:
        raise NetworkFormatError(f"size {int(v)} < 1", field=fld, fix="size is an integer >= 1")
    if int(v) > MAX_SIZE:
        raise NetworkFormatError(f"size {int(v)} is too large", field=fld, fix=f"size is at most {MAX_SIZE}")
    return int(v)


def _linspace(v: dict, size: int, fld: str) -> np.ndarray:
    if set(v) != {"linspace"}:
        raise NetworkFormatError(f"{_short(v)} is not a per-neuron value", field=fld,
                                 fix="use a number, a list of length size, or {linspace: [first, last]}")
    ab = v["linspace"]
    if not (isinstance(ab, (list, tuple)) and len(ab) == 2):
        raise NetworkFormatError(f"{_short(ab)} is not [first, last]", field=f"{fld}.linspace",
                                 fix="use {linspace: [first, last]}")
    a, b = (_check_number(x, f"{fld}.linspace[{i}]") for i, x in enumerate(ab))
    return np.linspace(a, b, size)


def _build_neuron(size: int, neuron: Any, params: dict, fld: str) -> tuple[dict, dict]:
    """(validated neuron dict, spec as given) for ``size`` neurons."""
    if isinstance(neuron, str):
        spec = {"model": neuron}
    elif isinstance(neuron, dict):
        spec = dict(neuron)
    else:
        raise NetworkFormatError(f"{_short(neuron)} is not a neuron model", field=fld,
                                 fix="use a model name or {model: NAME, param: value, ...}")
    both = [k for k in params if k in spec]
    if both:
        raise NetworkFormatError(f"parameter {both[0]!r} given twice", field=f"{fld}.{both[0]}",
                                 fix="give it either in the neuron dict or as a keyword")
    spec.update(params)
    if "model" not in spec:
        raise NetworkFormatError("missing 'model'", field=f"{fld}.model", fix="add model: lif (or another model)")
    model = spec["model"]
    if not isinstance(model, str):
        raise NetworkFormatError(f"{_short(model)} is not a model name", field=f"{fld}.model",
                                 fix="use a model name such as lif")
    module = neuron_module(model, field=f"{fld}.model")
    schema = dict(module.PARAMS)
    given = {k: v for k, v in spec.items() if k != "model"}
    extra: dict[str, Any] = {}
    if model == "poisson" and "rate" in schema:
        schema["rate"] = dataclasses.replace(schema["rate"], per_neuron=True)
    for key in getattr(module, "EXTRA", ()):  # non-Param keys (spike_source times): the model checks them
        if key in given:
            check = getattr(module, f"validate_{key}", None)
            value = given.pop(key)
            extra[key] = check(value, size, f"{fld}.{key}") if check else value
    for k, v in list(given.items()):
        if k in schema and schema[k].per_neuron and isinstance(v, dict):
            given[k] = _linspace(v, size, f"{fld}.{k}")
        elif isinstance(v, np.ndarray) and v.dtype.kind == "f":
            check_finite(v, f"{fld}.{k}")
    out = validate_params(schema, given, fld, size=size)
    if model == "poisson" and "rate" in out:
        out["rate"] = np.broadcast_to(np.asarray(out["rate"], dtype=np.float64), (size,)).copy()
    return {"model": model, **out, **extra}, spec


def _check_targets(target: Any, allowed: tuple[str, ...], fld: str) -> tuple[str, ...]:
    targets = (target,) if isinstance(target, str) else target
    if not isinstance(targets, (list, tuple)) or not targets:
        raise NetworkFormatError(f"{_short(target)} is not a target", field=fld,
                                 fix="use one of " + ", ".join(allowed) + " or a list of them")
    for i, t in enumerate(targets):
        f = fld if isinstance(target, str) else f"{fld}[{i}]"
        if t not in allowed:
            raise NetworkFormatError(f"unknown target {_short(t)}", field=f, fix="use one of " + ", ".join(allowed))
        if t in targets[:i]:
            raise NetworkFormatError(f"target {t!r} listed twice", field=f, fix="list each target once")
    return tuple(targets)


def _check_plasticity(plasticity: Any, fld: str) -> tuple[dict | None, Any]:
    if plasticity is None:
        return None, None
    spec = {"rule": plasticity} if isinstance(plasticity, str) else plasticity
    if not isinstance(spec, dict):
        raise NetworkFormatError(f"{_short(plasticity)} is not a plasticity rule", field=fld,
                                 fix="use {rule: NAME, param: value, ...}")
    if "rule" not in spec:
        raise NetworkFormatError("missing 'rule'", field=f"{fld}.rule", fix="add rule: stdp (or another rule)")
    rule = spec["rule"]
    if not isinstance(rule, str):
        raise NetworkFormatError(f"{_short(rule)} is not a rule name", field=f"{fld}.rule", fix="use e.g. stdp")
    cls = rule_class(rule, field=f"{fld}.rule")
    params = validate_params(cls.PARAMS, {k: v for k, v in spec.items() if k != "rule"}, fld)
    return {"rule": rule, **params}, dict(spec)


def _check_hw(given: dict, post: Population, w: np.ndarray, fld: str) -> dict | None:
    if post.model not in HW_UNIT_MODELS:
        if given:
            key = next(iter(given))
            raise NetworkFormatError(f"{key} applies only to hardware-unit models", field=f"{fld}.{key}",
                                     fix=f"post population {post.name!r} is {post.model}; remove {key} or use "
                                         + " / ".join(HW_UNIT_MODELS))
        return None
    if w.size and (w != np.round(w)).any():
        bad = w[np.argmax(w != np.round(w))]
        raise NetworkFormatError(f"weight {bad:g} is not an integer; {post.model} weights are hardware units",
                                 field=f"{fld}.weight", fix="use integer weights, e.g. {uniform_int: [lo, hi]}")
    hw = validate_params(HW_PARAMS, {k: v for k, v in given.items() if k != "sign_mode"}, fld)
    mode = given.get("sign_mode")
    lo = float(w.min()) if w.size else 0.0
    hi = float(w.max()) if w.size else 0.0
    if mode is None:
        mode = "excitatory" if lo >= 0 else "inhibitory" if hi <= 0 else "mixed"
    elif mode not in SIGN_MODES:
        raise NetworkFormatError(f"{_short(mode)} is not a sign mode", field=f"{fld}.sign_mode",
                                 fix="use one of " + ", ".join(SIGN_MODES))
    elif mode == "excitatory" and lo < 0:
        raise NetworkFormatError(f"weight {lo:g} < 0 with sign_mode excitatory", field=f"{fld}.sign_mode",
                                 fix="use sign_mode: mixed, or non-negative weights")
    elif mode == "inhibitory" and hi > 0:
        raise NetworkFormatError(f"weight {hi:g} > 0 with sign_mode inhibitory", field=f"{fld}.sign_mode",
                                 fix="use sign_mode: mixed, or non-positive weights")
    hw["sign_mode"] = mode
    return hw


def _absolute_files(spec: Any, base_dir: str) -> Any:
    """A copy of a spec with ``file`` paths made absolute (so the network can be saved anywhere)."""
    if isinstance(spec, dict):
        return {k: (os.path.join(base_dir, x) if k == "file" and isinstance(x, str) else _absolute_files(x, base_dir))
                for k, x in spec.items()}
    return spec


def _relpath(path: str, base_dir: str | None) -> str:
    if base_dir is None:
        return os.path.abspath(path)
    return os.path.relpath(os.path.abspath(path), os.path.abspath(base_dir)).replace(os.sep, "/")


def _spec_from_arrays(proj: Projection) -> dict[str, Any]:
    """A spec for a projection built without one: the explicit synapse list."""
    spec: dict[str, Any] = {"connect": {"rule": "list", "pre": proj.pre_idx, "post": proj.post_idx},
                            "weight": np.asarray(proj.weight, dtype=np.float64),
                            "delay": np.asarray(proj.delay, dtype=np.int64)}
    if proj.plasticity is not None:
        spec["plasticity"] = dict(proj.plasticity)
    if proj.hw is not None:
        spec.update(proj.hw)
    return spec


__all__ = ["Network", "Population", "Projection", "Probe", "network_hash", "same", "FORMAT",
           "PROJECTION_STREAM", "CONNECT_RULES", "HW_UNIT_MODELS"]

"""NIR import and export: :func:`network_from_nir`, :func:`network_to_nir`, :func:`read_nir`, :func:`write_nir`.

NIR (the Neuromorphic Intermediate Representation, package ``nir``) describes
continuous-time nodes; neuromap networks are discrete-time with explicit synapse
lists. The mapping (derivation and what is approximated: ``docs/nir.md``):

* Population ``lif`` <-> ``CubaLIF``; ``if`` <-> ``IF``; ``poisson`` / ``spike_source``
  <-> ``Input``. On import ``LIF`` -> ``lif`` with a synaptic time constant so short
  that the synaptic current decays to exactly 0 within one step, ``LI`` / ``CubaLI``
  -> ``lif`` that never fires (probe ``v``).
* Projection <-> ``Linear`` (or ``Affine`` when it carries a bias) with weight shape
  (post, pre), one node per distinct delay, followed by a ``Delay`` node when the
  delay is longer than one step (neuromap delay d steps = NIR delay (d-1)*dt).
* NIR time is in ``time_unit_ms`` milliseconds (default 1000: seconds, as snnTorch
  and Norse write it); ``dt`` is neuromap's step in ms.

Everything NIR cannot express (plasticity, exact synapse lists with multapses and
order, refractory periods, initial voltages, Poisson rates, spike times, probes,
network name and seed) travels in the neuromap extension: the ``"neuromap"`` key of
node and graph ``metadata`` (format in ``docs/nir.md``). On import the extension is
used only where the standard fields are exactly what neuromap would export from it,
so a graph edited by another tool is read by its NIR meaning.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from neuromap import nir_conv, nir_conventions as nc
from neuromap.errors import NetworkFormatError
from neuromap.image_files import open_regular
from neuromap.network import Network, Population, Projection
from neuromap.netx_io import read_netx
from neuromap.neurons import lif

#: metadata key of the neuromap extension, and its version
EXT = "neuromap"
EXT_VERSION = 1
#: default NIR time unit in ms (NIR files from snnTorch / Norse use seconds)
TIME_UNIT_MS = 1000.0
NEURON_NODES = ("IF", "LIF", "CubaLIF", "LI", "CubaLI")
SPIKING_NODES = ("IF", "LIF", "CubaLIF")
SUPPORTED_NODES = ("Input", "Output", "IF", "LIF", "CubaLIF", "LI", "CubaLI", "Affine", "Linear", "Delay",
                   "Flatten", "NIRGraph") + nir_conv.NODES
EXPORT_MODELS = ("lif", "if", "poisson", "spike_source")
#: ``lif`` synaptic time constant standing in for NIR ``LIF``/``LI`` (no synaptic current): dt / this
#: factor, so exp(-dt/tau_syn) = exp(-1000) is exactly 0.0 in float64 (never below the model's 1e-6 ms)
INSTANT_SYN_FACTOR = 1000.0
MIN_TAU = 1e-6
NEVER = lif.NEVER_FIRES  # threshold of LI / CubaLI stand-ins: never reached (a readout)
#: largest NIR file read (the graph is loaded into memory by h5py)
MAX_NIR_BYTES = 2 * 2 ** 30


def _nir():
    try:
        import nir
    except ImportError:  # pragma: no cover - nir is a dependency
        raise NetworkFormatError("the 'nir' package is not installed", fix="pip install nir") from None
    return nir


# ---------------------------------------------------------------------------------------- export

def network_to_nir(net: Network, time_unit_ms: float = TIME_UNIT_MS):
    """``net`` as a ``nir.NIRGraph`` (see the module docstring), with the neuromap extension.

    Raises a one-line NetworkFormatError for a model NIR cannot express
    (supported: lif, if, poisson, spike_source).
    """
    nir = _nir()
    dt_n = net.dt / time_unit_ms
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    for pop in net.populations.values():
        if pop.model not in EXPORT_MODELS:
            raise NetworkFormatError(f"model {pop.model!r} has no NIR equivalent", field=f"populations.{pop.name}",
                                     fix="NIR export supports " + ", ".join(EXPORT_MODELS))
        node = _population_node(pop, dt_n, time_unit_ms)
        node.metadata = {EXT: _pack({"population": {"name": pop.name, "size": pop.size, "neuron": pop.neuron}})}
        nodes[pop.name] = node
    drift = {p.name: _if_drift(p, net.dt) for p in net.populations.values() if p.model == "if"}
    for proj in net.projections:
        pre, post = net.populations[proj.pre], net.populations[proj.post]
        groups = _projection_groups(proj, pre.size, post.size)
        bias = drift.pop(post.name, None)
        for g, (d, w) in enumerate(groups):
            name = proj.name if len(groups) == 1 else f"{proj.name}__d{d}"
            if g == 0:
                meta = {EXT: _pack({"projection": _projection_ext(proj)})}
            else:
                meta = {EXT: _pack({"projection_part": proj.name})}
            if bias is not None and g == 0:
                lin = nir.Affine(weight=w, bias=bias, metadata=meta)
            else:
                lin = nir.Linear(weight=w, metadata=meta)
            _add(nodes, name, lin)
            edges.append((proj.pre, name))
            if d > 1:
                _add(nodes, f"{name}__delay", nir.Delay(delay=np.full(post.size, (d - 1) * dt_n)))
                edges.append((name, f"{name}__delay"))
                name = f"{name}__delay"
            edges.append((name, proj.post))
    for name, b in drift.items():
        if np.any(b != 0):
            raise NetworkFormatError("an 'if' population with bias or leak needs an incoming projection in NIR "
                                     "(NIR IF has no bias)", field=f"populations.{name}",
                                     fix="set bias and leak to 0, or connect an input to it")
    has_out = {p.pre for p in net.projections}
    sinks = [p.name for p in net.populations.values() if p.name not in has_out and p.model in ("lif", "if")]
    for s in sinks:
        out = "output" if len(sinks) == 1 else f"output_{s}"
        _add(nodes, out, nir.Output(output_type=np.array([net.populations[s].size])))
        edges.append((s, out))
    meta = {"version": EXT_VERSION, "name": net.name, "dt": net.dt, "seed": net.seed, "time_unit_ms": time_unit_ms,
            "populations": list(net.populations), "projections": [p.name for p in net.projections],
            "probes": [{"population": p.population, "variables": list(p.variables), "neurons": p.neurons}
                       for p in net.probes]}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={EXT: _pack(meta)}, type_check=False)


def write_nir(net: Network, path: str | os.PathLike, time_unit_ms: float = TIME_UNIT_MS) -> str:
    """Write ``net`` as a NIR HDF5 file (atomically: temporary file + rename). Returns ``path``."""
    nir = _nir()
    path = os.fspath(path)
    graph = network_to_nir(net, time_unit_ms)
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    os.close(fd)
    try:
        nir.write(tmp, graph)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _add(nodes: dict, name: str, node: Any) -> None:
    if name in nodes:
        raise NetworkFormatError(f"NIR node name {name!r} is used twice", field=name,
                                 fix="rename the population or projection")
    nodes[name] = node


def _full(v: Any, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(v, dtype=np.float64), (n,)).astype(np.float64)


def _population_node(pop: Population, dt_n: float, unit: float):
    """The NIR node of one population (parameters as float64 arrays of length size)."""
    nir = _nir()
    n, p = pop.size, pop.neuron
    if pop.model in ("poisson", "spike_source"):
        return nir.Input(input_type=np.array([n]))
    th = np.nextafter(_full(p["v_th"], n), -np.inf)  # neuromap fires at v >= v_th, NIR at v > v_threshold
    if pop.model == "lif":
        tau_syn = _full(p["tau_syn"], n) / unit
        return nir.CubaLIF(tau_syn=tau_syn, tau_mem=_full(p["tau_m"], n) / unit, r=np.ones(n),
                           v_leak=_full(p["v_rest"], n) + _full(p["bias"], n), v_threshold=th,
                           v_reset=_full(p["v_reset"], n), w_in=tau_syn / dt_n)
    return nir.IF(r=np.full(n, 1.0 / dt_n), v_threshold=th, v_reset=_full(p["v_reset"], n))


def _if_drift(pop: Population, dt: float) -> np.ndarray:
    """Affine bias carrying an ``if`` population's drift: (bias - leak) * dt per step (r = 1/dt)."""
    return (_full(pop.neuron["bias"], pop.size) - _full(pop.neuron["leak"], pop.size)) * dt


def _effective(proj: Projection) -> np.ndarray:
    """Signed weights: each target adds the weight with its sign (``inh`` subtracts)."""
    sign = sum(-1.0 if t == "inh" else 1.0 for t in proj.target)
    return np.asarray(proj.weight, np.float64) * sign


def _projection_groups(proj: Projection, n_pre: int, n_post: int) -> list[tuple[int, np.ndarray]]:
    """(delay in steps, (post, pre) weight matrix) per distinct delay; multapses add."""
    w = _effective(proj)
    delay = np.asarray(proj.delay, np.int64)
    out = []
    for d in (np.unique(delay) if delay.size else np.array([1])):
        m = delay == d
        mat = np.zeros((n_post, n_pre))
        np.add.at(mat, (proj.post_idx[m], proj.pre_idx[m]), w[m])
        out.append((int(d), mat))
    return out


def _projection_ext(proj: Projection) -> dict:
    return {"name": proj.name, "pre": proj.pre, "post": proj.post, "pre_idx": proj.pre_idx,
            "post_idx": proj.post_idx, "weight": np.asarray(proj.weight, np.float64), "delay": proj.delay,
            "target": list(proj.target), "plasticity": proj.plasticity}


# ------------------------------------------------------------------------- extension encoding

def _pack(obj: Any) -> dict:
    """``{"json": text, "arrays": {key: ndarray}}``: arrays stored natively (exact in HDF5), the rest as JSON."""
    arrays: dict[str, np.ndarray] = {}

    def enc(v: Any) -> Any:
        if isinstance(v, np.ndarray):
            key = f"a{len(arrays)}"
            arrays[key] = np.ascontiguousarray(v)
            return {"__array__": key}
        if isinstance(v, dict):
            return {str(k): enc(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [enc(x) for x in v]
        if isinstance(v, np.generic):
            return v.item()
        return v

    return {"json": json.dumps(enc(obj), allow_nan=False), "arrays": arrays}


def _unpack(meta: Any) -> Any:
    """Inverse of :func:`_pack`; None when ``meta`` carries no (readable) extension."""
    if not isinstance(meta, dict) or not isinstance(meta.get(EXT), dict):
        return None
    ext = meta[EXT]
    text = ext.get("json")
    text = text.decode() if isinstance(text, bytes) else text
    arrays = ext.get("arrays") or {}
    try:
        obj = json.loads(text)
    except (TypeError, ValueError):
        return None

    def dec(v: Any) -> Any:
        if isinstance(v, dict):
            if set(v) == {"__array__"}:
                return np.asarray(arrays[v["__array__"]])
            return {k: dec(x) for k, x in v.items()}
        if isinstance(v, list):
            return [dec(x) for x in v]
        return v

    try:
        return dec(obj)
    except KeyError:
        return None


# ---------------------------------------------------------------------------------------- import

@dataclass
class _Conn:
    """One weighted path source -> [Delay] -> Affine/Linear -> [Delay] -> neuron node."""

    src: str
    dst: str
    weight: np.ndarray | None = None  # (post, pre); None = identity
    bias: np.ndarray | None = None
    via: str | None = None  # Affine/Linear node name
    d_pre: Any = 0.0  # NIR time, scalar or per pre neuron
    d_post: Any = 0.0  # NIR time, scalar or per post neuron
    ext: Any = None


@dataclass
class _Graph:
    nodes: dict[str, Any]
    edges: list[tuple[str, str]]
    succ: dict[str, list[str]] = field(default_factory=dict)


def read_nir(path: str | os.PathLike, **kwargs) -> Network:
    """Read a NIR HDF5 file into a Network (keyword arguments as :func:`network_from_nir`)."""
    net = network_from_nir(os.fspath(path), **kwargs)
    net.source = os.fspath(path)
    return net


def load_other(ref: str, seed: int | None = None) -> Network:
    """The :func:`neuromap.io.load_network` hook for inputs that are not YAML/JSON files.

    ``*.nir``: :func:`read_nir`, ``*.net``: :func:`neuromap.netx_io.read_netx` (lava-dl netx HDF5) (``seed``
    replaces the seed: only inputs are drawn again, synapses are explicit). ``path/to/module.py:function``:
    imports the file and returns ``function()`` (``function(seed=seed)`` when a seed is given), which
    must be a Network.
    """
    if ".py:" in ref and not ref.lower().endswith((".nir", ".net")):
        return _load_python(ref, seed)
    net = read_netx(ref) if ref.lower().endswith(".net") else read_nir(ref)
    if seed is not None:
        net.seed = Network(seed=seed).seed  # validated like any seed
    return net


def _load_python(ref: str, seed: int | None) -> Network:
    import importlib.util
    file, func = ref.rsplit(":", 1)
    if not os.path.isfile(file):
        raise NetworkFormatError("file not found", file=file, fix="give path/to/module.py:function")
    try:
        spec = importlib.util.spec_from_file_location(f"_neuromap_user_{abs(hash(file))}", file)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        fn = getattr(mod, func, None)
        if not callable(fn):
            raise NetworkFormatError(f"has no function {func!r}", file=file,
                                     fix="give module.py:function with a function returning a Network")
        net = fn() if seed is None else fn(seed=seed)
    except NetworkFormatError:
        raise
    except Exception as e:  # user code: report it on one line
        raise NetworkFormatError(f"{func}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
                                 file=file, fix="fix the function (run it with --debug for the traceback)") from e
    if not isinstance(net, Network):
        raise NetworkFormatError(f"{func}() returned a {type(net).__name__}, not a Network", file=file,
                                 fix="return a neuromap.network.Network")
    if net.source is None:
        net.source = ref
    return net


def _survives_reading(path: str, timeout_s: float = 120.0) -> str | None:
    """Read the HDF5 file once in a forked child: libhdf5 can crash the process (SIGSEGV) on a corrupted
    file, which no Python ``except`` catches. Returns why the child died, or None when it finished
    (reading it here is then safe; Python errors are left to the caller's own read). No fork: None."""
    import signal
    import time
    if not hasattr(os, "fork"):
        return None
    pid = os.fork()
    if pid == 0:   # child: read everything, report by exit status only (silently: the parent prints one line)
        code = 0
        try:
            import faulthandler
            faulthandler.disable()
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            _read_graph_unchecked(path)
        except BaseException:  # noqa: BLE001 - the parent repeats the read and reports the error
            code = 3
        os._exit(code)
    deadline = time.monotonic() + timeout_s
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return f"reading it took more than {timeout_s:g} s"
        time.sleep(0.005)
    if os.WIFSIGNALED(status):
        return f"the HDF5 library crashed reading it (signal {os.WTERMSIG(status)})"
    return None


def _read_graph(path: str):
    """``nir.read`` without NIR's type inference (which rejects recurrent graphs), after a child process
    survived reading the same file (:func:`_survives_reading`)."""
    why = _survives_reading(path)
    if why:
        raise NetworkFormatError(f"not a readable NIR file: {why}", file=path,
                                 fix="the file is corrupted; write it again with nir.write")
    return _read_graph_unchecked(path)


def _read_graph_unchecked(path: str):
    import h5py
    from nir.serialization import hdf2dict
    nir = _nir()

    def build(d: dict):
        if d.get("type") == "NIRGraph":
            return nir.NIRGraph(nodes={k: build(v) for k, v in d["nodes"].items()},
                                edges=[(_text(a), _text(b)) for a, b in d["edges"]],
                                metadata=d.get("metadata", {}), type_check=False)
        return nir.dict2NIRNode(d)

    with h5py.File(path, "r") as f:
        return build(hdf2dict(f["node"]))


def _text(v: Any) -> str:
    return v.decode("utf8") if isinstance(v, bytes) else str(v)


def network_from_nir(graph_or_path: Any, dt: float | None = None, time_unit_ms: float | str | None = None,
                     inputs: dict[str, Any] | None = None, use_extension: bool = True,
                     name: str | None = None, convention: str | None = None) -> Network:
    """A Network from a ``nir.NIRGraph`` or a NIR file path (mapping in ``docs/nir.md``).

    dt: ms per step (default: the extension's dt, else 1.0). time_unit_ms: ms per NIR
    time unit (default: the extension's, else the convention's; ``"step"``: one step). inputs: Input
    node name (``"*"``: every Input node) -> neuron spec of its input population (default
    ``{"model": "poisson"}``: 10 Hz).
    use_extension: read the neuromap extension where it is consistent with the graph.
    convention: the producer's conventions (:mod:`neuromap.nir_conventions`: snntorch, norse, sinabs,
    rockpool, lava-dl, lava, nir); default: detected from the file (``nir`` when it does not say).
    It sets the default dt and time unit, the reset mechanism and the CubaLIF current convention.
    Implausible layers (tau far below dt, weights that can never make a neuron spike) are reported as
    :class:`neuromap.nir_conventions.NIRImportWarning` warnings with numbers.
    """
    _nir()   # a one-line error when the nir package is missing
    file = None
    if isinstance(graph_or_path, (str, os.PathLike)):
        file = os.fspath(graph_or_path)
        if not os.path.exists(file):
            raise NetworkFormatError("file not found", file=file, fix="check the path")
        try:   # a regular file (a FIFO is refused without blocking), at most MAX_NIR_BYTES
            open_regular(file, "the NIR file", MAX_NIR_BYTES,
                         error=lambda p: NetworkFormatError(p, file=file, fix="give a NIR HDF5 file")).close()
        except OSError as e:
            raise NetworkFormatError(f"cannot read ({e.strerror or type(e).__name__})", file=file,
                                     fix="check the file's permissions") from None
        try:
            graph = _read_graph(file)
        except NetworkFormatError:
            raise
        except Exception as e:  # h5py / nir raise many types for a bad file
            raise NetworkFormatError(f"not a readable NIR file ({type(e).__name__}: {str(e)[:80]})", file=file,
                                     fix="write it with nir.write (NIR HDF5 format)") from None
    else:
        graph = graph_or_path
    try:
        return _import(graph, dt, time_unit_ms, inputs or {}, use_extension, name, convention,
                       f"{file}: " if file else "")
    except NetworkFormatError as e:
        raise e.located(file=file) from None


def _import(graph: Any, dt: float | None, unit: float | None, inputs: dict, use_ext: bool,
            name: str | None, convention: str | None = None, where: str = "") -> Network:
    nir = _nir()
    if not isinstance(graph, nir.NIRGraph):
        raise NetworkFormatError(f"a {type(graph).__name__} is not a NIRGraph",
                                 fix="pass a nir.NIRGraph or a .nir file")
    gext = _unpack(graph.metadata) if use_ext else None
    gext = gext if isinstance(gext, dict) and gext.get("version") == EXT_VERSION else None
    g = _flatten(graph)
    if convention is not None:
        conv = nc.convention(convention)
    elif gext is not None:
        conv = nc.CONVENTIONS["nir"]     # written by neuromap: NIR's reference meaning
    else:
        conv = nc.detect(graph, g.nodes)[0]
    dt = float(dt if dt is not None else (gext or {}).get("dt", conv.dt_ms))
    if isinstance(unit, str) and unit == "step":   # one NIR time unit = one step
        unit = dt
    unit = float(unit if unit is not None else (gext or {}).get("time_unit_ms", conv.time_unit_ms(dt)))
    dt_n = dt / unit
    net = Network(name=name or (gext or {}).get("name", "nir"), dt=dt, seed=int((gext or {}).get("seed", 0)))
    conns, outputs = _trace(g)
    sizes = _sizes(g, conns)
    node_ext = {n: (_unpack(getattr(node, "metadata", None)) if use_ext else None) for n, node in g.nodes.items()}
    # populations: nodes in graph order, reordered by the extension's order where it names them
    pops: dict[str, tuple[str, int, dict]] = {}
    bias_in: dict[str, np.ndarray] = {}
    seen_bias: set[tuple[str, str]] = set()
    for c in conns:
        if c.bias is not None and (c.via, c.dst) not in seen_bias:
            seen_bias.add((c.via, c.dst))
            bias_in[c.dst] = bias_in.get(c.dst, 0.0) + _vec(c.bias, sizes[c.dst], c.via)
    for nname, node in g.nodes.items():
        kind = type(node).__name__
        if kind not in NEURON_NODES and not (kind == "Input" and "." not in nname):
            continue
        n = sizes[nname]
        ext = (node_ext[nname] or {}).get("population")
        if ext is not None and _population_matches(ext, node, n, dt_n, unit):
            pops[nname] = (ext["name"], n, ext["neuron"])
        elif kind == "Input":
            pops[nname] = (_pop_name(nname), n, dict(inputs.get(nname, inputs.get("*", {"model": "poisson"}))))
        else:
            pops[nname] = (_pop_name(nname), n, _neuron_params(node, n, dt, dt_n, unit, bias_in.get(nname), conv))
    order = {p: i for i, p in enumerate((gext or {}).get("populations", []))}
    for nname in sorted(pops, key=lambda k: (order.get(pops[k][0], len(order)), list(pops).index(k))):
        pname, n, neuron = pops[nname]
        net.add_population(pname, n, neuron)
    pop_of = {k: v[0] for k, v in pops.items()}
    pop_nodes = {k: v for k, v in g.nodes.items() if k in pop_of}
    foreign = {k: v for k, v in pop_nodes.items() if not (node_ext[k] or {}).get("population")}
    nc.warn_all(nc.time_constant_warnings(pop_nodes, dt, unit, conv) + nc.if_only_warnings(pop_nodes, dt, unit, conv)
                + nc.cuba_bias_warnings(foreign, bias_in, dt, unit), where)
    _add_projections(net, g, conns, pop_of, sizes, node_ext, gext, dt_n, conv)
    _add_probes(net, g, outputs, pop_of, gext)
    nc.warn_all(nc.weight_warnings(net), where)
    return net


def _pop_name(node_name: str) -> str:
    """A valid neuromap name for a NIR node name (``lif1.lif`` -> ``lif1_lif``, ``0`` -> ``n0``)."""
    s = re.sub(r"[^A-Za-z0-9_\-]", "_", node_name)
    return s if re.match(r"^[A-Za-z_]", s) else "n" + s


def _vec(v: Any, n: int, where: str) -> np.ndarray:
    a = np.asarray(v, np.float64).ravel()
    if a.size == 1:
        return np.full(n, a[0])
    if a.size != n:
        raise NetworkFormatError(f"has {a.size} values for {n} neurons", field=where,
                                 fix="give one value per neuron or a single value")
    return a


def _flatten(graph: Any, prefix: str = "") -> _Graph:
    """Nodes and edges with nested NIRGraphs inlined (inner nodes named ``outer.inner``)."""
    nir = _nir()
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    ins: dict[str, list[str]] = {}  # subgraph name -> inner nodes its Input feeds
    outs: dict[str, list[str]] = {}  # subgraph name -> inner nodes feeding its Output
    for n, node in graph.nodes.items():
        kind = type(node).__name__
        full = prefix + n
        if kind not in SUPPORTED_NODES:
            why = ("" if kind != "Threshold" else
                   " (a stateless Heaviside: it spikes iff this step's input exceeds the threshold, keeping no state; "
                   "neuromap's lif and if carry v from step to step, and a lif that forgets within one step, "
                   "exp(-dt/tau_m) = 0, has a propagator of 0: no input reaches v, so no neuron computes it exactly)")
            raise NetworkFormatError(f"node {full!r} is a {kind}, which neuromap cannot import{why}",
                                     field=f"nodes.{full}",
                                     fix=("export the layer as a spiking neuron node (IF, LIF or CubaLIF); "
                                          if kind == "Threshold" else "") + "supported NIR nodes: "
                                     + ", ".join(SUPPORTED_NODES))
        if isinstance(node, nir.NIRGraph):
            sub = _flatten(node, full + ".")
            inner_in = [k for k, v in node.nodes.items() if isinstance(v, nir.Input)]
            inner_out = [k for k, v in node.nodes.items() if isinstance(v, nir.Output)]
            ins[full] = [b for a, b in sub.edges if a in {full + "." + k for k in inner_in}]
            outs[full] = [a for a, b in sub.edges if b in {full + "." + k for k in inner_out}]
            drop = {full + "." + k for k in inner_in + inner_out}
            nodes.update({k: v for k, v in sub.nodes.items() if k not in drop})
            edges += [(a, b) for a, b in sub.edges if a not in drop and b not in drop]
        else:
            nodes[full] = node
    for a, b in graph.edges:
        a, b = prefix + a, prefix + b
        for x in outs.get(a, [a]):
            for y in ins.get(b, [b]):
                if x not in nodes or y not in nodes:
                    missing = x if x not in nodes else y
                    raise NetworkFormatError(f"edge ({a!r}, {b!r}) names unknown node {missing!r}",
                                             field="edges", fix="every edge joins two nodes of the graph")
                edges.append((x, y))
    g = _Graph(nodes, edges)
    for a, b in edges:
        g.succ.setdefault(a, []).append(b)
    return g


def _trace(g: _Graph) -> tuple[list[_Conn], list[tuple[str, str]]]:
    """Every path from a spike source to a neuron node; (source, Output node) pairs."""
    conns: list[_Conn] = []
    outputs: list[tuple[str, str]] = []
    reached: dict[str, tuple] = {}      # neuron node -> the (C, H, W) the first convolution path into it gave
    for src in _from_inputs(g):
        node = g.nodes[src]
        kind = type(node).__name__
        if kind not in SPIKING_NODES and kind not in ("Input", "LI", "CubaLI"):
            continue
        stack = [(b, _Conn(src, "")) for b in g.succ.get(src, [])]
        steps = 0
        while stack:
            steps += 1
            if steps > 100 * (len(g.nodes) + 1):
                raise NetworkFormatError(f"a cycle of non-neuron nodes follows {src!r}", field=f"nodes.{src}",
                                         fix="every cycle must pass through a neuron node")
            at, c = stack.pop()
            n = g.nodes[at]
            k = type(n).__name__
            if k == "Output":
                outputs.append((src, at))
                continue
            if kind in ("LI", "CubaLI"):
                raise NetworkFormatError(f"{kind} node {src!r} outputs a voltage, not spikes; it can only feed an "
                                         "Output", field=f"nodes.{src}", fix="connect it to an Output node only")
            if k in NEURON_NODES:
                conns.append(_Conn(c.src, at, c.weight, c.bias, c.via, c.d_pre, c.d_post))
                if isinstance(c.weight, nir_conv.Chain) and c.weight.cur is not None:
                    reached.setdefault(at, c.weight.cur)
                continue
            if k == "Input":
                raise NetworkFormatError(f"edge into Input node {at!r}", field=f"nodes.{at}",
                                         fix="Input nodes only send")
            c2 = _Conn(c.src, "", c.weight, c.bias, c.via, c.d_pre, c.d_post)
            if k in nir_conv.NODES or (k in ("Affine", "Linear") and isinstance(c.weight, nir_conv.Chain)):
                c2.weight = nir_conv.extend(c.weight, n, at, g.nodes[c.src],     # convolutions: neuromap/nir_conv.py
                                            reached.get(c.src))
                c2.via, c2.bias = c.via or at, c2.weight.bias
            elif k in ("Affine", "Linear"):
                if c.weight is not None:
                    raise NetworkFormatError(f"{at!r} follows another weight node ({c.via!r})", field=f"nodes.{at}",
                                             fix="a path from one neuron node to the next may hold one Affine/Linear")
                w = np.asarray(n.weight, np.float64)
                if w.ndim != 2:
                    raise NetworkFormatError(f"weight has shape {w.shape}", field=f"nodes.{at}.weight",
                                             fix="neuromap imports 2-D (out, in) weights")
                c2.weight, c2.via = w, at
                c2.bias = np.asarray(n.bias, np.float64) if k == "Affine" else None
            elif k == "Delay":
                d = np.asarray(n.delay, np.float64).ravel()
                if c.weight is None:
                    c2.d_pre = c.d_pre + d
                else:
                    c2.d_post = c.d_post + d
            stack += [(b, c2) for b in g.succ.get(at, [])]
    return conns, outputs


def _from_inputs(g: _Graph) -> list[str]:
    """Node names in breadth-first order from the Input nodes (then the unreached ones): a layer's sources are
    traced before it, so a convolution path out of it can start from the shape the path into it reached."""
    order = [n for n, node in g.nodes.items() if type(node).__name__ == "Input"]
    seen = set(order)
    for n in order:
        for b in g.succ.get(n, []):
            if b not in seen:
                seen.add(b)
                order.append(b)
    return order + [n for n in g.nodes if n not in seen]


def _sizes(g: _Graph, conns: list[_Conn]) -> dict[str, int]:
    """Neuron count of every Input and neuron node (parameter shapes, weight shapes, identity links)."""
    sizes: dict[str, set[int]] = {}
    for n, node in g.nodes.items():
        k = type(node).__name__
        if k == "Input":
            sizes[n] = {int(np.prod(node.input_type["input"]))}
        elif k in NEURON_NODES:
            s = {int(np.size(v)) for v in vars(node).values() if isinstance(v, np.ndarray) and np.size(v) > 1}
            sizes[n] = s
    for c in conns:
        if c.weight is not None:
            sizes[c.dst].add(c.weight.shape[0])
            sizes[c.src].add(c.weight.shape[1])
    changed = True
    while changed:  # identity links: source and target have the same size
        changed = False
        for c in conns:
            if c.weight is None and sizes[c.src] != sizes[c.dst] and sizes[c.src] | sizes[c.dst]:
                u = sizes[c.src] | sizes[c.dst]
                sizes[c.src], sizes[c.dst], changed = set(u), set(u), True
    out = {}
    for n, s in sizes.items():
        if len(s) > 1:
            raise NetworkFormatError(f"node {n!r} has inconsistent sizes {sorted(s)}", field=f"nodes.{n}",
                                     fix="parameter and weight shapes must agree")
        out[n] = s.pop() if s else 1
    return out


def _neuron_params(node: Any, n: int, dt: float, dt_n: float, unit: float, bias: np.ndarray | None,
                   conv: Any = None) -> dict:
    """neuromap neuron dict for a NIR neuron node (mapping and conventions in docs/nir.md)."""
    kind = type(node).__name__
    v = lambda name: _vec(getattr(node, name), n, f"{kind}.{name}")  # noqa: E731
    b = np.zeros(n) if bias is None else bias
    if kind == "IF":
        out = {"model": "if", "v_th": _threshold(v("v_threshold"), conv), "v_reset": v("v_reset"),
               "bias": v("r") * b / unit}
    else:
        leaky = {"LIF": "tau", "LI": "tau"}.get(kind, "tau_mem")
        euler = conv is not None and conv.decay == "euler"
        tau = (lambda name: _euler_tau(v(name), dt, dt_n, f"{kind}.{name}")) if euler else \
            (lambda name: v(name) * unit)
        out = {"model": "lif", "tau_m": tau(leaky), "v_rest": v("v_leak"), "v_init": v("v_leak")}
        if kind in ("CubaLIF", "CubaLI"):
            out["tau_syn"] = tau("tau_syn")
            out["bias"] = v("r") * v("w_in") * b
            if conv is not None and conv.cuba_current == "jump":   # b added to I every step: I -> w_in b tau_syn/h
                out["bias"] = out["bias"] * v("tau_syn") / dt_n
        else:
            out["tau_syn"] = np.full(n, max(dt / INSTANT_SYN_FACTOR, MIN_TAU))
            out["bias"] = v("r") * b
        if kind in ("LIF", "CubaLIF"):
            out["v_th"], out["v_reset"] = _threshold(v("v_threshold"), conv), v("v_reset")
        else:
            out["v_th"], out["v_reset"] = np.full(n, NEVER), v("v_leak")
    if conv is not None and conv.reset == "subtract" and kind in SPIKING_NODES:
        out["reset"] = "subtract"
        if conv.subtract_timing == "next" and kind != "IF":   # subtracted a step later, undecayed: distance D/a
            a = np.exp(-dt / out["tau_m"])
            out["v_reset"] = out["v_th"] - (out["v_th"] - out["v_reset"]) / a
    return {k: (x if isinstance(x, str) else _compact(x)) for k, x in out.items()}


def _threshold(v_threshold: np.ndarray, conv: Any) -> np.ndarray:
    """neuromap's v_th (fires at v >= v_th) for a NIR threshold: NIR fires at v > v_threshold (the next float up);
    a producer firing at v >= v_threshold (Sinabs) keeps it."""
    return v_threshold if conv is not None and conv.fires == "ge" else np.nextafter(v_threshold, np.inf)


def _euler_tau(tau: np.ndarray, dt: float, dt_n: float, where: str) -> np.ndarray:
    """tau' (ms) whose exact decay exp(-dt/tau') is the forward-Euler decay 1 - h/tau of a NIR time constant."""
    x = dt_n / tau
    if np.any(x >= 1) or np.any(x <= 0):
        k = int(np.argmax((x >= 1) | (x <= 0)))
        raise NetworkFormatError(f"tau = {tau[k]:.3g} NIR time units is not above the step h = {dt_n:.3g}: the "
                                 f"framework's forward-Euler decay 1 - h/tau = {1 - x[k]:.3g} is not in (0, 1)",
                                 field=where, fix="give the exporter's --nir-convention, or --time-unit / --dt")
    return -dt / np.log1p(-x)


def _compact(a: np.ndarray) -> Any:
    """A scalar when every neuron has the same value."""
    return float(a[0]) if a.size and np.all(a == a[0]) else a


def _weight_gain(node: Any, neuron: dict, n: int, dt: float, dt_n: float, conv: Any = None) -> np.ndarray:
    """neuromap weight per NIR weight unit for each post neuron (docs/nir.md, *Weights*)."""
    kind = type(node).__name__
    v = lambda name: _vec(getattr(node, name), n, f"{kind}.{name}")  # noqa: E731
    if kind == "IF":
        return v("r") * dt_n
    p = lif.constants({**neuron, "tau_m": _vec(neuron["tau_m"], n, "tau_m"),
                       "tau_syn": _vec(neuron["tau_syn"], n, "tau_syn")}, n, dt)["p"]
    if kind in ("CubaLIF", "CubaLI"):
        if conv is not None and conv.cuba_current == "jump":   # the framework adds w_in W to I directly
            g = v("r") * v("w_in")
        else:
            g = v("r") * v("w_in") * dt_n / v("tau_syn")
        if conv is not None and conv.decay == "euler":   # v_t = (1 - h/tau_mem) v + r (h/tau_mem) I_t: p J = that
            g = g * (dt_n / v("tau_mem")) / p
        elif conv is not None and conv.current_to_v == "decayed":   # v_t = a v + I_t exp(-h/tau_syn): p J = that
            g = g * (dt_n / v("tau_mem")) * np.exp(-dt_n / v("tau_syn")) / np.exp(-dt_n / v("tau_mem")) / p
        return g
    # LIF / LI: the spike moves v by r*W*dt/tau (``jump``: r*W) by the end of its arrival step; lif's first-step
    # gain is p
    if np.any(p <= 0):
        k = int(np.argmax(p <= 0))
        raise NetworkFormatError(f"tau = {v('tau')[k]:.3g} NIR time units ({v('tau')[k] * dt / dt_n:.3g} ms) is "
                                 f"{dt_n / v('tau')[k]:.3g}x below dt = {dt:g} ms: an input spike decays to exactly 0 "
                                 "within its step", field=f"{kind}.tau",
                                 fix="give the exporter's --nir-convention, or --time-unit / --dt")
    if conv is not None and conv.lif_input == "jump":
        return v("r") / p
    return v("r") * dt_n / v("tau") / p


def _population_matches(ext: dict, node: Any, n: int, dt_n: float, unit: float) -> bool:
    """True when exporting the extension's population gives exactly this node's NIR parameters."""
    try:
        pop = Population(ext["name"], int(ext["size"]), ext["neuron"])
        if pop.size != n or pop.model not in EXPORT_MODELS:
            return False
        ref = _population_node(pop, dt_n, unit)
    except (KeyError, TypeError, ValueError):
        return False
    if type(ref) is not type(node):
        return False
    if type(node).__name__ == "Input":
        return int(np.prod(node.input_type["input"])) == n
    keys = [k for k, x in vars(ref).items() if isinstance(x, np.ndarray) and k not in ("input_type", "output_type")]
    try:   # a parameter of the wrong shape or type is not the extension's population (checked later, by NIR)
        return all(np.array_equal(np.broadcast_to(np.asarray(getattr(node, k), np.float64), (n,)), getattr(ref, k))
                   for k in keys)
    except (TypeError, ValueError):
        return False


def _delay_steps(c: _Conn, pre: np.ndarray, post: np.ndarray, dt_n: float, n_pre: int, n_post: int) -> np.ndarray:
    dp = np.broadcast_to(np.asarray(c.d_pre, np.float64), (n_pre,)) if np.size(c.d_pre) in (1, n_pre) else None
    dq = np.broadcast_to(np.asarray(c.d_post, np.float64), (n_post,)) if np.size(c.d_post) in (1, n_post) else None
    if dp is None or dq is None:
        raise NetworkFormatError(f"Delay size does not match the path {c.src!r} -> {c.dst!r}", field="nodes",
                                 fix="a Delay has one value per neuron of the layer it delays")
    d = dp[pre] + dq[post]
    if np.any(d < 0) or not np.all(np.isfinite(d)):
        raise NetworkFormatError(f"negative or non-finite delay on {c.src!r} -> {c.dst!r}", field="nodes",
                                 fix="delays are >= 0")
    return 1 + np.rint(d / dt_n).astype(np.int64)


def _add_projections(net: Network, g: _Graph, conns: list[_Conn], pop_of: dict, sizes: dict, node_ext: dict,
                     gext: dict | None, dt_n: float, conv: Any = None) -> None:
    structural: list[tuple[str, dict]] = []  # (extension projection name or "", connect kwargs)
    groups: dict[str, list[tuple[int | None, np.ndarray, str, str]]] = {}
    for c in conns:
        n_pre, n_post = sizes[c.src], sizes[c.dst]
        if isinstance(c.weight, nir_conv.Chain):       # convolutions: neuromap/nir_conv.py
            if c.weight.shape != (n_post, n_pre):
                raise NetworkFormatError(f"the layers {c.weight.names} map {c.weight.n_in} neurons to "
                                         f"{c.weight.n_out}, not {c.src!r} ({n_pre}) -> {c.dst!r} ({n_post})",
                                         field=f"nodes.{c.via}", fix="check the layer shapes")
            gain = _weight_gain(g.nodes[c.dst], net.populations[pop_of[c.dst]].neuron, n_post, net.dt, dt_n, conv)
            kw = nir_conv.connect_kwargs(c.weight, gain, partial(_delay_steps, c, dt_n=dt_n, n_pre=n_pre,
                                                                 n_post=n_post))
            structural.append(("", dict(pre=pop_of[c.src], post=pop_of[c.dst], name=_pop_name(c.via), **kw)))
            continue
        w = np.eye(n_post, n_pre) if c.weight is None else c.weight
        if w.shape != (n_post, n_pre):
            raise NetworkFormatError(f"weight shape {w.shape} does not fit {c.src!r} ({n_pre}) -> {c.dst!r} "
                                     f"({n_post})", field=f"nodes.{c.via}", fix="weights are (out, in)")
        post, pre = np.nonzero(w)
        delay = _delay_steps(c, pre, post, dt_n, n_pre, n_post)
        post_pop = net.populations[pop_of[c.dst]]
        gain = _weight_gain(g.nodes[c.dst], post_pop.neuron, n_post, net.dt, dt_n, conv)
        kw = dict(pre=pop_of[c.src], post=pop_of[c.dst], connect={"rule": "list", "pre": pre, "post": post},
                  weight=w[post, pre] * gain[post], delay=delay, name=_pop_name(c.via or f"{c.src}_to_{c.dst}"))
        ext = node_ext.get(c.via) or {} if c.via else {}
        tag = (ext.get("projection") or {}).get("name") or ext.get("projection_part") or ""
        structural.append((tag, kw))
        if tag:  # the delay of every (post, pre) pair, zero weights included, must be one value
            grid = _delay_steps(c, np.tile(np.arange(n_pre), n_post), np.repeat(np.arange(n_post), n_pre), dt_n,
                                n_pre, n_post)
            d = int(grid[0]) if grid.size and np.all(grid == grid[0]) else None
            groups.setdefault(tag, []).append((d, w, kw["pre"], kw["post"]))
    exact = {}
    for c in conns:
        e = (node_ext.get(c.via) or {}).get("projection") if c.via else None
        if e is not None and _projection_matches(e, groups.get(e.get("name"), []), net):
            exact[e["name"]] = e
    made: list[tuple[str, dict]] = []
    for tag, kw in structural:
        if tag in exact:
            if tag not in {t for t, _ in made}:
                e = exact[tag]
                made.append((tag, dict(pre=e["pre"], post=e["post"], name=e["name"],
                                       connect={"rule": "list", "pre": e["pre_idx"], "post": e["post_idx"]},
                                       weight=np.asarray(e["weight"], np.float64), delay=e["delay"],
                                       target=e["target"], plasticity=e["plasticity"])))
        else:
            made.append(("", kw))
    order = {p: i for i, p in enumerate((gext or {}).get("projections", []))}
    made.sort(key=lambda t: order.get(t[1]["name"], len(order)))  # stable: graph order otherwise
    taken: set[str] = set()
    for _, kw in made:
        base, k = kw["name"], 2
        while kw["name"] in taken:
            kw["name"], k = f"{base}_{k}", k + 1
        taken.add(kw["name"])
        net.connect(**kw)


def _projection_matches(e: dict, found: list, net: Network) -> bool:
    """True when exporting the extension's projection gives exactly the weight nodes that carry it."""
    try:
        proj = Projection(e["name"], e["pre"], e["post"], np.asarray(e["pre_idx"], np.int64),
                          np.asarray(e["post_idx"], np.int64), np.asarray(e["weight"], np.float64),
                          np.asarray(e["delay"], np.int64), tuple(e["target"]))
        pre, post = net.populations[proj.pre], net.populations[proj.post]
        ref = _projection_groups(proj, pre.size, post.size)
    except (KeyError, TypeError, ValueError, IndexError):
        return False
    if len(ref) != len(found) or any(f[2] != proj.pre or f[3] != proj.post for f in found):
        return False
    got = {d: w for d, w, _, _ in found}
    return len(got) == len(ref) and all(d in got and np.array_equal(got[d], w) for d, w in ref)


def _add_probes(net: Network, g: _Graph, outputs: list, pop_of: dict, gext: dict | None) -> None:
    probes = (gext or {}).get("probes")
    if probes is not None and all(p.get("population") in net.populations for p in probes):
        for p in probes:
            net.add_probe(p["population"], tuple(p["variables"]), p.get("neurons"))
        return
    for src, _ in outputs:
        pop = net.populations[pop_of[src]]
        variables = ("spikes", "v") if type(g.nodes[src]).__name__ in ("LI", "CubaLI") else ("spikes",)
        if all(p.population != pop.name for p in net.probes):
            net.add_probe(pop.name, variables)


__all__ = ["network_from_nir", "network_to_nir", "read_nir", "write_nir", "load_other", "SUPPORTED_NODES", "EXT"]

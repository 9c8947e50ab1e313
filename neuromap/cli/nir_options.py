"""Options of ``simulate`` / ``compile`` / ``compare`` for ``.nir`` networks: step, time unit, exporter
convention and inputs (:func:`neuromap.nir_io.read_nir`; conventions in docs/nir.md); ``.net`` (lava-dl netx,
:func:`neuromap.netx_io.read_netx`) takes the step and the inputs.

``--dt MS`` (step), ``--time-unit s|ms|us|step|MS`` (what one NIR time unit is), ``--nir-convention NAME``
(snntorch, norse, sinabs, rockpool, lava-dl, lava, nir), ``--input-rate HZ`` (every Input node is a
Poisson source at HZ) or ``--input-spikes FILE`` (``.npy``: a (steps, neurons) raster for the graph's Input
node; ``.npz``: one raster per Input node, keyed by its population name). A nonzero cell (t, i) is a
spike of neuron i at step t (time t * dt ms). Bad values are one-line errors (exit 2).
"""
from __future__ import annotations

import functools
import math
import os
from typing import Any

import click
import numpy as np

from neuromap.errors import NeuromapError
from neuromap.image_files import load_numpy_file
from neuromap.io import load_network
from neuromap.network import Network, Population
from neuromap.netx_io import read_netx
from neuromap.nir_conventions import CONVENTIONS, NIRImportWarning
from neuromap.nir_io import read_nir

#: named time units -> ms per NIR time unit ("step": one step of dt)
TIME_UNITS = {"s": 1000.0, "ms": 1.0, "us": 1e-3, "step": "step"}
#: largest raster read (cells)
MAX_RASTER_CELLS = 10 ** 9


def nir_options(f):
    """Add the ``.nir`` options to a command; they reach it as ``nir_kwargs`` (read_nir keywords or {})."""
    @click.option("--dt", "nir_dt", type=click.FloatRange(min=0, min_open=True), default=None, metavar="MS",
                  help=".nir/.net only: the step in ms (default: the file's neuromap extension, else the convention's: "
                       "snntorch 0.1, others 1; .net: 1).")
    @click.option("--time-unit", "nir_time_unit", default=None, metavar="s|ms|us|step|MS",
                  help=".nir only: what one NIR time unit is (default: the convention's; s for snntorch/norse/"
                       "rockpool, step for sinabs/lava-dl/lava).")
    @click.option("--nir-convention", type=click.Choice(list(CONVENTIONS), case_sensitive=False), default=None,
                  help=".nir only: how the exporter wrote the file (docs/nir.md); default: detected.")
    @click.option("--input-rate", type=click.FloatRange(min=0), default=None, metavar="HZ",
                  help=".nir/.net only: every Input node (.net: the input layer) is a Poisson source at HZ "
                       "(default 10).")
    @click.option("--input-spikes", type=click.Path(dir_okay=False), default=None, metavar="FILE",
                  help=".nir/.net only: a .npy (steps, neurons) spike raster for the Input node, or a .npz with one "
                       "raster per Input node name.")
    @functools.wraps(f)
    def wrapper(*args, nir_dt=None, nir_time_unit=None, nir_convention=None, input_rate=None, input_spikes=None,
                **kwargs):
        given = {"--dt": nir_dt, "--time-unit": nir_time_unit, "--nir-convention": nir_convention,
                 "--input-rate": input_rate, "--input-spikes": input_spikes}
        net_arg = kwargs.get("network") or kwargs.get("network_file") or ""
        kwargs["nir_kwargs"] = read_kwargs(str(net_arg), given)
        return f(*args, **kwargs)
    return wrapper


def parse_time_unit(text: str) -> float | str:
    """ms per NIR time unit for ``--time-unit`` (a name or a positive number of ms), or ``"step"``."""
    t = str(text).strip().lower()
    if t in TIME_UNITS:
        return TIME_UNITS[t]
    try:
        v = float(t)
    except ValueError:
        v = math.nan
    if not (math.isfinite(v) and v > 0):
        raise NeuromapError(f"--time-unit: {text!r} is not a time unit (use s, ms, us, step or a number of ms > 0)")
    return v


def read_kwargs(network: str, given: dict[str, Any]) -> dict:
    """``read_nir`` keywords from the CLI values; one-line errors for bad values or a non-.nir network."""
    used = [k for k, v in given.items() if v is not None]
    if not used:
        return {}
    if network.lower().endswith(".net"):      # lava-dl netx: step-based, one input population
        bad = [k for k in ("--time-unit", "--nir-convention") if given.get(k) is not None]
        if bad:
            raise NeuromapError(f"{network}: {', '.join(bad)} appl{'ies' if len(bad) == 1 else 'y'} to .nir networks "
                                "only (a lava-dl netx file counts time in steps)")
    elif not network.lower().endswith(".nir"):
        raise NeuromapError(f"{network}: {', '.join(used)} appl{'ies' if len(used) == 1 else 'y'} to .nir and .net "
                            "networks only (a network file states its own dt and inputs)")
    if given["--input-rate"] is not None and given["--input-spikes"] is not None:
        raise NeuromapError("--input-rate and --input-spikes: give one of them")
    out: dict[str, Any] = {}
    if given["--dt"] is not None:
        out["dt"] = float(given["--dt"])
    if given["--time-unit"] is not None:
        out["time_unit_ms"] = parse_time_unit(given["--time-unit"])
    if given["--nir-convention"] is not None:
        out["convention"] = given["--nir-convention"].lower()
    if given["--input-rate"] is not None:
        out["inputs"] = {"*": {"model": "poisson", "rate": float(given["--input-rate"])}}
    if given["--input-spikes"] is not None:
        out["raster"] = load_rasters(given["--input-spikes"])
    return out


def load_rasters(path: str) -> dict[str, np.ndarray]:
    """``{Input node name or "*": int64 (steps, neurons) counts}`` from a .npy or .npz file."""
    if not os.path.isfile(path):
        raise NeuromapError(f"{path}: --input-spikes: file not found")
    low = path.lower()
    if not (low.endswith(".npy") or low.endswith(".npz")):
        raise NeuromapError(f"{path}: --input-spikes: must be a .npy or .npz file")
    # headers checked before any allocation, regular files only (SECURITY.md)
    arrays = load_numpy_file(path, "--input-spikes", 8 * MAX_RASTER_CELLS,
                             lambda problem: NeuromapError(f"{path}: --input-spikes: {problem}"))
    out = {}
    for k, a in arrays.items():
        where = f"{path}{'' if k == '*' else '[' + k + ']'}"
        if a.ndim != 2 or a.size > MAX_RASTER_CELLS:
            raise NeuromapError(f"{where}: --input-spikes: raster has shape {a.shape}; give (steps, neurons)")
        if a.dtype.kind not in "biuf" or (a.size and (not np.all(np.isfinite(a)) or np.any(a < 0)
                                                       or np.any(a != np.rint(a)))):
            raise NeuromapError(f"{where}: --input-spikes: values must be spike counts (integers >= 0 per step)")
        out[k] = a.astype(np.int64)
    return out


def raster_times(raster: np.ndarray, dt: float) -> list[list[float]]:
    """spike_source ``times`` (ms) for a (steps, neurons) raster: a nonzero cell (t, i) is a spike of neuron i
    at t * dt (``spike_source`` emits at most one spike per neuron and step)."""
    times: list[list[float]] = [[] for _ in range(raster.shape[1])]
    t_idx, n_idx = np.nonzero(raster)
    for t, i in zip(t_idx.tolist(), n_idx.tolist()):
        times[i].append(t * dt)
    return times


def load_network_cli(network: str, seed: int | None = None, nir_kwargs: dict | None = None):
    """:func:`neuromap.io.load_network`, with the ``.nir`` options applied (rasters become spike sources);
    NIR import warnings are printed on stderr, one line each (``warning: ...``)."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NIRImportWarning)
        net = _load(network, seed, nir_kwargs)
    for w in caught:
        if issubclass(w.category, NIRImportWarning):
            click.echo(f"warning: {w.message}", err=True)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return net


def _load(network: str, seed: int | None, nir_kwargs: dict | None):
    if not nir_kwargs:
        return load_network(network, seed=seed)
    kw = dict(nir_kwargs)
    rasters = kw.pop("raster", None)
    if network.lower().endswith(".net"):
        net = read_netx(network, dt=kw.get("dt", 1.0), inputs=(kw.get("inputs") or {}).get("*"))
    else:
        net = read_nir(network, **kw)
    if seed is not None:
        net.seed = Network(seed=seed).seed
    if rasters is not None:
        inputs = [p for p in net.populations.values() if p.model == "poisson"]
        if "*" in rasters and len(inputs) != 1:
            raise NeuromapError(f"{network}: --input-spikes: the graph has {len(inputs)} Input nodes "
                                f"({', '.join(p.name for p in inputs)}); give a .npz with one raster per name")
        for key, raster in rasters.items():
            pop = inputs[0] if key == "*" else net.populations.get(key)
            if pop is None or pop.model != "poisson":
                raise NeuromapError(f"{network}: --input-spikes: {key!r} is not an Input node (Input nodes: "
                                    f"{', '.join(p.name for p in inputs)})")
            if raster.shape[1] != pop.size:
                raise NeuromapError(f"{network}: --input-spikes: raster for {pop.name!r} has {raster.shape[1]} "
                                    f"columns; the Input node has {pop.size} neurons")
            net.populations[pop.name] = Population(pop.name, pop.size,
                                                   {"model": "spike_source", "times": raster_times(raster, net.dt)})
    return net

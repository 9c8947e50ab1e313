"""Connection rules and weight/delay distributions -> synapse arrays.

Everything here is pure: a rule or distribution description plus a
``numpy.random.Generator`` gives index and value arrays. :meth:`Network.connect`
calls :func:`connect_synapses` and :func:`realize_values` with the generator
``np.random.default_rng([seed, PROJECTION_STREAM, projection_index])``; draws
happen in this order: connection rule, weights, delays.

Synapse order is always post-major: sorted by ``post_idx``, then ``pre_idx``
(row-major order of the ``(post, pre)`` weight matrix). Files and per-synapse
lists use that order too.

Memory: rules never build a dense ``n_post x n_pre`` float array (except
``matrix``, whose input is one). ``fixed_probability`` uses geometric skipping
over the ``n_post * n_pre`` candidate pairs (one draw per synapse, exact
Bernoulli(p) per pair); ``fixed_indegree`` draws a little more than ``k``
candidates per post neuron and keeps the first ``k`` distinct ones (a uniform
``k``-subset), in row chunks of bounded size.
"""
from __future__ import annotations

import contextvars
import io
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from neuromap.conv_geometry import ConvGeometry, pairs as conv_pairs
from neuromap.errors import NetworkFormatError
from neuromap.image_files import load_numpy_file, memory_limit, open_regular
from neuromap.params import Param, validate_params

#: connect rule -> schema of its parameters (``matrix`` is checked by hand: file | matrix)
CONNECT_RULES: dict[str, dict[str, Param]] = {
    "all_to_all": {
        "allow_self": Param(True, kind="bool", doc="when pre is post: connect neuron i to itself"),
    },
    "one_to_one": {},
    "fixed_probability": {
        "p": Param(kind="float", lo=0.0, hi=1.0, doc="probability of each (pre, post) pair"),
        "allow_self": Param(True, kind="bool", doc="when pre is post: allow i -> i"),
    },
    "fixed_indegree": {
        "k": Param(kind="int", lo=0, doc="distinct presynaptic partners per post neuron"),
        "allow_self": Param(True, kind="bool", doc="when pre is post: allow i -> i"),
    },
    "matrix": {},
    "list": {},
    "conv": {},   # checked by hand (conv_geometry_of): in_shape, kernel, stride, padding, dilation, groups
    "pool": {},   # checked by hand: in_shape, kernel_size, stride, padding
}
#: rules whose synapses are a convolution with shared weights (neuromap.conv_geometry; docs/network-format.md)
CONV_RULES = ("conv", "pool")

#: value distributions accepted for ``weight`` (all) and ``delay`` (integer ones)
WEIGHT_FORMS = ("number", "uniform", "uniform_int", "normal", "file", "array")
DELAY_FORMS = ("integer", "uniform_int", "file", "array")

_CHUNK = 1 << 22  # elements per temporary block (4 Mi)
#: largest delay (steps) and largest |bound| of uniform_int
MAX_DELAY = 2 ** 31 - 1


@dataclass
class Synapses:
    """Realized connectivity: aligned int64 index arrays, optional weights from a ``matrix`` rule."""

    pre_idx: np.ndarray
    post_idx: np.ndarray
    matrix_weight: np.ndarray | None = None
    #: conv/pool rules: the convolution (neuromap.conv_geometry.ConvGeometry) the synapses realize
    geometry: ConvGeometry | None = None


# --------------------------------------------------------------------------- arrays and files

#: directory ``file:`` references must resolve inside (realpath), None = anywhere. Set by
#: :func:`neuromap.io.load_network` to the network file's directory (SECURITY.md); the Python API is unrestricted.
FILE_ROOT: contextvars.ContextVar[str | None] = contextvars.ContextVar("file_root", default=None)


def _check_inside_root(path: str, source: Any, field: str) -> None:
    root = FILE_ROOT.get()
    if root is None:
        return
    real, top = os.path.realpath(path), os.path.realpath(root)
    if os.path.commonpath([real, top]) != top:
        raise NetworkFormatError(f"file {os.fspath(source)!r} is outside the network file's directory", field=field,
                                 fix="copy it next to the network file, or pass --allow-outside-files")


def load_array(source: Any, field: str, base_dir: str = ".") -> np.ndarray:
    """An array from a ``.npy``/``.npz`` (single array)/``.csv``/``.txt`` path, ``{file: PATH}`` or an array.

    Relative paths are relative to ``base_dir``. Missing file, unreadable file,
    non-numeric or non-finite values raise a one-line NetworkFormatError naming ``field``.
    """
    if isinstance(source, dict):
        if set(source) != {"file"}:
            raise NetworkFormatError(f"{_short(source)} is not an array", field=field,
                                     fix="give a list, an array or {file: PATH}")
        source, field = source["file"], f"{field}.file"
    if isinstance(source, (str, os.PathLike)):
        path = os.path.join(base_dir, os.fspath(source))
        if not os.path.exists(path):
            raise NetworkFormatError(f"file {os.fspath(source)!r} not found", field=field,
                                     fix=f"looked for {os.path.abspath(path)}; paths are relative to the network file")
        _check_inside_root(path, source, field)
        def error(p):
            return NetworkFormatError(p, field=field, fix="give a numeric .npy, .npz, .csv or .txt file")
        if path.endswith((".npy", ".npz")):   # headers checked before allocation: no zip bomb (SECURITY.md)
            arrays = load_numpy_file(path, f"file {os.fspath(source)!r}", memory_limit() // 4, error)
            if len(arrays) != 1:
                raise NetworkFormatError(f"{os.fspath(source)!r} holds {len(arrays)} arrays",
                                         field=field, fix="store exactly one array")
            arr = next(iter(arrays.values()))
        else:
            try:
                with open_regular(path, f"file {os.fspath(source)!r}", error=error) as fh:
                    data = fh.read()
            except OSError as e:
                raise NetworkFormatError(f"cannot read {os.fspath(source)!r} ({e.strerror or type(e).__name__})",
                                         field=field, fix="check the file's permissions") from None
            try:
                arr = np.loadtxt(io.StringIO(data.decode("utf-8")), delimiter="," if path.endswith(".csv") else None,
                                 ndmin=1)
            except Exception as e:  # bad text ... (never quote its content)
                raise NetworkFormatError(f"cannot read {os.fspath(source)!r} as numbers ({type(e).__name__})",
                                         field=field, fix="use a numeric .npy, .npz, .csv or .txt file") from None
    else:
        try:
            arr = np.asarray(source)
        except Exception:
            arr = np.asarray(source, dtype=object)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise NetworkFormatError("values are not numbers (or rows have different lengths)", field=field,
                                 fix="give a numeric array")
    if np.iscomplexobj(arr):
        raise NetworkFormatError("values are complex", field=field, fix="give real numbers")
    check_finite(arr, field)
    return arr


def check_finite(arr: np.ndarray, field: str) -> None:
    """Raise naming the first NaN/inf entry (e.g. ``at [3, 5]``)."""
    if np.issubdtype(arr.dtype, np.floating):
        bad = ~np.isfinite(arr)
        if bad.any():
            where = np.unravel_index(int(np.argmax(bad)), arr.shape)
            raise NetworkFormatError(f"contains {arr[where]} at {list(map(int, where))}", field=field,
                                     fix="all values must be finite numbers")


def index_array(v: Any, size: int, fld: str) -> np.ndarray:
    """``v`` as int64 indices in ``[0, size)``; one-line error naming ``fld`` otherwise."""
    try:
        arr = np.asarray(v)
    except Exception:
        arr = np.asarray(v, dtype=object)
    if arr.ndim != 1 or arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer)
                                                   or (np.issubdtype(arr.dtype, np.floating)
                                                       and np.all(np.isfinite(arr))
                                                       and np.all(arr == np.round(arr)))):
        raise NetworkFormatError(f"{_short(v)} is not a list of neuron indices", field=fld,
                                 fix="use a list of integers")
    if arr.size and (arr.min() < 0 or arr.max() >= size):   # before the int64 cast (1e300 would wrap)
        bad = arr[(arr < 0) | (arr >= size)][0]
        raise NetworkFormatError(f"index {bad:g} is outside 0..{size - 1}" if arr.dtype.kind == "f" else
                                 f"index {int(bad)} is outside 0..{size - 1}", field=fld,
                                 fix=f"indices are in [0, {size - 1}]")
    return arr.astype(np.int64)


# --------------------------------------------------------------------------- connection rules

def normalize_connect(spec: Any, field: str) -> dict[str, Any]:
    """``"all_to_all"`` or ``{rule: ..., **params}`` -> a dict with ``rule`` (params not yet checked)."""
    if isinstance(spec, str):
        spec = {"rule": spec}
    if not isinstance(spec, dict):
        raise NetworkFormatError(f"{_short(spec)} is not a connect rule", field=field,
                                 fix="use a rule name or {rule: NAME, ...}; rules: " + ", ".join(CONNECT_RULES))
    if "rule" not in spec:
        raise NetworkFormatError("missing 'rule'", field=f"{field}.rule",
                                 fix="add rule: one of " + ", ".join(CONNECT_RULES))
    rule = spec["rule"]
    if not isinstance(rule, str) or rule not in CONNECT_RULES:
        raise NetworkFormatError(f"unknown connect rule {_short(rule)}", field=f"{field}.rule",
                                 fix="use one of " + ", ".join(CONNECT_RULES))
    return dict(spec)


def connect_synapses(spec: dict[str, Any], n_pre: int, n_post: int, same_population: bool,
                     rng: np.random.Generator, field: str, base_dir: str = ".") -> Synapses:
    """Realize a normalized connect spec (see :func:`normalize_connect`) into synapse indices."""
    rule = spec["rule"]
    if rule == "matrix":
        return _matrix(spec, n_pre, n_post, field, base_dir)
    if rule == "list":
        return _list(spec, n_pre, n_post, field, base_dir)
    if rule in CONV_RULES:
        g, kernel = conv_geometry_of(spec, n_pre, n_post, field, base_dir)
        pre, post, tap = conv_pairs(g)
        return Synapses(pre, post, None if kernel is None else kernel.reshape(-1)[tap].astype(np.float64), g)
    params = validate_params(CONNECT_RULES[rule], spec, field, ignore=("rule",))
    no_self = same_population and not params.get("allow_self", True)
    if rule == "all_to_all":
        post, pre = _all_pairs(n_pre, n_post, no_self)
    elif rule == "one_to_one":
        if n_pre != n_post:
            raise NetworkFormatError(f"one_to_one needs equal sizes, got pre {n_pre} and post {n_post}",
                                     field=f"{field}.rule", fix="use populations of the same size or another rule")
        pre = post = np.arange(n_pre, dtype=np.int64)
    elif rule == "fixed_probability":
        post, pre = _fixed_probability(rng, n_pre, n_post, params["p"], no_self)
    else:  # fixed_indegree
        k, avail = params["k"], n_pre - (1 if no_self else 0)
        if k > avail:
            raise NetworkFormatError(f"k = {k} exceeds the {avail} available presynaptic neurons",
                                     field=f"{field}.k", fix=f"use k <= {avail}")
        post, pre = _fixed_indegree(rng, n_pre, n_post, k, no_self)
    return Synapses(pre.astype(np.int64, copy=False), post.astype(np.int64, copy=False))


def _conv_pair(v: Any, field: str, default: int | None, lo: int, one_d: bool) -> tuple[int, int]:
    """An int or a list of 1 (Conv1d) or 2 ints -> a (y, x) pair; 1-d convolutions have y = (1 or 0)."""
    if v is None:
        if default is None:
            raise NetworkFormatError("is missing", field=field, fix="give an integer or [y, x]")
        v = default
    vals = list(v) if isinstance(v, (list, tuple)) else [v]
    want = 1 if one_d else 2
    if len(vals) == 1 and not one_d:
        vals = vals * 2
    if len(vals) != want or any(isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer))
                                or x < lo for x in vals):
        raise NetworkFormatError(f"{_short(v)} is not {'an integer' if one_d else 'an integer or [y, x]'} >= {lo}",
                                 field=field, fix=f"use {'k' if one_d else '[y, x]'} with values >= {lo}")
    return (1 if lo else 0, int(vals[0])) if one_d else (int(vals[0]), int(vals[1]))


def conv_geometry_of(spec: dict, n_pre: int, n_post: int, field: str = "connect",
                     base_dir: str = ".") -> tuple[ConvGeometry, np.ndarray | None]:
    """The geometry of a ``conv`` or ``pool`` connect spec and, for ``conv``, its float kernel
    (``(C_out, C_in/groups, kh, kw)``; a Conv1d kernel ``(C_out, C_in/groups, k)`` gets kh = 1).
    ``in_shape``: ``[C, H, W]`` (Conv2d) or ``[C, L]`` (Conv1d); ``stride``/``padding``/``dilation``: an int or
    ``[y, x]`` (Conv1d: an int); ``pool`` takes ``kernel_size`` and is depthwise (groups = C, every weight the
    projection's ``weight``); its stride defaults to the kernel size. The pre population must have ``C*H*W``
    neurons and the post one ``C_out*H_out*W_out`` (channel-major flattening, as NIR's Flatten)."""
    rule = spec["rule"]
    allowed = ("rule", "in_shape", "kernel", "stride", "padding", "dilation", "groups") if rule == "conv" else \
        ("rule", "in_shape", "kernel_size", "stride", "padding")
    extra = [k for k in spec if k not in allowed]
    if extra:
        raise NetworkFormatError(f"unknown parameter {extra[0]!r}", field=f"{field}.{extra[0]}",
                                 fix=f"{rule} takes " + ", ".join(allowed[1:]))
    shp = spec.get("in_shape")
    if not isinstance(shp, (list, tuple)) or len(shp) not in (2, 3) or any(
            isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer)) or x < 1 for x in shp):
        raise NetworkFormatError(f"{_short(shp)} is not an input shape", field=f"{field}.in_shape",
                                 fix="give [channels, height, width] (Conv2d) or [channels, length] (Conv1d)")
    one_d = len(shp) == 2
    in_shape = (int(shp[0]), 1, int(shp[1])) if one_d else tuple(int(x) for x in shp)
    kernel = None
    if rule == "conv":
        if "kernel" not in spec:
            raise NetworkFormatError("missing 'kernel'", field=f"{field}.kernel",
                                     fix="give the weights, shape (out_channels, in_channels/groups, kh, kw)")
        kernel = load_array(spec["kernel"], f"{field}.kernel", base_dir).astype(np.float64)
        if kernel.ndim != (3 if one_d else 4):
            raise NetworkFormatError(f"kernel has {kernel.ndim} dimensions, expected {3 if one_d else 4}",
                                     field=f"{field}.kernel", fix="shape (out_channels, in_channels/groups, "
                                     + ("k)" if one_d else "kh, kw)"))
        if one_d:
            kernel = kernel[:, :, None, :]
        groups = spec.get("groups", 1)
        if isinstance(groups, (bool, np.bool_)) or not isinstance(groups, (int, np.integer)) or groups < 1:
            raise NetworkFormatError(f"{_short(groups)} is not a group count", field=f"{field}.groups",
                                     fix="use an integer >= 1 dividing both channel counts")
        if in_shape[0] % groups or kernel.shape[0] % groups or kernel.shape[1] * groups != in_shape[0]:
            raise NetworkFormatError(f"kernel shape {list(kernel.shape)} does not fit {in_shape[0]} input channels "
                                     f"in {groups} group(s)", field=f"{field}.kernel",
                                     fix="kernel.shape[1] * groups must equal in_shape[0]")
        g = ConvGeometry(in_shape, int(kernel.shape[0]), (int(kernel.shape[2]), int(kernel.shape[3])),
                         _conv_pair(spec.get("stride"), f"{field}.stride", 1, 1, one_d),
                         _conv_pair(spec.get("padding"), f"{field}.padding", 0, 0, one_d),
                         _conv_pair(spec.get("dilation"), f"{field}.dilation", 1, 1, one_d), int(groups))
    else:
        ks = _conv_pair(spec.get("kernel_size"), f"{field}.kernel_size", None, 1, one_d)
        stride = ks if spec.get("stride") is None else _conv_pair(spec["stride"], f"{field}.stride", None, 1, one_d)
        pad = _conv_pair(spec.get("padding"), f"{field}.padding", 0, 0, one_d)
        g = ConvGeometry(in_shape, in_shape[0], ks, stride, pad, (1, 1), in_shape[0])
    bad = g.problem()
    if bad:
        raise NetworkFormatError(bad, field=field, fix="check in_shape, the kernel size, stride, padding and dilation")
    if g.n_pre != n_pre or g.n_post != n_post:
        raise NetworkFormatError(f"the convolution maps {g.n_pre} neurons {list(g.in_shape)} to {g.n_post} "
                                 f"{list(g.out_shape)}, the populations have {n_pre} and {n_post}", field=field,
                                 fix=f"size the post population {g.n_post} (channels x height x width)")
    return g, kernel


def _matrix(spec: dict, n_pre: int, n_post: int, field: str, base_dir: str) -> Synapses:
    extra = [k for k in spec if k not in ("rule", "file", "matrix")]
    if extra:
        raise NetworkFormatError(f"unknown parameter {extra[0]!r}", field=f"{field}.{extra[0]}",
                                 fix="matrix takes file: PATH or matrix: [[...]]")
    if ("file" in spec) == ("matrix" in spec):
        raise NetworkFormatError("give exactly one of 'file' and 'matrix'", field=field,
                                 fix="e.g. {rule: matrix, file: w.npy} with shape (post, pre)")
    key = "file" if "file" in spec else "matrix"
    w = load_array(spec[key], f"{field}.{key}", base_dir)
    if w.shape != (n_post, n_pre):
        raise NetworkFormatError(f"matrix has shape {w.shape}, expected (post, pre) = ({n_post}, {n_pre})",
                                 field=f"{field}.{key}", fix="rows are post neurons, columns pre neurons")
    post, pre = np.nonzero(w)
    return Synapses(pre.astype(np.int64), post.astype(np.int64), w[post, pre].astype(np.float64))


def _list(spec: dict, n_pre: int, n_post: int, field: str, base_dir: str) -> Synapses:
    """Explicit synapses: ``pre`` and ``post`` index lists (or ``{file: PATH}``), kept in the given order."""
    extra = [k for k in spec if k not in ("rule", "pre", "post")]
    if extra:
        raise NetworkFormatError(f"unknown parameter {extra[0]!r}", field=f"{field}.{extra[0]}",
                                 fix="list takes pre: [...] and post: [...]")
    idx = {}
    for key, n in (("pre", n_pre), ("post", n_post)):
        if key not in spec:
            raise NetworkFormatError(f"missing {key!r}", field=f"{field}.{key}",
                                     fix=f"add {key}: [indices], one per synapse")
        v = spec[key]
        f = f"{field}.{key}"
        if isinstance(v, dict) and set(v) == {"file"}:
            v, f = load_array(v["file"], f"{f}.file", base_dir), f"{f}.file"
        idx[key] = index_array(v, n, f)
    if idx["pre"].shape != idx["post"].shape:
        raise NetworkFormatError(f"pre has {idx['pre'].size} entries, post {idx['post'].size}",
                                 field=f"{field}.post", fix="give one pre and one post index per synapse")
    return Synapses(idx["pre"], idx["post"])


def _drop_self(post: np.ndarray, pre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = pre != post
    return post[keep], pre[keep]


def _all_pairs(n_pre: int, n_post: int, no_self: bool) -> tuple[np.ndarray, np.ndarray]:
    post = np.repeat(np.arange(n_post, dtype=np.int64), n_pre)
    pre = np.tile(np.arange(n_pre, dtype=np.int64), n_post)
    return _drop_self(post, pre) if no_self else (post, pre)


def _fixed_probability(rng: np.random.Generator, n_pre: int, n_post: int, p: float,
                       no_self: bool) -> tuple[np.ndarray, np.ndarray]:
    """Each (post, pre) pair independently with probability p, by geometric skipping.

    Candidates are numbered row by row (``post * width + pre``); without
    autapses a row has ``width = n_pre - 1`` candidates and pre indices >= post
    shift up by one (skipping the diagonal), so no draw is wasted.
    """
    width = n_pre - 1 if no_self else n_pre
    total = width * n_post
    if p == 0.0 or total == 0:
        flat = np.zeros(0, dtype=np.int64)
    elif p == 1.0:
        flat = np.arange(total, dtype=np.int64)
    else:
        parts, pos, remaining = [], -1, total
        while True:
            expected = remaining * p
            m = int(min(max(expected + 5.0 * math.sqrt(expected) + 64, 64), _CHUNK))
            idx = np.cumsum(rng.geometric(p, size=m), dtype=np.int64)
            idx += pos
            if idx[-1] >= total:
                parts.append(idx[: np.searchsorted(idx, total)])
                break
            parts.append(idx)
            pos = int(idx[-1])
            remaining = total - 1 - pos
        flat = np.concatenate(parts) if len(parts) > 1 else parts[0]
    # row of each flat index without an int64 division (slow): count per row, repeat
    counts = np.diff(np.searchsorted(flat, np.arange(n_post + 1, dtype=np.int64) * width))
    post = np.repeat(np.arange(n_post, dtype=np.int64), counts)
    flat -= post * width
    if no_self:
        flat += flat >= post
    return post, flat


def _fixed_indegree(rng: np.random.Generator, n_pre: int, n_post: int, k: int,
                    no_self: bool) -> tuple[np.ndarray, np.ndarray]:
    """k distinct pre neurons per post neuron, uniformly; excluding i itself when ``no_self``."""
    n = n_pre - 1 if no_self else n_pre
    pre = sample_rows_without_replacement(rng, n_post, n, k)  # (n_post, k), sorted rows
    if no_self:  # values >= i shift up by one: skips i
        pre += pre >= np.arange(n_post, dtype=np.int64)[:, None]
    post = np.repeat(np.arange(n_post, dtype=np.int64), k)
    return post, pre.reshape(-1)


def sample_rows_without_replacement(rng: np.random.Generator, rows: int, n: int, k: int) -> np.ndarray:
    """An int64 ``(rows, k)`` array; each row a uniform random k-subset of ``range(n)``, sorted."""
    out = np.empty((rows, k), dtype=np.int64)
    if k == 0 or rows == 0:
        return out
    if 2 * k > n:  # dense: draw the complement, mark, keep the rest
        step = max(1, _CHUNK // max(n, 1))
        for r0 in range(0, rows, step):
            r1 = min(rows, r0 + step)
            mask = np.ones((r1 - r0, n), dtype=bool)
            drop = sample_rows_without_replacement(rng, r1 - r0, n, n - k)
            np.put_along_axis(mask, drop, False, axis=1)
            out[r0:r1] = np.nonzero(mask)[1].reshape(r1 - r0, k)
        return out
    # sparse: draw m >= k candidates with replacement; keep the first k distinct (uniform k-subset)
    expected = n * (math.log(n) - math.log(n - k)) if k < n else float(k)  # E[draws for k distinct]
    m = min(int(expected + 4.0 * math.sqrt(expected) + 8), 4 * k + 8)
    step = max(1, _CHUNK // m)
    pending = np.arange(rows)
    while pending.size:  # rows with < k distinct among m draws are redrawn (rare)
        failed = []
        for c0 in range(0, pending.size, step):
            chunk = pending[c0:c0 + step]
            draws = rng.integers(0, n, size=(chunk.size, m), dtype=np.int64)
            first = _first_occurrences(draws, m)
            rank = np.cumsum(first, axis=1)
            ok = rank[:, -1] >= k
            keep = first & (rank <= k) & ok[:, None]
            chosen = draws[keep].reshape(-1, k)
            if n <= 1 << 16:  # 16-bit values: the stable sort is a radix sort
                out[chunk[ok]] = np.sort(chosen.astype(np.uint16), axis=1, kind="stable")
            else:
                out[chunk[ok]] = np.sort(chosen, axis=1)
            failed.append(chunk[~ok])
        pending = np.concatenate(failed)
    return out


def _first_occurrences(draws: np.ndarray, m: int) -> np.ndarray:
    """bool mask, per row: True where a value appears for the first time (in draw order)."""
    if int(draws.max(initial=0)) < 1 << 16:  # 16-bit values: numpy's stable argsort is a radix sort
        order = np.argsort(draws.astype(np.uint16), axis=1, kind="stable")
        srt = np.take_along_axis(draws, order, axis=1)
    else:  # pack (value, position) into one int64 key: a plain sort keeps first occurrences first
        key = np.sort(draws * m + np.arange(m, dtype=np.int64), axis=1)
        srt = key // m
        order = key - srt * m
    first_sorted = np.ones(srt.shape, dtype=bool)
    first_sorted[:, 1:] = srt[:, 1:] != srt[:, :-1]
    first = np.empty_like(first_sorted)
    np.put_along_axis(first, order, first_sorted, axis=1)
    return first


# --------------------------------------------------------------------------- weights and delays

def realize_values(spec: Any, what: str, syn: Synapses, n_pre: int, n_post: int,
                   rng: np.random.Generator, field: str, base_dir: str = ".") -> np.ndarray:
    """Per-synapse values (float64 weights, int64 delays in steps) from a value spec.

    ``what`` is ``"weight"`` or ``"delay"``. Forms: number; ``{uniform: [lo, hi]}``;
    ``{uniform_int: [lo, hi]}`` (inclusive); ``{normal: [mean, std], clip: [lo, hi]}``
    (clip optional; values outside are set to the bound); ``{file: PATH}``; an array.
    Arrays and files have shape ``(post, pre)`` (read at each synapse) or
    ``(n_synapses,)`` (post-major synapse order).
    """
    n = syn.pre_idx.shape[0]
    is_delay = what == "delay"
    if isinstance(spec, (bool, np.bool_)):
        raise NetworkFormatError(f"{spec!r} is not a {what}", field=field, fix=_value_fix(is_delay))
    if isinstance(spec, (int, float, np.integer, np.floating)):
        if not math.isfinite(float(spec)):
            raise NetworkFormatError(f"{spec!r} is not finite", field=field, fix=_value_fix(is_delay))
        if is_delay and abs(float(spec)) > MAX_DELAY:
            raise NetworkFormatError(f"delay {spec!r} is too large", field=field, fix=f"use at most {MAX_DELAY} steps")
        integral = isinstance(spec, (int, np.integer)) or float(spec).is_integer()
        vals = np.full(n, spec, dtype=np.int64 if is_delay and integral else np.float64)
    elif isinstance(spec, (list, tuple, np.ndarray)):
        vals = _from_array(load_array(spec, field), syn, n_pre, n_post, field)
    elif isinstance(spec, dict):
        vals = _from_dict(spec, is_delay, syn, n_pre, n_post, rng, field, base_dir)
    else:
        raise NetworkFormatError(f"{_short(spec)} is not a {what}", field=field, fix=_value_fix(is_delay))
    if is_delay:
        if n and vals.dtype.kind == "f" and (vals != np.round(vals)).any():
            i = int(np.argmax(vals != np.round(vals)))
            raise NetworkFormatError(f"delay {vals[i]} is not a whole number of steps", field=field,
                                     fix="delays are integers >= 1, in steps of dt")
        if n and vals.max() > MAX_DELAY:
            raise NetworkFormatError(f"delay {vals.max():g} is too large", field=field,
                                     fix=f"use at most {MAX_DELAY} steps")
        if n and vals.min() < 1:
            raise NetworkFormatError(f"delay {vals.min():g} < 1", field=field,
                                     fix="delays are in steps, >= 1; 1 = the next step")
        return vals.astype(np.int64, copy=False)
    return vals.astype(np.float64, copy=False)


def _value_fix(is_delay: bool) -> str:
    if is_delay:
        return "use an integer >= 1 (steps), {uniform_int: [lo, hi]} or {file: PATH}"
    return "use a number, {uniform: [lo, hi]}, {uniform_int: [lo, hi]}, {normal: [mean, std]} or {file: PATH}"


def _pair(v: Any, field: str, form: str, ints: bool = False) -> tuple[float, float]:
    if not (isinstance(v, (list, tuple)) and len(v) == 2):
        raise NetworkFormatError(f"{_short(v)} is not a pair", field=field, fix=f"use {form}: [a, b]")
    out = []
    for i, x in enumerate(v):
        if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, np.integer, np.floating)):
            raise NetworkFormatError(f"{_short(x)} is not a number", field=f"{field}[{i}]", fix=f"use {form}: [a, b]")
        if not math.isfinite(float(x)):
            raise NetworkFormatError(f"{x!r} is not finite", field=f"{field}[{i}]", fix="use finite numbers")
        if ints and float(x) != int(x):
            raise NetworkFormatError(f"{x!r} is not an integer", field=f"{field}[{i}]", fix=f"{form} takes integers")
        if ints and abs(int(x)) > MAX_DELAY:
            raise NetworkFormatError(f"{x!r} is too large", field=f"{field}[{i}]", fix=f"use |value| <= {MAX_DELAY}")
        out.append(float(x) + 0.0)  # -0.0 -> 0.0 (numpy rejects uniform(0.0, -0.0))
    return out[0], out[1]


def _from_dict(spec: dict, is_delay: bool, syn: Synapses, n_pre: int, n_post: int,
               rng: np.random.Generator, field: str, base_dir: str) -> np.ndarray:
    forms = ("uniform_int", "file") if is_delay else ("uniform", "uniform_int", "normal", "file")
    given = [k for k in spec if k in forms]
    allowed_extra = ("clip",) if "normal" in given else ()
    extra = [k for k in spec if k not in forms and k not in allowed_extra]
    if extra or len(given) != 1:
        bad = extra[0] if extra else None
        raise NetworkFormatError(
            f"unknown key {bad!r}" if bad else f"give exactly one of {', '.join(forms)}",
            field=f"{field}.{bad}" if bad else field, fix=_value_fix(is_delay))
    form = given[0]
    n = syn.pre_idx.shape[0]
    if form == "file":
        return _from_array(load_array(spec["file"], f"{field}.file", base_dir), syn, n_pre, n_post,
                           f"{field}.file")
    a, b = _pair(spec[form], f"{field}.{form}", form, ints=form == "uniform_int")
    if form in ("uniform", "uniform_int") and a > b:
        raise NetworkFormatError(f"lower bound {a:g} > upper bound {b:g}", field=f"{field}.{form}",
                                 fix="use [lo, hi] with lo <= hi")
    if is_delay and a < 1:
        raise NetworkFormatError(f"lowest delay {a:g} < 1", field=f"{field}.{form}[0]",
                                 fix="delays are in steps, >= 1; 1 = the next step")
    if form == "uniform":
        return rng.uniform(a, b, size=n)
    if form == "uniform_int":
        return rng.integers(int(a), int(b), size=n, endpoint=True, dtype=np.int64)
    if b < 0:
        raise NetworkFormatError(f"std {b:g} < 0", field=f"{field}.normal[1]", fix="use std >= 0")
    vals = rng.normal(a, b, size=n)
    if "clip" in spec:
        lo, hi = _pair(spec["clip"], f"{field}.clip", "clip")
        if lo > hi:
            raise NetworkFormatError(f"lower bound {lo:g} > upper bound {hi:g}", field=f"{field}.clip",
                                     fix="use [lo, hi] with lo <= hi")
        np.clip(vals, lo, hi, out=vals)
    return vals


def _from_array(arr: np.ndarray, syn: Synapses, n_pre: int, n_post: int, field: str) -> np.ndarray:
    n = syn.pre_idx.shape[0]
    if arr.shape == (n_post, n_pre):
        return arr[syn.post_idx, syn.pre_idx].astype(np.float64)
    if arr.shape == (n,):
        return arr.astype(np.float64)
    raise NetworkFormatError(
        f"array has shape {arr.shape}, expected (post, pre) = ({n_post}, {n_pre}) or ({n},) per synapse",
        field=field, fix="rows are post neurons, columns pre neurons")


def _short(v: Any) -> str:
    s = repr(v)
    return s if len(s) <= 40 else s[:37] + "..."

"""The image directory on disk, read as untrusted input: bounded reads, the manifest schema and checksum,
array headers checked before allocation, and atomic replacement that never loses a directory.

Used by :mod:`neuromap.image` (``Image.save`` / ``load_image``). A leaf like it: imports only numpy, the
standard library and :mod:`neuromap.errors`. Every problem is one :class:`~neuromap.errors.ImageError`
line naming the file and field.

* **Regular files only**: :func:`open_regular` refuses FIFOs, devices and directories without blocking
  (``O_NONBLOCK``), and files larger than a bound.
* **Manifest**: strict JSON (duplicate keys, integer literals of more than :data:`MAX_INT_DIGITS` digits
  and nesting deeper than :data:`MAX_JSON_DEPTH` are errors); ``manifest_sha256`` is the sha256 of the
  canonical JSON of every other field (:func:`manifest_digest`), so any edit of a text field is detected;
  then every field is checked against :data:`MANIFEST_FIELDS` (a declared schema: field -> type/range).
  To add a manifest field, add it to ``MANIFEST_FIELDS`` (or to ``POPULATION_FIELDS`` ...).
* **Arrays**: each ``.npy`` member's size and header (dtype, shape) must match the manifest before
  its data is read; the total must fit in memory (:func:`memory_limit`).
* **Replacement**: :func:`replace_dir` swaps the new directory in with one atomic
  ``renameat2(RENAME_EXCHANGE)`` where the kernel offers it; elsewhere with two renames whose
  interrupted state :func:`recover` repairs on the next save or load.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import hashlib
import json
import math
import os
import re
import shutil
import stat
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from neuromap import learning_engines
from neuromap.core_kinds import CORE_KINDS
from neuromap.errors import ImageError
from neuromap.poisson_stream import KINDS as POISSON_KINDS

#: bounds on what a manifest may hold (far above any real image)
MAX_MANIFEST_BYTES = 256 * 2 ** 20
MAX_JSON_DEPTH = 64
MAX_INT_DIGITS = 30
MAX_NAME_CHARS = 4096
#: array dtypes an image may store (numpy ``dtype.str``): little/big-endian ints, uints, floats, bool
_DTYPE_RE = re.compile(r"^[<>|](?:[iu][1248]|f[48]|b1)$")

Check = Callable[[Any, str], None]


class ManifestFieldError(Exception):
    """Raised by a schema check: (field path, problem)."""

    def __init__(self, where: str, problem: str):
        super().__init__(where, problem)
        self.where, self.problem = where, problem


# ------------------------------------------------------------------------------------ schema checks

def _int(lo: int, hi: int) -> Check:
    def check(v: Any, where: str) -> None:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ManifestFieldError(where, f"{_show(v)} is not an integer")
        if not lo <= v <= hi:
            raise ManifestFieldError(where, f"{v} is outside [{lo}, {hi}]")
    return check


def _str(max_chars: int = MAX_NAME_CHARS) -> Check:
    def check(v: Any, where: str) -> None:
        if not isinstance(v, str):
            raise ManifestFieldError(where, f"{_show(v)} is not a string")
        if len(v) > max_chars:
            raise ManifestFieldError(where, f"string of {len(v)} characters (at most {max_chars})")
    return check


def _enum(*choices: Any) -> Check:
    def check(v: Any, where: str) -> None:
        if isinstance(v, bool) or v not in choices:
            raise ManifestFieldError(where, f"{_show(v)} is not one of {', '.join(map(str, choices))}")
    return check


def _nullable(inner: Check) -> Check:
    def check(v: Any, where: str) -> None:
        if v is not None:
            inner(v, where)
    return check


def _list(item: Check, max_len: int = 10 ** 7) -> Check:
    def check(v: Any, where: str) -> None:
        if not isinstance(v, list):
            raise ManifestFieldError(where, f"{_show(v)} is not a list")
        if len(v) > max_len:
            raise ManifestFieldError(where, f"list of {len(v)} entries (at most {max_len})")
        for i, x in enumerate(v):
            item(x, f"{where}[{i}]")
    return check


def _record(fields: dict[str, Check], optional: tuple[str, ...] = ()) -> Check:
    """A JSON object with exactly ``fields`` (those in ``optional`` may be absent)."""
    def check(v: Any, where: str) -> None:
        if not isinstance(v, dict):
            raise ManifestFieldError(where, f"{_show(v)} is not an object")
        missing = [k for k in fields if k not in v and k not in optional]
        if missing:
            raise ManifestFieldError(f"{where}.{missing[0]}" if where else missing[0], "is missing")
        extra = [k for k in v if k not in fields]
        if extra:
            raise ManifestFieldError(f"{where}.{extra[0]}" if where else extra[0], "is not a manifest field")
        for k, c in fields.items():
            if k in v:
                c(v[k], f"{where}.{k}" if where else k)
    return check


def _json_object(v: Any, where: str) -> None:
    """A free-form JSON object (compiler reports: ``options``, ``constants``); nesting was bounded on parse."""
    if not isinstance(v, dict):
        raise ManifestFieldError(where, f"{_show(v)} is not an object")


def _learning(v: Any, where: str) -> None:
    _json_object(v, where)
    _enum(*learning_engines.ENGINES)(v.get("engine"), f"{where}.engine")   # the registered engines


def _arrays_table(v: Any, where: str) -> None:
    if not isinstance(v, dict):
        raise ManifestFieldError(where, f"{_show(v)} is not an object")
    entry = _record({"dtype": _dtype, "shape": _list(_int(0, 2 ** 48), max_len=4), "sha256": _hex64})
    for k, x in v.items():
        _str(256)(k, f"{where} name")
        entry(x, f"{where}.{k}")


def _dtype(v: Any, where: str) -> None:
    if not isinstance(v, str) or not _DTYPE_RE.match(v):
        raise ManifestFieldError(where, f"{_show(v)} is not a numeric array dtype")


def _hex64(v: Any, where: str) -> None:
    if not isinstance(v, str) or not re.fullmatch(r"[0-9a-f]{64}", v):
        raise ManifestFieldError(where, f"{_show(v)} is not a sha256 hex digest")


def _number(lo: float = -math.inf, hi: float = math.inf) -> Check:
    def check(v: Any, where: str) -> None:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ManifestFieldError(where, f"{_show(v)} is not a number")
        if not lo <= v <= hi:
            raise ManifestFieldError(where, f"{v} is outside [{lo}, {hi}]")
    return check


def _bool(v: Any, where: str) -> None:
    if not isinstance(v, bool):
        raise ManifestFieldError(where, f"{_show(v)} is not true or false")


def _report(fields: dict[str, Check], required: tuple[str, ...] = ()) -> Check:
    """A compiler report (JSON object): the listed fields, when present, have their types (those in
    ``required`` must be present); other fields are free (reports grow), as long as no command reads them."""
    def check(v: Any, where: str) -> None:
        if not isinstance(v, dict):
            raise ManifestFieldError(where, f"{_show(v)} is not an object")
        missing = [k for k in required if k not in v]
        if missing:
            raise ManifestFieldError(f"{where}.{missing[0]}", "is missing")
        for k, c in fields.items():
            if k in v:
                c(v[k], f"{where}.{k}")
    return check


def _map(value: Check, max_len: int = 10 ** 6) -> Check:
    """A JSON object of any keys whose values all pass ``value``."""
    def check(v: Any, where: str) -> None:
        if not isinstance(v, dict):
            raise ManifestFieldError(where, f"{_show(v)} is not an object")
        if len(v) > max_len:
            raise ManifestFieldError(where, f"object of {len(v)} entries (at most {max_len})")
        for k, x in v.items():
            value(x, f"{where}.{k}")
    return check


_COUNT = _int(0, 2 ** 31 - 1)
_BITS = _int(0, 64)
_NUM = _number()
_NUM_OR_NULL = _nullable(_NUM)
#: ``constants``: the target's sections (``neuromap.targets``: NeuronSpec, SynapseSpec, CoreSpec,
#: SynapseMemorySpec; a test keeps the field names and kinds in step). Ranges are the targets'.
CONSTANTS_FIELDS: dict[str, Check] = {
    "neuron": _record({
        "models": _list(_str(64), max_len=64), "voltage_bits": _int(1, 64), "current_bits": _BITS,
        "decay_bits": _int(0, 32), "leak_bits": _int(0, 32), "threshold_bits": _int(1, 64),
        "threshold_shift": _int(0, 32), "activation_shift": _int(0, 32), "bias_mantissa_bits": _BITS,
        "bias_exponent_bits": _int(0, 8), "refractory_max": _int(0, 1 << 16)}),
    "synapse": _record({
        "weight_bits_min": _int(1, 32), "weight_bits_max": _int(1, 32), "weight_exp_min": _int(-64, 64),
        "weight_exp_max": _int(-64, 64),
        "sign_modes": _list(_enum("mixed", "excitatory", "inhibitory", "signed"), max_len=4),
        "delay_min": _int(0, 1 << 16), "delay_max": _int(0, 1 << 16), "axon_types": _int(0, 64),
        "max_fan_out_cores": _int(0, 1 << 20)}),
    "core": _record({
        "max_neurons": _int(1, 1 << 24), "max_input_axons": _int(1, 1 << 24), "max_output_axons": _int(0, 1 << 24),
        "plastic_axon_slots": _int(1, 8), "memory_model": _enum("nengo_loihi", "crossbar"),
        "synapse_memory_bits": _int(0, 1 << 40)}),
    "synapse_memory": _record({
        "word_bits": _int(1, 4096), "synapses_per_group": _int(1, 1 << 16), "group_header_bits": _int(0, 4096),
        "index_bits": _list(_int(0, 32), max_len=64), "weight_bits": _list(_int(0, 32), max_len=64),
        "delay_bits": _int(0, 32), "tag_bits": _int(0, 32)}),
}
#: ``options.placement``: the fields ``inspect``, ``compile`` and ``plot`` print
PLACEMENT_FIELDS: dict[str, Check] = {
    **{k: _NUM for k in ("inter_core_packets", "hop_weighted_traffic", "sequential_hop_weighted_traffic",
                         "max_link_load", "mean_hops", "max_hops", "energy_pj_per_step", "latency_ns_per_step",
                         "solve_time_s", "cores_used", "seed")},
    **{k: _NUM_OR_NULL for k in ("bound", "gap", "partition_bound", "max_link_load_bound",
                                 "max_link_load_bound_at_traffic", "time_limit", "link_slack")},
    "method": _str(64), "rates": _str(MAX_NAME_CHARS), "deterministic": _bool,
    "time_split_s": _nullable(_map(_NUM)),
}
_NAMES = _list(_str(), max_len=10 ** 6)
_POPULATION_COMPARE = _record({
    "name": _str(), "size": _COUNT, "spikes_ref": _int(0, 2 ** 63 - 1), "spikes_hw": _int(0, 2 ** 63 - 1),
    "rate_ref_hz": _NUM, "rate_hw_hz": _NUM, "rate_rel_error": _NUM_OR_NULL, "count_correlation": _NUM_OR_NULL})
_FIDELITY_FIELDS = {
    "target": _str(256), **{k: _int(0, 2 ** 63 - 1) for k in ("synapses", "synapses_zeroed", "synapses_dropped",
                                                               "synapses_clipped", "sign_flips", "synapses_late")},
    **{k: _NAMES for k in ("projections_zeroed", "plasticity_frozen", "bias_dropped", "weights_reencoded",
                           "approximations", "reset_approximated")},
    "refractory_dropped": _map(_int(0, 2 ** 31 - 1)),
    "rate": _nullable(_record({"steps": _int(0, 2 ** 63 - 1), "max_rel_error": _NUM_OR_NULL,
                               "worst": _nullable(_str()), "populations": _list(_POPULATION_COMPARE),
                               "skipped": _nullable(_str())}, optional=("worst", "populations", "skipped"))),
}
#: ``options.fidelity`` (``neuromap.compiler.fidelity.FidelityReport.to_dict``): every field typed, no others
FIDELITY: Check = _record(_FIDELITY_FIELDS, optional=tuple(k for k in _FIDELITY_FIELDS if k != "target"))
_QUANTIZATION = _report({"rounding": _nullable(_str(64)), "warnings": _NAMES,
                         "populations": _list(_report({})), "projections": _list(_report({}))})
_TRUENORTH = _report({
    "placement": _str(), "warnings": _NAMES, "quantization": _nullable(_QUANTIZATION),
    "crossbar": _nullable(_report({"totals": _nullable(_report({k: _NUM for k in (
        "rel_error", "rms_error", "max_error", "dropped", "optimal_cores", "cores")}))})),
    "fanout": _nullable(_report({k: _NUM for k in ("splitters", "splitter_cores")}))})
#: fields of ``options.placement`` that the summary reads unconditionally
PLACEMENT_REQUIRED = ("method", "rates", "seed", "cores_used", "hop_weighted_traffic",
                      "sequential_hop_weighted_traffic", "inter_core_packets", "mean_hops", "max_hops",
                      "max_link_load", "energy_pj_per_step", "latency_ns_per_step", "solve_time_s")
#: ``options``: compiler options and reports; the fields commands read are typed
OPTIONS_FIELDS: dict[str, Check] = {
    "placer": _str(64), "time_limit": _NUM_OR_NULL, "deterministic": _bool, "seed": _int(0, 2 ** 63 - 1),
    "rates": _str(MAX_NAME_CHARS), "link_slack": _NUM, "passes": _list(_str(64), max_len=64),
    "placement": _nullable(_report(PLACEMENT_FIELDS, PLACEMENT_REQUIRED)),
    "fidelity": _nullable(FIDELITY),
    "compatibility": _nullable(_list(_report({k: _str() for k in ("item", "reason", "alternative", "severity")}))),
    "quantization": _nullable(_QUANTIZATION),
    "weight_encoding": _nullable(_NAMES),
    "truenorth": _nullable(_TRUENORTH),
}
POPULATION_FIELDS: dict[str, Check] = {
    "name": _str(), "kind": _enum("neuron", "input"), "model": _str(256), "start": _COUNT, "size": _COUNT}
PROJECTION_FIELDS: dict[str, Check] = {
    "name": _str(), "pre": _str(), "post": _str(), "weight_exp": _int(-8, 7), "num_weight_bits": _int(1, 8),
    "sign_mode": _enum("mixed", "excitatory", "inhibitory"), "storage": _enum("dense", "sparse"),
    "learning": _nullable(_learning)}
PROBE_FIELDS: dict[str, Check] = {
    "population": _str(), "variables": _list(_enum("spikes", "u", "v"), max_len=3),
    "neurons": _nullable(_list(_COUNT))}
_DIM = _int(0, 2 ** 31 - 1)
_PAIR = _list(_int(0, 2 ** 31 - 1), max_len=2)
#: one entry of the optional ``conv`` section (neuromap.conv_geometry.ConvMap; docs/image-format.md, *Convolutions*)
CONV_FIELDS: dict[str, Check] = {
    "projection": _DIM, "in_shape": _list(_DIM, max_len=3), "out_shape": _list(_DIM, max_len=3),
    "kernel_size": _PAIR, "stride": _PAIR, "padding": _PAIR, "dilation": _PAIR, "groups": _DIM,
    "delay": _int(1, 64)}
#: one entry of the optional ``controllers`` section (neuromap.embedded.ControllerMap; docs/image-format.md,
#: *Controllers*); its fields are checked against the kind's declarations by neuromap.embedded.verify
CONTROLLER_FIELDS: dict[str, Check] = {"kind": _str(64), "projection": _int(0, 2 ** 31 - 1),
                                       "period": _int(1, 2 ** 31 - 1), "fields": _json_object}
#: ``pass_records[i]``: one compile pass or analysis (``neuromap.compiler.result.PassRecord.to_dict``)
PASS_RECORD_FIELDS: dict[str, Check] = {
    "name": _str(64), "kind": _enum("pass", "analysis"), "options": _json_object,
    "statistics": _list(_record({"name": _str(128), "value": _NUM, "unit": _str(64)}), max_len=1024),
    "wall_s": _NUM, "verify_s": _NUM, "peak_rss_bytes": _int(0, 2 ** 63 - 1)}
#: every top-level manifest field -> its check (``manifest_sha256`` is checked first, by value)
MANIFEST_FIELDS: dict[str, Check] = {
    "format": _enum("neuromap-image"),
    "format_version": _int(0, 2 ** 31 - 1),
    "target": _str(256),
    "network_name": _str(),
    "source_hash": _str(256),
    "seed": _int(0, 2 ** 63 - 1),
    "options": _report(OPTIONS_FIELDS),
    "constants": _report(CONSTANTS_FIELDS),   # a section, when present, has every field of its kind
    "core_kinds": _list(_enum(*CORE_KINDS), max_len=8),
    "populations": _list(_record(POPULATION_FIELDS)),
    "projections": _list(_record(PROJECTION_FIELDS)),
    "probes": _list(_record(PROBE_FIELDS)),
    "arrays": _arrays_table,
    "manifest_sha256": _hex64,
    "arithmetic": _json_object,     # checked field by field by neuromap.core_kinds.loihi_lif.LifArithmetic.from_dict
    "conv": _list(_record(CONV_FIELDS)),   # shared-weight projections (neuromap.conv_geometry)
    "pass_records": _list(_record(PASS_RECORD_FIELDS), max_len=256),
    "controllers": _list(_record(CONTROLLER_FIELDS), max_len=4096),   # embedded-core controllers
    "poisson_stream": _enum(*POISSON_KINDS),    # the Poisson inputs' stream kind (neuromap.poisson_stream)
}
#: fields an image may omit (older images: Loihi arithmetic; images without convolutions: conv; version 1
#: images: no shards; images compiled before pass records were saved: pass_records; images of the sequential
#: Poisson stream, every image compiled before the per-input streams: poisson_stream)
MANIFEST_OPTIONAL: tuple[str, ...] = ("arithmetic", "conv", "common", "shards", "pass_records", "controllers",
                                      "poisson_stream")


def _bundle_table(v: Any, where: str) -> None:
    if not isinstance(v, dict):
        raise ManifestFieldError(where, f"{_show(v)} is not an object")
    entry = _record({"dtype": _dtype, "shape": _list(_int(0, 2 ** 48), max_len=4), "offset": _int(0, 2 ** 62)})
    for k, x in v.items():
        _str(256)(k, f"{where} name")
        entry(x, f"{where}.{k}")


#: a bundle file of format version 2 (``common.bin``, ``shards/NNNNN.bin``): its size, sha256 and arrays
BUNDLE_FIELDS: dict[str, Check] = {"bytes": _int(0, 2 ** 62), "sha256": _hex64, "arrays": _bundle_table}
MANIFEST_FIELDS["common"] = _record(BUNDLE_FIELDS)
MANIFEST_FIELDS["shards"] = _list(_record({**BUNDLE_FIELDS, "cores": _list(_int(0, 2 ** 31 - 1), max_len=2 ** 31)}),
                                  max_len=2 ** 20)
#: format versions :func:`read_manifest` accepts by default: 1 (one ``arrays.npz``) and 2 (sharded)
READABLE_VERSIONS = (1, 2)
#: alignment of every array in a bundle file (cache line; numpy memory-maps any offset)
BUNDLE_ALIGN = 64


def bundle_name(i: int | None) -> str:
    """The file of bundle ``i`` inside an image directory (``None``: the common bundle); never from the manifest."""
    return "common.bin" if i is None else f"shards/{i:05d}.bin"


def write_bundle(path: Path, arrays: dict[str, np.ndarray]) -> dict:
    """Write ``arrays`` (C order, each at a multiple of :data:`BUNDLE_ALIGN`) into one file; returns its
    manifest entry (:data:`BUNDLE_FIELDS`)."""
    h = hashlib.sha256()
    table, off = {}, 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        for k, a in arrays.items():
            a = np.ascontiguousarray(a)
            pad = -off % BUNDLE_ALIGN
            f.write(b"\0" * pad)
            h.update(b"\0" * pad)
            off += pad
            table[k] = {"dtype": a.dtype.str, "shape": list(a.shape), "offset": off}
            b = memoryview(a.reshape(-1).view(np.uint8))
            f.write(b)
            h.update(b)
            off += a.nbytes
    return {"bytes": off, "sha256": h.hexdigest(), "arrays": table}


def read_bundle(image: Path, i: int | None, entry: dict, budget: list[int]) -> dict[str, np.ndarray]:
    """The arrays of bundle ``i`` of image directory ``image`` (:func:`bundle_name`), memory-mapped read-only,
    after the file (a regular file of exactly ``entry["bytes"]``) passes its sha256 and every array lies inside
    it; ``budget[0]``: bytes still allowed (the image's arrays may use half of :func:`memory_limit`)."""
    f_path = image / bundle_name(i)

    def bad(problem: str) -> ImageError:
        return ImageError(f"{f_path}: {problem} (image edited or truncated; recompile the network)")

    size = int(entry["bytes"])
    if size > budget[0]:
        raise ImageError(f"{f_path}: the manifest says {size / 2 ** 30:.3g} GiB, more than the "
                         f"{budget[0] / 2 ** 30:.3g} GiB this process may still use (image edited, or too big)")
    budget[0] -= size
    return read_bundle_file(f_path, entry, bad,
                            lambda: ImageError(f"{image}: {bundle_name(i)} is missing (recompile the network)"))


def read_bundle_file(f_path: Path, entry: dict, bad: Callable[[str], Exception],
                     missing: Callable[[], Exception], listed_in: str = "the manifest") -> dict[str, np.ndarray]:
    """The arrays of the bundle file ``f_path`` (written by :func:`write_bundle`, whose entry is ``entry``),
    memory-mapped read-only, after the file (a regular file of exactly ``entry["bytes"]``) passes its sha256 and
    every array lies inside it; raises ``bad(problem)`` or ``missing()`` (``listed_in``: where ``entry`` is from)."""
    size = int(entry["bytes"])
    try:
        f = open_regular(f_path, f_path.name)
    except FileNotFoundError:
        raise missing() from None
    except OSError as e:
        raise bad(f"unreadable ({e.strerror or type(e).__name__})") from None
    with f:
        if os.fstat(f.fileno()).st_size != size:
            raise bad(f"holds {os.fstat(f.fileno()).st_size} bytes, {listed_in} says {size}")
        h = hashlib.sha256()
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
        if h.hexdigest() != entry["sha256"]:
            raise bad("fails its checksum")
    out = {}
    for k, m in entry["arrays"].items():
        dt, shape, off = np.dtype(m["dtype"]), tuple(m["shape"]), int(m["offset"])
        n = math.prod(shape) * dt.itemsize
        if off + n > size:
            raise bad(f"array {k!r} ({dt.str} {list(shape)} at byte {off}) lies outside the file")
        out[k] = (np.memmap(f_path, dt, "r", off, shape) if n else np.zeros(shape, dt))
    return out


def _show(v: Any) -> str:
    s = json.dumps(v) if isinstance(v, (str, int, float, bool, type(None))) else type(v).__name__
    return s if len(s) <= 40 else s[:37] + "..."


# ------------------------------------------------------------------------------------ reading files

def open_regular(path: Path | str, what: str, max_bytes: int | None = None,
                 error: Callable[[str], Exception] | None = None):
    """``path`` opened for binary reading if it is a regular file (symlinks followed) of at most
    ``max_bytes``; never blocks on a FIFO or device. Otherwise raises ``error(problem)`` (default: an
    ImageError naming ``path``); FileNotFoundError passes through."""
    if error is None:
        def error(problem: str) -> Exception:
            return ImageError(f"{path}: {problem} (recompile the network)")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{what} is not a regular file")
        if max_bytes is not None and st.st_size > max_bytes:
            raise error(f"{what} holds {st.st_size} bytes, more than the {max_bytes} allowed")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def strict_json(text: str | bytes, where: str, error: Callable[[str], Exception],
                syntax_error: Callable[[json.JSONDecodeError], Exception] | None = None) -> Any:
    """``json.loads`` with duplicate keys, integers of more than :data:`MAX_INT_DIGITS` digits and nesting
    deeper than :data:`MAX_JSON_DEPTH` refused through ``error(problem)`` (syntax errors through
    ``syntax_error(e)`` when given)."""
    def pairs(kv):
        d = {}
        for k, v in kv:
            if k in d:
                raise error(f"key {k[:40]!r} appears twice in one object")
            d[k] = v
        return d

    def integer(s: str) -> int:
        if len(s.lstrip("-")) > MAX_INT_DIGITS:
            raise error(f"an integer literal has {len(s.lstrip('-'))} digits (at most {MAX_INT_DIGITS})")
        return int(s)

    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise error(f"nesting {depth} levels deep (at most {MAX_JSON_DEPTH})")
    try:
        return json.loads(text, object_pairs_hook=pairs, parse_int=integer)
    except (ValueError, RecursionError) as e:
        if isinstance(e, json.JSONDecodeError) and syntax_error is not None:
            raise syntax_error(e) from None
        if isinstance(e, json.JSONDecodeError):
            raise error(f"invalid JSON: {e.msg} (line {e.lineno}, column {e.colno})") from None
        raise error(f"invalid JSON ({type(e).__name__})") from None


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)


def json_depth(text: str | bytes) -> int:
    """Largest bracket nesting of JSON text (strings skipped), without parsing it: numpy over the bytes."""
    b = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    b = _JSON_STRING.sub(b"", b)
    a = np.frombuffer(b, np.uint8)
    step = (np.isin(a, (ord("["), ord("{"))).astype(np.int64) - np.isin(a, (ord("]"), ord("}"))))
    return int(np.cumsum(step).max(initial=0))


def canonical_json(m: dict) -> bytes:
    return json.dumps(m, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def manifest_digest(m: dict) -> str:
    """sha256 of the canonical JSON (sorted keys, no spaces, ASCII) of every field but ``manifest_sha256``."""
    return hashlib.sha256(canonical_json({k: v for k, v in m.items() if k != "manifest_sha256"})).hexdigest()


def read_manifest(path: Path, version: int | tuple[int, ...]) -> dict:
    """The manifest of image directory ``path``, fully checked: regular file, strict JSON, format and
    version, ``manifest_sha256``, then every field against :data:`MANIFEST_FIELDS`."""
    mf = path / "manifest.json"

    def bad(problem: str) -> ImageError:
        return ImageError(f"{mf}: {problem} (recompile the network)")

    try:
        with open_regular(mf, "manifest.json", MAX_MANIFEST_BYTES) as f:
            raw = f.read()
    except (FileNotFoundError, NotADirectoryError):
        raise ImageError(f"{path}: not a neuromap image (no manifest.json; run `neuromap compile` first)") from None
    except OSError as e:
        raise bad(f"unreadable ({e.strerror or type(e).__name__})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise bad("not UTF-8 text") from None
    m = strict_json(text, str(mf), lambda problem: bad(f"unreadable manifest: {problem}"))
    if not isinstance(m, dict) or m.get("format") != "neuromap-image":
        raise ImageError(f"{mf}: not a neuromap image manifest (recompile the network)")
    versions = (version,) if isinstance(version, int) else tuple(version)
    if m.get("format_version") not in versions:
        raise ImageError(f"{mf}: image format version {_show(m.get('format_version'))} is not supported "
                         f"(this neuromap reads version {' and '.join(map(str, versions))}; recompile the network)")
    if "manifest_sha256" not in m:
        raise bad("has no manifest_sha256 (written by an older neuromap, or edited)")
    if m["manifest_sha256"] != manifest_digest(m):
        raise bad("fails its checksum manifest_sha256 (the manifest was edited or truncated)")
    try:
        _record(MANIFEST_FIELDS, MANIFEST_OPTIONAL)(m, "")
    except ManifestFieldError as e:
        raise bad(f"{e.where}: {e.problem}") from None
    has = ("common" in m, "shards" in m)
    if m["format_version"] >= 2 and not all(has):
        raise bad(f"{'shards' if has[0] else 'common'}: is missing (a version 2 image lists its array files)")
    if m["format_version"] < 2 and any(has):
        raise bad(f"{'common' if has[0] else 'shards'}: is not a field of a version 1 image")
    return m


def memory_limit() -> int:
    """Bytes this process may allocate at most: physical memory, or the address-space limit if lower."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        total = 2 ** 40
    try:
        import resource
        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            total = min(total, soft)
    except (ImportError, ValueError, OSError):  # pragma: no cover
        pass
    return int(total)


def read_arrays(path: Path, table: dict[str, dict]) -> dict[str, np.ndarray]:
    """The arrays of ``path/arrays.npz``, each member checked against the manifest's ``table`` (dtype,
    shape, byte size) before its data is read; the sum must fit in half of :func:`memory_limit`."""
    npz = path / "arrays.npz"

    def bad(problem: str) -> ImageError:
        return ImageError(f"{npz}: {problem} (image edited or truncated; recompile the network)")

    need = {k: (np.dtype(m["dtype"]), tuple(m["shape"])) for k, m in table.items()}
    nbytes = {k: math.prod(s) * dt.itemsize for k, (dt, s) in need.items()}
    total, budget = sum(nbytes.values()), memory_limit() // 2
    if total > budget:
        raise ImageError(f"{npz}: the manifest's arrays need {total / 2 ** 30:.3g} GiB, more than the "
                         f"{budget / 2 ** 30:.3g} GiB this process may use (image edited, or too big for this machine)")
    try:
        f = open_regular(npz, "arrays.npz")
    except FileNotFoundError:
        raise ImageError(f"{path}: arrays.npz is missing (recompile the network)") from None
    except OSError as e:
        raise bad(f"unreadable ({e.strerror or type(e).__name__})") from None
    out: dict[str, np.ndarray] = {}
    with f:
        try:
            with zipfile.ZipFile(f) as z:
                infos = z.infolist()
                names = [i.filename[:-4] if i.filename.endswith(".npy") else i.filename for i in infos]
                if len(set(names)) != len(names) or set(names) != set(need):
                    odd = sorted(set(names) ^ set(need)) or ["(a duplicate member)"]
                    raise bad(f"array {odd[0][:80]!r} does not match the manifest")
                for info, k in zip(infos, names):
                    dt, shape = need[k]
                    if not nbytes[k] <= info.file_size <= nbytes[k] + 65536:
                        raise bad(f"array {k!r} holds {info.file_size} bytes; the manifest's {dt.str} {list(shape)} "
                                  f"needs {nbytes[k]}")
                    with z.open(info) as m:
                        out[k] = _read_npy(m, k, dt, shape, nbytes[k], bad)
        except ImageError:
            raise
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError) as e:
            raise bad(f"corrupted ({type(e).__name__})") from None
    return out


def _npy_header(m, name: str, bad) -> tuple[tuple, bool, np.dtype]:
    """``(shape, fortran_order, dtype)`` of the ``.npy`` stream ``m`` (versions 1.0 and 2.0), read without
    touching its data; ``bad(problem)`` for another version (numpy's ValueError for a broken header)."""
    version = np.lib.format.read_magic(m)
    if version == (1, 0):
        shape, fortran, dt = np.lib.format.read_array_header_1_0(m)
    elif version == (2, 0):
        shape, fortran, dt = np.lib.format.read_array_header_2_0(m)
    else:
        raise bad(f"{name} has .npy version {version}")
    return tuple(shape), fortran, dt


def _npy_data(m, name: str, dt: np.dtype, shape: tuple, fortran: bool, nbytes: int, bad) -> np.ndarray:
    """The ``nbytes`` of data that follow a ``.npy`` header, as an array (one allocation, exact size)."""
    buf = bytearray(nbytes)
    if m.readinto(buf) != nbytes:
        raise bad(f"{name} is shorter than its header says")
    return np.frombuffer(buf, dt).reshape(shape, order="F" if fortran else "C")


def _read_npy(m, name: str, dt: np.dtype, shape: tuple, nbytes: int, bad) -> np.ndarray:
    hshape, fortran, hdt = _npy_header(m, f"array {name!r}", bad)
    if hdt != dt or hshape != shape:
        raise bad(f"array {name!r} header says {hdt.str} {list(hshape)}, the manifest {dt.str} {list(shape)}")
    return _npy_data(m, f"array {name!r}", dt, shape, fortran, nbytes, bad)


def load_numpy_file(path: Path | str, what: str, max_bytes: int,
                    error: Callable[[str], Exception]) -> dict[str, np.ndarray]:
    """The arrays of a user-given ``.npy`` (as ``{"*": array}``) or ``.npz`` file, read like an image's:
    regular files only, every member's ``.npy`` header read first and its byte size (and the total)
    checked against ``max_bytes`` before any data is allocated, so a header claiming 10**12 entries or a
    zip bomb is refused at once. No pickles. Errors are ``error(problem)`` (problem never quotes content)."""
    path = str(path)
    try:
        f = open_regular(path, what, error=error)
    except FileNotFoundError:
        raise error("file not found") from None
    except OSError as e:
        raise error(f"unreadable ({e.strerror or type(e).__name__})") from None
    out: dict[str, np.ndarray] = {}
    budget = [int(max_bytes)]

    def member(m, name: str) -> np.ndarray:
        shape, fortran, dt = _npy_header(m, name, error)
        if dt.hasobject or dt.itemsize == 0:
            raise error(f"{name}: dtype {dt.str} is not a numeric array")
        nbytes = math.prod(shape) * dt.itemsize
        if nbytes > budget[0]:
            raise error(f"{name}: shape {list(shape)} needs {nbytes} bytes, more than the {max_bytes} allowed")
        budget[0] -= nbytes
        return _npy_data(m, name, dt, shape, fortran, nbytes, error)

    with f:
        try:
            if path.lower().endswith(".npz"):
                with zipfile.ZipFile(f) as z:
                    for info in z.infolist():
                        name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                        if info.file_size > budget[0] + 65536:
                            raise error(f"member {name[:80]!r} holds {info.file_size} bytes, more than allowed")
                        with z.open(info) as m:
                            out[name] = member(m, f"array {name[:80]!r}")
            else:
                out["*"] = member(f, "array")
        except (OSError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, ValueError) as e:
            raise error(f"not a readable numpy file ({type(e).__name__})") from None
    return out


# ------------------------------------------------------------------------------------ replacing a directory

#: what an image directory holds: ``manifest.json`` and ``arrays.npz`` (version 1) or ``common.bin`` and ``shards/``
IMAGE_ENTRIES = {"manifest.json", "arrays.npz", "common.bin", "shards"}


def is_image_dir(path: Path) -> bool:
    """True if ``path`` is a directory holding only ``manifest.json`` (a neuromap image's) and the image's
    array files (:data:`IMAGE_ENTRIES`)."""
    try:
        entries = set(os.listdir(path))
        if not entries <= IMAGE_ENTRIES or "manifest.json" not in entries:
            return False
        with open_regular(path / "manifest.json", "manifest.json", MAX_MANIFEST_BYTES) as f:
            head = json.loads(f.read().decode("utf-8"))
        return isinstance(head, dict) and head.get("format") == "neuromap-image"
    except (OSError, ValueError, ImageError, RecursionError):
        return False


def check_replaceable(path: Path, force: bool) -> None:
    """Refuse to replace ``path`` unless it is absent, an empty directory, a neuromap image, or ``force``."""
    if not os.path.lexists(path) or force:
        return
    if not path.is_dir() or path.is_symlink():
        raise ImageError(f"{path}: exists and is not a directory (choose another output path, or pass --force)")
    if not any(path.iterdir()) or is_image_dir(path):
        return
    others = sorted(e for e in os.listdir(path) if e not in IMAGE_ENTRIES)
    what = (f"it holds {len(others)} other entries ({others[0]!r} ...)" if others
            else "its manifest.json is not an image's")
    raise ImageError(f"{path}: exists and is not a neuromap image ({what}); choose another output path, "
                     "or pass --force to replace it")


_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd = -100
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EPERM, errno.ENOTSUP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _leftovers(path: Path) -> tuple[list[Path], list[Path]]:
    """(old-image dirs ``.NAME.old.*``, temp dirs ``.NAME.XXXXXXXX``) next to ``path``."""
    old, tmp = [], []
    pre = f".{path.name}."
    try:
        entries = os.listdir(path.parent)
    except OSError:
        return old, tmp
    for e in entries:
        if not e.startswith(pre):
            continue
        rest = e[len(pre):]
        if rest.startswith("old."):
            old.append(path.parent / e)
        elif re.fullmatch(r"[a-z0-9_]{8}", rest):
            tmp.append(path.parent / e)
    return old, tmp


def recover(path: Path, stale_after_s: float = 600.0) -> None:
    """Repair what an interrupted :func:`replace_dir` left next to ``path``: if ``path`` is missing, move the
    newest stranded old image back; then delete stranded old images and temp dirs older than
    ``stale_after_s`` (a save in progress elsewhere keeps its fresh temp dir)."""
    old, tmp = _leftovers(path)
    if not os.path.lexists(path):
        for d in sorted(old, key=lambda p: p.stat().st_mtime, reverse=True):
            if is_image_dir(d / "x"):
                os.rename(d / "x", path)
                break
    if not os.path.lexists(path):
        return
    now = time.time()
    for d in old + [t for t in tmp if now - t.stat().st_mtime > stale_after_s]:
        shutil.rmtree(d, ignore_errors=True)


def replace_dir(tmp: Path, path: Path) -> None:
    """Put directory ``tmp`` at ``path``, replacing what is there, so that ``path`` always holds the old or the
    new directory (one atomic exchange), or (two renames, no exchange) :func:`recover` restores the old one."""
    if not os.path.lexists(path):
        os.rename(tmp, path)
        return
    if _exchange(tmp, path):
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old directory
        return
    old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))
    os.rename(path, old / "x")
    os.rename(tmp, path)
    shutil.rmtree(old, ignore_errors=True)

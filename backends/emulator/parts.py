"""Per-rank result files of an MPI run (docs/scale-out.md, *Results*): every rank writes its own part of the
results and :func:`backends.emulator.load_results` merges them on read, so the :class:`Results` a user reads
(and ``neuromap plot``/``report``) equal the one-process run's and the gathered run's, array for array.

``neuromap run BUILD -o NAME.npz`` under ``mpiexec -n K`` writes

* ``NAME.npz.parts/rank-RRRRR-of-KKKKK.bin``: rank R's part, one bundle file (the image format's bundles,
  docs/image-format.md *On disk*: C-order arrays at 64-byte offsets): :data:`PART_ARRAYS` plus
  ``weights.<k>.syn`` / ``weights.<k>.w`` per plastic projection k it holds; a rank whose neurons spike
  densely (n / 8 bytes a step < 4 bytes a spike) stores ``spikes.bits`` (:func:`emulator.sharded.spike_bits`,
  a (steps, ceil(n / 8)) uint8 bitmap over its neurons) instead of ``spikes.gid``; ``links.key`` and
  ``links.count`` are int32 where every value fits (read back as int64);
* ``NAME.npz``, written last by rank 0: the index, an ``.npz`` with ``format`` (:data:`FORMAT`),
  ``format_version`` (:data:`VERSION`), ``steps``, ``meta`` (the results' ``meta``), ``layout`` (JSON
  :class:`backends.emulator.ResultLayout`), ``probe`` (the traced global neuron ids) and ``parts`` (JSON: per
  rank its file name, size in bytes, sha256 and array table).

Reading checks every part against its size and sha256 and its arrays for shape; a missing or corrupt part is
one :class:`NeuromapError` naming the file (exit code 2 in the CLI). Files written by one process or the
gathered MPI mode (every array in one ``.npz``) load as before.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from backends.emulator import ResultLayout, Results, result_layout, results_of, save_npz
from emulator.program import _narrow  # int32 when every value fits (link pairs: half the bytes); read back as int64
from emulator.raw_run import RawRun
from emulator.sharded import merge_parts, spike_bits, spike_ids
from emulator.source_ranges import count_in_ranges
from neuromap.errors import NeuromapError
from neuromap.image_files import read_bundle_file, write_bundle

#: the ``format`` entry of an index file
FORMAT = "neuromap-results-parts"
#: the version this code writes and the newest it reads
VERSION = 1
#: part arrays (bundle name <- key of :data:`emulator.sharded.PART_KEYS`), every rank writes each of them
PART_ARRAYS = {"neurons": "nid", "probe_cols": "probe_cols", "trace.u": "u", "trace.v": "v", "final.u": "final_u",
               "final.v": "final_v", "core_spikes": "core_spikes", "weights.steps": "rec_steps",
               "spikes.gid": "rec_gid", "spikes.count": "rec_cnt", "inputs.gid": "in_gid", "inputs.count": "in_cnt"}


def parts_dir(output: str | os.PathLike) -> Path:
    """The folder of the part files beside the index ``output`` (``NAME.npz.parts``)."""
    output = Path(output)
    return output.with_name(output.name + ".parts")


def part_name(rank: int, size: int) -> str:
    return f"rank-{rank:05d}-of-{size:05d}.bin"


def write_part(output: str | os.PathLike, rank: int, size: int, part: dict) -> dict:
    """Write rank ``rank``'s part (:func:`emulator.sharded.emulate_shard` with ``gather=False``) beside the index
    ``output`` (atomically: temp file + rename); returns its index entry (file, bytes, sha256, arrays)."""
    arrays = {name: np.asarray(part[key]) for name, key in PART_ARRAYS.items()}
    steps, n = arrays["spikes.count"].size, arrays["neurons"].size
    if steps * ((n + 7) // 8) < 4 * arrays["spikes.gid"].size:       # dense: a bitmap over the rank's neurons
        bits, bad = spike_bits(arrays["spikes.gid"], arrays["spikes.count"], arrays["neurons"])
        if bad < 0:
            del arrays["spikes.gid"]
            arrays["spikes.bits"] = bits
    arrays["links.key"], arrays["links.count"] = (_narrow(np.asarray(a)) for a in part["link_spikes"])
    for k, (syn, w) in part["weights"].items():
        arrays[f"weights.{k}.syn"], arrays[f"weights.{k}.w"] = syn, w
    d = parts_dir(output)
    d.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{part_name(rank, size)}.", dir=d)
    os.close(fd)
    try:
        entry = write_bundle(Path(tmp), arrays)
        os.replace(tmp, d / part_name(rank, size))
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return {"file": part_name(rank, size), **entry}


def write_index(output: str | os.PathLike, steps: int, layout: ResultLayout, probe: np.ndarray,
                entries: list[dict]) -> Path:
    """Rank 0, after every rank wrote its part: the index file ``output`` (atomically)."""
    return save_npz(output, {"format": np.array(FORMAT), "format_version": np.int64(VERSION),
                             "steps": np.int64(steps), "meta": np.array(json.dumps(layout.meta)),
                             "layout": np.array(layout.to_json()), "probe": np.asarray(probe, np.int64),
                             "parts": np.array(json.dumps(entries))})


def write_rank_results(output: str | os.PathLike | None, part: dict, img, engine: str, steps: int, comm) -> dict | None:
    """Every rank of a per-rank MPI run: write this rank's part (with ``output``), then gather to rank 0 the part
    entries and what ``neuromap run`` prints (spikes per population, inter-core messages, the readouts' last
    voltages; none of it holds a spike list); rank 0 writes the index. Returns the summary on rank 0 (keys
    ``spikes``, ``inter_core_messages``, ``readouts``), None elsewhere."""
    from emulator import _image_probe  # lazy: keeps this module's import light for readers

    probe = _image_probe(img)
    layout = result_layout(img, probe, engine, img.n_neurons)
    entry, err = None, None
    if output is not None:
        try:
            entry = write_part(output, comm.rank, comm.size, part)
        except OSError as e:
            err = f"rank {comm.rank}: {parts_dir(output) / part_name(comm.rank, comm.size)}: cannot write " \
                  f"({e.strerror or type(e).__name__}; check the folder and free space)"
        except Exception as e:      # noqa: BLE001 - every rank must reach the gather below (no hang)
            err = f"rank {comm.rank}: writing its results part failed ({type(e).__name__}: {e})"
    bases = [(b, size) for _, b, size in layout.spikes]
    mine = count_in_ranges(np.asarray(part["rec_gid"], np.int32), bases) \
        + count_in_ranges(np.asarray(part["in_gid"], np.int32), bases)
    C = layout.n_cores
    keys, counts = part["link_spikes"]
    row, col = keys // max(C, 1), keys % max(C, 1)
    inter = int(counts[(row < C) & (row != col)].sum())
    last = np.asarray(part["v"])[-1] if steps else np.zeros(0, np.int64)
    got = comm.gather((entry, err, mine, inter, np.asarray(part["probe_cols"]), last))
    if comm.rank != 0:
        return None
    errs = [g[1] for g in got if g[1]]
    if errs:
        raise NeuromapError(errs[0])
    if output is not None:
        write_index(output, steps, layout, probe, [g[0] for g in got])
    v_last = np.zeros(probe.size, np.int64)
    for g in got:
        v_last[g[4]] = g[5]
    total = np.sum([g[2] for g in got], axis=0)
    # the readouts' last voltages as :func:`backends.emulator.results_of` computes them, from one row
    raw = RawRun(1, np.zeros((0, 2), np.int64), probe, v_last[None, :] * 0, v_last[None, :],
                 np.zeros(0, np.int64), np.zeros((1, 0), np.int64))
    last_res = results_of(ResultLayout(**{**vars(layout), "spikes": []}), raw)
    return {"spikes": {name: int(total[i]) for i, (name, _, _) in enumerate(layout.spikes)},
            "inter_core_messages": sum(g[3] for g in got),
            "readouts": {k: (last_res.neurons[k], tr[-1]) for k, tr in last_res.readout.items()}}


def load(path: str | os.PathLike, d: dict) -> Results:
    """The :class:`Results` of the per-rank result files whose index ``path`` holds ``d`` (its arrays)."""
    raw, layout = read_parts(path, d)
    return results_of(layout, raw)


def read_parts(path: str | os.PathLike, d: dict | None = None) -> tuple[RawRun, ResultLayout]:
    """The merged :class:`emulator.RawRun` (the one-process integers) and the layout of the per-rank result
    files indexed by ``path``."""
    path = Path(path)
    if d is None:
        try:
            with np.load(path, allow_pickle=False) as z:
                d = {k: z[k] for k in z.files}
        except (OSError, ValueError) as e:
            raise NeuromapError(f"{path}: not a results file ({type(e).__name__})") from None
    if str(d["format"]) != FORMAT:
        raise NeuromapError(f"{path}: format {str(d['format'])!r} is not {FORMAT!r} (not a results file)")
    version = int(d.get("format_version", -1))
    if version < 1 or version > VERSION:
        raise NeuromapError(f"{path}: per-rank results format version {version}; this neuromap reads 1..{VERSION} "
                            "(upgrade neuromap)")
    try:
        steps, layout, probe = int(d["steps"]), ResultLayout.from_json(str(d["layout"])), d["probe"]
        entries = json.loads(str(d["parts"]))
    except (KeyError, TypeError, ValueError) as e:
        raise NeuromapError(f"{path}: index entry {e} is missing or malformed (write the results again)") from None
    folder = parts_dir(path)
    parts = []
    for r, e in enumerate(entries):
        f = folder / part_name(r, len(entries))

        def bad(problem: str, f=f) -> NeuromapError:
            return NeuromapError(f"{f}: {problem} (a part of the per-rank results {path.name}: write them again)")

        if e.get("file") != f.name:
            raise bad(f"the index names {e.get('file')!r} for rank {r}")
        a = read_bundle_file(f, e, bad, lambda f=f: NeuromapError(
            f"{f} is missing: the per-rank results {path.name} need every file of {folder.name}/ beside it "
            "(copy the folder with the index)"), listed_in="the index")
        parts.append(_part(a, steps, layout, probe.size, bad))
    if not parts:
        raise NeuromapError(f"{path}: the index lists no part (write the results again)")
    plastic = sorted(int(k) for k in layout.weights)
    return merge_parts(parts, steps, layout.n_neurons, layout.n_cores, plastic, np.asarray(probe, np.int64)), layout


def _part(a: dict, steps: int, layout: ResultLayout, n_probe: int, bad) -> dict:
    """A part's arrays as the dict :func:`emulator.sharded.merge_parts` reads, after its shapes are checked."""
    if "spikes.bits" in a and "spikes.gid" not in a:
        bits, nid = np.asarray(a.get("spikes.bits")), np.asarray(a.get("neurons", np.zeros(0, np.int64)))
        if bits.ndim != 2 or bits.dtype != np.uint8 or bits.shape[1] != (nid.size + 7) // 8:
            raise bad("its spike bitmap is not (steps, neurons / 8) bytes")
        a = {**a, "spikes.gid": spike_ids(bits, nid)[0]}
    missing = [k for k in (*PART_ARRAYS, "links.key", "links.count") if k not in a]
    if missing:
        raise bad(f"has no array {missing[0]!r}")
    p = {key: np.asarray(a[name]) for name, key in PART_ARRAYS.items()}
    p["link_spikes"] = (np.asarray(a["links.key"], np.int64), np.asarray(a["links.count"], np.int64))
    p["weights"] = {int(k.split(".")[1]): (np.asarray(a[k]), np.asarray(a[k[:-3] + "w"]))
                    for k in a if k.startswith("weights.") and k.endswith(".syn")}
    m = p["probe_cols"].size
    if p["rec_cnt"].shape != (steps,) or int(p["rec_cnt"].sum()) != p["rec_gid"].size \
            or p["in_cnt"].shape != (steps,) or int(p["in_cnt"].sum()) != p["in_gid"].size:
        raise bad("its spike counts do not add up to its spikes")
    if p["u"].shape != (steps, m) or p["v"].shape != (steps, m):
        raise bad("its traces are not (steps, probed neurons)")
    if p["final_u"].shape != p["nid"].shape or p["final_v"].shape != p["nid"].shape:
        raise bad("its final state is not one value per neuron")
    N, C = layout.n_neurons, layout.n_cores
    if p["nid"].size and (p["nid"].min() < 0 or p["nid"].max() >= N) or \
            m and (p["probe_cols"].min() < 0 or p["probe_cols"].max() >= n_probe) or \
            p["core_spikes"].shape != (C,) or p["link_spikes"][0].shape != p["link_spikes"][1].shape or \
            p["link_spikes"][0].size and (p["link_spikes"][0].min() < 0 or p["link_spikes"][0].max() >= (C + 1) * C):
        raise bad("an index (neuron, probe column, core or link) is out of range")
    return p

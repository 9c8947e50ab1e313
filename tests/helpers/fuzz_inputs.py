"""Fuzz every command with hostile and mutated inputs; count how each ended (issue 19, item 4).

    python tests/helpers/fuzz_inputs.py [--per-kind N] [--seed S] [--timeout SEC] [--mem-gb GB]

Inputs (deterministic from the seed), each run through the CLI entry point ``neuromap.cli.main``:

* **network files** (YAML and JSON): the hand-written hostile files of issue 19 (billion laughs, deep
  nesting, 5000-digit integers, dt 1e-300/1e300, spike times 1e300, size 2**31-1, delay 1e9, ``file:``
  outside the directory, a FIFO, no populations, merge keys, duplicate keys) and random mutations of the
  examples (a value replaced by a hostile one, a key dropped, truncation, byte flips); ``simulate`` and
  ``compile``.
* **NIR files**: an exported graph with node parameters replaced by hostile arrays, and byte-corrupted
  files; ``simulate``.
* **tampered images**: arrays.npz with arrays edited (manifest re-signed so that the invariants are what
  catches them), members swapped, truncated, byte flips; ``inspect`` and ``run``.
* **manifests**: random field edits, with and without a recomputed ``manifest_sha256``, and hostile
  text; ``inspect`` and ``run``.

Every input runs in a worker process with ``RLIMIT_AS`` = ``--mem-gb`` and a per-input alarm of
``--timeout`` s; a worker that dies is restarted after the input that killed it. Outcomes: ``ok`` (exit 0),
``clean`` (exit 1 or 2 with one stderr line), ``traceback`` (any other exception, or a multi-line error),
``hang`` (timeout), ``memory`` (MemoryError under the limit), ``crash`` (the worker died). The issue's bar:
0 tracebacks, 0 hangs, 0 memory, 0 crashes.
"""
from __future__ import annotations

import argparse
import copy
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ["lava_port_hw.yaml", "ramp_lif.yaml", "tn_feedforward.yaml", "ramp_izhikevich.yaml", "balanced_ei.yaml"]
KINDS = ("network files", "NIR files", "tampered images", "manifests")
OUTCOMES = ("ok", "clean", "traceback", "hang", "memory", "crash")

HOSTILE_VALUES = [None, True, -1, 0, 2 ** 31 - 1, 2 ** 63, -(2 ** 63), 10 ** 30, 1e300, -1e300, 1e-300, 0.5,
                  float("inf"), "", "x" * 300, "\x00", "../../etc/passwd", [], [[[]]], {}, {"file": "/etc/passwd"},
                  {"file": "../secret.npy"}, [1e300] * 3, {"<<": 1}, "1e9", 1e9, -0.0]


# ------------------------------------------------------------------------------------------- corpus

def _yaml_dump(d) -> str:
    import yaml
    return yaml.dump(d, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False)


def _json_dump(d) -> str:
    return json.dumps(d, allow_nan=True)


def _paths(obj, prefix=()):
    """Every (path, value) in a nested dict/list."""
    yield prefix, obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


def _set(obj, path, value):
    for p in path[:-1]:
        obj = obj[p]
    obj[path[-1]] = value


def _delete(obj, path):
    for p in path[:-1]:
        obj = obj[p]
    del obj[path[-1]]


def _mutate_tree(d, rng: random.Random):
    d = copy.deepcopy(d)
    for _ in range(rng.choice((1, 1, 2, 3))):
        paths = [p for p, _ in _paths(d) if p]
        if not paths:
            break
        path = rng.choice(paths)
        r = rng.random()
        try:
            if r < 0.7:
                _set(d, path, copy.deepcopy(rng.choice(HOSTILE_VALUES)))
            elif r < 0.9:
                _delete(d, path)
            else:
                _set(d, path, {"nested": copy.deepcopy(d)})
        except (KeyError, IndexError, TypeError):
            pass
    return d


def _mutate_bytes(b: bytes, rng: random.Random) -> bytes:
    b = bytearray(b)
    r = rng.random()
    if r < 0.3 and b:
        return bytes(b[: rng.randrange(len(b))])
    for _ in range(rng.randint(1, 8)):
        if b:
            b[rng.randrange(len(b))] = rng.randrange(256)
    return bytes(b)


def hostile_network_files(d: Path) -> list[Path]:
    """The hand-written hostile network files of issue 19."""
    head = "format: neuromap/1\nname: h\n"
    pops = "populations:\n  a: {size: 4, neuron: {model: lif}}\n"
    files = {
        "laughs.yaml": head + "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
            for p, c in zip("abcdefgh", "bcdefghi")) + pops,
        "deep_1000.yaml": head + "description: " + "[" * 1000 + "]" * 1000 + "\n" + pops,
        "deep_100000.yaml": head + "description: " + "[" * 100000 + "]" * 100000 + "\n" + pops,
        "deep_dash.yaml": head + "description:\n" + "- " * 50000 + "x\n" + pops,
        "deep_1000.json": '{"format": "neuromap/1", "description": ' + "[" * 1000 + "]" * 1000 + "}",
        "deep_100000.json": '{"format": "neuromap/1", "description": ' + "[" * 100000 + "]" * 100000 + "}",
        "digits.yaml": head + "seed: " + "9" * 5000 + "\n" + pops,
        "digits.json": '{"format": "neuromap/1", "seed": ' + "9" * 5000 + "}",
        "dup.json": '{"format": "neuromap/1", "name": "a", "name": "b", "populations": {}}',
        "dup.yaml": head + "name: b\n" + pops,
        "dt_tiny.yaml": head + "dt: 1.0e-300\n" + pops,
        "dt_huge.yaml": head + "dt: 1.0e+300\n" + pops,
        "times.yaml": head + "populations:\n  s: {size: 1, neuron: {model: spike_source, times: [[1.0e+300]]}}\n"
                      "  a: {size: 1, neuron: {model: lif}}\nprojections:\n"
                      "- {pre: s, post: a, connect: {rule: all_to_all}, weight: 1.0}\n",
        "size_max.yaml": head + "populations:\n  a: {size: 2147483647, neuron: {model: lif}}\n",
        "size_pair.yaml": head + "populations:\n  a: {size: 100000, neuron: {model: lif}}\n  b: {size: 100000, "
                          "neuron: {model: lif}}\nprojections:\n"
                          "- {pre: a, post: b, connect: {rule: all_to_all}, weight: 1.0}\n",
        "delay_1e9.yaml": head + "populations:\n  a: {size: 10, neuron: {model: lif}}\nprojections:\n"
                          "- {pre: a, post: a, connect: {rule: all_to_all}, weight: 1.0, delay: 1000000000}\n",
        "no_pops.yaml": head + "populations: {}\n",
        "passwd.yaml": head + "populations:\n  a: {size: 2, neuron: {model: lif}}\nprojections:\n"
                       "- {pre: a, post: a, connect: {rule: matrix, file: /etc/passwd}}\n",
        "environ.yaml": head + "populations:\n  a: {size: 2, neuron: {model: lif}}\nprojections:\n"
                        "- {pre: a, post: a, connect: {rule: all_to_all}, weight: {file: /proc/self/environ}}\n",
        "dotdot.yaml": head + "populations:\n  a: {size: 2, neuron: {model: lif}}\nprojections:\n"
                       "- {pre: a, post: a, connect: {rule: all_to_all}, weight: {file: ../../../../etc/hostname}}\n",
        "fifo_ref.yaml": head + "populations:\n  a: {size: 2, neuron: {model: lif}}\nprojections:\n"
                         "- {pre: a, post: a, connect: {rule: all_to_all}, weight: {file: fifo.npy}}\n",
        "merge.yaml": head + "populations:\n  a: &a {size: 2, neuron: {model: lif, tau_m: 10.0}}\n"
                      "  b: {<<: *a, size: 3}\n",
        "big_int_size.yaml": head + "populations:\n  a: {size: " + "1" * 400 + ", neuron: {model: lif}}\n",
    }
    out = []
    for name, text in files.items():
        (d / name).write_text(text)
        out.append(d / name)
    fifo = d / "fifo.npy"
    if not fifo.exists():
        os.mkfifo(fifo)
    os.mkfifo(d / "fifo_net.yaml")
    out.append(d / "fifo_net.yaml")
    return out


def build_corpus(d: Path, per_kind: int, seed: int) -> list[dict]:
    """Cases ``{"kind", "argv", "name"}`` written under ``d``; ``per_kind`` random mutations per kind
    (network files get the hand-written hostile files on top)."""
    import yaml

    sys.path.insert(0, str(ROOT))
    from neuromap import image_files
    from neuromap.cli import main as cli_main
    from neuromap.image import load_image

    rng = random.Random(seed)
    d.mkdir(parents=True, exist_ok=True)
    cases: list[dict] = []

    def net_case(path: Path, name: str):
        cases.append({"kind": "network files", "name": name, "argv": ["simulate", str(path), "-n", "20"]})
        cases.append({"kind": "network files", "name": name,
                      "argv": ["compile", str(path), "-o", str(d / "out_img"), "--placer", "sequential", "-q",
                               "--force"]})

    nets = d / "nets"
    nets.mkdir(exist_ok=True)
    for p in hostile_network_files(nets):
        net_case(p, p.name)
    (nets / "lava_port_hw_w.npy").write_bytes((ROOT / "examples" / "lava_port_hw_w.npy").read_bytes())
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    bases = {e: yaml.load((ROOT / "examples" / e).read_text(), Loader=loader) for e in EXAMPLES}  # noqa: S506
    for i in range(per_kind):
        e = rng.choice(EXAMPLES)
        r = rng.random()
        if r < 0.75:
            tree = _mutate_tree(bases[e], rng)
            if rng.random() < 0.5:
                p = nets / f"m{i}.yaml"
                p.write_text(_yaml_dump(tree))
            else:
                p = nets / f"m{i}.json"
                p.write_text(_json_dump(tree))
        else:
            p = nets / f"m{i}.yaml"
            p.write_bytes(_mutate_bytes((ROOT / "examples" / e).read_bytes(), rng))
        cases.append({"kind": "network files", "name": p.name,
                      "argv": ["simulate", str(p), "-n", "20"] if rng.random() < 0.6 else
                      ["compile", str(p), "-o", str(d / "out_img"), "--placer", "sequential", "-q", "--force"]})

    # ---- NIR
    nird = d / "nir"
    nird.mkdir(exist_ok=True)
    good_nir = nird / "good.nir"
    _quiet(cli_main, ["export-nir", str(ROOT / "examples" / "ramp_lif.yaml"), "-o", str(good_nir)])
    import nir
    import numpy as np

    from neuromap.nir_io import _read_graph
    graph = _read_graph(str(good_nir))
    hostile_arrays = [np.array([np.nan]), np.array([1e300]), np.array([-1.0]), np.zeros((0,)), np.zeros((3, 3, 3)),
                      np.array([0.0]), np.full(10 ** 4, 1e-300), np.array(["x"]), np.array([2 ** 62], np.int64)]
    for i in range(per_kind):
        p = nird / f"m{i}.nir"
        if rng.random() < 0.7:
            g = copy.deepcopy(graph)
            node_name = rng.choice(sorted(g.nodes))
            node = g.nodes[node_name]
            fields = [k for k, v in vars(node).items() if isinstance(v, np.ndarray)]
            if fields:
                setattr(node, rng.choice(fields), rng.choice(hostile_arrays))
            elif rng.random() < 0.5:
                del g.nodes[node_name]
            if rng.random() < 0.2 and g.edges:
                g.edges.append((rng.choice(sorted(g.nodes)), rng.choice(sorted(g.nodes))))
            try:
                nir.write(str(p), g)
            except Exception:
                p.write_bytes(_mutate_bytes(good_nir.read_bytes(), rng))
        else:
            p.write_bytes(_mutate_bytes(good_nir.read_bytes(), rng))
        cases.append({"kind": "NIR files", "name": p.name, "argv": ["simulate", str(p), "-n", "10"]})

    # ---- images and manifests
    imgd = d / "img"
    imgd.mkdir(exist_ok=True)
    good = imgd / "good"
    _quiet(cli_main, ["compile", str(ROOT / "examples" / "lava_port_hw.yaml"), "-o", str(good), "--placer",
                      "sequential", "-q"])
    load_image(good).save(good, format_version=1)    # the cases below edit a version 1 image's arrays.npz
    manifest = json.loads((good / "manifest.json").read_text())
    arrays = dict(np.load(good / "arrays.npz"))

    def image_case(kind: str, name: str, m: dict | None, arrs: dict | None, raw_manifest: bytes | None = None,
                   raw_npz: bytes | None = None):
        out = imgd / name
        out.mkdir()
        (out / "manifest.json").write_bytes(raw_manifest if raw_manifest is not None else json.dumps(m).encode())
        if raw_npz is not None:
            (out / "arrays.npz").write_bytes(raw_npz)
        else:
            buf = io.BytesIO()
            np.savez(buf, **arrs)
            (out / "arrays.npz").write_bytes(buf.getvalue())
        argv = ["inspect", str(out)] if rng.random() < 0.5 else ["run", str(out), "--steps", "8", "-o",
                                                                str(d / "run.npz")]
        cases.append({"kind": kind, "name": name, "argv": argv})

    def resign(m: dict, arrs: dict) -> dict:
        from neuromap.image import _digest
        m = copy.deepcopy(m)
        m["arrays"] = {k: {"dtype": v.dtype.str, "shape": list(v.shape), "sha256": _digest(v)} for k, v in arrs.items()}
        m["manifest_sha256"] = image_files.manifest_digest(m)
        return m

    npz_bytes = (good / "arrays.npz").read_bytes()
    for i in range(per_kind):
        r = rng.random()
        if r < 0.6:   # an array edited, everything re-signed: verify() must catch it
            arrs = dict(arrays)
            k = rng.choice(sorted(arrs))
            a = arrs[k].copy()
            if a.size and rng.random() < 0.7:
                info = np.iinfo(a.dtype) if a.dtype.kind in "iu" else None
                vals = [info.min, info.max, 0, -1 if a.dtype.kind == "i" else 1] if info else [np.nan, 1e300, -1.0, 2.0]
                a.flat[rng.randrange(a.size)] = rng.choice(vals)
            elif rng.random() < 0.5:
                a = a[: rng.randrange(a.size + 1)]
            else:
                a = np.concatenate([a, a[:1]])
            arrs[k] = a
            image_case("tampered images", f"a{i}", resign(manifest, arrs), arrs)
        else:
            image_case("tampered images", f"a{i}", manifest, None, raw_npz=_mutate_bytes(npz_bytes, rng))
    for i in range(per_kind):
        r = rng.random()
        m = copy.deepcopy(manifest)
        if r < 0.8:
            m = _mutate_tree(m, rng)
            if rng.random() < 0.75:
                m["manifest_sha256"] = image_files.manifest_digest(m)
            image_case("manifests", f"m{i}", m, arrays)
        else:
            raw = json.dumps(m).encode()
            image_case("manifests", f"m{i}", None, arrays, raw_manifest=_mutate_bytes(raw, rng))
    return cases


def _quiet(fn, argv):
    try:
        fn(argv)
    except SystemExit as e:
        if e.code:
            raise RuntimeError(f"corpus setup failed: {argv}") from None


# ------------------------------------------------------------------------------------------- running

def _worker(cases_file: str, start: int, timeout: float, mem_bytes: int) -> None:
    """Run cases[start:] in this process; one JSON line per case on stdout."""
    import contextlib
    import resource
    import signal
    import traceback

    resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))
    sys.path.insert(0, str(ROOT))
    from neuromap.cli import main

    class Hang(BaseException):
        pass

    def alarm(*_):
        raise Hang()

    signal.signal(signal.SIGALRM, alarm)
    cases = json.loads(Path(cases_file).read_text())
    out = sys.__stdout__
    for i in range(start, len(cases)):
        c = cases[i]
        err, sink = io.StringIO(), io.StringIO()
        detail = ""
        t = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(sink):
                main(c["argv"])
            outcome = "ok"
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 0
            lines = err.getvalue().strip().splitlines()
            if code == 0:
                outcome = "ok"
            elif "out of memory" in err.getvalue():   # the CLI's MemoryError line: counted as memory
                outcome, detail = "memory", lines[0][:300] if lines else ""
            elif code in (1, 2) and len(lines) == 1:
                outcome, detail = "clean", lines[0][:300]
            else:
                outcome, detail = "traceback", f"exit {code}: " + " | ".join(lines[-3:])[:300]
        except Hang:
            outcome = "hang"
        except MemoryError:
            outcome = "memory"
        except BaseException as e:  # noqa: BLE001 - counting is the point
            tb = traceback.extract_tb(e.__traceback__)
            where = f"{tb[-1].filename.rsplit('/', 2)[-1]}:{tb[-1].lineno}" if tb else "?"
            outcome, detail = "traceback", f"{type(e).__name__}: {str(e)[:200]} at {where}"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        out.write(json.dumps({"i": i, "outcome": outcome, "detail": detail,
                              "s": round(time.monotonic() - t, 3)}) + "\n")
        out.flush()


def run_cases(cases: list[dict], timeout: float = 20.0, mem_gb: float = 4.0, workdir: Path | None = None,
              log=None) -> list[dict]:
    """Results (case + outcome) of every case, in worker processes (restarted after a crash or hang)."""
    workdir = Path(workdir or tempfile.mkdtemp())
    cases_file = workdir / "cases.json"
    cases_file.write_text(json.dumps(cases))
    results: dict[int, dict] = {}
    start = 0
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    while start < len(cases):
        proc = subprocess.Popen([sys.executable, __file__, "--worker", str(cases_file), "--start", str(start),
                                 "--timeout", str(timeout), "--mem-gb", str(mem_gb)],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        import selectors
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout + 60   # + start-up of the worker
        while True:
            if not sel.select(timeout=max(0.1, deadline - time.monotonic())):
                if time.monotonic() >= deadline:   # stuck where the alarm cannot reach (C code): a hang
                    proc.kill()
                    proc.wait()
                    results[start] = {"outcome": "hang", "detail": "no answer (killed)"}
                    start += 1
                    break
                continue
            line = proc.stdout.readline()
            if not line:   # the worker died: the case it was on crashed it
                rc = proc.wait()
                if start < len(cases):
                    results[start] = {"outcome": "memory" if rc == -9 else "crash", "detail": f"worker exit {rc}"}
                    start += 1
                break
            r = json.loads(line)
            results[r["i"]] = r
            if log:
                log(cases[r["i"]], r)
            start = r["i"] + 1
            deadline = time.monotonic() + timeout + 10
            if start >= len(cases):
                proc.wait()
                break
        sel.close()
    return [{**cases[i], **results[i]} for i in range(len(cases))]


def summarize(results: list[dict]) -> dict[str, Counter]:
    table = {k: Counter() for k in KINDS}
    for r in results:
        table[r["kind"]]["tried"] += 1
        table[r["kind"]][r["outcome"]] += 1
    return table


def format_table(table: dict[str, Counter], mem_gb: float) -> str:
    lines = [f"{'inputs':<16} {'tried':>6} {'exit 0':>7} {'clean err':>9} {'traceback':>9} {'hang':>5} "
             f"{'>' + format(mem_gb, 'g') + ' GB':>7} {'crash':>6}"]
    for k, c in table.items():
        lines.append(f"{k:<16} {c['tried']:>6} {c['ok']:>7} {c['clean']:>9} {c['traceback']:>9} {c['hang']:>5} "
                     f"{c['memory']:>7} {c['crash']:>6}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-kind", type=int, default=60, help="random mutations per kind of input")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per input")
    ap.add_argument("--mem-gb", type=float, default=4.0, help="address-space limit of a worker (GB)")
    ap.add_argument("--show", action="store_true", help="print every failing input")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    mem = int(a.mem_gb * 2 ** 30)
    if a.worker:
        _worker(a.worker, a.start, a.timeout, mem)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        t = time.monotonic()
        cases = build_corpus(Path(tmp) / "corpus", a.per_kind, a.seed)
        results = run_cases(cases, a.timeout, a.mem_gb, Path(tmp))
        print(f"seed {a.seed}, {len(cases)} inputs, {time.monotonic() - t:.0f} s, "
              f"load {os.getloadavg()[0]:.1f}")
        print(format_table(summarize(results), a.mem_gb))
        bad = [r for r in results if r["outcome"] not in ("ok", "clean")]
        for r in bad if a.show else bad[:20]:
            print(f"  {r['outcome']}: {r['kind']} {r['name']} {' '.join(r['argv'][:1])}: {r.get('detail', '')}")
        if a.show:
            for r in results:
                if r["outcome"] == "clean":
                    print(f"  clean: {r['name']} {r['argv'][0]}: {r['detail'][:160]}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

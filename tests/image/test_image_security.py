"""Images read as untrusted input and written without losing files (issue 19: manifest outside the
checksums, tracebacks on type edits, allocation before checks, FIFOs, data loss on compile -o)."""
from __future__ import annotations

import io
import json
import os
import shutil
import signal
import time
import zipfile

import numpy as np
import pytest

from neuromap import image_files
from neuromap.cli import main
from neuromap.image import load_image
from tests.helpers.images import load_refused, tiny_image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HW = os.path.join(ROOT, "examples", "lava_port_hw.yaml")


@pytest.fixture
def img_dir(tmp_path):
    """A format version 1 image (one arrays.npz; version 2 bundles: tests/image/test_image_shards.py)."""
    img = tiny_image()
    img.projections[0].learning = None
    img.save(tmp_path / "b", format_version=1)
    return tmp_path / "b"


def _manifest(d):
    return json.loads((d / "manifest.json").read_text())


def _write(d, m, resign: bool):
    if resign:   # an editor who also recomputes the manifest checksum: the schema must still hold
        m["manifest_sha256"] = image_files.manifest_digest(m)
    (d / "manifest.json").write_text(json.dumps(m))


def _one_line_error(d, *match):
    return load_refused(d, *match)


EDITS = {  # meaning-changing edits that every command accepted before (validate then said "identical")
    "weight_exp 1 -> 0": lambda m: m["projections"][0].update(weight_exp=0),
    "weight_exp 1 -> 1.5": lambda m: m["projections"][0].update(weight_exp=1.5),
    "seed": lambda m: m.update(seed=4),
    "target": lambda m: m.update(target="truenorth"),
    "population model": lambda m: m["populations"][0].update(model="lif"),
    "learning removed": lambda m: m["projections"][0].update(learning=None),
    "network name": lambda m: m.update(network_name='x"""\nimport os'),
    "options": lambda m: m["options"].update(passes=[]),
}


@pytest.mark.parametrize("edit", EDITS)
def test_meaning_changing_manifest_edits_fail_the_checksum(tmp_path, edit):
    img = tiny_image()
    img.projections[0].learning = {"engine": "vogels_isp", "rule": "vogels_isp", "sign": 1, "delay": 1, "w_lo": 0,
                                   "w_hi": 100, "keep": 60000, "alpha": 100, "multiplicative": False, "eta": 1,
                                   "wf": 16, "af": 16, "xf": 12}
    img.save(tmp_path / "b")
    m = _manifest(tmp_path / "b")
    EDITS[edit](m)
    _write(tmp_path / "b", m, resign=False)
    _one_line_error(tmp_path / "b", "manifest_sha256", "recompile")


TYPE_EDITS = {  # (edit, substrings of the error): re-signed, so the schema is what catches them
    "weight_exp string": (lambda m: m["projections"][0].update(weight_exp="6"),
                          ["projections[0].weight_exp", "not an integer"]),
    "num_weight_bits null": (lambda m: m["projections"][0].update(num_weight_bits=None), ["num_weight_bits"]),
    "weight_exp out of range": (lambda m: m["projections"][0].update(weight_exp=9), ["outside [-8, 7]"]),
    "probe index 1e20": (lambda m: m["probes"][0].update(neurons=[1e20]), ["probes[0].neurons[0]"]),
    "probe index huge int": (lambda m: m["probes"][0].update(neurons=[10 ** 20]), ["probes[0].neurons[0]", "outside"]),
    "seed -1": (lambda m: m.update(seed=-1), ["seed", "outside"]),
    "seed bool": (lambda m: m.update(seed=True), ["seed", "not an integer"]),
    "unknown learning engine": (lambda m: m["projections"][0].update(learning={"engine": "magic"}),
                                ["learning.engine", "magic"]),
    "learning not an object": (lambda m: m["projections"][0].update(learning=[1]), ["learning"]),
    "population missing field": (lambda m: m["populations"][0].pop("size"), ["populations[0].size", "missing"]),
    "extra field": (lambda m: m.update(evil=1), ["evil", "not a manifest field"]),
    "populations not a list": (lambda m: m.update(populations={}), ["populations", "not a list"]),
    "array dtype object": (lambda m: m["arrays"]["neurons.du"].update(dtype="|O"), ["neurons.du.dtype"]),
    "array shape 1e12": (lambda m: m["arrays"]["neurons.du"].update(shape=[10 ** 12]), ["GiB"]),
    "array shape negative": (lambda m: m["arrays"]["neurons.du"].update(shape=[-1]), ["shape[0]"]),
    "core kind unknown": (lambda m: m.update(core_kinds=["x"]), ["core_kinds[0]"]),
    "probe variable": (lambda m: m["probes"][0].update(variables=["spikes", "w"]), ["variables[1]"]),
    "kind": (lambda m: m["populations"][0].update(kind="both"), ["populations[0].kind"]),
}


@pytest.mark.parametrize("edit", TYPE_EDITS)
def test_type_and_range_edits_are_one_line_errors(img_dir, edit):
    fn, match = TYPE_EDITS[edit]
    m = _manifest(img_dir)
    fn(m)
    _write(img_dir, m, resign=True)
    _one_line_error(img_dir, *match)


@pytest.mark.parametrize("text, match", [
    ('{"format": "neuromap-image", "format": "neuromap-image"}', "appears twice"),
    ('{"seed": ' + "7" * 5000 + "}", "5000 digits"),
    ("[" * 100000 + "]" * 100000, "nesting 100000 levels deep"),
    ('{"a": ' + "[" * 1000 + "]" * 1000 + "}", "nesting"),
    ("\xff\xfe", "not UTF-8"),
])
def test_hostile_manifest_text(img_dir, text, match):
    (img_dir / "manifest.json").write_bytes(text.encode("latin-1") if text.startswith("\xff") else text.encode())
    _one_line_error(img_dir, match)


def test_unknown_learning_engine_is_refused_by_inspect(img_dir, capsys):
    m = _manifest(img_dir)
    m["projections"][0]["learning"] = {"engine": "no_such_engine"}
    _write(img_dir, m, resign=True)
    with pytest.raises(SystemExit) as e:
        main(["inspect", str(img_dir)])
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and "no_such_engine" in err[0]


def _npz_with(d, name, raw_npy: bytes, compress=zipfile.ZIP_STORED):
    """arrays.npz with member ``name`` replaced by ``raw_npy`` bytes."""
    with np.load(d / "arrays.npz") as z:
        members = {k: z[k] for k in z.files}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compress) as zf:
        for k, a in members.items():
            if k == name:
                zf.writestr(k + ".npy", raw_npy)
            else:
                b = io.BytesIO()
                np.save(b, a)
                zf.writestr(k + ".npy", b.getvalue())
    (d / "arrays.npz").write_bytes(buf.getvalue())


def _timed_error(d, *match, limit_s=5.0):
    t = time.monotonic()
    _one_line_error(d, *match)
    assert time.monotonic() - t < limit_s


def test_npy_header_claiming_1e12_entries_is_refused_before_allocation(img_dir):
    b = io.BytesIO()
    np.lib.format.write_array_header_1_0(b, {"descr": "<u2", "fortran_order": False, "shape": (10 ** 12,)})
    _npz_with(img_dir, "neurons.du", b.getvalue() + b"\0" * 4)
    _timed_error(img_dir, "neurons.du", "header says")


def test_zip_bomb_is_refused_before_decompressing(img_dir):
    bomb = np.lib.format.magic(1, 0) + b"\0" * (200 * 2 ** 20)   # 200 MiB of zeros, deflated to ~200 kB
    _npz_with(img_dir, "neurons.du", bomb, compress=zipfile.ZIP_DEFLATED)
    assert (img_dir / "arrays.npz").stat().st_size < 2 ** 20
    _timed_error(img_dir, "neurons.du", "bytes")


@pytest.mark.parametrize("member", ["arrays.npz", "manifest.json"])
def test_fifo_in_place_of_a_file_does_not_hang(img_dir, member):
    (img_dir / member).unlink()
    os.mkfifo(img_dir / member)
    old = signal.signal(signal.SIGALRM, lambda *a: (_ for _ in ()).throw(TimeoutError(member)))
    signal.alarm(10)
    try:
        _timed_error(img_dir, "not a regular file")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# ------------------------------------------------------------------------------ files are never lost

def _compile(out, *extra):
    with pytest.raises(SystemExit) as e:
        main(["compile", HW, "-o", str(out), "--placer", "sequential", "-q", *extra])
    return e.value.code


def test_compile_refuses_a_project_directory_with_a_manifest(tmp_path, capsys):
    proj = tmp_path / "project"
    proj.mkdir()
    (proj / "manifest.json").write_text('{"name": "my web app"}')
    (proj / "main.c").write_text("int main() {}")
    assert _compile(proj) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a neuromap image" in err[0] and "--force" in err[0]
    assert sorted(os.listdir(proj)) == ["main.c", "manifest.json"]
    assert (proj / "main.c").read_text() == "int main() {}"
    # an image directory with a stray extra file is not an image either
    assert _compile(tmp_path / "img") == 0
    (tmp_path / "img" / "notes.txt").write_text("mine")
    assert _compile(tmp_path / "img") == 2 and (tmp_path / "img" / "notes.txt").exists()
    assert _compile(proj, "--force") == 0
    assert sorted(os.listdir(proj)) == ["common.bin", "manifest.json", "shards"] and load_image(proj).n_neurons == 48


def test_compile_replaces_an_image_or_an_empty_directory(tmp_path):
    (tmp_path / "empty").mkdir()
    assert _compile(tmp_path / "empty") == 0
    assert _compile(tmp_path / "empty") == 0     # now an image: replaced
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]


def test_exchange_leaves_no_window(tmp_path, monkeypatch):
    """With renameat2(RENAME_EXCHANGE) the path never disappears: os.rename is not used to replace."""
    img = tiny_image()
    img.save(tmp_path / "b")
    if not image_files._exchange(tmp_path / "b", tmp_path / "b"):
        pytest.skip("no renameat2 exchange on this kernel/filesystem")
    monkeypatch.setattr(os, "rename", lambda *a: (_ for _ in ()).throw(AssertionError("rename used")))
    img.seed = 5
    img.save(tmp_path / "b")
    assert load_image(tmp_path / "b").seed == 5
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]


def test_kill_between_the_two_renames_is_recovered(tmp_path, monkeypatch):
    """Without the exchange, a kill after the first rename strands the old image; the next load (or save)
    moves it back, and stale leftovers are removed."""
    img = tiny_image()
    img.save(tmp_path / "b")
    monkeypatch.setattr(image_files, "_exchange", lambda a, b: False)
    real_rename, calls = os.rename, []

    def killed(a, b):
        calls.append((a, b))
        if len(calls) == 2:
            raise KeyboardInterrupt   # the process dies here
        real_rename(a, b)

    monkeypatch.setattr(os, "rename", killed)
    img.seed = 9
    with pytest.raises(KeyboardInterrupt):
        img.save(tmp_path / "b")
    monkeypatch.setattr(os, "rename", real_rename)
    assert not (tmp_path / "b").exists()
    assert [p for p in os.listdir(tmp_path) if p.startswith(".b.old.")]
    assert load_image(tmp_path / "b").seed == 3            # the old image is back
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".b.old.")]
    img.save(tmp_path / "b")
    assert load_image(tmp_path / "b").seed == 9


def test_constants_schema_matches_the_targets():
    """image_files.CONSTANTS_FIELDS declares the sections the compiler writes (neuromap.targets specs)."""
    import dataclasses

    from neuromap.targets import CoreSpec, NeuronSpec, SynapseMemorySpec, SynapseSpec, load_target
    specs = {"neuron": NeuronSpec, "synapse": SynapseSpec, "core": CoreSpec, "synapse_memory": SynapseMemorySpec}
    assert set(specs) == set(image_files.CONSTANTS_FIELDS)
    t = load_target("loihi")
    for section, spec in specs.items():
        values = dataclasses.asdict(getattr(t, section))
        assert set(values) == {f.name for f in dataclasses.fields(spec)}
        image_files.CONSTANTS_FIELDS[section](json.loads(json.dumps(values)), f"constants.{section}")


RESIGNED_REPORT_EDITS = {  # fields commands read from options/constants, re-signed: schema errors, not tracebacks
    "constants core max_neurons": (lambda m: m["constants"]["core"].update(max_neurons="x"),
                                   "constants.core.max_neurons"),
    "constants index_bits": (lambda m: m["constants"]["synapse_memory"].update(index_bits=None),
                             "constants.synapse_memory.index_bits"),
    "constants section missing a field": (lambda m: m["constants"]["synapse"].pop("delay_min"),
                                          "constants.synapse.delay_min"),
    "placement number": (lambda m: m["options"]["placement"].update(hop_weighted_traffic=None),
                         "options.placement.hop_weighted_traffic"),
    "placement time split": (lambda m: m["options"]["placement"].update(time_split_s={"route": []}),
                             "options.placement.time_split_s.route"),
    "options passes": (lambda m: m["options"].update(passes="check"), "options.passes"),
    "placement field missing": (lambda m: m["options"]["placement"].pop("sequential_hop_weighted_traffic"),
                                "options.placement.sequential_hop_weighted_traffic"),
    "fidelity count": (lambda m: m["options"]["fidelity"].update(synapses_dropped=[1]),
                       "options.fidelity.synapses_dropped"),
    "fidelity map": (lambda m: m["options"]["fidelity"].update(refractory_dropped="x"),
                     "options.fidelity.refractory_dropped"),
    "fidelity extra": (lambda m: m["options"]["fidelity"].update(evil=1), "options.fidelity.evil"),
}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    d = tmp_path_factory.mktemp("c") / "img"
    with pytest.raises(SystemExit) as e:
        main(["compile", HW, "-o", str(d), "--placer", "sequential", "-q"])
    assert e.value.code == 0
    return d


@pytest.mark.parametrize("edit", RESIGNED_REPORT_EDITS)
def test_report_fields_commands_read_are_typed(compiled, tmp_path, edit, capsys):
    fn, field = RESIGNED_REPORT_EDITS[edit]
    d = tmp_path / "img"
    d.mkdir()
    (d / "common.bin").write_bytes((compiled / "common.bin").read_bytes())
    shutil.copytree(compiled / "shards", d / "shards")
    m = _manifest(compiled)
    fn(m)
    _write(d, m, resign=True)
    for argv in (["inspect", str(d)], ["run", str(d), "--steps", "3", "-o", str(tmp_path / "r.npz")]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        err = capsys.readouterr().err.strip().splitlines()
        assert e.value.code == 2 and len(err) == 1 and field in err[0], err


def test_fidelity_schema_matches_the_report():
    import dataclasses

    from neuromap.compiler.fidelity import FidelityReport, RateEstimate
    assert set(image_files._FIDELITY_FIELDS) == {f.name for f in dataclasses.fields(FidelityReport)}
    rate = image_files._FIDELITY_FIELDS["rate"]
    rate({f.name: None if f.name != "steps" else 3 for f in dataclasses.fields(RateEstimate)
          if f.name != "populations"}, "rate")

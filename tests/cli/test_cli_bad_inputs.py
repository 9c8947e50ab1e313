"""Bad inputs across every command: exit code 2, exactly one line on stderr naming the file or field and
the fix, no traceback; a few of them also as real subprocesses (the console entry point)."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from neuromap.cli import COMMANDS, main
from neuromap.image import load_image
from tests.helpers.cli import run_cli

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HW = os.path.join(ROOT, "examples", "lava_port_hw.yaml")
PY_NET = os.path.join(ROOT, "examples", "ramp_lif.py")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A good image ``good``, corrupted copies of it and broken input files, in one directory."""
    d = tmp_path_factory.mktemp("bad")
    with pytest.raises(SystemExit) as info:
        main(["compile", HW, "-o", str(d / "good"), "--placer", "sequential"])
    assert info.value.code == 0
    load_image(d / "good").save(d / "good_v1", format_version=1)    # format version 1: one arrays.npz
    for name in ("trunc", "edited", "zip"):
        os.makedirs(d / name)
        for f in ("manifest.json", "arrays.npz"):
            (d / name / f).write_bytes((d / "good_v1" / f).read_bytes())
    for name in ("shardcut", "commonflip"):                          # format version 2: bundles
        shutil.copytree(d / "good", d / name)
    shard = d / "shardcut" / "shards" / "00000.bin"
    shard.write_bytes(shard.read_bytes()[:-8])
    common = bytearray((d / "commonflip" / "common.bin").read_bytes())
    common[len(common) // 2] ^= 1
    (d / "commonflip" / "common.bin").write_bytes(bytes(common))
    manifest = (d / "good" / "manifest.json").read_bytes()
    (d / "trunc" / "manifest.json").write_bytes(manifest[: len(manifest) // 2])   # truncated manifest
    with np.load(d / "good_v1" / "arrays.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["synapses.weight"] = arrays["synapses.weight"][:-1]                   # one weight cut off
    np.savez(d / "edited" / "arrays.npz", **arrays)
    (d / "zip" / "arrays.npz").write_bytes((d / "good_v1" / "arrays.npz").read_bytes()[:500])  # cut file
    os.makedirs(d / "empty_dir")
    (d / "bad.yaml").write_text("format: neuromap/1\nname: x\npopulations: [a: b\n")
    (d / "empty.yaml").write_text("")
    (d / "unkpop.yaml").write_text((open(HW).read()).replace("pre: inp", "pre: nope", 1))
    (d / "bad.toml").write_text('name = "x"\n[core\nmax = 3\n')
    (d / "junk.npz").write_text("not an npz")
    return d


# (argv with {d} = the fixture directory, substrings the one stderr line must contain)
MISSING = [
    (["simulate", "{d}/missing.yaml", "-n", "5"], ["missing.yaml", "file not found", "check the path"]),
    (["compile", "{d}/missing.yaml", "-o", "{d}/out"], ["missing.yaml", "file not found", "check the path"]),
    (["compare", "{d}/missing.yaml", "-n", "5"], ["missing.yaml", "file not found", "check the path"]),
    (["export-nir", "{d}/missing.yaml", "-o", "{d}/x.nir"], ["missing.yaml", "file not found", "check the path"]),
    (["plot", "--network", "{d}/missing.yaml", "-o", "{d}/p"], ["missing.yaml", "file not found"]),
    (["plot", "--results", "{d}/missing.npz", "-o", "{d}/p"], ["missing.npz", "not found", "check the path"]),
    (["compile", "{d}/missing.py:build", "-o", "{d}/out"], ["missing.py", "file not found", "module.py:function"]),
    (["compile", PY_NET + ":no_such_function", "-o", "{d}/out"], ["ramp_lif.py", "no_such_function", "give"]),
]
BAD_FILES = [
    (["simulate", "{d}/bad.yaml", "-n", "5"], ["bad.yaml", "line 4", "invalid YAML", "check"]),
    (["compile", "{d}/bad.yaml", "-o", "{d}/out"], ["bad.yaml", "invalid YAML", "check"]),
    (["export-nir", "{d}/bad.yaml", "-o", "{d}/x.nir"], ["bad.yaml", "invalid YAML"]),
    (["simulate", "{d}/empty.yaml", "-n", "5"], ["empty.yaml", "empty", "format: neuromap/1"]),
    (["compile", "{d}/unkpop.yaml", "-o", "{d}/out"], ["unkpop.yaml", "projections[0].pre", "unknown population 'nope'",
                                                       "use one of"]),
    (["simulate", "{d}/unkpop.yaml", "-n", "5"], ["unkpop.yaml", "unknown population 'nope'", "use one of"]),
    (["simulate", PY_NET, "-n", "5"], ["ramp_lif.py", "unknown file type", "module.py:function"]),
    (["targets", "{d}/bad.toml"], ["bad.toml", "TOML", "fix"]),
    (["compile", HW, "-t", "{d}/bad.toml", "-o", "{d}/out"], ["bad.toml", "TOML"]),
    (["plot", "--results", "{d}/junk.npz", "-o", "{d}/p"], ["junk.npz", "not a results", "neuromap run -o"]),
]
TARGETS = [
    (["compile", HW, "-t", "nochip", "-o", "{d}/out"], ["nochip", "no such target", "use one of loihi"]),
    (["compare", HW, "-t", "nochip", "-n", "5"], ["nochip", "no such target", "use one of loihi"]),
    (["targets", "nochip"], ["nochip", "no such target", "use one of loihi"]),
]
USAGE = [
    (["simulate", HW, "-n", "-5"], ["'--steps'", "-5", "x>=1", "neuromap simulate --help"]),
    (["run", "{d}/good", "-n", "-1"], ["'--steps'", "x>=1", "neuromap run --help"]),
    (["validate", "{d}/good", "--steps", "-1"], ["'--steps'", "x>=0", "neuromap validate --help"]),
    (["compare", HW, "-n", "0"], ["'--steps'", "x>=1", "neuromap compare --help"]),
    (["export-lava", "{d}/good", "--steps", "-2"], ["'--steps'", "neuromap export-lava --help"]),
    (["plot", "{d}/good", "-o", "{d}/p", "--steps", "-3"], ["'--steps'", "neuromap plot --help"]),
    (["simulate", HW], ["Missing option '--steps'", "neuromap simulate --help"]),
    (["compile", HW, "-o", "{d}/out", "--placer", "magic"], ["'--placer'", "'magic'", "cpsat",
                                                            "neuromap compile --help"]),
    (["compile", HW, "-o", "{d}/out", "--rates", "fast"], ["rates", "'fast'", "uniform", "auto", "rates file"]),
    (["compile", HW, "-o", "{d}/out", "--time-limit", "-1"], ["'--time-limit'", "x>0"]),
    (["compile", HW, "-o", "{d}/out", "--rates", "{d}/bad.yaml"], ["bad.yaml", "cannot parse", "fix"]),
    (["compile", HW, "-o", "{d}/out", "--rates", "{d}/missing.npy"], ["missing.npy"]),
    (["compile", HW, "-o", "{d}/bad.yaml"], ["'--output'", "is a file"]),
    (["run", "{d}/good", "-n", "5", "--backend", "loihi2"], ["'--backend'", "emulator", "lava"]),
    (["run", "{d}/good", "-n", "5", "-o", "{d}/out.txt"], ["out.txt", ".npz", "-o NAME.npz"]),
    (["simulate", HW, "-n", "5", "-o", "{d}/out.txt"], ["out.txt", ".npz", "-o NAME.npz"]),
    (["export-nir", HW, "-o", "{d}/x.txt"], ["x.txt", ".nir", "-o NAME.nir"]),
    (["inspect"], ["Missing argument 'BUILD'", "neuromap inspect --help"]),
    (["plot", "-o", "{d}/p"], ["nothing to plot", "--network"]),
    (["report", "{d}/good", "-o", "{d}/r.png"], ["r.png", ".html", "-o NAME.html"]),
    (["frobnicate"], ["No such command 'frobnicate'", "neuromap --help"]),
]
IMAGES = [([cmd, "{d}/%s" % img] + extra, expect)
          for cmd, extra in [("run", ["-n", "5"]), ("validate", ["--steps", "5"]), ("inspect", []),
                             ("export-lava", ["-o", "{d}/x.py"]), ("plot", ["-o", "{d}/p"]),
                             ("report", ["-o", "{d}/r.html"])]
          for img, expect in [("trunc", ["trunc/manifest.json", "unreadable manifest", "recompile"]),
                              ("edited", ["edited", "'synapses.weight'", "edited or truncated", "recompile"]),
                              ("zip", ["zip/arrays.npz", "corrupted", "recompile"]),
                              ("shardcut", ["shardcut/shards/00000.bin", "holds", "recompile"]),
                              ("commonflip", ["commonflip/common.bin", "fails its checksum", "recompile"]),
                              ("empty_dir", ["empty_dir", "not a neuromap image", "neuromap compile"]),
                              ("missing_dir", ["missing_dir", "not a neuromap image", "neuromap compile"])]]
TABLE = MISSING + BAD_FILES + TARGETS + USAGE + IMAGES


def check_one_line(code, err, expect):
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("neuromap: error: "), err
    for s in expect:
        assert s in lines[0], (s, lines[0])


def test_table_covers_every_command():
    assert {argv[0] for argv, _ in TABLE} >= set(COMMANDS.values())


@pytest.mark.parametrize("argv,expect", TABLE, ids=[" ".join(a[:2]) for a, _ in TABLE])
def test_bad_input_one_line_exit_2(argv, expect, files, capsys):
    code, out, err = run_cli([a.format(d=files) for a in argv], capsys)
    check_one_line(code, err, [e.format(d=files) for e in expect])
    assert out == ""


LAVA_MISSING = [(["validate", "{d}/good", "--steps", "5"], ["lava-nc is not installed", "make install"]),
                (["run", "{d}/good", "-b", "lava", "-n", "5"], ["lava-nc is not installed", "make install"])]


@pytest.mark.parametrize("argv,expect", LAVA_MISSING, ids=[a[0] for a, _ in LAVA_MISSING])
def test_missing_lava(argv, expect, files, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "lava", None)  # `import lava` raises ImportError, as without lava-nc
    code, out, err = run_cli([a.format(d=files) for a in argv], capsys)
    check_one_line(code, err, expect)


def test_debug_shows_the_traceback(files):
    with pytest.raises(Exception) as info:
        main(["--debug", "inspect", str(files / "trunc")])
    assert "unreadable manifest" in str(info.value)


SUBPROCESS = [
    ("", ["simulate", "{d}/missing.yaml", "-n", "5"], ["missing.yaml", "file not found"]),
    ("", ["inspect", "{d}/edited"], ["'synapses.weight'", "edited or truncated", "recompile"]),
    ("import sys; sys.modules['lava'] = None; ", ["validate", "{d}/good", "--steps", "5"],
     ["lava-nc is not installed", "make install"]),
]


@pytest.mark.parametrize("pre,argv,expect", SUBPROCESS, ids=[a[0] for _, a, _ in SUBPROCESS])
def test_as_subprocess(pre, argv, expect, files):
    code = f"{pre}from neuromap.cli import main; main({[a.format(d=files) for a in argv]!r})"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    check_one_line(p.returncode, p.stderr, expect)
    assert p.stdout == ""

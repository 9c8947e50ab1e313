"""export-lava writes input text (network, population, projection names, the source hash, the output file
name) into the generated script only through safe literal encoders: hostile names change string constants
and comments, never the code (issue 19, code injection)."""
from __future__ import annotations

import ast
import dataclasses
import os
import subprocess
import sys

import pytest

from backends.lava.compat import lava_available
from backends.lava.export import comment, doc_text, export_script, literal
from tests.helpers.images import random_image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MARK = "PWNED_MARKER"
#: each would run code (create the marker file) if pasted into a docstring, a string literal or a comment
HOSTILE = [
    f'x"""\nopen("{MARK}", "w")\n"""',
    f"x'''\nopen('{MARK}', 'w')\n'''",
    f"x\nopen('{MARK}', 'w')\n#",
    f"x\\\n{MARK}=1",
    "x\\",
    "\\N{LATIN SMALL LETTER A}\\x41\\u0041\\",
    f"x'); open('{MARK}', 'w'); ('",
    f'x"); open("{MARK}", "w"); ("',
    "ünïcødé \u2028 \u2029 \x85 \r naïve",
    "nul\x00byte",
    "{braces} {0} %s",
    f"x\r\nopen('{MARK}', 'w')",
]


def _hostile_image(name: str):
    img = random_image(31, n_pops=3, n_proj=6)
    ren = {p.name: f"{name}#{k}" for k, p in enumerate(img.populations)}
    img.populations = [dataclasses.replace(p, name=ren[p.name]) for p in img.populations]
    img.projections = [dataclasses.replace(p, name=f"{name}@{k}", pre=ren[p.pre], post=ren[p.post])
                       for k, p in enumerate(img.projections)]
    img.probes = [dataclasses.replace(p, population=ren[p.population]) for p in img.probes]
    img.network_name, img.source_hash = name, name * 3
    img.verify()
    return img


def _shape(text: str) -> str:
    """The script's syntax tree with every string constant blanked: equal shapes = same code."""
    tree = ast.parse(text)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node.value = ""
    return ast.dump(tree)


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_change_only_string_constants(tmp_path, name):
    benign, _ = export_script(_hostile_image("plain"), tmp_path / "a" / "net.py")
    hostile, _ = export_script(_hostile_image(name), tmp_path / "b" / "net.py")
    text = hostile.read_text()
    assert _shape(text) == _shape(benign.read_text())
    consts = [n.value for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    assert any(f"{name}@0" in c for c in consts)      # names survive exactly, inside literals
    assert any(f"{name}#0" in c for c in consts)
    doc = ast.get_docstring(ast.parse(text), clean=False)   # escapes in the source, the name at run time
    assert doc.startswith(f"Lava 0.10.0 network exported by neuromap from image {name} (")


def test_hostile_output_file_name(tmp_path):
    out = tmp_path / 'n"""\nx\'\\.py'
    script, npz = export_script(random_image(31, n_pops=2, n_proj=2), out)
    assert ast.parse(script.read_text()) and npz.exists()


@pytest.mark.parametrize("v", [h for h in HOSTILE] + [[1, 2.5, None, True, {"a": (1,)}], {"k\n": ["\"\"\""]}])
def test_encoders(v):
    assert ast.literal_eval(literal(v)) == v
    for enc in (comment, doc_text):
        t = enc(v if isinstance(v, str) else str(v))
        assert t.isascii() and t.isprintable() and "\n" not in t and '"' not in doc_text(str(v))
    with pytest.raises(Exception):
        literal(object())
    with pytest.raises(Exception):
        literal(float("nan"))


@pytest.mark.skipif(not lava_available(), reason="the exported script imports lava-nc (not installed: core-only venv)")
def test_running_the_exported_script_runs_no_injected_code(tmp_path):
    """The script is imported and run as far as --help (module level and docstring executed): no marker."""
    script, _ = export_script(_hostile_image(HOSTILE[0] + HOSTILE[2] + HOSTILE[3]), tmp_path / "net.py")
    env = {**os.environ, "PYTHONPATH": ROOT}
    run = subprocess.run([sys.executable, str(script), "--help"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    assert not (tmp_path / MARK).exists()
    assert "Lava 0.10.0 network exported by neuromap" in run.stdout


@pytest.mark.lava
def test_hostile_script_runs_on_lava_without_injected_code(tmp_path):
    from backends.lava.compat import lava_available
    if not lava_available():
        pytest.skip("lava-nc not installed")
    script, _ = export_script(_hostile_image("".join(HOSTILE[:3] + HOSTILE[6:8])), tmp_path / "net.py")
    env = {**os.environ, "PYTHONPATH": ROOT}
    run = subprocess.run([sys.executable, str(script), "--steps", "5", "--out", "r.npz"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=600, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    assert (tmp_path / "r.npz").exists() and not (tmp_path / MARK).exists()

"""The core (compiler, emulator, CLI) without lava-nc: nothing imports lava at module top, and the
commands that need it fail with one line naming the install command (exit 2, no traceback)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: modules that are Lava process definitions and import lava on purpose
LAVA_MODULES = ("backends.lava.procs", "backends.lava.export")
BLOCK = "import sys; sys.modules['lava'] = None\n"   # `import lava` now raises ImportError


def _run(code: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", BLOCK + code, *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=600)


def test_every_core_module_imports_without_lava():
    mods = []
    for pkg in ("neuromap", "emulator", "backends"):
        for f in sorted((ROOT / pkg).rglob("*.py")):
            name = ".".join(f.relative_to(ROOT).with_suffix("").parts)
            name = name[: -len(".__init__")] if name.endswith(".__init__") else name
            if not name.startswith(LAVA_MODULES) and not name.endswith("__main__"):
                mods.append(name)
    r = _run("import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)\n"
             "print('lava' in sys.modules and sys.modules['lava'] is not None)", *mods)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "False"
    assert len(mods) > 50


def test_cli_without_lava(tmp_path):
    code = ("from neuromap.cli import main\nimport sys\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n"
            "    sys.exit(e.code)\n")
    b = str(tmp_path / "b")
    r = _run(code, "compile", "examples/spatial_balanced_ei.py:small", "-o", b, "--placer", "greedy", "-q")
    assert r.returncode == 0, r.stderr
    r = _run(code, "run", b, "--steps", "20", "--json")
    assert r.returncode == 0 and '"backend": "emulator"' in r.stdout, r.stderr
    for args in (["validate", b, "--steps", "5"], ["run", b, "-b", "lava", "-n", "5"]):
        r = _run(code, *args)
        assert r.returncode == 2, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "lava-nc is not installed" in lines[0] and "neuromap[lava]" in lines[0]

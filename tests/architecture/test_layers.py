"""The import-linter layers contract (pyproject.toml, docs/concepts.md *Layers*) names every module: a new
top-level module of neuromap (or a new package) must be given a layer, else the contract would not see it."""
from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: the package roots themselves (neuromap/__init__.py re-exports the public API) and the entry point
NOT_LAYERED = {"neuromap", "neuromap.__init__", "neuromap.__main__"}


def layered_modules(optional: bool = True) -> set[str]:
    """Modules the layers contract names (``(name)``: optional, may not exist yet)."""
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in cfg["contracts"] if c["type"] == "layers")["layers"]
    names = [m.strip() for layer in layers for m in layer.replace("|", ":").split(":")]
    return {m.strip("()") for m in names if optional or not m.startswith("(")}


def top_level_modules() -> set[str]:
    mods = {"emulator", "backends"}
    for p in (ROOT / "neuromap").iterdir():
        if p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists()):
            mods.add(f"neuromap.{p.stem}")
    return mods - NOT_LAYERED


def test_every_module_has_a_layer():
    missing = sorted(top_level_modules() - layered_modules())
    assert not missing, f"give these a layer in pyproject.toml [tool.importlinter] (docs/concepts.md): {missing}"


def test_no_layer_names_a_module_that_does_not_exist():
    gone = sorted(layered_modules(optional=False) - top_level_modules())
    assert not gone, f"pyproject.toml [tool.importlinter] names modules that do not exist: {gone}"

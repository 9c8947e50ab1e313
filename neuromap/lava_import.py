"""Make lava-nc 0.10.0 importable on Python 3.11 without touching site-packages (foundation layer:
imports only neuromap.errors; :mod:`backends.lava.compat` re-exports it).

lava-nc 0.10.0 declares ``Python <3.11``. On 3.11 exactly one module fails to
import: ``lava/magma/compiler/var_model.py`` declares dataclass fields such as
``x: ByteEncoder = ByteEncoder()``; Python 3.11 rejects unhashable dataclass
defaults (``ValueError: mutable default ... use default_factory``).

:func:`import_lava` loads that one module from lava's own source with those
defaults rewritten to ``field(default_factory=ByteEncoder)`` and registers it in
``sys.modules`` before anything else in lava imports it. Every other module is
lava's, unmodified. Call it before importing anything from ``lava``.
"""
from __future__ import annotations

import importlib.util
import re
import sys
import types

from neuromap.errors import NeuromapError

_TARGET = "lava.magma.compiler.var_model"
_DEFAULT = re.compile(r"^(\s+\w+\s*:\s*ByteEncoder)\s*=\s*ByteEncoder\(\)\s*$", re.M)
INSTALL_HINT = ("install it with `make install`, or `pip install 'neuromap[lava]'` and then "
                "`pip install --no-deps --ignore-requires-python lava-nc==0.10.0`")


class LavaMissingError(NeuromapError):
    """lava-nc is not installed in this environment."""


def _patched_var_model(spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
    with open(spec.origin, encoding="utf-8") as f:
        source = f.read()
    source = _DEFAULT.sub(r"\1 = field(default_factory=ByteEncoder)", source)
    source = source.replace(
        "from dataclasses import dataclass, InitVar",
        "from dataclasses import dataclass, InitVar, field",
        1,
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[_TARGET] = module
    try:
        exec(compile(source, spec.origin, "exec"), module.__dict__)
    except BaseException:
        sys.modules.pop(_TARGET, None)
        raise
    return module


def import_lava() -> types.ModuleType:
    """Import ``lava`` (patched for Python 3.11 where needed) and return it.

    Raises :class:`LavaMissingError` with an install hint when lava-nc is absent.
    """
    try:
        import lava  # noqa: F401  (the top-level package imports nothing heavy)
    except ImportError as exc:
        raise LavaMissingError(f"lava-nc is not installed: {INSTALL_HINT}") from exc
    if _TARGET not in sys.modules:
        spec = importlib.util.find_spec(_TARGET)
        if spec is None or spec.origin is None:
            raise LavaMissingError(f"lava-nc is incomplete ({_TARGET} missing): {INSTALL_HINT}")
        if sys.version_info >= (3, 11):
            _patched_var_model(spec)
        else:  # pragma: no cover - lava's supported Pythons need no patch
            importlib.import_module(_TARGET)
    return sys.modules["lava"]


def lava_available() -> bool:
    """True when lava-nc can be imported (after patching)."""
    try:
        import_lava()
    except LavaMissingError:
        return False
    return True

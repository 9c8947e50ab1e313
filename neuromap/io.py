"""Network files: :func:`load_network` and :func:`save_network` (YAML or JSON, ``format: neuromap/1``).

The suffix picks the syntax: ``.yaml``/``.yml`` or ``.json``; both give the
same :class:`~neuromap.network.Network`. Paths inside a file are relative to
the file. Every problem is a one-line :class:`NetworkFormatError`
``FILE: FIELD: PROBLEM (FIX)``; YAML/JSON syntax errors name the line.

YAML is read with PyYAML's safe loader plus two fixes for network files:
``1e-3`` is a number (YAML 1.1 would read it as text), and a key given twice
in one mapping is an error (YAML silently keeps the last one).
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from typing import Any

import numpy as np
import yaml

from neuromap.errors import NetworkFormatError
from neuromap.network import Network

YAML_SUFFIXES = (".yaml", ".yml")
JSON_SUFFIXES = (".json",)
#: in-memory projection arrays larger than this go to ``.npy`` files next to the saved network
INLINE_LIMIT = 1000


class _Strict:
    """Mixin for the safe loaders: a key given twice in one mapping is an error."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            self.flatten_mapping(node)
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                try:
                    dup = key in seen
                    seen.add(key)
                except TypeError:  # unhashable key: the base class reports it
                    continue
                if dup:
                    raise yaml.constructor.ConstructorError(None, None, f"key {key!r} appears twice",
                                                            key_node.start_mark)
        return super().construct_mapping(node, deep)


# libyaml's C parser when available (100x faster on big inline lists), else pure Python
_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Strict, _Base):
    """Safe loader: YAML 1.2-style floats (``1e-3``) and duplicate keys rejected."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"))

def _suffix(path: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    if ext not in YAML_SUFFIXES + JSON_SUFFIXES:
        raise NetworkFormatError(f"unknown file type {ext or '(none)'!r}", file=path,
                                 fix="name network files *.yaml, *.yml, *.json or *.nir, or give module.py:function")
    return ext


def read_network_dict(path: str | os.PathLike) -> dict:
    """The parsed file as a dict (no network checks yet); syntax errors name the line."""
    path = os.fspath(path)
    ext = _suffix(path)
    if not os.path.isfile(path):
        raise NetworkFormatError("file not found", file=path, fix="check the path")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise NetworkFormatError(f"cannot read: {e}", file=path, fix="use a UTF-8 text file") from None
    if ext in JSON_SUFFIXES:
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise NetworkFormatError(f"invalid JSON: {e.msg}", field=f"line {e.lineno}, column {e.colno}",
                                     file=path, fix="check commas, quotes and brackets there") from None
    else:
        try:
            d = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader derives from SafeLoader
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
            fix = "check indentation, colons, brackets and quotes"
            cmark = e.context_mark
            if e.context and cmark and (cmark.line, cmark.column) != (mark.line, mark.column):
                fix = (f"{e.context} that starts at line {e.context_mark.line + 1}, column "
                       f"{e.context_mark.column + 1}; {fix}")
            if "appears twice" in str(e.problem):
                fix = "remove or rename one of them"
            raise NetworkFormatError(f"invalid YAML: {e.problem or e.context or 'syntax error'}", field=where,
                                     file=path, fix=fix) from None
        except yaml.YAMLError as e:
            raise NetworkFormatError(f"invalid YAML: {str(e).splitlines()[0]}", file=path,
                                     fix="check the file's syntax") from None
    if d is None:
        raise NetworkFormatError("file is empty", file=path, fix="start with format: neuromap/1")
    return d


def load_network(path: str | os.PathLike, seed: int | None = None) -> Network:
    """Read a ``.yaml``/``.yml``/``.json`` network file, a ``.nir`` graph or ``module.py:function``
    (a function returning a Network); ``seed`` overrides the file's seed."""
    path = os.fspath(path)
    if path.lower().endswith(".nir") or ".py:" in path:  # NIR graph / Python function: neuromap.nir_io
        from neuromap.nir_io import load_other
        return load_other(path, seed)
    d = read_network_dict(path)
    if seed is not None and isinstance(d, dict):
        d = {**d, "seed": seed}
    try:
        net = Network.from_dict(d, base_dir=os.path.dirname(os.path.abspath(path)))
    except NetworkFormatError as e:
        raise e.located(file=path) from None
    net.source = path
    return net


def save_network(net: Network, path: str | os.PathLike, inline_limit: int = INLINE_LIMIT) -> str:
    """Write ``net`` to ``path`` (.yaml/.yml/.json) so that ``load_network(path) == net``.

    Projections are written as their specs (rules and distributions, re-realized
    from the seed on load). In-memory projection arrays with more than
    ``inline_limit`` values go to ``<stem>.<projection>.<key>.npy`` next to the
    file; file references are rewritten relative to the new location. Every
    file is written atomically (temporary file + rename). Returns ``path``.
    """
    path = os.fspath(path)
    ext = _suffix(path)
    out_dir = os.path.dirname(os.path.abspath(path))
    os.makedirs(out_dir, exist_ok=True)
    stem = os.path.splitext(os.path.basename(path))[0]

    def array_out(a: np.ndarray, hint: str) -> Any:
        if not hint.startswith("projections.") or a.size <= inline_limit:
            return a.tolist()
        name = f"{stem}.{hint[len('projections.'):]}.npy"
        _atomic_write(os.path.join(out_dir, name), lambda f: np.save(f, a, allow_pickle=False), binary=True)
        return {"file": name}

    d = net.to_dict(base_dir=out_dir, array_out=array_out)
    if ext in JSON_SUFFIXES:
        text = json.dumps(d, indent=2, allow_nan=False) + "\n"
    else:
        text = yaml.dump(d, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    _atomic_write(path, lambda f: f.write(text))
    return path


def _atomic_write(path: str, write, binary: bool = False) -> None:
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # libyaml's emitter when available
    """Block style for structure, flow style for small leaves (``{rule: all_to_all}``, ``[1, 2]``)."""


def _is_leaf(v: Any) -> bool:
    return v is None or isinstance(v, (bool, int, float, str))


def _small(v: Any) -> bool:
    """Flow style for lists of leaves (or of lists of leaves) and dicts of leaves / leaf lists."""
    if isinstance(v, list):
        return all(_is_leaf(x) for x in v) or all(isinstance(x, list) and all(map(_is_leaf, x)) for x in v)
    if isinstance(v, dict):
        return len(v) <= 8 and all(_is_leaf(x) or (isinstance(x, list) and all(map(_is_leaf, x)))
                                   for x in v.values())
    return True


def _repr_dict(dumper, data):
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=_small(data) or None)


def _repr_list(dumper, data):
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=_small(data) or None)


_Dumper.add_representer(dict, _repr_dict)
_Dumper.add_representer(list, _repr_list)

__all__ = ["load_network", "save_network", "read_network_dict"]

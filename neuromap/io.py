"""Network files: :func:`load_network` and :func:`save_network` (YAML or JSON, ``format: neuromap/1``).

The suffix picks the syntax: ``.yaml``/``.yml`` or ``.json``; both give the
same :class:`~neuromap.network.Network`. Paths inside a file are relative to
the file. Every problem is a one-line :class:`NetworkFormatError`
``FILE: FIELD: PROBLEM (FIX)``; YAML/JSON syntax errors name the line.

YAML is read with PyYAML's safe loader plus two fixes for network files:
``1e-3`` is a number (YAML 1.1 would read it as text), and a key given twice
in one mapping is an error (YAML silently keeps the last one; a merge key
``<<: *base`` followed by an explicit key overrides the merged one, as YAML
defines). JSON duplicate keys are errors too.

Network files are untrusted input (SECURITY.md): only regular files of at most
:data:`MAX_FILE_BYTES` are read; nesting deeper than :data:`MAX_DEPTH`, integer
literals of more than :data:`MAX_INT_DIGITS` digits and YAML aliases that expand
to more than :data:`MAX_ALIAS_NODES` extra nodes are refused before the document
is built; ``file:`` references must stay inside the network file's directory
(realpath) unless the user allows files outside it
(:data:`ALLOW_OUTSIDE_FILES`, the CLI's ``--allow-outside-files``).
"""
from __future__ import annotations

import contextvars
import json
import os
import re
import tempfile
from typing import Any

import numpy as np
import yaml

from neuromap.connectivity import FILE_ROOT
from neuromap.errors import NetworkFormatError
from neuromap.image_files import open_regular, strict_json
from neuromap.network import Network
from neuromap.nir_io import load_other

YAML_SUFFIXES = (".yaml", ".yml")
JSON_SUFFIXES = (".json",)
#: in-memory projection arrays larger than this go to ``.npy`` files next to the saved network
INLINE_LIMIT = 1000
#: bounds checked before a network file is parsed into Python objects (far above any real network file)
MAX_FILE_BYTES = 512 * 2 ** 20
MAX_DEPTH = 64
MAX_INT_DIGITS = 30
MAX_ALIAS_NODES = 1_000_000
#: True lets ``file:`` references leave the network file's directory (the CLI's ``--allow-outside-files``)
ALLOW_OUTSIDE_FILES: contextvars.ContextVar[bool] = contextvars.ContextVar("allow_outside_files", default=False)


class _Strict:
    """Mixin for the safe loaders: a key given twice in one mapping is an error."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key_node, _ in node.value:   # the explicit keys only: merged keys (<<) may be overridden
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=deep)
                try:
                    dup = key in seen
                    seen.add(key)
                except TypeError:  # unhashable key: the base class reports it
                    continue
                if dup:
                    raise yaml.constructor.ConstructorError(None, None, f"key {_short(key)} appears twice",
                                                            key_node.start_mark)
            self.flatten_mapping(node)
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
                                 fix="name network files *.yaml, *.yml, *.json, *.nir or *.net (lava-dl netx), or give "
                                     "module.py:function")
    return ext


def read_network_dict(path: str | os.PathLike) -> dict:
    """The parsed file as a dict (no network checks yet); syntax errors name the line. Bounded: see the
    module docstring (file size, nesting, integer digits, alias expansion)."""
    path = os.fspath(path)
    _suffix(path)
    d = read_document(path, "the network file")
    if d is None:
        raise NetworkFormatError("file is empty", file=path, fix="start with format: neuromap/1")
    return d


def read_document(path: str | os.PathLike, what: str = "the file") -> Any:
    """A YAML (``.yaml``/``.yml``) or JSON file of untrusted data, parsed with the bounds of the module
    docstring (regular file, size, nesting, integer digits, aliases, duplicate keys); None when empty."""
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()

    def bad(problem: str, fix: str = "check the file", field: str | None = None) -> NetworkFormatError:
        return NetworkFormatError(problem, file=path, field=field, fix=fix)

    try:
        with open_regular(path, what, MAX_FILE_BYTES,
                          error=lambda p: bad(p, "give a regular YAML/JSON file")) as f:
            raw = f.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        raise NetworkFormatError("file not found", file=path, fix="check the path") from None
    except OSError as e:
        raise bad(f"cannot read: {e.strerror or type(e).__name__}", "check the file's permissions") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise bad(f"not UTF-8 text (byte {e.start})", "use a UTF-8 text file") from None
    if ext in JSON_SUFFIXES:
        d = strict_json(text, path, lambda p: bad(p, "give each key once per object; keep numbers and nesting small"),
                        lambda e: bad(f"invalid JSON: {e.msg}", "check commas, quotes and brackets there",
                                      field=f"line {e.lineno}, column {e.colno}"))
    else:
        _check_yaml_events(text, bad)
        try:
            d = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader derives from SafeLoader
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
            fix = "check indentation, colons, brackets and quotes"
            cmark = e.context_mark
            if e.context and cmark and mark and (cmark.line, cmark.column) != (mark.line, mark.column):
                fix = (f"{e.context} that starts at line {e.context_mark.line + 1}, column "
                       f"{e.context_mark.column + 1}; {fix}")
            if "appears twice" in str(e.problem):
                fix = "remove or rename one of them"
            raise NetworkFormatError(f"invalid YAML: {e.problem or e.context or 'syntax error'}", field=where,
                                     file=path, fix=fix) from None
        except yaml.YAMLError as e:
            raise NetworkFormatError(f"invalid YAML: {str(e).splitlines()[0]}", file=path,
                                     fix="check the file's syntax") from None
        except (ValueError, RecursionError, OverflowError) as e:   # a scalar the constructor cannot convert
            raise bad(f"invalid YAML value ({type(e).__name__})", "check the numbers in the file") from None
    return d


_YAML_INT = re.compile(r"[-+]?(?:0[xob]?)?[0-9a-fA-F_:]+")


def _check_yaml_events(text: str, bad) -> None:
    """One pass over the parser's events (libyaml's parser is iterative: no recursion) before anything is
    built: nesting depth, integer literal length, and the node count after alias expansion."""
    depth, stack, sizes, real, expanded = 0, [], {}, 0, 0
    try:
        for ev in yaml.parse(text, Loader=_Loader):
            if isinstance(ev, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                real += 1
                if depth > MAX_DEPTH:
                    line = ev.start_mark.line + 1 if ev.start_mark else "?"
                    raise bad(f"nesting deeper than {MAX_DEPTH} levels", "flatten the structure",
                              field=f"line {line}")
                stack.append([ev.anchor, 1])
            elif isinstance(ev, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
                anchor, n = stack.pop()
                if anchor is not None:
                    sizes[anchor] = n
                if stack:
                    stack[-1][1] += n
            elif isinstance(ev, yaml.ScalarEvent):
                real += 1
                v = ev.value
                if (ev.implicit[0] and len(v) > MAX_INT_DIGITS and _YAML_INT.fullmatch(v)
                        and any(c.isdigit() for c in v)):
                    line = ev.start_mark.line + 1 if ev.start_mark else "?"
                    raise bad(f"an integer literal of {len(v)} characters (at most {MAX_INT_DIGITS} digits)",
                              "write a smaller number", field=f"line {line}")
                if ev.anchor is not None:
                    sizes[ev.anchor] = 1
                if stack:
                    stack[-1][1] += 1
            elif isinstance(ev, yaml.AliasEvent):
                n = sizes.get(ev.anchor, 1)
                expanded += n
                if stack:
                    stack[-1][1] += n
                if expanded > MAX_ALIAS_NODES:
                    line = ev.start_mark.line + 1 if ev.start_mark else "?"
                    raise bad(f"aliases expand to more than {MAX_ALIAS_NODES} extra values",
                              "use fewer nested aliases (*name)", field=f"line {line}")
    except yaml.YAMLError:
        return   # the loader reports syntax errors with their line


def _short(v: Any) -> str:
    s = repr(v)
    return s if len(s) <= 60 else s[:57] + "..."


def load_network(path: str | os.PathLike, seed: int | None = None, allow_outside_files: bool | None = None) -> Network:
    """Read a ``.yaml``/``.yml``/``.json`` network file, a ``.nir`` graph or ``module.py:function``
    (a function returning a Network); ``seed`` overrides the file's seed. ``file:`` references must
    resolve inside the file's directory unless ``allow_outside_files`` (None: :data:`ALLOW_OUTSIDE_FILES`)."""
    path = os.fspath(path)
    if path.lower().endswith((".nir", ".net")) or ".py:" in path:  # NIR / netx / Python function: nir_io
        return load_other(path, seed)
    d = read_network_dict(path)
    if seed is not None and isinstance(d, dict):
        d = {**d, "seed": seed}
    base_dir = os.path.dirname(os.path.abspath(path))
    allow = ALLOW_OUTSIDE_FILES.get() if allow_outside_files is None else allow_outside_files
    token = FILE_ROOT.set(None if allow else base_dir)
    try:
        net = Network.from_dict(d, base_dir=base_dir)
    except NetworkFormatError as e:
        raise e.located(file=path) from None
    finally:
        FILE_ROOT.reset(token)
    if not net.populations:
        raise NetworkFormatError("the network has no populations", field="populations", file=path,
                                 fix="add at least one population")
    net.source = path
    return net


def save_network(net: Network, path: str | os.PathLike, inline_limit: int = INLINE_LIMIT) -> str:
    """Write ``net`` to ``path`` (.yaml/.yml/.json) so that ``load_network(path) == net``.

    Projections are written as their specs (rules and distributions, re-realized
    from the seed on load). In-memory projection arrays with more than
    ``inline_limit`` values go to ``<stem>.<projection>.<key>.npy`` next to the
    file; file references are rewritten relative to the new location (a reference that then leads out of
    the new file's directory needs ``allow_outside_files`` to load). Every
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

__all__ = ["load_network", "save_network", "read_network_dict", "read_document"]

"""Core kinds: one module per kind of core an image may contain, and the registry that names them.

A core kind declares what its cores mean in an image, once for everybody: its image fields with dtypes and
ranges (:class:`~neuromap.core_kinds.fields.Field`), its constants and widths, the state variables a probe
may record, the manifest fields it adds and ``verify(image)``, the invariants :meth:`neuromap.image.Image.verify`
runs after the format's own. The compiler writes these fields, the runtimes read them; nobody else defines
them. Runtimes keep their own registries keyed by the same names (:data:`emulator.EMULATORS`,
:data:`backends.lava.run.RUNNERS`); ``tests/architecture/test_core_kinds.py`` checks that every kind has one.

Adding a core kind: a module here with ``NAME``, ``FIELDS``, ``STATE_VARIABLES``, ``verify`` and
``manifest_fields``, one line in :data:`CORE_KINDS`, its field tables in ``docs/image-format.md`` (generated
from ``FIELDS`` by ``python -m neuromap.core_kinds.doc`` between marker lines; a test fails when they are stale)
and its entries in the runtime registries.

Contract layer: imports numpy, :mod:`neuromap.errors` and :mod:`neuromap.capacity` only.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable

from neuromap.core_kinds import loihi_lif, truenorth
from neuromap.core_kinds.fields import Field
from neuromap.errors import ImageError


@dataclass(frozen=True)
class CoreKind:
    """What one kind of core declares (read from its module)."""

    name: str
    fields: tuple[Field, ...]
    state_variables: tuple[str, ...]
    verify: Callable[[Any], None]
    manifest_fields: Callable[[Any], dict[str, Any]]

    @classmethod
    def of(cls, module: ModuleType) -> "CoreKind":
        return cls(module.NAME, module.FIELDS, module.STATE_VARIABLES, module.verify, module.manifest_fields)


#: every core kind an image may contain, by name (the manifest's ``core_kinds`` entries)
CORE_KINDS: dict[str, CoreKind] = {k.name: k for k in map(CoreKind.of, (loihi_lif, truenorth))}

#: the kind of an image without cores (nothing kind-specific to run: the Loihi-core engines handle its inputs)
DEFAULT_KIND = loihi_lif.NAME


def core_kind(name: str) -> CoreKind:
    """The registered kind ``name``; one-line :class:`ImageError` naming the known ones otherwise."""
    kind = CORE_KINDS.get(name)
    if kind is None:
        raise ImageError(f"image core kind {name!r} is unknown (known: {', '.join(CORE_KINDS)})")
    return kind


def image_core_kind(image: Any) -> CoreKind:
    """The one kind of core ``image`` holds (images do not mix kinds; an image without core kinds is
    :data:`DEFAULT_KIND`)."""
    names = list(dict.fromkeys(image.core_kinds))
    if len(names) > 1:
        raise ImageError(f"image core_kinds {image.core_kinds}: mixing core kinds is not supported (recompile)")
    return core_kind(names[0] if names else DEFAULT_KIND)

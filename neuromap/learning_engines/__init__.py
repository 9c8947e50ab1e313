"""Learning engines: what an image's plastic projection runs, one module per engine (contract layer).

A plastic projection of an image carries ``ProjectionMap.learning`` (a JSON-ready dict whose key ``"engine"``
names a registered engine) and ``ProjectionMap.learning_arrays`` (its tables or per-synapse initial state).
Each engine module declares, in one place:

``ENGINE``
    its image name; ``READS_V``: True when :func:`step` reads the post neurons' membrane v.
``Schema``
    the typed image configuration: a frozen dataclass with ``from_dict(d, where)`` (one-line
    :class:`~neuromap.errors.ImageError` on a bad field), ``to_dict()`` (the on-disk dict) and
    ``check_arrays(arrays, n_syn, where)``; seed rules subclass
    :class:`~neuromap.learning_engines.schema.SeedRuleSchema` (fields, ranges, fixed-point widths).
``quantize(q, params, ctx)`` (every built-in engine but ``loihi3f`` and ``loihi3f_us``)
    fills a :class:`~neuromap.learning_engines.schema.Quantized` from the float rule parameters ``params``
    (a mapping) and plain numbers ``ctx`` (:class:`~neuromap.learning_engines.schema.QuantizeContext`);
    the compiler (:mod:`neuromap.compiler.quantize_learning`) calls it through the registry (``loihi``: the
    pair ``stdp`` rule as a Lava rule; an engine that finds nothing to learn leaves ``q.fields`` empty).
    ``loihi3f`` has none: its float rule (R-STDP) needs the model's reward schedule, which the contract layer
    cannot import, so the compiler maps it (``quantize_learning._rstdp_loihi3f``); nor has ``loihi3f_us``
    (Urbanczik-Senn needs the post population's compartment scales: ``quantize_compartments.quantize_urbanczik``).
``make_state(learning, arrays, n_pre, n_post, pre_idx, post_idx) -> state``
    ``learning``: the schema (or image dict); ``pre_idx``/``post_idx``: int64[S] population-local indices
    of each synapse, image synapse order.
``step(learning, state, weights, pre_spikes, post_spikes, t, post_v)``
    one emulator step (``t`` 1-based = Lava's time step) after the step's neuron update and delivery;
    ``weights`` int32[S] stored weights updated in place; ``post_v`` int64[n_post] v after the step.
    Seed rules: :func:`~neuromap.learning_engines.packing.step_one` on the engine's ``KERNEL`` (the per-step
    loop of both emulator engines and the Lava process run the same kernel as the fused loop).
``KERNEL`` (seed rules)
    a :class:`~neuromap.learning_engines.packing.Kernel`: the engine's numba group kernel, **its one
    implementation of the equations** (there is no second numpy version to keep in step; the independent
    check is a scalar oracle written from the documented equations, tests/oracles/seed_rules.py); run inside
    the fused plastic loop (:mod:`emulator.plastic_numba`) for images whose engines all have one.

:data:`ENGINES` maps engine name -> module; :func:`register` adds one (a new engine is one module plus its
tests: docs/learning.md, "Adding a learning engine"); :func:`engine` looks one up for an image dict;
:func:`verify` checks a projection's learning through its schema (``Image.verify``).
"""
from __future__ import annotations

import types

from neuromap.errors import ImageError
from neuromap.learning_engines import clopath, homeostatic_stdp, loihi, loihi3f, loihi3f_us, pool_stdp, vogels_isp

#: what every engine module has (see the module docstring)
REQUIRED = ("ENGINE", "READS_V", "Schema", "make_state", "step")

#: image engine name -> engine module, in registration order (the fused loop's group order)
ENGINES: dict[str, types.ModuleType] = {}


def register(module) -> None:
    """Add an engine module (or object with the same attributes); its ``ENGINE`` name must be new."""
    missing = [a for a in REQUIRED if not hasattr(module, a)]
    if missing:
        raise TypeError(f"learning engine {module!r} lacks {', '.join(missing)}")
    name = module.ENGINE
    if ENGINES.get(name, module) is not module:
        raise ValueError(f"learning engine {name!r} is registered already")
    ENGINES[name] = module


def unregister(name: str) -> None:
    """Remove engine ``name`` (tests that register an example engine)."""
    ENGINES.pop(name, None)


def engine(learning: dict, where: str):
    """The engine module of an image learning dict; unknown engine -> one-line ImageError naming ``where``."""
    name = learning.get("engine") if isinstance(learning, dict) else None
    if name not in ENGINES:
        raise ImageError(f"{where}: learning engine {name!r} is unknown "
                         f"(known: {', '.join(ENGINES)}; recompile)")
    return ENGINES[name]


def schema(learning: dict, where: str):
    """The typed schema of an image learning dict (strict: every field checked)."""
    return engine(learning, where).Schema.from_dict(learning, where)


def verify(learning: dict, arrays: dict, n_syn: int, sign_mode: str, num_weight_bits: int, where: str,
           voltage_bits: int | None = None):
    """Check a projection's ``learning`` and ``learning_arrays`` against its engine's schema; returns the
    schema. ``n_syn``: the projection's synapses; ``sign_mode``/``num_weight_bits``: the projection's;
    ``voltage_bits``: width of the post cores' signed v register (for engines that read v; None: not checked)."""
    cfg = schema(learning, where)
    check = getattr(cfg, "check_projection", None)
    if check is not None:
        check(sign_mode, num_weight_bits, where)
    check_v = getattr(cfg, "check_post_voltage", None)
    if check_v is not None and voltage_bits is not None:
        check_v(int(voltage_bits), where)
    cfg.check_arrays(arrays, n_syn, where)
    return cfg


for _m in (loihi, pool_stdp, homeostatic_stdp, vogels_isp, clopath, loihi3f, loihi3f_us):
    register(_m)
del _m

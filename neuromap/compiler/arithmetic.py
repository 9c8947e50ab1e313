"""The ``loihi_lif`` core arithmetic a target asks for, or a refusal naming the field the emulator lacks.

The quantizer (:mod:`neuromap.compiler.quantize`), the image (:class:`neuromap.image.LifArithmetic`) and
both emulator engines use the same widths, taken from the target here: one source of truth. A target
field whose arithmetic the emulator does not implement (a linear leak, per-type weights, 16-bit
weights, a 96-step delay ...) is refused with a one-line :class:`~neuromap.errors.TargetError`
``FILE: FIELD: PROBLEM (FIX)``, instead of compiling to an image that runs different arithmetic.
Semantics of every field: ``docs/targets.md`` (*Neuron arithmetic*).
"""
from __future__ import annotations

from typing import Any

from neuromap.errors import TargetError
from neuromap.image import LOIHI_ARITHMETIC, MAX_DELAY, SIGN_MODES, WEIGHT_EXP_MAX, WEIGHT_EXP_MIN, LifArithmetic

#: learning-engine widths of Lava 0.10 (lava/magma/core/learning/constants.py), the only ones
#: the emulator's learning engine (neuromap/learning_engines/loihi_step.py) and Lava's ``LearningDense`` implement
LOIHI_LEARNING = {"weight_bits": 8, "tag_bits": 8, "trace_bits": 7, "trace_fraction_bits": 8,
                  "constant_bits": 8, "scale_mantissa_bits": 4, "accumulator_bits": 15, "epoch_time_bits": 6}


#: models a target with loihi_lif cores may list: the core model, the float models the quantizer maps onto
#: it, and the host-driven inputs
LOIHI_CORE_MODELS = ("lif", "if", "loihi_lif", "poisson", "spike_source",
                     "two_compartment")   # soma + dendrite: two joined loihi_lif compartments


def _refuse(target: Any, fld: str, problem: str, fix: str) -> TargetError:
    return TargetError(f"{target.source or target.name}: {fld}: {problem} ({fix})")


def lif_arithmetic(target: Any) -> LifArithmetic:
    """The :class:`~neuromap.image.LifArithmetic` of ``target``'s ``loihi_lif`` cores.

    Raises TargetError naming the first target field the emulator cannot execute as written.
    """
    n, s = target.neuron, target.synapse
    a = LifArithmetic(**{k: getattr(n, k) for k in LifArithmetic.RANGES})
    bad = a.problem()
    if bad:
        lo, hi = LifArithmetic.RANGES[bad[0]]
        raise _refuse(target, f"neuron.{bad[0]}", f"{bad[1]}; the loihi_lif emulator implements "
                      f"{bad[0]} in [{lo}, {hi}] with 32-bit working registers",
                      "use a value the emulator implements, or a target without this core")
    extra = [m for m in n.models if m not in LOIHI_CORE_MODELS]
    if extra:
        raise _refuse(target, "neuron.models", f"{extra[0]!r} is not implemented by loihi_lif cores (they run "
                      f"{', '.join(LOIHI_CORE_MODELS)}; float lif/if/two_compartment are quantized onto loihi_lif)",
                      f"remove {extra[0]!r}")
    if n.leak_bits:
        raise _refuse(target, "neuron.leak_bits", f"{n.leak_bits}: a linear leak is not part of the loihi_lif "
                      "arithmetic (exponential decays only)", "set it to 0")
    checks = [
        ("synapse.weight_bits_max", s.weight_bits_max == 8, s.weight_bits_max,
         "the synapse memory stores Lava's 8-bit weights (sign included for excitatory/inhibitory, plus a sign "
         "bit for mixed)", "set it to 8; narrower weights are weight_bits_min"),
        ("synapse.weight_exp_min", s.weight_exp_min >= WEIGHT_EXP_MIN, s.weight_exp_min,
         f"the weight exponent is a signed 4-bit field ({WEIGHT_EXP_MIN}..{WEIGHT_EXP_MAX})",
         f"use a value >= {WEIGHT_EXP_MIN}"),
        ("synapse.weight_exp_max", s.weight_exp_max <= WEIGHT_EXP_MAX, s.weight_exp_max,
         f"the weight exponent is a signed 4-bit field ({WEIGHT_EXP_MIN}..{WEIGHT_EXP_MAX})",
         f"use a value <= {WEIGHT_EXP_MAX}"),
        ("synapse.sign_modes", set(s.sign_modes) <= set(SIGN_MODES), list(s.sign_modes),
         f"the synapse memory implements the sign modes {', '.join(SIGN_MODES)}", "drop the others"),
        ("synapse.delay_max", s.delay_max <= MAX_DELAY, s.delay_max,
         f"synaptic delays are 6-bit (1..{MAX_DELAY} steps)", f"use a value <= {MAX_DELAY}"),
        ("synapse.axon_types", s.axon_types == 0, s.axon_types,
         "loihi_lif cores store one weight per synapse, not per axon type", "set it to 0"),
    ]
    for fld, ok, value, why, fix in checks:
        if not ok:
            raise _refuse(target, fld, f"{value} is not implemented: {why}", fix)
    lr = target.learning
    if lr.enabled:
        for k, want in LOIHI_LEARNING.items():
            if getattr(lr, k) != want:
                raise _refuse(target, f"learning.{k}", f"{getattr(lr, k)} is not implemented: the learning engine "
                              f"is Lava 0.10's ({k} = {want})", f"set it to {want}, or learning.enabled = false")
    return a


def is_loihi(arithmetic: LifArithmetic) -> bool:
    """Whether ``arithmetic`` is Loihi's (what Lava 0.10's ``PyLifModelBitAcc`` runs)."""
    return arithmetic == LOIHI_ARITHMETIC

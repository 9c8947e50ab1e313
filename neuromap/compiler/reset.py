"""Reset by subtraction (``reset: subtract`` of the float ``lif`` / ``if``) on targets whose cores reset to a
fixed value: refused with a one-line error, or approximated as reset-to-``v_reset`` when the user opts in.

``loihi_lif`` cores (Lava 0.10 ``LIF``) set v to 0 after a spike; the TrueNorth lowering of ``lif`` uses
reset mode gamma = 0 (set to R) (its ``if`` neurons subtract exactly with gamma = 1). Neither keeps the overshoot ``v -
v_th`` that a subtracting neuron carries into
the next step, so such a population fires less often on chip (snnTorch nets measured: about -46 %
output spikes). Compile option ``allow_reset_approximation`` (CLI ``--allow-reset-approximation``)
accepts it; the populations are then listed as a loss in the fidelity report
(:mod:`neuromap.compiler.fidelity`).
"""
from __future__ import annotations

from neuromap.errors import TargetError
from neuromap.network import Network

#: float models with a ``reset`` parameter
RESET_MODELS = ("lif", "if")


def subtracting_populations(network: Network) -> list[str]:
    """Names of the float populations that reset by subtraction, in network order."""
    return [name for name, pop in network.populations.items()
            if pop.model in RESET_MODELS and pop.neuron.get("reset", "zero") == "subtract"]


def check_reset(network: Network, target_name: str, allow_approximation: bool = False,
                exact_models: tuple[str, ...] = ()) -> list[str]:
    """The subtracting populations that ``target_name`` will run as reset-to-v_reset (models in
    ``exact_models`` subtract exactly there: TrueNorth's linear reset for ``if``).

    Raises a one-line TargetError naming the first such population and the fix unless
    ``allow_approximation``."""
    names = [n for n in subtracting_populations(network) if network.populations[n].model not in exact_models]
    if names and not allow_approximation:
        where = f"{network.source}: " if network.source else ""
        more = f" (and {len(names) - 1} more)" if len(names) > 1 else ""
        raise TargetError(f"{where}populations.{names[0]}.neuron.reset: 'subtract'{more} cannot run on "
                          f"{target_name!r} (its cores reset v to a fixed value); set reset: zero, or compile with "
                          "--allow-reset-approximation to run it as reset-to-v_reset (reported as a fidelity loss)")
    return names

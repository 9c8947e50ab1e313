"""The network model: populations, projections, inputs and probes.

A :class:`Network` is plain data. Every projection is *realized* when it is
created: the synapse list (``pre_idx``, ``post_idx``, ``weight``, ``delay``)
is drawn from the connection rule and distributions with a generator seeded by
``(network.seed, projection index)``, so construction is deterministic and
adding a projection never changes the synapses of another.

The same object comes from the Python API (:meth:`Network.add_population`,
:meth:`Network.connect`, :meth:`Network.add_probe`) and from YAML/JSON files
(:func:`neuromap.io.load_network`); ``docs/network-format.md`` documents every field.

Units (float networks): time in ms, ``dt`` in ms per step, delays in steps
(>= 1; 1 = delivered on the next step), rates in Hz. Hardware-unit networks
(``model: loihi_lif`` ...) carry integer weights and Lava's parameter names.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Population:
    """``size`` neurons of one model.

    ``neuron`` is the complete parameter dict, defaults filled in, e.g.
    ``{"model": "lif", "tau_m": 20.0, ...}``; inputs are populations too
    (``model: poisson`` / ``spike_source``).
    """

    name: str
    size: int
    neuron: dict[str, Any]

    @property
    def model(self) -> str:
        return self.neuron["model"]


@dataclass
class Projection:
    """Synapses from population ``pre`` to population ``post``, one entry per synapse.

    Arrays are aligned, length ``n_synapses``: ``pre_idx``/``post_idx`` (int64
    neuron indices), ``weight`` (float64; integer-valued for hardware units),
    ``delay`` (int64 steps >= 1). ``target`` names the receptor channels each
    spike drives (``exc``, ``inh``, ``ampa``, ``nmda``; several = the same
    weight drives each). ``plasticity`` is ``None`` or ``{"rule": ..., **params}``.
    ``hw`` holds hardware-unit synapse options (``weight_exp``,
    ``num_weight_bits``, ``sign_mode``) or is ``None`` for float networks.
    ``spec`` keeps how the projection was described (connect/weight/delay
    specs) so it can be written back to a file.
    """

    name: str
    pre: str
    post: str
    pre_idx: np.ndarray
    post_idx: np.ndarray
    weight: np.ndarray
    delay: np.ndarray
    target: tuple[str, ...] = ("exc",)
    plasticity: dict[str, Any] | None = None
    hw: dict[str, Any] | None = None
    spec: dict[str, Any] = field(default_factory=dict)

    @property
    def n_synapses(self) -> int:
        return int(self.pre_idx.shape[0])

    def dense_weights(self, n_pre: int, n_post: int) -> np.ndarray:
        """Weights as a (post, pre) matrix; 0 where there is no synapse (multapses add)."""
        w = np.zeros((n_post, n_pre), dtype=np.float64)
        np.add.at(w, (self.post_idx, self.pre_idx), self.weight)
        return w


@dataclass
class Probe:
    """Record ``variables`` (``spikes``, ``v``, ``u``, ... as the model names them) of ``population``.

    ``neurons``: indices to record, ``None`` = all (spikes are always recorded for all).
    """

    population: str
    variables: tuple[str, ...] = ("spikes",)
    neurons: np.ndarray | None = None


@dataclass
class Network:
    """A spiking network: the single input of the simulator and the compiler."""

    name: str = "network"
    dt: float = 1.0
    seed: int = 0
    populations: dict[str, Population] = field(default_factory=dict)
    projections: list[Projection] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)
    source: str | None = None  # path of the file this network was loaded from, if any

"""Networks for the sharded-emulator tests (tests/emulator/mpi/): plastic, Poisson-driven, with delays."""
from __future__ import annotations

import dataclasses

import numpy as np

from neuromap.network import Network
from tests.oracles.cases import CLOPATH_LIF, LIF, RULES


def plastic_net(seed: int, rule: str) -> Network:
    """Poisson inputs -> E (``rule``, plastic), E -> E (plastic), E <-> I static, delays 1..6."""
    rng = np.random.default_rng(seed)
    n = Network(seed=seed)
    n.add_population("inp", 12, "poisson", rate=80.0)
    n.add_population("E", 14, "lif", refractory=1, **(CLOPATH_LIF if rule == "clopath" else LIF))
    n.add_population("I", 5, "lif", **LIF)
    n.connect("inp", "E", {"rule": "fixed_probability", "p": 0.5}, weight={"uniform": [0.1, 0.6]},
              delay=int(rng.integers(1, 4)), plasticity=RULES[rule])
    n.connect("E", "E", {"rule": "fixed_probability", "p": 0.3}, weight={"uniform": [0.05, 0.3]},
              delay=int(rng.integers(1, 4)), plasticity=RULES["clopath" if rule == "clopath" else "nn_stdp"])
    n.connect("inp", "I", {"rule": "fixed_probability", "p": 0.5}, weight=0.4, delay={"uniform_int": [1, 6]})
    n.connect("E", "I", "all_to_all", weight=0.3, delay=2)
    n.connect("I", "E", "all_to_all", weight=0.2, target="inh", delay=1)
    n.add_probe("E", ["spikes", "v"], [0, 5, 13])
    return n


def with_chips(img, per_chip: int = 1):
    """``img`` with ``per_chip`` cores a chip (``cores.chip``, tile positions along x): one shard file a chip."""
    chips = (np.arange(img.n_cores) // per_chip).astype(np.int32)
    return dataclasses.replace(img, cores={**img.cores, "chip": chips, "tile_x": chips, "tile_y": 0 * chips})


def poisson_net(seed: int) -> Network:
    """Many Poisson inputs, each reaching a few neurons (so a few cores, on small cores), of less and more than
    one event per step (dt 0.1 ms), one input population reaching nobody, an explicit-time population; static
    E <-> I with delays 1..4."""
    rng = np.random.default_rng(seed)
    n = Network(seed=seed, dt=0.1)
    n.add_population("bg", 24, "poisson", rate=rng.uniform(0.0, 30000.0, 24).tolist())
    n.add_population("slow", 10, "poisson", rate=rng.uniform(0.0, 800.0, 10).tolist())
    n.add_population("idle", 3, "poisson", rate=5000.0)
    n.add_population("cue", 2, "spike_source", times=[[0.2, 1.0, 3.0], [0.5, 2.0]])
    n.add_population("E", 16, "lif", **LIF)
    n.add_population("I", 6, "lif", **LIF)
    n.connect("bg", "E", {"rule": "fixed_probability", "p": 0.12}, weight={"uniform": [0.05, 0.3]},
              delay={"uniform_int": [1, 4]})
    n.connect("slow", "I", {"rule": "fixed_probability", "p": 0.3}, weight=0.5, delay=1)
    n.connect("cue", "E", "all_to_all", weight=0.4, delay=2)
    n.connect("E", "I", {"rule": "fixed_probability", "p": 0.4}, weight=0.3, delay=2)
    n.connect("I", "E", {"rule": "fixed_probability", "p": 0.4}, weight=0.2, target="inh", delay=1)
    return n

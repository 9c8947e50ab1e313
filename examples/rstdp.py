"""Reward-modulated STDP on the Loihi learning engine (seed 000's "intrinsically motivated" neuron, issue 22):
Lava 0.10's ``RewardModulatedSTDP`` in hardware units (rule ``rstdp_loihi``, image engine ``loihi3f``).

40 Poisson inputs drive 4 ``loihi_lif`` neurons through plastic synapses. Pre/post pairings only build an
eligibility trace (tag_1); the weights change only while the host writes a reward (the third factor y2) into
the post neurons: here a window of 100 steps every 400 steps, from step 200 on. Run it:

    python examples/rstdp.py                      # compile, emulate 2000 steps, print weight change per window
    neuromap validate examples/rstdp.py:build     # the same image in Lava

Docs: docs/learning.md, *Three-factor learning*.
"""
from __future__ import annotations

import numpy as np

from emulator import emulate
from neuromap.network import Network
from neuromap.toolchain import compile_network


def build(seed: int = 7, reward: int = 64, start: int = 200) -> Network:
    net = Network(name="rstdp", dt=1.0, seed=seed)
    net.add_population("inp", 40, neuron="poisson", rate=40.0)
    net.add_population("out", 4, neuron="loihi_lif", du=1024, dv=256, vth=120)
    net.connect("inp", "out", connect={"rule": "all_to_all"}, weight={"uniform_int": [10, 60]},
                sign_mode="mixed",
                plasticity={"rule": "rstdp_loihi", "learning_rate": 1, "A_plus": 2, "A_minus": -2,
                            "tau_plus": 10, "tau_minus": 10, "x1_impulse": 16, "y1_impulse": 16, "tau_e": 0.125,
                            "reward_value": reward, "reward_start": start, "reward_stop": start + 100,
                            "reward_period": 400, "reward_until": 2000, "t_epoch": 1, "rng_seed": 1})
    net.add_probe("out", ("v",))
    return net


def build_float(seed: int = 5, reward: float = 1.0) -> Network:
    """The float reference: 40 Poisson inputs -> 8 LIF with the float rule ``rstdp`` (reward windows of 100 steps
    every 400 from step 200); ``neuromap compare examples/rstdp.py:build_float`` compiles it onto ``loihi3f``
    and reports the float-vs-chip weight error."""
    net = Network(name="rstdp_float", dt=1.0, seed=seed)
    net.add_population("inp", 40, "poisson", rate=40.0)
    net.add_population("out", 8, "lif", tau_m=20.0, tau_syn=5.0, v_th=1.0, v_reset=0.0, refractory=2)
    net.connect("inp", "out", "all_to_all", weight={"uniform": [0.05, 0.2]}, delay=1,
                plasticity={"rule": "rstdp", "tau_plus": 20.0, "tau_minus": 20.0, "A_plus": 1.0, "A_minus": -1.2,
                            "tau_e": 0.0625, "eta": 0.01, "w_min": 0.0, "w_max": 0.3, "reward_value": reward,
                            "reward_start": 200, "reward_stop": 300, "reward_period": 400, "reward_until": 100000})
    return net


def main(steps: int = 2000) -> dict:
    img = compile_network(build(), "loihi").image
    run = emulate(img, steps, "numba", weight_every=100)
    w = run.weights[0].astype(np.int64)
    mean = w.mean(axis=1)
    print("step  mean stored weight")
    for s, m in zip(run.weight_steps[::2], mean[::2]):
        print(f"{int(s) + 1:5d}  {m:7.2f}")
    return {"mean_weight": mean, "spikes": len(run.spikes)}


if __name__ == "__main__":
    main()

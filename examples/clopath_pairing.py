"""Clopath spike-pairing experiment (seed 001 Fig. 3B = Clopath et al. 2010 Fig. 2b), as numbers.

One presynaptic neuron -> one AdEx neuron (``adex``, Clopath's parameters) through a
``clopath`` synapse. ``n_pairs`` pre/post pairs at frequency f with
t_post - t_pre = +10 ms or -10 ms; the post spike is forced by a strong input
(a 200 mV jump one step earlier). Printed: the normalized weight w_end/w_init per
frequency. Expected (Clopath 2010): +10 ms potentiates at every frequency, more at
higher f; -10 ms depresses at low f and turns to potentiation at high f.

``python examples/clopath_pairing.py [--time]`` (``--time``: time-driven scheme).
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import neuromap  # noqa: E402

DT = 0.1
W_INIT = 0.5
RULE = dict(rule="clopath", A_LTD=14e-5, A_LTP=8e-5, theta_minus=-70.6, theta_plus=-45.3, tau_minus=10.0,
            tau_plus=7.0, tau_x=15.0, delay_u=40, u_init=-70.6, w_min=0.0, w_max=1.0)


def pairing_network(freq_hz: float, lag_ms: float, n_pairs: int = 5, update: str = "event",
                    t0_ms: float = 50.0) -> tuple[neuromap.Network, int]:
    """(network, steps) of one pairing protocol; the plastic projection is named ``syn``."""
    period = 1000.0 / freq_hz
    t_pre = [t0_ms + k * period for k in range(n_pairs)]
    t_post = [t + lag_ms for t in t_pre]
    net = neuromap.Network(name="clopath_pairing", dt=DT, seed=1)
    # the pre spike is emitted one step before it arrives (delay 1), as is the forcing input
    net.add_population("pre", 1, "spike_source", times=[[t - DT for t in t_pre]])
    net.add_population("drive", 1, "spike_source", times=[[t - DT for t in t_post]])
    net.add_population("post", 1, "adex")
    net.connect("pre", "post", "all_to_all", weight=W_INIT, delay=1, name="syn",
                plasticity=dict(RULE, update=update))
    net.connect("drive", "post", "all_to_all", weight=200.0, delay=1)
    steps = int(round((max(t_pre + t_post) + 100.0) / DT))
    return net, steps


def pairing_curve(freqs=(1.0, 10.0, 20.0, 30.0, 40.0, 50.0), lags=(10.0, -10.0), n_pairs: int = 5,
                  update: str = "event") -> dict[float, list[float]]:
    """lag (ms) -> normalized weight w_end / w_init per frequency."""
    out = {}
    for lag in lags:
        row = []
        for f in freqs:
            net, steps = pairing_network(f, lag, n_pairs, update)
            res = neuromap.simulate(net, steps, backend="numpy")
            assert res.spikes["post"][0].size == n_pairs, "every forced post spike must occur exactly once"
            row.append(float(res.weights["syn"][0]) / W_INIT)
        out[lag] = row
    return out


def main() -> None:
    freqs = (1.0, 10.0, 20.0, 30.0, 40.0, 50.0)
    upd = "time" if "--time" in sys.argv else "event"
    curve = pairing_curve(freqs, update=upd)
    print(f"Clopath spike pairing ({upd}-driven), 5 pairs, normalized weight w_end/w_init")
    print("f (Hz)   " + "  ".join(f"{f:7.1f}" for f in freqs))
    for lag, row in curve.items():
        print(f"{lag:+5.0f} ms " + "  ".join(f"{x:7.4f}" for x in row))


if __name__ == "__main__":
    main()

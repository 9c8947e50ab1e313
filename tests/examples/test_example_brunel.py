"""Brunel (2000) model A, g = 5, eta = 2 (AI state): scaled-down network against mean-field theory."""
import os
import sys

import pytest

EX = os.path.join(os.path.dirname(__file__), "..", "..", "examples")
sys.path.insert(0, EX)
import brunel  # noqa: E402


def test_mean_field_theory():
    # full network: the diffusion-approximation rate; more inhibition (g) lowers it
    full = brunel.mean_field_rate(**brunel.FULL)
    assert 30.0 < full < 45.0                                   # 37.2 Hz
    assert brunel.mean_field_rate(**{**brunel.FULL, "g": 6.0}) < full


def test_small_network_asynchronous_irregular_at_theory_rate():
    cfg = brunel.SMALL
    theory = brunel.mean_field_rate(**cfg)                      # 47.4 Hz
    s = brunel.run(cfg, 300.0)                                   # measured E 44.4, I 44.9 Hz, CV 0.87
    for pop in ("E", "I"):
        assert abs(s[pop]["rate"] - theory) < 0.2 * theory
        assert 0.6 < s[pop]["cv"] < 1.3                          # irregular firing
    assert abs(s["E"]["rate"] - s["I"]["rate"]) < 0.1 * s["E"]["rate"]   # model A: same rates


@pytest.mark.slow
def test_yaml_is_the_full_network():
    from neuromap.io import load_network
    net = load_network(os.path.join(EX, "brunel.yaml"))
    assert net.populations["E"].size == 10000 and net.populations["I"].size == 2500
    e_to_e = [p for p in net.projections if p.pre == "E" and p.post == "E"][0]
    assert e_to_e.n_synapses == 10000 * 1000

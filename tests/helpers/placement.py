"""Placement test helpers: small mesh targets, random core traffic, brute-forced optimal placements and a
ring network whose sequential ids partition badly."""
from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import scipy.sparse as sp

from neuromap.network import Network
from neuromap.targets import load_target


def mesh_target(cpt, tx, ty):
    """The loihi target on one chip of tx x ty tiles with cpt cores a tile."""
    t = load_target("loihi")
    return dataclasses.replace(t, mesh=dataclasses.replace(t.mesh, cores_per_tile=cpt, tiles_x=tx,
                                                           tiles_y=ty, chips_x=1, chips_y=1))


def tile_slots(tx, ty, cpt):
    """Tile x, y of every slot of a tx x ty board, cpt slots a tile, tiles row-major."""
    return np.repeat(np.tile(np.arange(tx), ty), cpt), np.repeat(np.repeat(np.arange(ty), tx), cpt)


def all_placements(n, cpt, tx, ty):
    """Tile x, y of every core for every placement of n cores on the tx x ty board (cpt slots a tile)."""
    sx, sy = tile_slots(tx, ty, cpt)
    perms = np.array(list(itertools.permutations(range(len(sx)), n)), np.int64)
    return sx[perms], sy[perms]


def brute_force_hops(traffic, n, cpt, tx, ty):
    """Least sum(traffic x hops) over every placement on the board."""
    t = sp.coo_matrix(traffic)
    X, Y = all_placements(n, cpt, tx, ty)
    cost = (np.abs(X[:, t.row] - X[:, t.col]) + np.abs(Y[:, t.row] - Y[:, t.col])) @ t.data
    return float(cost.min())


def random_traffic(rng, n, density=0.6, high=5):
    """(n, n) CSR core-to-core traffic: integers 0..high-1 on a ``density`` fraction of the pairs, no self traffic."""
    dense = rng.integers(0, high, (n, n)) * (rng.random((n, n)) < density)
    np.fill_diagonal(dense, 0)
    return sp.csr_matrix(dense.astype(float))


def small_target(max_neurons=16, max_input_axons=40):
    """The loihi target with small cores (several cores per population in small tests)."""
    t = load_target("loihi")
    return dataclasses.replace(t, core=dataclasses.replace(t.core, max_neurons=max_neurons,
                                                           max_input_axons=max_input_axons))


def ring_net(n=96, seed=3):
    """Poisson inputs into a ring with local excitation (neighbours +-1, +-2) plus a shuffled id order,
    so sequential ids are a poor partition; spikes are driven (vth low)."""
    net = Network(seed=seed)
    net.add_population("inp", 6, neuron="poisson", rate=200.0)
    net.add_population("n", n, neuron="loihi_lif", vth=60, du=4095, dv=1024)
    perm = np.random.default_rng(seed).permutation(n)
    m = np.zeros((n, n))
    for k in range(n):
        for d in (-2, -1, 1, 2):
            m[perm[(k + d) % n], perm[k]] = 40
    net.connect("n", "n", connect={"rule": "matrix", "matrix": m})
    net.connect("inp", "n", connect={"rule": "fixed_probability", "p": 0.3}, weight=120)
    return net


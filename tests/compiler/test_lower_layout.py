"""Lowering's synapse layout (neuromap/compiler/lower.py, ``synapse_layout``: a counting sort by core, a merge
sort per core, compiled) against a reference written with whole-array ``np.lexsort``: the same synapse, axon and
route arrays, for random cores (not in post order, as greedy/cpsat placements give), several projections from one
pre population, sources that are inputs, empty projections and cores without synapses."""
from __future__ import annotations

import numpy as np
import pytest

from neuromap.compiler.lower import synapse_layout


def _reference(post, akey, w, d, ak_src_base, ak_size, neuron_core, n_cores, n_sources):
    base = np.concatenate([[0], np.cumsum(ak_size)])
    proj = np.searchsorted(base, akey, side="right") - 1
    src = ak_src_base[proj] + akey - base[proj]
    core = neuron_core[post]
    o = np.lexsort((post, src, proj, core))
    c, p, s = core[o], proj[o], src[o]
    new = np.ones(o.size, bool)
    new[1:] = (c[1:] != c[:-1]) | (p[1:] != p[:-1]) | (s[1:] != s[:-1])
    first = np.flatnonzero(new)
    ax_core, ax_proj, ax_src = c[first], p[first], s[first]
    axon_ptr = np.concatenate([[0], np.cumsum(np.bincount(ax_core, minlength=n_cores))])
    r = np.lexsort((ax_core, ax_proj, ax_src))
    return {"post": post[o], "weight": w[o], "delay": d[o], "syn_ptr": np.append(first, o.size),
            "axon_ptr": axon_ptr, "ax_proj": ax_proj,
            "src_ptr": np.concatenate([[0], np.cumsum(np.bincount(ax_src, minlength=n_sources))]),
            "route_core": ax_core[r], "route_axon": (np.arange(first.size) - axon_ptr[ax_core])[r]}


def _case(seed):
    rng = np.random.default_rng(seed)
    n_neu, n_inp = int(rng.integers(1, 60)), int(rng.integers(0, 20))
    n_cores = int(rng.integers(1, 12))
    neuron_core = rng.integers(0, n_cores, n_neu).astype(np.int32)
    pops = [(0, n_neu)] + ([(n_neu, n_inp)] if n_inp else [])          # (first source id, size)
    posts, keys, sizes, bases = [], [], [], []
    kbase = 0
    for _ in range(int(rng.integers(1, 6))):
        sb, size = pops[int(rng.integers(0, len(pops)))]
        n_post = n_neu
        p = float(rng.uniform(0, 0.5))
        m = rng.random((n_post, size)) < p                               # (post, pre): post-major, unique pairs
        q, j = np.nonzero(m)
        keep = np.lexsort((q, j))                                        # per pre its posts ascending
        posts.append(q[keep])
        keys.append(kbase + j[keep])
        sizes.append(size)
        bases.append(sb)
        kbase += size
    post = np.concatenate(posts).astype(np.int32)
    akey = np.concatenate(keys).astype(np.int32)
    w = rng.integers(-256, 256, post.size).astype(np.int16)
    d = rng.integers(1, 60, post.size).astype(np.uint8)
    return post, akey, w, d, np.array(bases, np.int64), np.array(sizes, np.int64), neuron_core, n_cores, n_neu + n_inp


@pytest.mark.parametrize("seed", range(12))
def test_layout_matches_the_lexsort_reference(seed):
    args = _case(seed)
    got = synapse_layout(*args)
    ref = _reference(*args)
    assert got.keys() == ref.keys()
    for k in ref:
        assert np.array_equal(got[k], ref[k]), k


def test_no_synapses():
    got = synapse_layout(np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.int16), np.zeros(0, np.uint8),
                         np.array([0], np.int64), np.array([3], np.int64), np.zeros(3, np.int32), 1, 3)
    assert got["syn_ptr"].tolist() == [0] and got["axon_ptr"].tolist() == [0, 0]
    assert got["src_ptr"].tolist() == [0, 0, 0, 0] and got["route_core"].size == 0

"""Lowering of convolutions with shared weights: the explicit synapses of a conv projection -> kernel + geometry.

:func:`share_convs` runs at the end of the ``lower`` pass (loihi_lif cores). A projection made by a ``conv`` or
``pool`` rule (its geometry travels from the network, ``Projection.spec["geometry"]``, through quantization,
``hw["conv"]``) is stored as a :class:`neuromap.conv_geometry.ConvMap` when its lowered synapses are exactly a
convolution: every (pre, post) pair of the geometry is a synapse, one delay, static, and every kernel tap got the
same stored weight at every position (nearest rounding gives that; stochastic rounding in general does not, and
fan-in legalization may split a projection). Otherwise the projection keeps its explicit synapses and a note says
why. The result is checked: :func:`neuromap.conv_geometry.expand` of the shared image gives the explicit image back,
array for array.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from neuromap.conv_geometry import ConvGeometry, ConvMap, axon_sources, expand, pairs
from neuromap.errors import TargetError
from neuromap.image import Image
from neuromap.network import Network


def conv_geometry(pr: Any) -> ConvGeometry | None:
    """The convolution a (float or hardware-unit) projection realizes, or None."""
    d = (pr.hw or {}).get("conv")
    if d is not None:
        return ConvGeometry.from_dict(d)
    return pr.spec.get("geometry") if pr.spec else None


def share_convs(image: Image, network: Network) -> tuple[Image, list[str]]:
    """``image`` with its convolutional projections stored as kernel + geometry, and one note per convolution
    kept explicit (why). ``network`` is the hardware-unit network ``image`` was lowered from."""
    notes: list[str] = []
    convs: list[ConvMap] = []
    if not any(conv_geometry(pr) is not None for pr in network.projections):
        return image, notes
    A = image.n_axons
    syn_ptr = image.axons["syn_ptr"].astype(np.int64)
    syn_axon = np.repeat(np.arange(A, dtype=np.int64), np.diff(syn_ptr))
    syn_proj = image.axons["proj"].astype(np.int64)[syn_axon]
    src = axon_sources(image)
    remove = np.zeros(image.n_synapses, bool)
    for k, pr in enumerate(network.projections):
        g = conv_geometry(pr)
        if g is None or k >= len(image.projections) or image.projections[k].name != pr.name:
            continue
        fld = f"projections[{k}] ({pr.name})"
        pm = image.projections[k]
        pre_pop, post_pop = image.population(pm.pre), image.population(pm.post)
        if pm.learning is not None:
            notes.append(f"{fld}: a plastic convolution keeps explicit synapses (every synapse learns on its own)")
            continue
        if pre_pop.size != g.n_pre or post_pop.size != g.n_post:
            notes.append(f"{fld}: the convolution was split (fan-in legalization); it keeps explicit synapses")
            continue
        sel = np.flatnonzero(syn_proj == k)
        pre = src[syn_axon[sel]] - (pre_pop.start + (0 if pre_pop.kind == "neuron" else image.n_neurons))
        post = image.synapses["post"][sel].astype(np.int64) - post_pop.start
        delay = image.synapses["delay"][sel]
        epre, epost, etap = pairs(g)
        key = post * g.n_pre + pre
        ekey = epost * g.n_pre + epre                 # ascending: post-major, pre ascending
        pos = np.minimum(np.searchsorted(ekey, key), max(ekey.size - 1, 0))
        if (sel.size != ekey.size or not ekey.size or np.any(ekey[pos] != key)
                or np.unique(pos).size != pos.size):
            notes.append(f"{fld}: its synapses are not the convolution's {ekey.size} pairs; it keeps explicit "
                         "synapses")
            continue
        if np.any(delay != delay[0]):
            notes.append(f"{fld}: a convolution with several delays keeps explicit synapses")
            continue
        w = image.synapses["weight"][sel]
        kernel = np.zeros(int(np.prod(g.kernel_shape)), np.int16)
        kernel[etap[pos]] = w
        if np.any(kernel[etap[pos]] != w):
            notes.append(f"{fld}: its stored weights differ between positions of one kernel tap (stochastic "
                         "rounding?); it keeps explicit synapses")
            continue
        convs.append(ConvMap(k, g, kernel, int(delay[0])))
        remove[sel] = True
    if not convs:
        return image, notes
    keep = ~remove
    n_keep = np.bincount(syn_axon[keep], minlength=A)
    ptr = np.zeros(A + 1, np.int64)
    np.cumsum(n_keep, out=ptr[1:])
    shared = dataclasses.replace(image, synapses={k: v[keep] for k, v in image.synapses.items()},
                                 axons={**image.axons, "syn_ptr": ptr}, convs=convs)
    back = expand(shared)
    for grp in ("synapses", "axons"):
        for name, a in getattr(image, grp).items():
            if not np.array_equal(getattr(back, grp)[name], a):
                raise TargetError(f"internal error: expanding the shared convolutions does not give {grp}.{name} "
                                  "back (please report; compile without conv rules meanwhile)")
    return shared, notes

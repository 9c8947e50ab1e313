"""The image verifier's compiled checks (neuromap/image.py ``_first_bad_route``, ``_first_foreign_synapse``;
neuromap/core_kinds/loihi_lif.py ``_axon_not_routed_once``): one pass each, no per-synapse temporaries, and
the same one-line errors on images corrupted by hand."""
from __future__ import annotations

import numpy as np
import pytest

from neuromap.errors import ImageError
from tests.helpers.images import random_image


def _multi_core(min_axons: int = 2):
    for seed in range(200):
        img = random_image(seed)
        if img.n_cores >= 2 and img.n_axons >= min_axons and img.n_synapses:
            return img
    raise AssertionError("no random image with two cores")


def test_random_images_pass():
    for seed in range(20):
        random_image(seed).verify()


def test_route_to_a_missing_axon():
    img = _multi_core()
    c = int(img.routes["core"][0])
    img.routes["axon"][0] = int(np.diff(img.cores["axon_ptr"])[c])       # one past its core's last axon
    with pytest.raises(ImageError, match="a route names an axon its core does not have"):
        img.verify()


def test_synapse_on_another_core():
    img = _multi_core()
    ap, sp = img.cores["axon_ptr"], img.axons["syn_ptr"]
    c = next(c for c in range(img.n_cores) if ap[c + 1] > ap[c] and sp[ap[c + 1]] > sp[ap[c]])
    other = int(np.flatnonzero(img.neurons["core"] != c)[0])
    img.synapses["post"][sp[ap[c]]] = other
    with pytest.raises(ImageError, match="a synapse targets a neuron on another core than its axon"):
        img.verify()


def test_axon_named_by_two_routes():
    img = _multi_core()
    rc, ra = img.routes["core"], img.routes["axon"]
    g = img.cores["axon_ptr"][rc] + ra
    first, second = int(np.argmin(g)), int(np.argsort(g)[1])
    rc[second], ra[second] = rc[first], ra[first]        # the lowest axon twice, another one never
    with pytest.raises(ImageError, match=rf"axon {int(g[first])} is named by 2 routes"):
        img.verify()

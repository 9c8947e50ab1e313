"""Spike traffic of a run, counted from the image's routing table: spikes per core and messages per mesh
link. Used where a runtime does not count traffic inside its loop (the TrueNorth emulator, the Lava
backend); the Loihi-core engines count the same numbers in their step loop."""
from __future__ import annotations

import numpy as np

from neuromap.image import Image


def traffic(image: Image, events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spikes per core (int64[C]) and messages per link (int64[C+1, C]; row C = the host, i.e. inputs) of
    spike ``events`` (int[E, 2]: step, source id; sources are neurons 0..N-1, then inputs): every spike of a
    source sends one message per entry of its routing-table run ``routes.src_ptr[src] .. src_ptr[src+1]``."""
    N, C = image.n_neurons, image.n_cores
    src = events[:, 1].astype(np.int64) if events.size else np.zeros(0, np.int64)
    home = np.concatenate([image.neurons["core"].astype(np.int64), np.full(image.n_inputs, C, np.int64)])
    core_spikes = np.bincount(home[src[src < N]], minlength=C + 1)[:C].astype(np.int64)
    ptr = image.routes["src_ptr"].astype(np.int64)
    n = ptr[src + 1] - ptr[src]
    entry = np.repeat(ptr[src], n) + (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n))
    link = np.zeros((C + 1, C), np.int64)
    np.add.at(link, (np.repeat(home[src], n), image.routes["core"][entry].astype(np.int64)), 1)
    return core_spikes, link

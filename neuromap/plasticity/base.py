"""The interface every plasticity rule of the float reference simulator implements.

A rule owns the learning state of one projection (traces, rate estimates,
receptor pools ...) and updates that projection's weights in place.

Step order in :func:`neuromap.simulate` at step ``t`` (time ``t*dt`` ms):
  1. spikes arriving at synapses this step (emitted ``delay`` steps earlier)
     are delivered to the post neurons using the current weights;
  2. neurons integrate and emit spikes;
  3. every rule's :meth:`PlasticityRule.step` runs with this step's arrivals
     and post spikes; weight changes take effect from step ``t+1``.

State a rule may read (names in ``needs_post_state`` / ``needs_pre_state``):
the model's state variables (``v``, ``u``, ``g_ampa`` ...) plus ``last_spike``
(int64, step of the neuron's last spike, ``NEVER`` = -10**9 before the first;
includes spikes of step ``t``) and ``spiked`` (bool, spiked at step ``t``).
Post state is passed to :meth:`PlasticityRule.step`; pre state is set once as
the attribute ``self.pre_state`` (dict of live arrays, updated in place every
step) before the first step. Both are read-only for the rule.
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from neuromap.params import Param


class PlasticityRule:
    """Base class; subclasses set ``name``, ``PARAMS`` and implement :meth:`step`."""

    name: ClassVar[str] = ""
    PARAMS: ClassVar[dict[str, Param]] = {}
    #: post-population state variables the rule reads (e.g. ("v",)); the simulator passes them.
    needs_post_state: ClassVar[tuple[str, ...]] = ()
    #: pre-population state variables the rule reads; the simulator sets ``self.pre_state``.
    needs_pre_state: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: dict[str, Any], pre_idx: np.ndarray, post_idx: np.ndarray,
                 n_pre: int, n_post: int, dt: float):
        """``params``: validated against ``PARAMS``. Index arrays as in ``Projection``. ``dt`` in ms."""
        self.params = params
        self.pre_idx, self.post_idx = pre_idx, post_idx
        self.n_pre, self.n_post, self.dt = n_pre, n_post, dt
        self.pre_state: dict[str, np.ndarray] = {}

    def step(self, w: np.ndarray, pre_arrived: np.ndarray, post_spiked: np.ndarray,
             post_state: dict[str, np.ndarray]) -> None:
        """Advance the rule by one step of ``dt`` ms and update ``w`` in place.

        w: float64[n_synapses]. pre_arrived: bool[n_synapses], a presynaptic spike
        reached this synapse this step. post_spiked: bool[n_post], the post neuron
        spiked this step. post_state: the arrays named in ``needs_post_state``.
        """
        raise NotImplementedError

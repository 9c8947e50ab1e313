"""Learning engine ``loihi``: Lava 0.10.0's 2-factor learning engine (``LearningDense``/``LearningSparse``).

Image dict: ``{"engine": "loihi", **LearningConfig.to_dict()}`` (:class:`neuromap.learning_rules.LearningConfig`:
product series dw/dd/dt, trace impulses and time constants, t_epoch, seeds, sign_mode, num_weight_bits;
docs/learning.md); arrays: optional ``tag_1``, ``tag_2`` (int, one per synapse, image order; default 0).
The state and Lava's random streams live in :mod:`neuromap.learning_engines.loihi_step`, the arithmetic in
:mod:`neuromap.learning_engines.loihi_numba` (its one implementation, bit-identical to Lava); every stored
synapse of the projection learns (CSR semantics). The compiler writes this dict for pair ``stdp``
(:func:`neuromap.compiler.quantize_learning._stdp_loihi`: Lava rule strings, not plain coefficients), so
this engine has no ``quantize``.

Lava ordering (what a ``LearningDense`` at time step t sees: pre spikes sent at t, the post neuron's spikes
sent at t as back-propagating action potentials, learning epochs) is handled in :func:`step`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from neuromap.errors import ImageError, NetworkFormatError
from neuromap.learning_engines.loihi_step import learning_step, make_state as make_learning_state
from neuromap.learning_rules import LearningConfig

ENGINE = "loihi"
#: the post membrane v is not read
READS_V = False
#: per-synapse tags an image may give (8 b + sign each)
TAGS = ("tag_1", "tag_2")


@dataclass(frozen=True)
class Schema:
    """The typed image configuration: the parsed :class:`LearningConfig`."""

    ENGINE: ClassVar[str] = ENGINE
    ARRAYS: ClassVar[dict[str, str]] = {"tag_1": "int[S]: initial tag t per synapse (optional, default 0)",
                                        "tag_2": "int[S]: initial delay tag d per synapse (optional, default 0)"}
    config: LearningConfig

    @classmethod
    def from_dict(cls, d, where: str = "image learning", fill_defaults: bool = False) -> "Schema":
        if isinstance(d, cls):
            return d
        if not isinstance(d, dict):
            raise ImageError(f"{where}: learning must be a dict naming its engine")
        te = d.get("t_epoch")
        if isinstance(te, bool) or not isinstance(te, int) or not 1 <= te <= 63:
            raise ImageError(f"{where}: learning t_epoch {te!r} is outside [1, 63] (6-bit epoch time)")
        if not any(isinstance(d.get(k), list) and d[k] for k in ("dw", "dd", "dt")):
            raise ImageError(f"{where}: loihi learning has no dw, dd or dt product list")
        try:
            return cls(LearningConfig.from_dict({k: v for k, v in d.items() if k != "engine"}))
        except NetworkFormatError as e:
            raise ImageError(f"{where}: image learning configuration: {e} (recompile the network)") from None

    def to_dict(self) -> dict:
        return {"engine": ENGINE, **self.config.to_dict()}

    def check_projection(self, sign_mode: str, num_weight_bits: int, where: str) -> None:
        """The rule's sign_mode and num_weight_bits are the projection's."""
        for key, have in (("sign_mode", sign_mode), ("num_weight_bits", num_weight_bits)):
            mine = getattr(self.config, key)
            if mine != have:
                raise ImageError(f"{where}: learning {key} {mine!r} differs from the projection's {have!r} "
                                 "(recompile)")

    def check_arrays(self, arrays: dict, n_syn: int, where: str) -> None:
        for name, a in arrays.items():
            if name not in TAGS or a.shape != (n_syn,):
                raise ImageError(f"{where}: loihi learning array {name!r} {a.shape} is not a per-synapse tag "
                                 f"(tag_1 or tag_2 of shape ({n_syn},))")


@dataclass
class State:
    """One projection: the parsed config, the :class:`~neuromap.learning_engines.loihi_step.LearningState`
    over a CSR-by-post view of the synapses, the permutation image order -> CSR order, the CSR weight copy
    (int32; the engine owns the weights, so they are gathered once and scattered after every epoch)."""

    cfg: LearningConfig
    ls: object
    order: np.ndarray
    w_csr: np.ndarray
    started: bool = False      # w_csr holds the weights (gathered at the first epoch end, then kept)


def make_state(learning, arrays, n_pre, n_post, pre_idx, post_idx) -> State:
    """State of one projection (``learning``: its :class:`Schema` or image dict)."""
    cfg = Schema.from_dict(learning, "loihi learning").config
    pre_idx = np.asarray(pre_idx, np.int64)
    post_idx = np.asarray(post_idx, np.int64)
    order = np.lexsort((pre_idx, post_idx))
    indptr = np.zeros(n_post + 1, np.int64)
    np.cumsum(np.bincount(post_idx, minlength=n_post), out=indptr[1:])
    tags = {}
    for name in TAGS:
        a = arrays.get(name)
        if a is not None:
            if np.shape(a) != pre_idx.shape:
                raise ImageError(f"image learning array {name} has shape {np.shape(a)}, expected "
                                 f"{pre_idx.shape} (one per synapse; recompile)")
            tags[name] = np.asarray(a, np.int64)[order]
    unknown = sorted(set(arrays) - set(TAGS))
    if unknown:
        raise ImageError(f"image learning array {unknown[0]!r} is unknown to the loihi engine "
                         "(it has tag_1, tag_2; recompile)")
    ls = make_learning_state(cfg, n_pre, n_post, indptr=indptr, indices=pre_idx[order], **tags)
    return State(cfg, ls, order, np.zeros(order.size, np.int32))



def step(learning, state: State, weights, pre_spikes, post_spikes, t, post_v=None) -> None:
    """Lava's LearningDense at time step t gets the pre spikes and the post neurons' spikes of the same step
    (both ``send`` before the connection's ``recv`` in ``LoihiProtocol``), and learns at the end of the step
    when ``t % t_epoch == 0``; weights change only then. ``learning`` is ignored (the state holds it)."""
    learn = t % state.cfg.t_epoch == 0
    if learn and not state.started:     # only this engine changes the weights: gather once
        state.w_csr[:] = weights[state.order]
        state.started = True
    learning_step(state.cfg, state.ls, state.w_csr, pre_spikes, post_spikes, t)
    if learn:
        weights[state.order] = state.w_csr

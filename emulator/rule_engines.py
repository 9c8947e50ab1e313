"""Learning engines the plastic emulator loop (:mod:`emulator.plastic`) can run, by image engine name.

A plastic projection of an image carries ``ProjectionMap.learning`` (a JSON-ready dict whose key
``"engine"`` names an entry of :data:`RULE_ENGINES`) and ``ProjectionMap.learning_arrays``
(per-synapse or per-neuron initial state, e.g. tags). An engine is any object (module or instance)
with two functions; the interface is stable:

``make_state(learning, arrays, n_pre, n_post, pre_idx, post_idx) -> state``
    ``learning``: the image dict (engine name included); ``arrays``: ``learning_arrays`` (name ->
    numpy array); ``n_pre``/``n_post``: sizes of the pre and post populations; ``pre_idx``,
    ``post_idx``: int64[S], population-local pre and post index of each synapse of the projection,
    in image synapse order (the order of ``weights`` below). Returns any object; raises
    :class:`~neuromap.errors.ImageError` (one line) for a configuration it cannot run.

``step(learning, state, weights, pre_spikes, post_spikes, t, post_v) -> None``
    Called once per emulator step, after the step's neuron update and spike delivery.
    ``weights``: int32[S] stored weights of the projection (8 b + sign), updated in place; the loop
    writes them back into synaptic delivery (shifted by the projection's ``weight_exp``) for the
    next step. ``pre_spikes``: bool[n_pre], ``post_spikes``: bool[n_post], spikes of this step
    (pre = sources of the pre population, neurons or inputs); ``t``: 1-based step (emulator step
    + 1, = Lava's time step); ``post_v``: int64[n_post] membrane v of the post neurons after this
    step (after reset), for voltage-based extensions.

Optional hook ``use_engine(state, engine)``: told which emulator engine (``numpy``/``numba``) runs,
so an engine with two implementations can follow (results must be identical integers).

Lava ordering (what a Lava ``LearningDense`` at time step t sees: pre spikes sent at t, the post
neuron's spikes sent at t as back-propagating action potentials, learning epochs) is handled
inside the ``loihi`` engine (:class:`LoihiEngine`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuromap.errors import ImageError, NetworkFormatError


@dataclass
class LoihiState:
    """State of one projection under the Loihi 2-factor engine: the parsed config, the
    :class:`emulator.learning.LearningState` over a CSR-by-post view of the synapses, the
    permutation image order -> CSR order, the CSR weight copy (int32; the engine owns the
    weights, so they are gathered once and scattered after every epoch) and the emulator engine."""

    cfg: object
    ls: object
    order: np.ndarray
    w_csr: np.ndarray
    engine: str = "numba"
    started: bool = False      # w_csr holds the weights (gathered at the first epoch end, then kept)


class LoihiEngine:
    """Loihi 2-factor learning bit-identical to Lava 0.10.0 ``LearningDense``/``LearningSparse``
    (``emulator.learning``); every stored synapse of the projection learns (CSR semantics).

    Image dict: ``{"engine": "loihi", **LearningConfig.to_dict()}``; arrays: optional ``tag_1``,
    ``tag_2`` (int, one per synapse, image order; default 0)."""

    @staticmethod
    def config(learning: dict):
        from neuromap.learning_rules import LearningConfig
        d = {k: v for k, v in learning.items() if k != "engine"}
        try:
            return LearningConfig.from_dict(d)
        except NetworkFormatError as e:
            raise ImageError(f"image learning configuration: {e} (recompile the network)") from None

    def make_state(self, learning, arrays, n_pre, n_post, pre_idx, post_idx) -> LoihiState:
        from emulator.learning import make_state
        cfg = self.config(learning)
        pre_idx = np.asarray(pre_idx, np.int64)
        post_idx = np.asarray(post_idx, np.int64)
        order = np.lexsort((pre_idx, post_idx))
        indptr = np.zeros(n_post + 1, np.int64)
        np.cumsum(np.bincount(post_idx, minlength=n_post), out=indptr[1:])
        tags = {}
        for name in ("tag_1", "tag_2"):
            a = arrays.get(name)
            if a is not None:
                if np.shape(a) != pre_idx.shape:
                    raise ImageError(f"image learning array {name} has shape {np.shape(a)}, expected "
                                     f"{pre_idx.shape} (one per synapse; recompile)")
                tags[name] = np.asarray(a, np.int64)[order]
        unknown = sorted(set(arrays) - {"tag_1", "tag_2"})
        if unknown:
            raise ImageError(f"image learning array {unknown[0]!r} is unknown to the loihi engine "
                             "(it has tag_1, tag_2; recompile)")
        ls = make_state(cfg, n_pre, n_post, indptr=indptr, indices=pre_idx[order], **tags)
        return LoihiState(cfg, ls, order, np.zeros(order.size, np.int32))

    @staticmethod
    def use_engine(state: LoihiState, engine: str) -> None:
        state.engine = engine

    @staticmethod
    def step(learning, state: LoihiState, weights, pre_spikes, post_spikes, t, post_v) -> None:
        """Lava's LearningDense at time step t gets the pre spikes and the post neurons' spikes of
        the same step (both ``send`` before the connection's ``recv`` in ``LoihiProtocol``), and
        learns at the end of the step when ``t % t_epoch == 0``; weights change only then."""
        from emulator.learning import learning_step
        learn = t % state.cfg.t_epoch == 0
        if learn and not state.started:     # only this engine changes the weights: gather once
            state.w_csr[:] = weights[state.order]
            state.started = True
        learning_step(state.cfg, state.ls, state.w_csr, pre_spikes, post_spikes, t, engine=state.engine)
        if learn:
            weights[state.order] = state.w_csr


#: image engine name -> engine (see the module docstring for the interface)
RULE_ENGINES: dict[str, object] = {
    "loihi": LoihiEngine(),
}
# integer seed rules (emulator/seed_rules, compiled by neuromap/compiler/quantize_learning.py)
from emulator.seed_rules import SEED_ENGINES  # noqa: E402
RULE_ENGINES.update(SEED_ENGINES)
from emulator.seed_rules import clopath as _clopath; RULE_ENGINES["clopath"] = _clopath  # noqa: E402,E702


def rule_engine(learning: dict, where: str):
    """The engine of an image learning dict; unknown engine -> one-line ImageError naming ``where``."""
    name = learning.get("engine") if isinstance(learning, dict) else None
    if name not in RULE_ENGINES:
        raise ImageError(f"{where}: learning engine {name!r} is unknown to this emulator "
                         f"(known: {', '.join(RULE_ENGINES)}; recompile)")
    return RULE_ENGINES[name]

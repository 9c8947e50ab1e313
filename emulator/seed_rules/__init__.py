"""Integer versions of the seed learning rules: neuromap extensions of the Loihi learning engine.

One module per rule (``pool_stdp``, ``homeostatic_stdp``, ``vogels_isp``), each with
``make_state(learning, arrays, n_pre, n_post, pre_idx, post_idx)`` and
``step(learning, state, weights, pre_spikes, post_spikes, t, post_v)``; shared fixed-point
helpers in :mod:`emulator.seed_rules.fixed`. ``learning`` is the JSON-able dict the compiler
stores in ``ProjectionMap.learning`` (:mod:`neuromap.compiler.quantize_learning`); ``arrays``
its tables (``ProjectionMap.learning_arrays``). Semantics and widths: the module
docstrings and docs/quantization.md ("Plastic projections").

``pre_spikes`` are the pre neurons' spikes *emitted* at step t (Lava's ``s_in``); each engine
delays them by ``learning["delay"]`` steps to when they reach the synapses, as the float rules
see them. ``post_spikes`` are the post neurons' spikes of step t. Weights are the projection's
int32 mantissas, one per synapse in the order of ``pre_idx``/``post_idx``, updated in place.
"""
from emulator.seed_rules import homeostatic_stdp, pool_stdp, vogels_isp

#: engine name (``learning["engine"]``) -> module
SEED_ENGINES = {"pool_stdp": pool_stdp, "homeostatic_stdp": homeostatic_stdp, "vogels_isp": vogels_isp}

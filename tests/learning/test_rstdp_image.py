"""Three-factor learning in images: rule ``rstdp_loihi`` compiles to engine ``loihi3f`` with the host-written third
factor; numpy and numba give the same spikes, v and weights; the image round-trips; weights change only while the
reward is written; bad configurations are one-line errors."""
import numpy as np
import pytest

from backends.lava.compat import lava_available
from emulator import emulate
from examples.rstdp import build
from neuromap.errors import ImageError
from neuromap.image import load_image
from neuromap.learning_engines import loihi3f
from neuromap.toolchain import compile_network


@pytest.fixture(scope="module")
def image():
    return compile_network(build(), "loihi").image


def test_numpy_equals_numba_and_round_trip(image, tmp_path):
    pm = image.projections[0]
    assert pm.learning["engine"] == "loihi3f" and pm.learning_arrays["third_factor_post"].min() == -1
    a = emulate(image, 700, "numpy", weight_every=50)
    b = emulate(load_image(image.save(tmp_path / "img")), 700, "numba", weight_every=50)
    assert np.array_equal(a.spikes, b.spikes) and np.array_equal(a.v, b.v)
    assert np.array_equal(a.weights[0], b.weights[0])


def test_weights_change_only_with_reward(image):
    run = emulate(image, 700, "numba", weight_every=1)
    w = run.weights[0].astype(np.int64)
    changed = np.flatnonzero(np.any(w[1:] != w[:-1], axis=1)) + 1          # emulator steps with a change
    reward = set(range(200, 300)) | set(range(600, 700))
    assert changed.size > 20 and set(changed.tolist()) <= reward


def test_no_reward_no_learning():
    img = compile_network(build(reward=0), "loihi").image
    run = emulate(img, 400, "numba", weight_every=400)
    assert np.array_equal(run.weights[0][-1], img.synapses["weight"].astype(np.int16))


def test_schema_errors(image):
    d = dict(image.projections[0].learning)
    with pytest.raises(ImageError, match="y1_impulse/y1_tau"):
        loihi3f.Schema.from_dict({**d, "y1_tau": 10.0}, "p")
    with pytest.raises(ImageError, match="post_tau"):
        loihi3f.Schema.from_dict({**d, "post_tau": 0}, "p")
    sch = loihi3f.Schema.from_dict(d, "p")
    ev = {"third_factor_step": np.array([0]), "third_factor_post": np.array([0]), "third_factor_value": np.array([1])}
    with pytest.raises(ImageError, match="out of range"):
        sch.check_arrays(ev, 1, "p")
    with pytest.raises(ImageError, match="all of"):
        sch.check_arrays({"third_factor_step": np.array([1])}, 1, "p")


def test_third_factor_schedule():
    tf = loihi3f.ThirdFactor.from_arrays({"third_factor_step": np.array([3, 2, 3]),
                                          "third_factor_post": np.array([-1, 1, 0]),
                                          "third_factor_value": np.array([5, 7, -9])})
    out = np.zeros(3, np.int64)
    got = []
    for t in range(1, 5):
        tf.write(t, out)
        got.append(out.tolist())
    assert got == [[0, 0, 0], [0, 7, 0], [-9, 5, 5], [0, 0, 0]]


@pytest.mark.lava
@pytest.mark.skipif(not lava_available(), reason="lava-nc not installed")
def test_validate_runs_lavas_learning_dense_and_third_factor_lif(tmp_path, capsys):
    """``neuromap validate``: Lava's LearningDense with the Loihi3FLearningRule, the ThirdFactorLIF post neuron and
    the third factor from a RingBuffer; spikes every step and weights identical to the emulator's."""
    from backends.lava.plan import plan_image
    from neuromap.cli import main
    img = compile_network(build(start=20), "loihi").image
    (c,) = [c for c in plan_image(img).connections if c.learning]
    assert c.third_factor and not c.seed_rule and c.dense
    img.save(tmp_path / "b")
    with pytest.raises(SystemExit) as e:
        main(["validate", str(tmp_path / "b"), "--steps", "70", "--weight-every", "5", "--quiet"])
    out = capsys.readouterr().out.strip()
    assert e.value.code == 0, out
    assert out.splitlines()[0].startswith("identical: 70 steps, ")
    run = emulate(img, 70, "numba", weight_every=70)
    assert not np.array_equal(run.weights[0][-1], img.synapses["weight"].astype(np.int16))   # it learned

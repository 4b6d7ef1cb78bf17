"""The 2025 course's ``save(fname)`` / ``load(fname)`` on the course models (and swiftnn's, the
same classes): the file lives in ``cs231n/saved/`` under the working directory, is the
course's format (``np.save`` of the params dict), prints the course's lines and returns its
values; a file the course's own code writes loads into ours and the other way round. The
course's code is written out here (``course_save`` / ``course_load``) as the 2025
``fc_net.py`` has it, with its folder being the assignment's ``cs231n/saved/``.
"""
import os

import numpy as np
import pytest

import reference as ref
from cs231n.classifiers import fc_net
from swiftnn.models import FullyConnectedNet, NeuralNetTwoLayerNet, TwoLayerNet


def course_save(folder, params, fname):
    """The course's TwoLayerNet.save / FullyConnectedNet.save, its folder given."""
    np.save(os.path.join(folder, fname), params)


def course_load(folder, fname):
    """What the course's load puts in self.params."""
    return np.load(os.path.join(folder, fname), allow_pickle=True).item()


def models():
    np.random.seed(0)
    return [TwoLayerNet(input_dim=6, hidden_dim=5, num_classes=3, weight_scale=0.1),
            FullyConnectedNet([5, 4], input_dim=6, num_classes=3, dtype=np.float64, weight_scale=0.1),
            FullyConnectedNet([5], input_dim=6, num_classes=3, normalization="batchnorm", weight_scale=0.1)]


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_course_classes_have_save_and_load():
    assert fc_net.TwoLayerNet is TwoLayerNet and fc_net.FullyConnectedNet is FullyConnectedNet
    for cls in (TwoLayerNet, FullyConnectedNet, NeuralNetTwoLayerNet):
        assert callable(cls.save) and callable(cls.load)


@pytest.mark.parametrize("index", range(3))
def test_save_writes_the_course_file_under_the_working_directory(folder, capsys, index):
    model = models()[index]
    assert not (folder / "cs231n").exists()
    assert model.save("best_two_layer_net.npy") is None
    assert capsys.readouterr().out == "best_two_layer_net.npy saved.\n"
    path = folder / "cs231n" / "saved" / "best_two_layer_net.npy"
    assert path.is_file()
    stored = course_load(folder / "cs231n" / "saved", "best_two_layer_net.npy")
    assert sorted(stored) == sorted(model.params)
    for name, value in model.params.items():
        assert stored[name].dtype == value.dtype
        np.testing.assert_array_equal(stored[name], value)


def test_save_into_an_existing_folder_keeps_its_other_files(folder):
    saved = folder / "cs231n" / "saved"
    saved.mkdir(parents=True)
    (saved / "other.npy").write_bytes(b"x")
    models()[0].save("net.npy")
    assert sorted(p.name for p in saved.iterdir()) == ["net.npy", "other.npy"]


@pytest.mark.parametrize("index", range(3))
def test_a_file_written_by_the_course_loads_into_ours(folder, capsys, index):
    model, other = models()[index], models()[index]
    rng = np.random.default_rng(index)
    params = {k: rng.standard_normal(v.shape).astype(v.dtype) for k, v in other.params.items()}
    saved = folder / "cs231n" / "saved"
    saved.mkdir(parents=True)
    course_save(saved, params, "from_course.npy")
    assert model.load("from_course.npy") is True
    assert capsys.readouterr().out == "from_course.npy loaded.\n"
    for name in params:
        np.testing.assert_array_equal(model.params[name], params[name])
    # and the loaded weights are the ones the network computes with
    X = rng.standard_normal((4, 6))
    scores = model.loss(X)
    norm = getattr(model, "normalization", None)
    if norm is None:
        expected = ref.fc_net({k: v.astype(np.float64) for k, v in params.items()}, X,
                              num_layers=len(model._dims) - 1)
        np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)


def test_save_then_load_round_trips_and_the_model_computes_the_same(folder):
    model, fresh = models()[1], models()[1]
    fresh.params = {k: np.zeros_like(v) for k, v in fresh.params.items()}
    model.save("round.npy")
    assert fresh.load("round.npy")
    X = np.random.default_rng(3).standard_normal((3, 6))
    np.testing.assert_array_equal(fresh.loss(X), model.loss(X))


def test_load_of_a_missing_file_prints_and_returns_false(folder, capsys):
    model = models()[0]
    before = model.params
    assert model.load("nothing.npy") is False
    assert capsys.readouterr().out == "nothing.npy not available.\n"
    assert model.params is before


def test_np_save_adds_npy_as_in_the_course(folder, capsys):
    model = models()[0]
    model.save("plain")
    assert (folder / "cs231n" / "saved" / "plain.npy").is_file()
    capsys.readouterr()
    assert model.load("plain") is False          # the course looks for the name as given
    assert model.load("plain.npy") is True


def bad_files(model):
    p = model.params
    wrong_shape = dict(p, W1=np.zeros((7, 5)))
    return {
        "array.npy": (np.zeros(3), "not a params dict"),
        "names.npy": ({k: v for k, v in p.items() if k != "b2"}, "missing b2"),
        "extra.npy": (dict(p, W9=np.zeros(2)), "unexpected W9"),
        "shape.npy": (wrong_shape, "params['W1'] has shape (7, 5), this model's has (6, 5)"),
        "value.npy": (dict(p, b1="zeros"), "params['b1'] is str"),
        "list.npy": ([p], "holds a list"),
    }


@pytest.mark.parametrize("fname", ["array.npy", "names.npy", "extra.npy", "shape.npy", "value.npy",
                                   "list.npy", "garbage.npy", "empty.npy"])
def test_load_of_a_bad_file_names_the_file_and_the_mismatch_and_keeps_the_model(folder, capsys, fname):
    model = models()[0]
    saved = folder / "cs231n" / "saved"
    saved.mkdir(parents=True)
    bad = bad_files(model)
    if fname == "garbage.npy":
        (saved / fname).write_bytes(b"not numpy at all")
        expected = "not a saved params file"
    elif fname == "empty.npy":
        (saved / fname).write_bytes(b"")
        expected = "not a saved params file"
    else:
        content, expected = bad[fname]
        np.save(saved / fname, content if not isinstance(content, list) else np.array(content, dtype=object),
                allow_pickle=True)
        if fname == "list.npy":
            expected = "not a params dict"
    before = model.params
    copies = {k: v.copy() for k, v in before.items()}
    with pytest.raises(ValueError) as err:
        model.load(fname)
    assert fname in str(err.value) and expected in str(err.value)
    assert model.params is before and sorted(before) == sorted(copies)
    for k in copies:
        np.testing.assert_array_equal(before[k], copies[k])
    assert capsys.readouterr().out == ""

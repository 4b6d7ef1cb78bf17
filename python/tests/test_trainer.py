"""The native trainer against the course Solver on the same minibatches, its determinism,
schedules, early stopping, and misuse of its handle."""
import ctypes

import numpy as np
import pytest

import swiftnn
from swiftnn import Trainer, _native
from swiftnn.models import FullyConnectedNet, TwoLayerNet
from swiftnn.solver import DivergenceError, Solver

from reference import splitmix64, splitmix64_scalar


def blobs(n=300, d=20, c=5, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((c, d)) * 2
    y = rng.integers(0, c, n)
    X = centers[y] + rng.standard_normal((n, d))
    return {"X_train": X[: n - 60], "y_train": y[: n - 60], "X_val": X[n - 60:], "y_val": y[n - 60:]}


def trainer_rows(seed, step, batch, n):
    """The documented minibatch of a step: floor(u * n / 2**64) for the SplitMix64 stream."""
    stream = splitmix64_scalar(seed, 0)
    u = splitmix64(stream, (step + 1) * batch)[step * batch:]
    return np.array([(int(v) * n) >> 64 for v in u])


def make_model(dtype=np.float64, normalization="batchnorm", keep=0.7, seed=3):
    np.random.seed(seed)
    return FullyConnectedNet([16, 12], input_dim=20, num_classes=5, normalization=normalization,
                             dropout_keep_ratio=keep, reg=0.01, weight_scale=0.1, dtype=dtype, seed=0)


@pytest.mark.parametrize("normalization", [None, "batchnorm", "layernorm"])
@pytest.mark.parametrize("rule", ["sgd", "sgd_momentum", "adam", "rmsprop"])  # sgd: fused into backward
def test_native_trainer_matches_the_course_solver_on_the_same_minibatches(monkeypatch, normalization, rule):
    data = blobs()
    seed, batch, epochs = 11, 24, 3
    config = {"learning_rate": 1e-2}
    native_model = make_model(normalization=normalization)
    solver_model = make_model(normalization=normalization)
    for name in native_model.params:
        np.testing.assert_array_equal(native_model.params[name], solver_model.params[name])

    trainer = Trainer(native_model, data, update_rule=rule, optim_config=dict(config), lr_decay=0.9,
                      batch_size=batch, num_epochs=epochs, seed=seed, num_train_samples=10**6,
                      progress=False, verbose=False)
    trainer.train()

    # Drive the course Solver with the trainer's documented minibatch and dropout sequences.
    n = len(data["X_train"])
    dropout_stream = splitmix64_scalar(seed, 1)
    step = {"k": 0}

    def choice(num, size):
        assert (num, size) == (n, batch)
        k = step["k"]
        solver_model.dropout_param["seed"] = splitmix64_scalar(dropout_stream, k)
        step["k"] += 1
        return trainer_rows(seed, k, batch, n)

    monkeypatch.setattr(np.random, "choice", choice)
    solver = Solver(solver_model, data, update_rule=rule, optim_config=dict(config), lr_decay=0.9,
                    batch_size=batch, num_epochs=epochs, num_train_samples=10**6, verbose=False)
    solver.train()

    np.testing.assert_allclose(trainer.loss_history, solver.loss_history, rtol=1e-10, atol=0)
    assert trainer.val_acc_history == solver.val_acc_history
    for name in solver_model.params:
        np.testing.assert_allclose(trainer.best_params[name], solver.best_params[name], rtol=1e-9, atol=1e-12,
                                   err_msg=name)


def test_same_seed_gives_bit_identical_histories():
    runs = []
    for _ in range(2):
        model = make_model(dtype=np.float32)
        t = Trainer(model, blobs(), update_rule="adam", batch_size=32, num_epochs=3, seed=5, progress=False,
                    verbose=False).train()
        runs.append((t.loss_history, t.train_acc_history, t.val_acc_history,
                     {k: v.copy() for k, v in model.params.items()}))
    assert runs[0][:3] == runs[1][:3]
    for name in runs[0][3]:
        assert np.array_equal(runs[0][3][name], runs[1][3][name])
    model = make_model(dtype=np.float32)
    other = Trainer(model, blobs(), update_rule="adam", batch_size=32, num_epochs=3, seed=6, progress=False,
                    verbose=False).train()
    assert other.loss_history != runs[0][0]


def test_model_params_are_views_and_end_as_the_best_parameters():
    model = make_model()
    t = Trainer(model, blobs(), update_rule="adam", batch_size=32, num_epochs=4, progress=False, verbose=False)
    t.train()
    assert t.best_val_acc == max(t.val_acc_history)
    for name, value in t.best_params.items():
        np.testing.assert_array_equal(model.params[name], value)
    # The restored model scores the validation set as well as the best check did.
    data = blobs()
    assert t.check_accuracy(data["X_val"], data["y_val"]) == pytest.approx(t.best_val_acc)


def test_training_learns_the_blobs():
    model = make_model(normalization=None, keep=1.0)
    t = Trainer(model, blobs(), update_rule="adam", optim_config={"learning_rate": 1e-2}, batch_size=32,
                num_epochs=8, progress=False, verbose=False).train()
    assert t.best_val_acc > 0.9


def lr_at(trainer):
    it, ep, lr = ctypes.c_int64(), ctypes.c_int64(), ctypes.c_double()
    assert _native.lib.snn_trainer_state(trainer._handle, ctypes.byref(it), ctypes.byref(ep), ctypes.byref(lr)) == 0
    return it.value, ep.value, lr.value


def test_step_decay_multiplies_the_rate_once_per_epoch():
    t = Trainer(make_model(), blobs(), update_rule="sgd", optim_config={"learning_rate": 0.1}, lr_decay=0.5,
                batch_size=40, num_epochs=3, progress=False, verbose=False).train()
    it, ep, lr = lr_at(t)
    assert (it, ep) == (18, 3) and lr == pytest.approx(0.1 * 0.5 ** 3)


def test_cosine_schedule_with_warmup_follows_the_documented_formula():
    t = Trainer(make_model(), blobs(), update_rule="sgd", optim_config={"learning_rate": 0.1},
                lr_schedule="cosine", warmup_iters=4, batch_size=40, num_epochs=2, steps_per_call=1,
                progress=False, verbose=False)
    t._configure(12)
    seen = []
    losses, done, ended = np.empty(1), ctypes.c_int64(), ctypes.c_int32()
    for _ in range(12):
        seen.append(lr_at(t)[2])
        assert _native.lib.snn_trainer_run(t._handle, 1, losses.ctypes.data, ctypes.byref(done),
                                           ctypes.byref(ended)) == 0
    expected = [0.1 * (k + 1) / 4 for k in range(4)] + \
        [0.1 * 0.5 * (1 + np.cos(np.pi * (k - 4) / 8)) for k in range(4, 12)]
    np.testing.assert_allclose(seen, expected, rtol=1e-12)


def test_early_stopping_stops_when_validation_accuracy_stalls(capsys):
    # With a zero learning rate and no running statistics, nothing can improve.
    t = Trainer(make_model(normalization=None, keep=1.0), blobs(), update_rule="sgd",
                optim_config={"learning_rate": 0.0}, batch_size=40, num_epochs=10, early_stopping_patience=2,
                progress=False, verbose=True).train()
    assert t.stopped_early
    assert len(t.val_acc_history) == 3  # the first check, then two without improvement
    assert "Stopping early" in capsys.readouterr().out


def test_divergence_raises_with_the_iteration_and_keeps_parameters_finite():
    model = make_model(normalization=None, keep=1.0)
    t = Trainer(model, blobs(), update_rule="sgd", optim_config={"learning_rate": 1e12}, batch_size=40,
                num_epochs=5, progress=False, verbose=False)
    with pytest.raises(DivergenceError, match=r"iteration \d+"):
        t.train()


def test_bad_arguments_are_refused_with_clear_messages():
    data = blobs()
    with pytest.raises(ValueError, match="Unrecognized"):
        Trainer(make_model(), data, bogus=1)
    with pytest.raises(ValueError, match="update_rule"):
        Trainer(make_model(), data, update_rule="lbfgs")
    bad = dict(data, X_train=np.zeros((10, 7)))
    with pytest.raises(ValueError, match="input_dim"):
        Trainer(make_model(), bad)
    with pytest.raises(ValueError, match="y"):
        Trainer(make_model(), dict(data, y_val=np.full(60, 9)), progress=False).train()
    with pytest.raises(TypeError):
        Trainer(object(), data)


def test_handle_misuse_returns_errors_not_crashes():
    lib = _native.lib
    t = Trainer(make_model(), blobs(), progress=False, verbose=False)
    handle = t._handle
    assert lib.snn_trainer_destroy(handle) == 0
    t._handle = None
    assert lib.snn_trainer_destroy(handle) == -7
    assert "not a live handle" in lib.snn_last_error().decode()
    losses, done, ended = np.empty(4), ctypes.c_int64(), ctypes.c_int32()
    assert lib.snn_trainer_run(handle, 4, losses.ctypes.data, ctypes.byref(done), ctypes.byref(ended)) == -7
    assert lib.snn_trainer_destroy(None) == 0
    foreign = ctypes.c_void_p(losses.ctypes.data)
    assert lib.snn_trainer_evaluate(foreign, None, None, None, None) == -7
    # A network plan is not a trainer.
    model = make_model()
    model.loss(blobs()["X_train"][:4], np.zeros(4, dtype=np.int64))
    assert lib.snn_trainer_run(model._plan, 4, losses.ctypes.data, ctypes.byref(done), ctypes.byref(ended)) == -7


def test_two_layer_net_and_package_level_solver_alias():
    np.random.seed(0)
    model = TwoLayerNet(input_dim=20, hidden_dim=30, num_classes=5, weight_scale=0.1)
    t = swiftnn.Solver(model, blobs(), update_rule="adam", optim_config={"learning_rate": 1e-2}, batch_size=32,
                       num_epochs=5, progress=False, verbose=False).train()
    assert t.best_val_acc > 0.9


def test_ctrl_c_stops_after_the_current_chunk_and_keeps_the_best_parameters(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "long_run.py"
    script.write_text(
        "import sys, numpy as np\n"
        "from swiftnn import Trainer\n"
        "from swiftnn.models import FullyConnectedNet\n"
        "rng = np.random.default_rng(0)\n"
        "X = rng.standard_normal((2000, 50)); y = rng.integers(0, 5, 2000)\n"
        "data = {'X_train': X, 'y_train': y, 'X_val': X[:100], 'y_val': y[:100]}\n"
        "model = FullyConnectedNet([64, 64], input_dim=50, num_classes=5, dtype=np.float64)\n"
        "t = Trainer(model, data, update_rule='adam', batch_size=20, num_epochs=100000, progress=False,\n"
        "            verbose=False, steps_per_call=5)\n"
        "print('started', flush=True)\n"
        "t.train()\n"
        "assert t.interrupted\n"
        "assert all(np.array_equal(model.params[k], v) for k, v in t.best_params.items())\n"
        "print('kept best', len(t.val_acc_history), 'checks', len(t.loss_history), 'steps', flush=True)\n")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=str(tmp_path))
    assert proc.stdout.readline().strip() == "started"
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "kept best" in out, out + err


@pytest.mark.parametrize("rule", ["adam", "sgd_momentum"])
def test_resuming_from_a_saved_state_continues_exactly_as_an_uninterrupted_run(rule):
    data = blobs()
    kwargs = dict(update_rule=rule, optim_config={"learning_rate": 1e-2}, lr_decay=0.8, batch_size=24,
                  num_epochs=6, seed=4, progress=False, verbose=False)
    whole_model = make_model()
    whole = Trainer(whole_model, data, **kwargs).train()

    saved = {}
    first_model = make_model()

    def keep_after_three(trainer):
        if trainer.epoch == 3:
            saved["state"] = trainer.state()
            saved["params"] = {k: v.copy() for k, v in trainer.model.params.items()}
            saved["running"] = [{k: np.array(p[k]) for k in ("running_mean", "running_var")}
                                for p in trainer.model.bn_params]
            raise KeyboardInterrupt  # the user stops the run here

    Trainer(first_model, data, on_epoch=keep_after_three, **kwargs).train()
    resumed_model = make_model()
    resumed_model.params = saved["params"]
    for p, r in zip(resumed_model.bn_params, saved["running"]):
        p.update(r)
    resumed = Trainer(resumed_model, data, **kwargs).train(resume=saved["state"])
    assert resumed.loss_history == whole.loss_history
    assert resumed.val_acc_history == whole.val_acc_history
    for name in whole_model.params:
        np.testing.assert_array_equal(resumed_model.params[name], whole_model.params[name])


def _stop_at(epoch, saved):
    def callback(trainer):
        if trainer.epoch == epoch:
            saved["state"] = trainer.state()
            raise KeyboardInterrupt
    return callback


def test_resuming_late_in_a_step_decay_schedule_is_bit_exact_in_float64():
    # 0.85 ** 6 by pow() and by six multiplications differ in the last bit: the decay must be
    # multiplied up the same way whether the run was interrupted or not.
    data = blobs()
    kwargs = dict(update_rule="adam", optim_config={"learning_rate": 1e-2}, lr_decay=0.85, batch_size=24,
                  num_epochs=9, seed=4, progress=False, verbose=False)
    whole_model = make_model()
    whole = Trainer(whole_model, data, **kwargs).train()
    saved = {}
    Trainer(make_model(), data, on_epoch=_stop_at(6, saved), **kwargs).train()
    factor = 1.0
    for _ in range(6):
        factor *= 0.85
    assert saved["state"]["learning_rate"] == 1e-2 * factor
    # A freshly initialised model: the state alone carries the current parameters and statistics.
    resumed_model = make_model(seed=99)
    resumed = Trainer(resumed_model, data, **kwargs).train(resume=saved["state"])
    assert resumed.loss_history == whole.loss_history
    assert resumed.train_acc_history == whole.train_acc_history
    assert resumed.val_acc_history == whole.val_acc_history
    for name in whole_model.params:
        np.testing.assert_array_equal(resumed_model.params[name], whole_model.params[name], err_msg=name)
    for p, q in zip(resumed_model.bn_params, whole_model.bn_params):
        np.testing.assert_array_equal(p["running_var"], q["running_var"])


def test_a_resumed_run_keeps_counting_checks_without_improvement():
    # Nothing improves with a zero learning rate: patience 3 stops after epoch 3 (the first
    # check, then three without improvement) whether or not the run was resumed at epoch 2.
    data = blobs()
    kwargs = dict(update_rule="sgd", optim_config={"learning_rate": 0.0}, batch_size=40, num_epochs=10,
                  early_stopping_patience=3, progress=False, verbose=False)
    whole = Trainer(make_model(normalization=None, keep=1.0), data, **kwargs).train()
    assert whole.stopped_early and whole.epoch == 3
    saved = {}
    Trainer(make_model(normalization=None, keep=1.0), data, on_epoch=_stop_at(2, saved), **kwargs).train()
    resumed = Trainer(make_model(normalization=None, keep=1.0), data, **kwargs).train(resume=saved["state"])
    assert resumed.stopped_early and resumed.epoch == 3
    assert resumed.val_acc_history == whole.val_acc_history


def test_ctrl_c_during_an_epoch_callback_lets_it_finish_and_leaves_a_consistent_state():
    import os
    import signal
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT is handled by someone else here")
    finished = []

    def callback(trainer):
        if trainer.epoch == 2:
            os.kill(os.getpid(), signal.SIGINT)   # the user presses Ctrl-C while a checkpoint is written
            for _ in range(1000):
                sum(range(100))                   # bytecodes at which a KeyboardInterrupt could land
            finished.append(trainer.epoch)

    t = Trainer(make_model(), blobs(), update_rule="adam", batch_size=24, num_epochs=6, on_epoch=callback,
                progress=False, verbose=False).train()
    assert finished == [2] and t.interrupted and t.epoch == 2
    state = t._final_state
    assert state["iteration"] == len(state["loss_history"]) == 2 * 10 and state["epoch"] == 2
    assert len(state["val_acc_history"]) == 3
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_on_chunk_sees_every_loss_with_its_iteration_and_may_stop_the_run():
    seen = {}

    def record(trainer, first, losses):
        for k, loss in enumerate(losses, first):
            assert k not in seen
            seen[k] = loss

    t = Trainer(make_model(), blobs(), update_rule="adam", batch_size=24, num_epochs=2, steps_per_call=7,
                on_chunk=record, progress=False, verbose=False).train()
    assert sorted(seen) == list(range(1, 21)) and [seen[k] for k in range(1, 21)] == t.loss_history

    class Stop(Exception):
        pass

    def stop_at_12(trainer, first, losses):
        if first + len(losses) > 12:
            raise Stop

    with pytest.raises(Stop):
        Trainer(make_model(), blobs(), update_rule="adam", batch_size=24, num_epochs=2, steps_per_call=7,
                on_chunk=stop_at_12, progress=False, verbose=False).train()


def test_sgd_momentum_with_nesterov_in_optim_config_is_the_nesterov_rule():
    def run(rule, config):
        t = Trainer(make_model(), blobs(), update_rule=rule, optim_config=dict(config, learning_rate=0.05),
                    batch_size=24, num_epochs=2, seed=4, progress=False, verbose=False)
        t.train()
        return t.loss_history

    nesterov = run("nesterov", {})
    assert run("sgd_momentum", {"nesterov": True}) == nesterov
    assert run("sgd_momentum", {}) != nesterov


def val_accuracy(model, data):
    return float(np.mean(np.argmax(model.loss(data["X_val"]), axis=1) == data["y_val"]))


def test_reassigned_data_is_checked_again_when_training_starts():
    data = blobs()
    kwargs = dict(update_rule="adam", batch_size=24, num_epochs=2, progress=False, verbose=False)
    reference = Trainer(make_model(), data, **kwargs).train()

    t = Trainer(make_model(), data, **kwargs)
    t.X_train = np.zeros((100_000, 20))          # longer than y_train: the library would read past it
    with pytest.raises(ValueError, match=r"y_train.*\(100000,\)"):
        t.train()
    t.X_train = np.asfortranarray(data["X_train"])
    t.y_train = data["y_train"].astype(np.int32)
    t.train()
    assert t.loss_history == reference.loss_history
    nan = data["X_val"].copy()
    nan[7, 3] = np.nan
    t.X_val = nan
    with pytest.raises(ValueError, match="X_val row 7 holds NaN"):
        t.train()
    with pytest.raises(ValueError, match="X_train row 5 holds NaN or Inf"):
        bad = data["X_train"].copy()
        bad[5, 0] = np.inf
        Trainer(make_model(), dict(data, X_train=bad))


def test_parameters_rebound_on_the_model_are_trained_and_returned_as_the_best():
    data = blobs()
    kwargs = dict(update_rule="adam", optim_config={"learning_rate": 1e-2}, batch_size=24, num_epochs=4,
                  progress=False, verbose=False)
    model = make_model(keep=1.0)
    first = Trainer(model, data, **kwargs)
    Trainer(model, data, **kwargs)               # a re-run notebook cell: model.params now point at its buffers
    first.train()
    assert val_accuracy(model, data) == first.best_val_acc
    for name, value in first.best_params.items():
        np.testing.assert_array_equal(model.params[name], value)

    # The course's style of assignment after the trainer exists is what gets trained.
    zeros = make_model(keep=1.0)
    zeros.params["W2"] = np.zeros_like(zeros.params["W2"])
    expected = Trainer(zeros, data, **kwargs).train()
    late = make_model(keep=1.0)
    t = Trainer(late, data, **kwargs)
    late.params["W2"] = np.zeros_like(late.params["W2"])
    t.train()
    assert t.loss_history == expected.loss_history
    np.testing.assert_array_equal(late.params["W2"], t.best_params["W2"])


class _Stop(Exception):
    pass


def test_an_exception_during_training_keeps_the_best_parameters():
    data = blobs()

    def stop_in_epoch_three(trainer, first, losses):
        if trainer.epoch == 2:
            raise _Stop

    model = make_model(keep=1.0)
    t = Trainer(model, data, update_rule="adam", optim_config={"learning_rate": 1e-2}, batch_size=24,
                num_epochs=6, on_chunk=stop_in_epoch_three, progress=False, verbose=False)
    with pytest.raises(_Stop):
        t.train()
    assert t.best_params and val_accuracy(model, data) == t.best_val_acc
    for name, value in t.best_params.items():
        np.testing.assert_array_equal(model.params[name], value)

    # Divergence after some good epochs: the model keeps the best of them, finite, and trains on.
    model = make_model(normalization=None, keep=1.0)
    t = Trainer(model, data, update_rule="sgd", optim_config={"learning_rate": 0.05}, lr_decay=8.0,
                batch_size=24, num_epochs=30, progress=False, verbose=False)
    with pytest.raises(DivergenceError):
        t.train()
    assert t.best_params and val_accuracy(model, data) == t.best_val_acc
    assert all(np.isfinite(v).all() for v in model.params.values())
    t.lr_decay = 1.0
    t.train()   # trains on from the best parameters; what it ends with is the best of both runs
    assert val_accuracy(model, data) == t.best_val_acc


def test_divergence_names_the_failing_iteration_and_keeps_the_losses_before_it():
    t = Trainer(make_model(normalization=None, keep=1.0), blobs(), update_rule="sgd",
                optim_config={"learning_rate": 1e8}, batch_size=24, num_epochs=5, progress=False, verbose=False)
    with pytest.raises(DivergenceError) as caught:
        t.train()
    e = caught.value
    assert e.iteration == len(t.loss_history) + 1
    assert "(iteration %d:" % e.iteration in str(e)
    assert all(np.isfinite(t.loss_history))


@pytest.mark.parametrize("rule", ["adam", "sgd_momentum"])
def test_the_state_after_training_resumes_exactly(rule):
    data = blobs()
    kwargs = dict(update_rule=rule, optim_config={"learning_rate": 5e-2}, batch_size=24, seed=2,
                  progress=False, verbose=False)
    whole = Trainer(make_model(), data, num_epochs=6, **kwargs).train()
    half = Trainer(make_model(), data, num_epochs=3, **kwargs).train()
    history = half.val_acc_history
    assert history.index(max(history)) < len(history) - 1   # the restored best is not the last step's
    again = Trainer(make_model(), data, num_epochs=6, **kwargs).train(resume=half.state())
    assert again.loss_history == whole.loss_history
    assert again.val_acc_history == whole.val_acc_history


def test_one_trainer_trains_in_one_thread_at_a_time():
    import threading
    inside, release = threading.Event(), threading.Event()

    def hold(trainer, first, losses):
        inside.set()
        release.wait(30)

    t = Trainer(make_model(), blobs(), batch_size=24, num_epochs=1, on_chunk=hold, progress=False, verbose=False)
    worker = threading.Thread(target=t.train)
    worker.start()
    assert inside.wait(30)
    try:
        with pytest.raises(RuntimeError, match="already training"):
            t.train()
    finally:
        release.set()
        worker.join(30)
    assert len(t.loss_history) == 10


def test_arguments_are_refused_rather_than_coerced():
    data = blobs()
    for bad in (True, 2.7, "20", None):
        with pytest.raises(TypeError, match="batch_size must be an integer"):
            Trainer(make_model(), data, batch_size=bad)
    with pytest.raises(TypeError, match="num_epochs"):
        Trainer(make_model(), data, num_epochs=1.5)
    with pytest.raises(TypeError, match="early_stopping_patience"):
        Trainer(make_model(), data, early_stopping_patience=True)
    for decay in (-1.0, float("nan"), 0.0):
        with pytest.raises(ValueError, match="lr_decay"):
            Trainer(make_model(), data, lr_decay=decay)
    with pytest.raises(ValueError, match="lr_decay must be 1.0"):
        Trainer(make_model(), data, lr_decay=0.5, lr_schedule="cosine")
    with pytest.raises(ValueError, match="'learning_rte'"):
        Trainer(make_model(), data, optim_config={"learning_rte": 5.0})
    with pytest.raises(TypeError, match="optim_config must be a dict"):
        Trainer(make_model(), data, optim_config=None)
    with pytest.raises(ValueError, match="custom rule"):
        Trainer(make_model(), data, update_rule=lambda w, dw, config: (w, config))
    with pytest.raises(ValueError, match="checkpoint_name is not supported"):
        Trainer(make_model(), data, checkpoint_name="run")
    with pytest.raises(ValueError, match="no X_val"):
        Trainer(make_model(), {k: v for k, v in data.items() if k != "X_val"})
    with pytest.raises(ValueError, match="num_epochs x steps per epoch"):
        Trainer(make_model(), data, num_epochs=2**62, progress=False, verbose=False).train()
    # A chunk longer than an epoch is cut to the epoch, not allocated.
    t = Trainer(make_model(), data, batch_size=24, num_epochs=1, steps_per_call=10**12, progress=False,
                verbose=False).train()
    assert len(t.loss_history) == 10


def test_a_trainer_cannot_be_copied_or_pickled():
    import copy
    import pickle
    t = Trainer(make_model(), blobs(), progress=False, verbose=False)
    for attempt in (copy.copy, copy.deepcopy, pickle.dumps):
        with pytest.raises(TypeError, match="state\\(\\)"):
            attempt(t)


def test_a_workspace_that_cannot_be_allocated_raises_memory_error():
    np.random.seed(0)
    model = FullyConnectedNet([50_000], input_dim=20, num_classes=5, weight_scale=0.1)
    # The minibatch fits; the workspace of a million rows by 50,000 units (400 GB) does not.
    t = Trainer(model, blobs(), batch_size=10**6, num_epochs=1, progress=False, verbose=False)
    with pytest.raises(MemoryError, match="could not allocate"):
        t.train()


def test_non_numeric_hyperparameters_and_unsigned_labels_beyond_int64_are_refused():
    data = blobs()
    with pytest.raises(TypeError, match=r"optim_config\['learning_rate'\] must be a number"):
        Trainer(make_model(), data, optim_config={"learning_rate": "fast"})
    y = data["y_train"].astype(np.uint64)
    y[3] = 2**63 + 1
    with pytest.raises(ValueError, match="y holds 9223372036854775809"):
        Trainer(make_model(), dict(data, y_train=y))


def test_the_progress_bar_ends_showing_the_last_epoch_and_its_accuracy():
    pytest.importorskip("tqdm")
    t = Trainer(make_model(), blobs(), batch_size=24, num_epochs=2, progress=True, verbose=False)
    shown = {}
    real_open = t._open_bar

    def spy(total):
        bar = real_open(total)
        real_close = bar.close

        def close():
            shown.update(bar.postfix and dict(kv.split("=") for kv in bar.postfix.split(", ")))
            real_close()
        bar.close = close
        return bar

    t._open_bar = spy
    t.train()
    assert shown["epoch"] == "2/2" and shown["val_acc"] == "%.3f" % t.val_acc_history[-1]


def test_resuming_from_an_incomplete_state_names_what_is_missing():
    t = Trainer(make_model(), blobs(), batch_size=24, num_epochs=1, progress=False, verbose=False).train()
    state = t.state()
    del state["optim_state"]
    with pytest.raises(ValueError, match="has no optim_state"):
        Trainer(make_model(), blobs(), batch_size=24, num_epochs=2, progress=False, verbose=False).train(resume=state)
    with pytest.raises(TypeError, match="resume must be a dict"):
        Trainer(make_model(), blobs(), progress=False, verbose=False).train(resume=[1, 2])

"""`isaacsim train`: outputs, resume bit for bit, config checks, one-line errors, determinism."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

import isaacsim  # noqa: E402
from isaacsim.cli import main  # noqa: E402
from isaacsim.train.loop import TrainConfig, train  # noqa: E402

TINY = dict(dataset="digits", train_samples=200, eval_samples=100, batch_size=32, quiet=True)


def _argv(out, *extra, model="lenet5", epochs=2):
    return ["train", model, "--dataset", "digits", "--train-samples", "200", "--eval-samples", "100",
            "--batch-size", "32", "--epochs", str(epochs), "--out", str(out), "--quiet", *extra]


def _exit(argv):
    """main's exit status, whether it returns it or argparse raises SystemExit."""
    try:
        return main(argv)
    except SystemExit as e:
        return e.code


def _metrics(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def _state(out):
    return torch.load(out / "checkpoint.pt", weights_only=True)


def _same_state(a, b):
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], torch.Tensor):
            assert torch.equal(a[k], b[k]), k
        else:
            assert a[k] == b[k], k


@pytest.fixture(scope="module")
def ab_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ab")
    assert main(_argv(out)) == 0
    return out


def test_run_writes_checkpoint_metrics_results_and_workload(ab_run, capsys):
    out = ab_run
    for name in ("checkpoint.pt", "metrics.jsonl", "results.json", "workload/workload.yaml"):
        assert (out / name).is_file(), name
    rows = _metrics(out)
    assert [r["epoch"] for r in rows] == [1, 2]
    assert set(rows[0]) == {"epoch", "loss", "accuracy", "alpha", "seconds"}
    assert rows[-1]["alpha"] == 1.0  # the window (0.3, 0.8) ends before the last step
    res = json.loads((out / "results.json").read_text())
    assert res["exported"] and res["workload"] == str(out / "workload")
    assert res["train_samples"] == 200 and res["eval_samples"] == 100
    assert res["config"]["method"] == "ab" and res["fp32_accuracy"] is None
    assert 0.0 <= res["qat_accuracy"] <= 1.0 and 0.0 <= res["accuracy"] <= 1.0
    ckpt = _state(out)
    assert ckpt["epoch"] == 2 and ckpt["global_step"] == 14 and ckpt["config"] == res["config"]
    wl = isaacsim.load_workload(out / "workload")
    assert wl is not None


def test_finished_run_rerun_reexports_without_training(ab_run, capsys):
    before = json.loads((ab_run / "results.json").read_text())
    lines = _metrics(ab_run)
    assert main(_argv(ab_run)) == 0
    printed = capsys.readouterr().out
    assert "epoch " not in printed and f"isaacsim run trq {ab_run / 'workload'}" in printed
    after = json.loads((ab_run / "results.json").read_text())
    for key in ("accuracy", "qat_accuracy", "config", "optimizer_steps"):
        assert after[key] == before[key], key
    assert _metrics(ab_run) == lines


def test_changed_config_refuses_to_resume(ab_run, capsys):
    assert main(_argv(ab_run, "--wbits", "4", epochs=3)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "epochs" in err and "wbits" in err and "--out" in err
    assert "Traceback" not in err


def test_resume_after_a_kill_matches_an_uninterrupted_run_bit_for_bit(tmp_path):
    kw = dict(TINY, model="lenet5", epochs=3, train_samples=120, window=(0.2, 0.7))
    whole = train(TrainConfig(out=str(tmp_path / "a"), **kw))

    class Killed(Exception):
        pass

    def kill_after_two(row):
        if row["epoch"] == 2:
            raise Killed

    with pytest.raises(Killed):
        train(TrainConfig(out=str(tmp_path / "b"), **kw), on_epoch=kill_after_two)
    # a line of a third epoch that never reached its checkpoint must not survive the resume
    with open(tmp_path / "b" / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"epoch": 3, "loss": 9.0, "accuracy": 0.0, "alpha": 0.0, "seconds": 0.0}) + "\n")
    resumed = train(TrainConfig(out=str(tmp_path / "b"), **kw))
    for key in ("accuracy", "qat_accuracy", "optimizer_steps"):
        assert resumed[key] == whole[key], key
    a, b = _metrics(tmp_path / "a"), _metrics(tmp_path / "b")
    assert [r["epoch"] for r in b] == [1, 2, 3]
    assert [(r["loss"], r["accuracy"], r["alpha"]) for r in a] == [(r["loss"], r["accuracy"], r["alpha"]) for r in b]
    _same_state(_state(tmp_path / "a")["model"], _state(tmp_path / "b")["model"])


def test_resnet20_resume_across_the_batchnorm_fold(tmp_path):
    kw = dict(TINY, model="resnet20", epochs=3, train_samples=96, eval_samples=50, window=(0.4, 0.7))

    class Killed(Exception):
        pass

    def kill(row):
        if row["epoch"] == 1:  # T0 = step 4 of 9 lies in epoch 2: the fold happens after resuming
            raise Killed

    whole = train(TrainConfig(out=str(tmp_path / "a"), **kw))
    with pytest.raises(Killed):
        train(TrainConfig(out=str(tmp_path / "b"), **kw), on_epoch=kill)
    assert not _state(tmp_path / "b")["bn_folded"]
    resumed = train(TrainConfig(out=str(tmp_path / "b"), **kw))
    assert resumed["accuracy"] == whole["accuracy"] and resumed["qat_accuracy"] == whole["qat_accuracy"]
    _same_state(_state(tmp_path / "a")["model"], _state(tmp_path / "b")["model"])


def test_same_seed_same_results(ab_run, tmp_path):
    assert main(_argv(tmp_path)) == 0
    a = json.loads((ab_run / "results.json").read_text())
    b = json.loads((tmp_path / "results.json").read_text())
    for key in ("accuracy", "qat_accuracy", "fp32_accuracy"):
        assert a[key] == b[key], key
    assert [r["loss"] for r in _metrics(ab_run)] == [r["loss"] for r in _metrics(tmp_path)]


def test_fp32_writes_no_workload(tmp_path, capsys):
    assert main(_argv(tmp_path, "--method", "fp32", epochs=1)) == 0
    res = json.loads((tmp_path / "results.json").read_text())
    assert not res["exported"] and res["workload"] is None and "note" in res
    assert res["accuracy"] == res["fp32_accuracy"] is not None
    assert not (tmp_path / "workload").exists()
    assert "no workload" in capsys.readouterr().out


def test_ptq_trains_float_then_exports(tmp_path):
    assert main(_argv(tmp_path, "--method", "ptq", "--wbits", "6", epochs=1)) == 0
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["exported"] and res["fp32_accuracy"] is not None and res["accuracy"] is not None
    assert isaacsim.load_workload(tmp_path / "workload") is not None


@pytest.mark.parametrize("extra, needle", [
    (("--method", "bogus"), "method"),
    (("--wbits", "9"), "wbits"),
    (("--abits", "1"), "abits"),
    (("--first-last-bits", "0"), "first_last_bits"),
    (("--window", "0.8,0.3"), "window"),
    (("--window", "0.3"), "window"),
    (("--window", "0.3,1.5"), "window"),
    (("--epochs", "0"), "epochs"),
    (("--batch-size", "1"), "batch_size"),
    (("--lr", "-1"), "lr"),
    (("--wbits", "0"), "wbits"),
    (("--optimizer", "rmsprop"), "optimizer"),
    (("--schedule", "step"), "schedule"),
    (("--momentum", "1"), "momentum"),
    (("--weight-decay", "-0.1"), "weight_decay"),
    (("--warmup", "1"), "warmup"),
    (("--train-samples", "100000"), "samples"),
    (("--calib", "5000"), "calib"),
])
def test_bad_options_one_line_exit_2(tmp_path, capsys, extra, needle):
    assert _exit(_argv(tmp_path / "o", *extra)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err


@pytest.mark.parametrize("argv, needle", [
    (["train", "vgg", "--dataset", "digits", "--out", "X"], "vgg"),
    (["train", "lenet5", "--dataset", "imagenet", "--out", "X"], "imagenet"),
    (["train", "lenet5", "--dataset", "mnist", "--data-root", "/nonexistent", "--out", "X"], "mnist"),
    (["train", "lenet5", "--dataset", "digits"], "--out"),
])
def test_bad_model_dataset_or_files_one_line_exit_2(tmp_path, capsys, argv, needle):
    argv = [str(tmp_path / a) if a == "X" else a for a in argv]
    assert _exit(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err


def test_missing_torch_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    assert main(_argv(tmp_path)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "isaacsim train needs torch: pip install" in err


def test_cli_start_does_not_import_torch():
    code = ("import sys; from isaacsim.cli import build_parser; build_parser(); "
            "sys.exit(int('torch' in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_resnet20_on_local_cifar10_files_trains_and_exports(tmp_path, capsys):
    """cifar10 reads the user's local python batches (here tiny random ones in that format)."""
    import numpy as np

    from tests.support.datasets import write_py_batches

    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    write_py_batches(root, np.random.default_rng(0), sizes=(8, 8, 8, 8, 8, 12))
    out = tmp_path / "run"
    argv = ["train", "resnet20", "--dataset", "cifar10", "--data-root", str(tmp_path), "--epochs", "1",
            "--batch-size", "20", "--calib", "8", "--method", "ste", "--wbits", "4", "--out", str(out),
            "--quiet"]
    assert main(argv) == 0
    wl = isaacsim.load_workload(out / "workload")
    assert wl.manifest.input.shape == (3, 32, 32) and len(wl.eval.x) == 12
    assert sum(1 for n in wl.nodes if n.op == "add") == 9


def test_cli_defaults_are_the_configs():
    """--help shows defaults without importing torch, so the command repeats them: keep them equal."""
    import argparse

    from isaacsim.commands import train as cmd

    p = argparse.ArgumentParser()
    cmd.add_arguments(p)
    args = p.parse_args(["lenet5", "--dataset", "digits", "--out", "x"])
    cfg = TrainConfig(model="lenet5", dataset="digits", out="x")
    for key in ("lr", "window", "optimizer", "momentum", "weight_decay", "schedule", "warmup", "wbits", "abits",
                "epochs"):
        got = getattr(args, key)
        assert (tuple(got) if key == "window" else got) == getattr(cfg, key), key

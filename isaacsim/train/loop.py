"""The ``isaacsim train`` run: train, quantize, export, with an epoch checkpoint to resume from.

:func:`train` takes a :class:`TrainConfig` and leaves in ``cfg.out``: ``checkpoint.pt`` (written
atomically after every epoch), ``metrics.jsonl`` (one line per epoch), ``results.json`` and, for a
quantized method, the integer workload in ``workload/``. Methods: ``ab`` and ``ste`` train with
the quantizers in (alpha rises over a window of the optimizer steps), ``ptq`` trains float then calibrates,
``fp32`` trains float and exports nothing. Everything random comes from ``cfg.seed`` (and the
epoch number), so a resumed run ends bit for bit where an uninterrupted one does.

The optimizer is SGD by default (the alpha-blending paper's Algorithm 1: the blended forward's
gradient already carries the factor ``1 - alpha``, so plain SGD steps ``lr * (1 - alpha)``), with
heavy-ball momentum (``cfg.momentum``, stated as an addition to the paper's plain SGD) and no
weight decay. Adam (``cfg.optimizer = "adam"``) is kept as an option; it normalises the
gradient's magnitude and so cancels the ``1 - alpha`` annealing, a departure from the paper.
Once an AB layer's alpha is 1 its weight gets no optimizer step at all (its gradient is zero;
dropping it also stops momentum or weight decay from carrying it on), so the integer codes are
fixed from T1. Every method shares the optimizer, the learning-rate schedule and the data order.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from isaacsim.errors import ConfigError, WorkloadError
from isaacsim.files import atomic_write
from isaacsim.progress import TerminalProgress
from isaacsim.workload.datasets import DATASETS

from .data import load_images

__all__ = ["METHODS", "OPTIMIZERS", "SCHEDULES", "TrainConfig", "make_optimizer", "train", "update"]

METHODS = ("ab", "ste", "ptq", "fp32")
OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("cosine", "constant", "onecycle")
CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.jsonl"
RESULTS = "results.json"
WORKLOAD = "workload"
_EVAL_BATCH = 512


@dataclass(frozen=True)
class TrainConfig:
    """The options of ``isaacsim train`` (see ``docs/running.md``); validated on construction."""

    model: str
    dataset: str
    out: str
    method: str = "ab"
    wbits: int = 8
    abits: int = 8
    epochs: int = 30
    seed: int = 0
    batch_size: int = 64
    lr: float = 0.1
    data_root: str | None = None
    window: tuple[float, float] = (0.7, 0.95)
    optimizer: str = "sgd"
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "cosine"
    warmup: float = 0.1
    every: int = 1
    first_last_bits: int = 8
    calib: int = 32
    train_samples: int | None = None
    eval_samples: int | None = None
    name: str | None = None
    quiet: bool = False
    workload: str | None = None

    def __post_init__(self):
        self._check_choices()
        self._check_whole_numbers()
        self._check_lr_and_window()
        if self.name is None:
            tag = "fp32" if self.method == "fp32" else f"{self.method}_w{self.wbits}a{self.abits}"
            object.__setattr__(self, "name", f"{self.model.rpartition(':')[2]}_{self.dataset}_{tag}")

    def _check_choices(self) -> None:
        from .graph import MODELS, is_module_ref

        if is_module_ref(self.model):
            path, _, factory = self.model.rpartition(":")
            if not factory.isidentifier():
                raise ConfigError(f"model {self.model!r}: expected FILE.py:FACTORY, a function name after the colon")
            if not Path(path).is_file():
                raise ConfigError(f"model {self.model!r}: no such file {path}")
        for key, options in (("model", MODELS), ("dataset", DATASETS), ("method", METHODS),
                             ("optimizer", OPTIMIZERS), ("schedule", SCHEDULES)):
            if key == "model" and is_module_ref(self.model):
                continue
            if getattr(self, key) not in options:
                more = ", or FILE.py:FACTORY (your own module)" if key == "model" else ""
                raise ConfigError(f"unknown {key} {getattr(self, key)!r}; choose one of {', '.join(options)}{more}")

    def _check_whole_numbers(self) -> None:
        for key in ("wbits", "abits", "first_last_bits"):
            v, low = getattr(self, key), 1 if key == "wbits" else 2
            if not _is_int(v) or not low <= v <= 8:
                raise ConfigError(f"{key} must be an integer in {low}..8, got {v!r}")
        for key, low in (("epochs", 1), ("batch_size", 2), ("every", 1), ("calib", 1),
                         ("train_samples", 1), ("eval_samples", 1), ("seed", 0)):
            v = getattr(self, key)
            if v is None and key in ("train_samples", "eval_samples"):
                continue
            if not _is_int(v) or v < low:
                raise ConfigError(f"{key} must be an integer >= {low}, got {v!r}")

    def _check_lr_and_window(self) -> None:
        if not (isinstance(self.lr, int | float) and math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"lr must be a positive number, got {self.lr!r}")
        for key, hi in (("momentum", 1.0), ("weight_decay", math.inf), ("warmup", 1.0)):
            v = getattr(self, key)
            if not (isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and 0 <= v < hi):
                raise ConfigError(f"{key} must be a number >= 0{' and < 1' if hi == 1 else ''}, got {v!r}")
            object.__setattr__(self, key, float(v))
        w = tuple(self.window)
        if len(w) != 2 or not all(isinstance(v, int | float) and math.isfinite(v) for v in w) \
                or not 0 <= w[0] < w[1] <= 1:
            raise ConfigError("window must be two fractions 0 <= T0 < T1 <= 1 of the optimizer steps, "
                              f"got {self.window!r}")
        object.__setattr__(self, "window", (float(w[0]), float(w[1])))
        object.__setattr__(self, "lr", float(self.lr))

    def key(self) -> dict:
        """What a checkpoint must match to be resumed: every option but ``out``, ``quiet`` and
        ``workload`` (where the workload is written)."""
        d = asdict(self)
        d["window"] = list(self.window)
        del d["out"], d["quiet"], d["workload"]
        return d


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


# ---------------------------------------------------------------------------------------------
# pieces


def _accuracy(net, x: torch.Tensor, y: torch.Tensor) -> float:
    was = net.training
    net.eval()
    with torch.no_grad():
        pred = torch.cat([net(x[i:i + _EVAL_BATCH]).argmax(1) for i in range(0, len(x), _EVAL_BATCH)])
    net.train(was)
    return _score(pred, y)


def _score(pred, y: torch.Tensor) -> float:
    return int((torch.as_tensor(pred) == y).sum()) / len(y)


def _batches(n: int, batch: int, seed: int, epoch: int) -> list[np.ndarray]:
    """This epoch's shuffled batches: ceil(n / batch) near-equal parts (none smaller than 2)."""
    perm = np.random.default_rng([seed, epoch]).permutation(n)
    return np.array_split(perm, max(1, math.ceil(n / batch)))


def _write_json(path: Path, doc: dict) -> None:
    def w(p):
        with open(p, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
    atomic_write(path, w)


def _read_metrics(path: Path, upto: int) -> list[dict]:
    """The metric lines of epochs 1..upto; rewrites the file to hold just those."""
    rows = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a kill
            if isinstance(row, dict) and isinstance(row.get("epoch"), int) and row["epoch"] <= upto:
                rows.append(row)
        rows = list({r["epoch"]: r for r in rows}.values())
    atomic_write(path, lambda p: Path(p).write_text("".join(json.dumps(r) + "\n" for r in rows)))
    return rows


def _load_checkpoint(path: Path, cfg: TrainConfig) -> dict | None:
    if not path.exists():
        return None
    try:
        ckpt = torch.load(path, weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same user error
        raise WorkloadError(f"{path}: cannot read the checkpoint ({e}); remove it or use a new --out") from None
    old = ckpt.get("config", {}) if isinstance(ckpt, dict) else {}
    new = cfg.key()
    diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    if diff:
        what = ", ".join(f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in diff)
        raise ConfigError(f"{path} was written with different options ({what}); "
                          "use a new --out, or the same options to resume")
    return ckpt


class _Progress(TerminalProgress):
    """A rich bar (epochs and batches, loss, ETA) on a terminal; otherwise one line per epoch."""

    def __init__(self, quiet: bool, epochs: int, steps: int, done: int):
        super().__init__(not quiet, label="{task.description:<7}", extra=("loss {task.fields[loss]}",),
                         eta=True)
        self._p = self.p
        if self.p is not None:
            self._epochs = self.p.add_task("epochs", total=epochs, completed=done, loss="-")
            self._batch = self.p.add_task("batches", total=steps, loss="-")

    def batch(self, loss: float) -> None:
        if self._p is not None:
            self._p.update(self._batch, advance=1, loss=f"{loss:.4f}")

    def epoch(self, row: dict, epochs: int) -> None:
        acc = "-" if row["accuracy"] is None else f"{row['accuracy']:.4f}"
        line = (f"epoch {row['epoch']}/{epochs}  loss {row['loss']:.4f}  held-out accuracy {acc}"
                f"  alpha {row['alpha']:.3f}  {row['seconds']:.1f} s")
        if self._p is None:
            print(line, flush=True)
            return
        self._p.console.print(line, highlight=False)
        self._p.update(self._epochs, advance=1, loss=f"{row['loss']:.4f}")
        self._p.reset(self._batch, loss="-")


def make_optimizer(cfg: TrainConfig, params, total_steps: int):
    """``(optimizer, lr scheduler)`` for ``cfg``: SGD (momentum ``cfg.momentum``) or Adam, with
    ``cfg.weight_decay``, and the learning rate ``cfg.lr`` held (``constant``), cosine-annealed
    to 0 over ``total_steps`` (``cosine``) or one-cycle with peak ``cfg.lr`` (``onecycle``, which
    has its own warm-up). ``constant`` and ``cosine`` ramp up linearly over the first
    ``cfg.warmup`` of the steps. The scheduler is stepped once per optimizer step."""
    params = list(params)
    if cfg.optimizer == "adam":
        opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    warm = round(cfg.warmup * total_steps)

    def ramp(step: int) -> float:  # linear warm-up from lr / warm to lr over the first `warm` steps
        return min(1.0, (step + 1) / warm) if warm else 1.0

    if cfg.schedule == "onecycle":
        # SGD keeps the momentum it was given; Adam cycles its beta1 as torch's default does
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=total_steps,
                                                    cycle_momentum=cfg.optimizer == "adam")
    elif cfg.schedule == "cosine":
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda step: ramp(step) * 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps)))
    else:
        sched = torch.optim.lr_scheduler.LambdaLR(opt, ramp)
    return opt, sched


def update(net, opt, loss: torch.Tensor) -> None:
    """One optimizer step on ``loss``: backward, hold the AB weights whose alpha is 1
    (:func:`isaacsim.train.api.hold_blended_weights`), step. With SGD and no momentum the step of an AB weight is
    Algorithm 1's ``lr * (1 - alpha) * dL/dw'`` at the blended weight ``w'``."""
    from .api import hold_blended_weights

    opt.zero_grad(set_to_none=True)
    loss.backward()
    hold_blended_weights(net)
    opt.step()


# ---------------------------------------------------------------------------------------------
# the run


@dataclass(frozen=True)
class _Data:
    """The training set, the calib set kept from it, and the held-out (eval) set."""

    x: torch.Tensor
    y: torch.Tensor
    xc: torch.Tensor
    yc: torch.Tensor
    xe: torch.Tensor
    ye: torch.Tensor

    @classmethod
    def load(cls, cfg: TrainConfig) -> _Data:
        (x, y), (xc, yc) = load_images(cfg.dataset, cfg.model, "train", cfg.train_samples, cfg.seed,
                                       cfg.data_root, calib=cfg.calib)
        xe, ye = load_images(cfg.dataset, cfg.model, "test", cfg.eval_samples, cfg.seed, cfg.data_root)
        return cls(x, y, xc, yc, xe, ye)


class _Run:
    """One training run: the network, its optimizer and schedule, and how far it has come (epochs,
    optimizer steps, metric rows). Phases: `resume`, `train_epoch` + `save_epoch`, `finish`."""

    def __init__(self, cfg: TrainConfig, data: _Data, out: Path) -> None:
        from .graph import build_model, quantize_model

        self.cfg, self.data, self.out = cfg, data, out
        self.steps = len(_batches(len(data.x), cfg.batch_size, cfg.seed, 0))
        total = self.steps * cfg.epochs
        t0, t1 = (round(f * total) for f in cfg.window)
        self.t0, self.t1 = t0, max(t1, t0 + 1)

        torch.manual_seed(cfg.seed)
        self.net = build_model(cfg.model, tuple(data.x.shape[1:]), classes=10)
        self.qat = cfg.method in ("ab", "ste")
        if self.qat:
            quantize_model(self.net, method=cfg.method, wbits=cfg.wbits, abits=cfg.abits, t0=self.t0, t1=self.t1,
                           every=cfg.every, first_last_bits=cfg.first_last_bits)
        self.opt, self.sched = make_optimizer(cfg, self.net.parameters(), total)
        self.epoch = self.gstep = 0
        self.alpha = 0.0
        self.rows: list[dict] = []

    def resume(self, ckpt: dict | None) -> None:
        """Restore the checkpoint's state (if any) and the metric rows of the epochs it holds."""
        from .graph import schedule_step

        if ckpt is not None:
            if ckpt["bn_folded"]:
                self.net.fold_bn()
            self.net.load_state_dict(ckpt["model"])
            self.opt.load_state_dict(ckpt["optimizer"])
            self.sched.load_state_dict(ckpt["scheduler"])
            torch.set_rng_state(ckpt["torch_rng"])
            self.epoch, self.gstep = int(ckpt["epoch"]), int(ckpt["global_step"])
        self.rows = _read_metrics(self.out / METRICS, self.epoch)
        if self.qat and self.gstep > 0:
            self.alpha = schedule_step(self.net, self.gstep - 1)  # the state the last trained batch left

    def train_epoch(self, bar: _Progress) -> dict:
        """One epoch over this epoch's shuffled batches; returns its metrics row."""
        from .graph import schedule_step

        start = time.perf_counter()
        self.net.train()
        loss_sum = 0.0
        x, y = self.data.x, self.data.y
        for idx in _batches(len(x), self.cfg.batch_size, self.cfg.seed, self.epoch):
            if self.qat:
                self.alpha = schedule_step(self.net, self.gstep)
            t = torch.from_numpy(idx)
            loss = F.cross_entropy(self.net(x[t]), y[t])
            update(self.net, self.opt, loss)
            self.sched.step()
            self.gstep += 1
            lv = loss.item()
            loss_sum += lv * len(idx)
            bar.batch(lv)
        self.epoch += 1
        acc = _accuracy(self.net, self.data.xe, self.data.ye)
        return {"epoch": self.epoch, "loss": loss_sum / len(x), "accuracy": acc,
                "alpha": float(self.alpha), "seconds": time.perf_counter() - start}

    def save_epoch(self, row: dict) -> None:
        """The checkpoint (atomically) and the epoch's metrics line."""
        state = {"model": self.net.state_dict(), "optimizer": self.opt.state_dict(),
                 "scheduler": self.sched.state_dict(), "torch_rng": torch.get_rng_state(),
                 "epoch": self.epoch, "global_step": self.gstep, "bn_folded": bool(self.net.bn_folded),
                 "config": self.cfg.key()}
        atomic_write(self.out / CHECKPOINT, lambda p, s=state: torch.save(s, p))
        with open(self.out / METRICS, "a") as f:
            f.write(json.dumps(row) + "\n")
        self.rows.append(row)

    def finish(self) -> dict:
        """Score, quantize (PTQ) and export the trained network; write and return results.json's dict."""
        start = time.perf_counter()
        fp32_acc, qat_acc, acc, wl_path = self._score_and_export()
        cfg, d = self.cfg, self.data
        results = {
            "config": cfg.key(),
            "method": cfg.method,
            "epochs_completed": self.epoch,
            "fp32_accuracy": fp32_acc,
            "qat_accuracy": qat_acc,
            "accuracy": acc,
            "exported": wl_path is not None,
            "workload": None if wl_path is None else str(wl_path),
            "train_samples": len(d.x),
            "eval_samples": len(d.xe),
            "calib_samples": len(d.xc),
            "optimizer_steps": self.gstep,
            "window_steps": [self.t0, self.t1] if self.qat else None,
            "seconds": sum(r["seconds"] for r in self.rows) + time.perf_counter() - start,
        }
        if wl_path is None:
            results["note"] = "fp32: float training only, no quantized model and no workload exported"
        _write_json(self.out / RESULTS, results)
        return results

    def _score_and_export(self) -> tuple[float | None, float | None, float | None, Path | None]:
        """(float accuracy, fake-quantized accuracy, final accuracy, exported workload path)."""
        from .graph import calibrate, freeze, quantize_model

        cfg, net, d = self.cfg, self.net, self.data
        fp32_acc = _accuracy(net, d.xe, d.ye) if cfg.method in ("fp32", "ptq") else None
        qat_acc = _accuracy(net, d.xe, d.ye) if self.qat else None
        if cfg.method == "fp32":
            return fp32_acc, qat_acc, fp32_acc, None
        if cfg.method == "ptq":
            net.eval()
            quantize_model(net, method="ptq", wbits=cfg.wbits, abits=cfg.abits,
                           every=cfg.every, first_last_bits=cfg.first_last_bits)
            calibrate(net, d.xc)
        from .export import exact_predict, export

        freeze(net)
        acc = _score(exact_predict(net, d.xe), d.ye)
        wl_path = Path(cfg.workload) if cfg.workload else self.out / WORKLOAD
        export(net, wl_path, name=cfg.name,
               description=f"{cfg.model} trained on {cfg.dataset} ({cfg.method}, w{cfg.wbits}a{cfg.abits}) "
                           f"by isaacsim train",
               calib=(d.xc, d.yc), eval=(d.xe, d.ye))
        return fp32_acc, qat_acc, acc, wl_path


def train(cfg: TrainConfig, *, on_epoch: Callable[[dict], None] | None = None) -> dict:
    """Run (or resume, or re-export) the training that ``cfg`` describes; returns results.json's dict.

    ``on_epoch(row)`` is called after each epoch's checkpoint and metrics line are on disk.
    """
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    ckpt = _load_checkpoint(out / CHECKPOINT, cfg)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run = _Run(cfg, _Data.load(cfg), out)
        run.resume(ckpt)
        with _Progress(cfg.quiet, cfg.epochs, run.steps, run.epoch) as bar:
            while run.epoch < cfg.epochs:
                row = run.train_epoch(bar)
                run.save_epoch(row)
                bar.epoch(row, cfg.epochs)
                if on_epoch is not None:
                    on_epoch(row)
        return run.finish()
    finally:
        torch.set_num_threads(threads)

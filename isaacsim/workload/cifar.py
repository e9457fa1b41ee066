"""Safe readers for the CIFAR-10 batch files, python-pickle and binary versions.

The python version (``data_batch_1`` .. ``data_batch_5``, ``test_batch``) is a pickle.
``pickle.load`` on a user's file can run arbitrary code, so it is never used here. Instead
:class:`SafeUnpickler` resolves only the few numpy globals that rebuild an ``ndarray``:

* ``numpy.core.multiarray._reconstruct`` / ``numpy._core.multiarray._reconstruct`` (numpy 1 / 2 names),
* ``numpy.ndarray`` and ``numpy.dtype``,
* ``numpy.core.numeric._frombuffer`` / ``numpy._core.numeric._frombuffer``, which numpy uses
  instead of ``_reconstruct`` in pickles written with protocol 5.

Every other global (``os.system``, ``builtins.eval``, ``_codecs.encode``, ...) is refused with
:class:`isaacsim.WorkloadError`, as are persistent ids. The CIFAR batches hold nothing else:
a dict of str/bytes keys, a list of ints, a list of file names and one uint8 array. (Python 3
pickles written with protocol 0-2 spell ``bytes`` via ``_codecs.encode`` and are refused; the
real files, written by Python 2, and protocols 3-5 are fine.)

The binary version (``data_batch_1.bin`` .. ``test_batch.bin``) is plain records of one
label byte followed by 3,072 pixel bytes and needs no pickle at all.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np

from isaacsim.errors import WorkloadError

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
IMAGE_SHAPE = (3, 32, 32)
RECORD = 1 + 3 * 32 * 32

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild numpy arrays and plain containers, and nothing else."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise WorkloadError(f"refusing pickle global {module}.{name} (only numpy arrays are allowed)")
        return super().find_class(module, name)

    def persistent_load(self, pid):
        raise WorkloadError("refusing pickle persistent id")


def safe_unpickle(data: bytes, where: str = "<bytes>"):
    """Unpickle ``data`` with :class:`SafeUnpickler`; any failure is a WorkloadError naming ``where``."""
    try:
        # latin1 is numpy's documented way to read Python 2 pickles (the real CIFAR-10 files).
        return SafeUnpickler(io.BytesIO(data), encoding="latin1").load()
    except WorkloadError as e:
        raise WorkloadError(f"{where}: {e}") from None
    except Exception as e:  # noqa: BLE001 - a corrupt pickle can raise almost anything
        raise WorkloadError(f"{where}: not a readable CIFAR-10 pickle batch ({type(e).__name__}: {e})") from None


def _key(d: dict, name: str):
    for k in (name, name.encode()):
        if k in d:
            return d[k]
    return None


def _check(x: np.ndarray, y: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray]:
    if x.shape[0] != y.shape[0]:
        raise WorkloadError(f"{where}: {x.shape[0]} images but {y.shape[0]} labels")
    if y.size and (y.min() < 0 or y.max() >= len(CIFAR10_CLASSES)):
        raise WorkloadError(f"{where}: labels must lie in 0..{len(CIFAR10_CLASSES) - 1}")
    return x, y


def read_pickle_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one python-version batch: ``(x uint8 (N, 3, 32, 32), y int64 (N,))``."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise WorkloadError(f"{path}: cannot read CIFAR-10 batch ({e})") from None
    obj = safe_unpickle(raw, str(path))
    if not isinstance(obj, dict):
        raise WorkloadError(f"{path}: CIFAR-10 batch must be a dict, got {type(obj).__name__}")
    data, labels = _key(obj, "data"), _key(obj, "labels")
    if data is None or labels is None:
        raise WorkloadError(f"{path}: CIFAR-10 batch lacks 'data' or 'labels'")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != RECORD - 1:
        shape = getattr(data, "shape", None)
        dtype = getattr(data, "dtype", type(data).__name__)
        raise WorkloadError(f"{path}: 'data' must be a uint8 array of shape (N, 3072), got {dtype} {shape}")
    try:
        y = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise WorkloadError(f"{path}: 'labels' must be a list of integers") from None
    if y.ndim != 1:
        raise WorkloadError(f"{path}: 'labels' must be 1-D, got shape {y.shape}")
    return _check(data.reshape((-1, *IMAGE_SHAPE)).copy(), y, str(path))


def read_binary_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one binary-version batch (``*.bin``): ``(x uint8 (N, 3, 32, 32), y int64 (N,))``."""
    path = Path(path)
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        raise WorkloadError(f"{path}: cannot read CIFAR-10 batch ({e})") from None
    if raw.size == 0 or raw.size % RECORD:
        raise WorkloadError(f"{path}: size {raw.size} bytes is not a positive multiple of the {RECORD}-byte record")
    rec = raw.reshape(-1, RECORD)
    return _check(rec[:, 1:].reshape((-1, *IMAGE_SHAPE)).copy(), rec[:, 0].astype(np.int64), str(path))


def write_binary_batch(path: str | Path, x: np.ndarray, y: np.ndarray) -> Path:
    """Write a binary-version batch (used by tests)."""
    path = Path(path)
    x = np.asarray(x, dtype=np.uint8).reshape(len(y), -1)
    rec = np.concatenate([np.asarray(y, dtype=np.uint8)[:, None], x], axis=1)
    path.write_bytes(rec.tobytes())
    return path

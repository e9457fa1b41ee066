"""CIFAR-10 python batches written by the tests (random images in the real files' format)."""

import pickle

import numpy as np


def cifar_arrays(rng, n):
    """n random CIFAR-10 rows (uint8, 3072 each) and labels."""
    return rng.integers(0, 256, size=(n, 3072), dtype=np.uint8), [int(v) for v in rng.integers(0, 10, size=n)]


def write_py_batches(root, rng, sizes=(3, 2, 4, 1, 2, 5), protocol=pickle.DEFAULT_PROTOCOL, bytes_keys=False):
    """The six python batches (sizes[i] images each) under root; {file name: (data, labels)}."""
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    out = {}
    for name, n in zip(names, sizes, strict=True):
        data, labels = cifar_arrays(rng, n)
        d = {"batch_label": "batch", "labels": labels, "data": data, "filenames": [f"img{i}.png" for i in range(n)]}
        if bytes_keys:  # as the real Python 2 files read with encoding="bytes"
            d = {k.encode(): v for k, v in d.items()}
        with open(root / name, "wb") as f:
            pickle.dump(d, f, protocol=protocol)
        out[name] = (data, np.asarray(labels, dtype=np.int64))
    return out

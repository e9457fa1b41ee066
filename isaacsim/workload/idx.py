"""Hand-written reader for the IDX format of the MNIST files (big-endian, no third-party code).

An IDX file is ``0x00 0x00 <type> <ndim>`` followed by ``ndim`` big-endian uint32 sizes and
then the data, row-major and big-endian. A ``.gz`` file is decompressed first. Every defect
(bad magic, unknown type, truncated or over-long data, bad gzip stream) raises
:class:`isaacsim.WorkloadError` naming the file.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from isaacsim.errors import WorkloadError

# IDX type byte -> big-endian numpy dtype.
IDX_DTYPES: dict[int, str] = {
    0x08: ">u1",
    0x09: ">i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}
_CODES = {np.dtype(v).newbyteorder("="): k for k, v in IDX_DTYPES.items()}


def _read_bytes(path: Path) -> bytes:
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as e:
        raise WorkloadError(f"{path}: cannot read IDX file ({e})") from None


def parse_idx(data: bytes, where: str = "<bytes>") -> np.ndarray:
    """Parse the bytes of an IDX file; return a native-endian array of its dtype and shape."""
    if len(data) < 4:
        raise WorkloadError(f"{where}: not an IDX file (only {len(data)} bytes)")
    z0, z1, code, ndim = data[0], data[1], data[2], data[3]
    if z0 != 0 or z1 != 0 or code not in IDX_DTYPES or ndim == 0:
        raise WorkloadError(f"{where}: bad IDX magic number 0x{int.from_bytes(data[:4], 'big'):08x}")
    head = 4 + 4 * ndim
    if len(data) < head:
        raise WorkloadError(f"{where}: truncated IDX header ({len(data)} bytes, need {head})")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dt = np.dtype(IDX_DTYPES[code])
    need = head + int(np.prod(dims, dtype=np.int64)) * dt.itemsize
    if len(data) != need:
        what = "truncated" if len(data) < need else "has trailing bytes"
        raise WorkloadError(f"{where}: IDX data {what}: {len(data)} bytes, expected {need} for shape {dims}")
    arr = np.frombuffer(data, dtype=dt, offset=head).reshape(dims)
    return arr.astype(dt.newbyteorder("="), copy=True)


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (``.gz`` allowed) from disk."""
    path = Path(path)
    return parse_idx(_read_bytes(path), str(path))


def write_idx(path: str | Path, arr: np.ndarray) -> Path:
    """Write ``arr`` as an IDX file (gzip-compressed when the name ends in ``.gz``); used by tests."""
    path = Path(path)
    arr = np.asarray(arr)
    code = _CODES.get(arr.dtype.newbyteorder("="))
    if code is None or arr.ndim == 0 or arr.ndim > 255:
        raise ValueError(f"cannot write dtype {arr.dtype} / ndim {arr.ndim} as IDX")
    head = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    body = np.ascontiguousarray(arr, dtype=IDX_DTYPES[code]).tobytes()
    if path.name.endswith(".gz"):
        with gzip.open(path, "wb") as f:
            f.write(head + body)
    else:
        path.write_bytes(head + body)
    return path

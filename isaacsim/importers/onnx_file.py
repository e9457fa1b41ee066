"""Reading an ONNX file: the parsed graph, its constants, its one input and that input's static shape.

Everything a user can get wrong about the file itself (not ONNX, no input, a dynamic spatial shape,
an op outside the supported set) is one `WorkloadError` line naming the file or the node.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from isaacsim.errors import WorkloadError


@dataclass
class OnnxModel:
    """A loaded ONNX graph: nodes in order, constants by name, the input's name and per-sample shape."""

    path: Path
    nodes: list
    consts: dict[str, np.ndarray]
    input_name: str
    input_shape: tuple[int, ...]
    outputs: list[str]
    consumers: dict[str, list] = field(default_factory=dict)

    def const(self, name: str, node, what: str) -> np.ndarray:
        """A constant input of `node` (an initializer or a Constant node's value)."""
        if name not in self.consts:
            raise WorkloadError(f"{self.path.name}: node {node_label(node)}: {what} {name!r} must be a constant")
        return self.consts[name]

    def sole_consumer(self, tensor: str):
        """The one node that reads `tensor`, or None when none or several do (or it is a graph output)."""
        cs = self.consumers.get(tensor, [])
        return cs[0] if len(cs) == 1 and tensor not in self.outputs else None


def node_label(node) -> str:
    """'NAME' (OpType) of an ONNX node, for messages."""
    return f"{node.name or '(unnamed)'!r} ({node.op_type})"


def node_name(node, taken: set[str]) -> str:
    """A workload node name for an ONNX node: its name with other characters as '_', unique among
    `taken` (and never 'input')."""
    base = re.sub(r"[^A-Za-z0-9_.\-]", "_", node.name or node.op_type).strip("_.-") or node.op_type
    if not re.match(r"[A-Za-z_]", base):
        base = f"n_{base}"
    taken = taken | {"input"}
    name, k = base, 1
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    return name


def attrs(node) -> dict:
    """The node's attributes as Python values."""
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _parse(path: Path):
    try:
        import onnx
        from google.protobuf.message import DecodeError
    except ImportError:
        raise WorkloadError("importing ONNX models needs the onnx package: pip install 'isaacsim[onnx]'") from None

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise WorkloadError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise WorkloadError(f"{path}: is a directory, expected an ONNX file") from None
    except OSError as e:
        raise WorkloadError(f"{path}: cannot read ({e.strerror})") from None
    try:
        model = onnx.load_from_string(data)
    except (DecodeError, ValueError, RuntimeError):
        raise WorkloadError(f"{path.name}: not an ONNX model (the file does not parse as an ONNX protobuf)") from None
    if not model.graph.node:
        raise WorkloadError(f"{path.name}: not an ONNX model (no graph nodes)")
    return model


def _constants(graph) -> dict[str, np.ndarray]:
    from onnx import numpy_helper

    consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for n in graph.node:
        if n.op_type == "Constant":
            a = attrs(n)
            if "value" not in a:
                raise WorkloadError(f"Constant node {node_label(n)}: only a tensor 'value' is supported")
            consts[n.output[0]] = numpy_helper.to_array(a["value"])
    return consts


def _input(graph, consts, where: str) -> tuple[str, tuple[int, ...]]:
    inputs = [i for i in graph.input if i.name not in consts]
    if len(inputs) != 1:
        names = [i.name for i in inputs]
        raise WorkloadError(f"{where}: expected exactly one graph input (besides initializers), found {names}")
    inp = inputs[0]
    dims = inp.type.tensor_type.shape.dim
    if not inp.type.HasField("tensor_type") or len(dims) not in (2, 4):
        raise WorkloadError(f"{where}: input {inp.name!r} must be (N, C, H, W) or (N, features)")
    shape = []
    for k, d in enumerate(dims[1:], start=1):
        if not d.HasField("dim_value") or d.dim_value < 1:
            what = d.dim_param or "unknown"
            raise WorkloadError(f"{where}: input {inp.name!r} has a dynamic dimension {k} ({what!r}); "
                                f"export it with a static shape (only the batch dimension may vary)")
        shape.append(int(d.dim_value))
    return inp.name, tuple(shape)


def load_onnx(path) -> OnnxModel:
    """Parse `path` into an OnnxModel; WorkloadError for a file that is not ONNX, a graph without
    exactly one input, or an input whose non-batch dimensions are not static."""
    path = Path(path)
    model = _parse(path)
    graph = model.graph
    consts = _constants(graph)
    name, shape = _input(graph, consts, path.name)
    nodes = [n for n in graph.node if n.op_type != "Constant"]
    consumers: dict[str, list] = {}
    for n in nodes:
        for i in n.input:
            if i:
                consumers.setdefault(i, []).append(n)
    return OnnxModel(path=path, nodes=nodes, consts=consts, input_name=name, input_shape=shape,
                     outputs=[o.name for o in graph.output], consumers=consumers)

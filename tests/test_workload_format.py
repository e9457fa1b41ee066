"""Workload format: round trip save/load, shapes and LayerShapes, and one-line errors for malformed files."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import yaml
from pydantic import ValidationError

import isaacsim
from isaacsim.errors import WorkloadError
from isaacsim.mapping.layers import layers_of
from isaacsim.workload import Workload, load_workload, save_workload
from tests.support.workloads import tiny_parts


def write_raw(path, manifest, arrays, eval_data=None):
    """Write files without validation (for malformed cases)."""
    path.mkdir(parents=True, exist_ok=True)
    if manifest is not None:
        (path / "workload.yaml").write_text(manifest if isinstance(manifest, str) else yaml.safe_dump(manifest))
    if arrays is not None:
        np.savez(path / "arrays.npz", **arrays)
    if eval_data is not None:
        np.savez(path / "eval.npz", **eval_data)
    return path


def test_round_trip(tmp_path):
    manifest, arrays, ev = tiny_parts()
    wl = save_workload(manifest, tmp_path / "w", arrays=arrays, eval=ev)
    assert isinstance(wl, Workload)
    wl2 = isaacsim.load_workload(tmp_path / "w")
    assert wl2.manifest == wl.manifest
    assert set(wl2.arrays) == set(arrays)
    for k, a in arrays.items():
        assert wl2.arrays[k].dtype == a.dtype and np.array_equal(wl2.arrays[k], a)
    assert np.array_equal(wl2.eval.x, ev[0]) and np.array_equal(wl2.eval.y, ev[1])
    assert wl2.calib is None
    # save a loaded Workload again, to another place
    wl3 = save_workload(wl2, tmp_path / "w3")
    assert wl3.manifest == wl2.manifest
    with pytest.raises(ValueError):
        wl2.arrays["conv1.w"][0, 0, 0, 0] = 1  # read-only


def test_frozen_manifest(tmp_path):
    manifest, arrays, _ = tiny_parts()
    wl = save_workload(manifest, tmp_path / "w", arrays=arrays)
    with pytest.raises(ValidationError):
        wl.manifest.name = "x"
    with pytest.raises(ValidationError):
        wl.manifest.graph[0].kernel = 5


def test_shapes_and_layers(tmp_path):
    manifest, arrays, _ = tiny_parts()
    wl = save_workload(manifest, tmp_path / "w", arrays=arrays)
    assert wl.shapes["conv1"] == (4, 6, 6)
    assert wl.shapes["pool1"] == (4, 3, 3)
    assert wl.shapes["cat"] == (6, 3, 3)
    assert wl.shapes["gap"] == (6, 1, 1)
    assert wl.shapes["flat"] == (6,)
    assert wl.shapes["fc"] == (5,)
    layers = layers_of(wl)
    assert [ly.name for ly in layers] == ["conv1", "conv2", "conv3", "fc"]
    c1, c2, c3, fc = layers
    assert (c1.k, c1.m, c1.n_vectors, c1.input_hw) == (18, 4, 36, (6, 6))
    assert (c2.k, c2.m, c2.n_vectors) == (36, 4, 9)
    assert (c3.groups, c3.k, c3.m) == (2, 2, 1)
    assert (fc.kind, fc.k, fc.m) == ("linear", 6, 5)
    assert wl.formats["cat"].zero_point == 2 and wl.formats["avg"].zero_point == 2


def test_calib_dict_and_int16_weights(tmp_path):
    manifest, arrays, ev = tiny_parts()
    m = copy.deepcopy(manifest)
    m["graph"][0]["weight_bits"] = 12
    arrays = dict(arrays, **{"conv1.w": (arrays["conv1.w"].astype(np.int16) * 16)})
    wl = save_workload(m, tmp_path / "w", arrays=arrays, calib={"x": ev[0]})
    assert wl.calib.y is None and wl.arrays["conv1.w"].dtype == np.int16


# ---------------------------------------------------------------- malformed workloads


def _mutate(fn):
    manifest, arrays, ev = tiny_parts()
    manifest = copy.deepcopy(manifest)
    arrays = dict(arrays)
    out = fn(manifest, arrays)
    return out if out is not None else (manifest, arrays)


def _set(path_keys, value):
    def f(m, a):
        d = m
        for k in path_keys[:-1]:
            d = d[k]
        d[path_keys[-1]] = value
    return f


def _drop_array(key):
    def f(m, a):
        del a[key]
    return f


def _drop(path_keys):
    def f(m, a):
        d = m
        for k in path_keys[:-1]:
            d = d[k]
        del d[path_keys[-1]]
    return f


CASES = {
    "bad_version": (_set(["format_version"], 2), ["workload.yaml", "format_version 2"]),
    "no_version": (_drop(["format_version"]), ["workload.yaml", "format_version"]),
    "unknown_op": (_set(["graph", 5, "op"], "gelu"), ["'relu3'", "unknown op 'gelu'", "conv2d"]),
    "unknown_input": (_set(["graph", 1, "inputs"], ["conv9"]), ["'pool1'", "'conv9'", "names no node"]),
    "forward_ref": (_set(["graph", 1, "inputs"], ["conv2"]), ["'pool1'", "'conv2'", "defined later"]),
    "cycle": (_set(["graph", 0, "inputs"], ["fc"]), ["'conv1'", "'fc'", "cycle"]),
    "missing_array": (_drop_array("conv2.w"), ["arrays.npz", "'conv2'", "'conv2.w'", "missing"]),
    "missing_multiplier": (_drop_array("conv2.m"), ["'conv2'", "multiplier", "missing"]),
    "wrong_dtype": (lambda m, a: a.__setitem__("conv1.w", a["conv1.w"].astype(np.float32)),
                    ["'conv1'", "dtype float32", "int8"]),
    "bias_dtype": (lambda m, a: a.__setitem__("fc.b", a["fc.b"].astype(np.int64)), ["'fc'", "bias", "int32"]),
    "channels_mismatch": (_set(["graph", 2, "out_channels"], 5), ["'conv2'", "shape (4, 4, 3, 3)",
                                                                  "expected (5, 4, 3, 3)"]),
    "kernel_mismatch": (_set(["graph", 0, "kernel"], 5), ["'conv1'", "expected (4, 2, 5, 5)"]),
    "in_features_mismatch": (_set(["graph", 10, "inputs"], ["gap"]), ["'fc'", "flatten"]),
    "weight_range": (lambda m, a: a.__setitem__("fc.w", np.full((5, 6), -128, np.int8)), ["'fc'", "-127..127"]),
    "extra_key": (_set(["graph", 0, "strides"], 2), ["'conv1'", "strides", "did you mean", "stride"]),
    "bad_kernel_type": (_set(["graph", 1, "kernel"], "big"), ["'pool1'", "kernel"]),
    "duplicate_name": (_set(["graph", 1, "name"], "conv1"), ["'conv1'", "duplicate"]),
    "add_mult_count": (_set(["graph", 3, "requant", "multipliers"], [1]), ["'res'", "1 multipliers for 2 inputs"]),
    "add_shape": (_set(["graph", 3, "inputs"], ["pool1", "conv1"]), ["'res'", "different shapes"]),
    "zero_point_range": (_set(["input", "zero_point"], 300), ["input", "zero_point 300"]),
    "missing_requant": (_drop(["graph", 10, "requant"]), ["'fc'", "requant"]),
    "groups": (_set(["graph", 4, "groups"], 3), ["'conv3'", "groups=3"]),
    "dyadic_no_shift": (_drop(["graph", 0, "requant", "shift"]), ["'conv1'", "mode dyadic needs a shift"]),
    "dyadic_float_mult": (_set(["graph", 0, "requant", "multiplier"], 0.5), ["'conv1'", "integer multipliers"]),
    "float32_shift": (_set(["graph", 0, "requant", "mode"], "float32"), ["'conv1'", "float32 takes no shift"]),
    "float32_mult_dtype": (lambda m, a: (m["graph"][2]["requant"].update(mode="float32", shift=None)),
                           ["'conv2'", "multiplier", "dtype int32", "float32"]),
    "unknown_mode": (_set(["graph", 0, "requant", "mode"], "float64"), ["'conv1'", "mode"]),
    "pool_requant_maxpool": (_set(["graph", 1, "requant"], {"mode": "float32_mean", "bits": 8, "signed": False,
                                                            "scale": 0.1}), ["'pool1'", "avgpool only"]),
    "pool_requant_no_mult": (_set(["graph", 8, "requant"], {"mode": "float32", "bits": 8, "signed": False,
                                                            "scale": 0.1}), ["'gap'", "needs a multiplier"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed(tmp_path, case):
    fn, needles = CASES[case]
    manifest, arrays = _mutate(fn)
    write_raw(tmp_path / "w", manifest, arrays)
    with pytest.raises(WorkloadError) as ei:
        load_workload(tmp_path / "w")
    msg = str(ei.value)
    assert "\n" not in msg
    for n in needles:
        assert n in msg, (case, msg)


def test_float32_requant_rules(tmp_path):
    """float32 mode: float32 product, round half to even (ties go to the even code), zero point, clamp;
    add sums float32 terms; a pool requant rescales the centred sum."""
    manifest, arrays, _ = tiny_parts()
    g = manifest["graph"]
    g[0]["requant"] = {**g[0]["requant"], "mode": "float32", "multiplier": 0.5, "shift": None}
    g[3]["requant"] = {**g[3]["requant"], "mode": "float32", "multipliers": [0.5, 0.25], "shift": None}
    g[8]["requant"] = {"mode": "float32", "multiplier": 0.5, "bits": 8, "signed": False, "scale": 0.1,
                       "zero_point": 1}
    wl = save_workload(manifest, tmp_path / "w", arrays=arrays)
    from isaacsim.workload.reference import execute

    x = np.random.default_rng(1).integers(0, 256, size=(3, 2, 6, 6)).astype(np.uint8)
    _, v = execute(wl, x, return_nodes=True)
    from isaacsim.workload.im2col import conv_weight_matrix, fold_output, im2col

    cols = im2col(x.astype(np.int64), (3, 3), (1, 1), (1, 1), (1, 1), 1, pad_value=3)
    acc = fold_output(np.stack([cols[0].reshape(-1, 18) @ conv_weight_matrix(arrays["conv1.w"], 1)[0]
                                .astype(np.int64)]).reshape(1, 3, 36, 4), (6, 6))
    want = np.clip(np.maximum(np.rint((acc + arrays["conv1.b"][None, :, None, None]) * 0.5), 0), 0, 255)
    assert np.array_equal(v["conv1"], want)
    want = np.clip(np.maximum(np.rint(v["pool1"] * np.float32(0.5) + v["conv2"] * np.float32(0.25)), 0), 0, 255)
    assert np.array_equal(v["res"], want)
    want = np.clip(np.rint(v["avg"].sum(axis=(2, 3), keepdims=True) * 0.5 - 2 * 9 * 0.5) + 1, 0, 255)
    assert np.array_equal(v["gap"], want)


def test_missing_manifest(tmp_path):
    _, arrays, _ = tiny_parts()
    write_raw(tmp_path / "w", None, arrays)
    with pytest.raises(WorkloadError, match="workload.yaml: manifest missing"):
        load_workload(tmp_path / "w")
    with pytest.raises(WorkloadError, match="not a workload directory"):
        load_workload(tmp_path / "nowhere")


def test_missing_arrays_file(tmp_path):
    manifest, _, _ = tiny_parts()
    write_raw(tmp_path / "w", manifest, None)
    with pytest.raises(WorkloadError, match="arrays.npz: arrays file missing"):
        load_workload(tmp_path / "w")


def test_yaml_syntax_error(tmp_path):
    _, arrays, _ = tiny_parts()
    write_raw(tmp_path / "w", "format_version: 1\ngraph: [a, b\n  name: x: y\n", arrays)
    with pytest.raises(WorkloadError, match=r"workload.yaml: YAML syntax error at line \d+"):
        load_workload(tmp_path / "w")


def test_object_array_npz(tmp_path):
    manifest, arrays, _ = tiny_parts()
    arrays = dict(arrays, junk=np.array([{"a": 1}, None], dtype=object))
    write_raw(tmp_path / "w", manifest, arrays)
    with pytest.raises(WorkloadError, match="arrays.npz: holds object"):
        load_workload(tmp_path / "w")


def test_corrupt_npz(tmp_path):
    manifest, _, _ = tiny_parts()
    d = write_raw(tmp_path / "w", manifest, None)
    (d / "arrays.npz").write_bytes(b"not a zip")
    with pytest.raises(WorkloadError) as info:
        load_workload(d)
    assert str(info.value) == f"{d}: arrays.npz: not a valid npz file (not a zip archive)"


def test_bad_eval_data(tmp_path):
    manifest, arrays, (x, y) = tiny_parts()
    write_raw(tmp_path / "a", manifest, arrays, {"x": x.astype(np.float32)})
    with pytest.raises(WorkloadError, match="eval.npz: x must be an integer array"):
        load_workload(tmp_path / "a")
    write_raw(tmp_path / "b", manifest, arrays, {"x": x[:, :1]})
    with pytest.raises(WorkloadError, match="eval.npz: x has shape"):
        load_workload(tmp_path / "b")
    write_raw(tmp_path / "c", manifest, arrays, {"x": x.astype(np.int64) + 300})
    with pytest.raises(WorkloadError, match="eval.npz: x values must lie in"):
        load_workload(tmp_path / "c")
    write_raw(tmp_path / "d", manifest, arrays, {"x": x, "y": y[:2]})
    with pytest.raises(WorkloadError, match="eval.npz: y has shape"):
        load_workload(tmp_path / "d")


def test_save_validates_first(tmp_path):
    manifest, arrays, _ = tiny_parts()
    arrays.pop("fc.w")
    with pytest.raises(WorkloadError, match="'fc'"):
        save_workload(manifest, tmp_path / "w", arrays=arrays)
    assert not (tmp_path / "w").exists()


def test_cli_style_one_line_for_top_level_errors(tmp_path):
    manifest, arrays, _ = tiny_parts()
    manifest["nmae"] = "x"
    write_raw(tmp_path / "w", manifest, arrays)
    with pytest.raises(WorkloadError, match=r"workload.yaml: nmae: unknown key \(did you mean 'name'\?\)"):
        load_workload(tmp_path / "w")

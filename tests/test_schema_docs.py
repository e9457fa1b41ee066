"""JSON Schema (`isaacsim schema`) and docs/config.md are generated from the models and stay current."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from pydantic import BaseModel

from isaacsim.cli import main
from isaacsim.config import PRESET_DIR, docgen
from isaacsim.config.loader import raw_config
from isaacsim.config.models import Arch
from isaacsim.files import read_yaml_mapping

PRESETS = ["isaac", "trq_baseline", "trq"]


def _models(root: type[BaseModel] = Arch) -> list[type[BaseModel]]:
    out = [root]
    for f in root.model_fields.values():
        if isinstance(f.annotation, type) and issubclass(f.annotation, BaseModel):
            out += _models(f.annotation)
    return out


@pytest.fixture(scope="module")
def schema() -> dict:
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["schema"]) == 0
    return json.loads(buf.getvalue())


def _def_of(schema: dict, model: type[BaseModel]) -> dict:
    return schema if model is Arch else schema["$defs"][model.__name__]


def test_every_field_has_a_description():
    models = _models()
    assert len(models) == 11
    for model in models:
        assert (model.__doc__ or "").strip(), f"{model.__name__} has no docstring"
        for name, f in model.model_fields.items():
            assert (f.description or "").strip(), f"{model.__name__}.{name} has no description"


def test_schema_lists_every_field_and_forbids_extras(schema):
    assert schema["$schema"].startswith("https://json-schema.org/")
    for model in _models():
        d = _def_of(schema, model)
        assert d.get("additionalProperties") is False, model.__name__
        assert set(model.model_fields) <= set(d["properties"]), model.__name__
        for name in model.model_fields:
            assert d["properties"][name].get("description"), f"{model.__name__}.{name}"
    assert "extends" in schema["properties"]


def test_schema_carries_ranges_and_enums(schema):
    adc = schema["$defs"]["ADCConfig"]["properties"]
    assert adc["resolution"]["minimum"] == 1 and adc["resolution"]["maximum"] == 16
    assert adc["mode"]["enum"] == ["ideal", "uniform", "trq"]


def test_presets_validate_against_schema(schema):
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(schema)
    validator.check_schema(schema)
    for name in PRESETS:
        merged, _ = raw_config(name)
        validator.validate(merged)
        validator.validate(read_yaml_mapping(PRESET_DIR / f"{name}.yaml"))  # extends + dotted keys
    bad = [{"chip": {"tilez": 1}}, {"adc": {"mode": "sar"}}, {"pe": {"adcs": 0}}, {"zzz": 1}]
    for doc in bad:
        assert not validator.is_valid(doc), doc


def test_docs_are_current():
    assert docgen.DOC_PATH.is_file(), "run: python -m isaacsim.config.docgen --write"
    assert docgen.DOC_PATH.read_text(encoding="utf-8") == docgen.render(), (
        "docs/config.md is stale; run: python -m isaacsim.config.docgen --write"
    )


def test_docs_name_every_key_and_preset():
    text = docgen.render()
    for name, f in Arch.model_fields.items():
        model = f.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            assert f"## `{name}`" in text
            for sub, sf in model.model_fields.items():
                assert f"| `{name}.{sub}` |" in text
                assert sf.description.replace("|", "\\|") in text
        else:
            assert f"| `{name}` |" in text
    for preset in PRESETS:
        assert f"| `{preset}` |" in text
    assert "| `adc.mode` | enum | `uniform` | `ideal`, `uniform`, `trq` |" in text
    assert "| `chip.tiles` | int | `168` | 1 .. 1000000 |" in text


def test_docgen_write_and_check(tmp_path, capsys):
    p = tmp_path / "config.md"
    assert docgen.main(["--check", "--path", str(p)]) == 1  # missing
    assert docgen.main(["--write", "--path", str(p)]) == 0
    assert docgen.main(["--check", "--path", str(p)]) == 0
    p.write_text(p.read_text(encoding="utf-8") + "edit\n", encoding="utf-8")
    assert docgen.main(["--check", "--path", str(p)]) == 1
    assert "stale" in capsys.readouterr().err


def test_docgen_check_as_module():
    proc = subprocess.run([sys.executable, "-m", "isaacsim.config.docgen", "--check"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr

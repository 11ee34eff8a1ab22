"""Arm spec parsing: compact flag form, YAML/JSON files, and every malformed-spec error."""
import json

import pytest

from laser_plugin.pool.specs import ArmSpec, parse_arm, parse_pool_spec


def test_compact_form_kinds_names_and_dedup():
    specs = parse_pool_spec("hf:/m/rm, hf:/n/rm ,func:/x/verify.py@ver,http://127.0.0.1:5000/get_reward,"
                            "https://u:pw@rm.example:8443/get_reward@remote")
    assert [s.kind for s in specs] == ["hf", "hf", "func", "http", "http"]
    assert [s.name for s in specs] == ["rm", "rm_2", "ver", "http_127.0.0.1_5000", "remote"]
    assert specs[4].target == "https://u:pw@rm.example:8443/get_reward"  # '@' inside a URL is not a name


def test_hub_ids_and_paths_with_at_that_are_not_names():
    (spec,) = parse_pool_spec("hf:OpenRLHF/Llama-3-8b-rm-mixture")
    assert spec.target == "OpenRLHF/Llama-3-8b-rm-mixture" and spec.name == "Llama-3-8b-rm-mixture"
    assert parse_arm("hf:/models/rm@v2/ckpt").target == "/models/rm@v2/ckpt"


def test_yaml_file_with_defaults_options_and_relative_paths(tmp_path):
    (tmp_path / "verify.py").write_text("def reward_func(q, p, l):\n    return [0.0] * len(q)\n")
    (tmp_path / "pool.yaml").write_text(
        "defaults: {max_len: 512}\n"
        "arms:\n"
        "  - {spec: 'hf:/models/rm_a@a', value_head_prefix: value_head, normalize_reward: true}\n"
        "  - {kind: func, target: verify.py, name: ver, func_kwargs: {factor: 2}, score_scale: -1}\n"
        "  - {spec: 'http://127.0.0.1:9/get_reward', timeout_s: 0.5, retries: 0}\n"
    )
    a, ver, web = parse_pool_spec(tmp_path / "pool.yaml")
    assert (a.name, a.value_head_prefix, a.normalize_reward, a.max_len) == ("a", "value_head", True, 512)
    assert ver.target == str(tmp_path / "verify.py") and ver.func_kwargs == {"factor": 2}
    assert ver.score_scale == -1.0
    assert (web.timeout_s, web.retries, web.max_len) == (0.5, 0, 512)


def test_json_file_list_form(tmp_path):
    path = tmp_path / "pool.json"
    path.write_text(json.dumps(["hf:/m/a", {"kind": "hf", "target": "/m/b", "param_dtype": "fp16"}]))
    specs = parse_pool_spec(str(path))
    assert [s.name for s in specs] == ["a", "b"] and specs[1].param_dtype == "fp16"


@pytest.mark.parametrize(
    "value, match",
    [
        ("", "empty reward pool spec"),
        ("hf:/a,,hf:/b", "empty entry"),
        ("model:/a", "bad arm entry 'model:/a'"),
        ("/just/a/path", "bad arm entry"),
        ("hf:", "empty target"),
        ("func:/x/verify.txt", "must be a .py file"),
        ("http://", "bad arm entry|http"),
        ("hf:/a@same,hf:/b@same", "duplicate arm name 'same'"),
        ("missing_pool.yaml", "does not exist"),
    ],
)
def test_malformed_compact_specs_name_the_entry_and_show_valid_forms(value, match):
    with pytest.raises(ValueError, match=match) as err:
        parse_pool_spec(value)
    if "bad arm entry" in match or "empty" in match:
        assert "valid forms" in str(err.value)


@pytest.mark.parametrize(
    "text, match",
    [
        ("arms: []\n", "non-empty list"),
        ("- {kind: hf}\n", "needs 'spec' or 'kind' \\+ 'target'"),
        ("- {spec: 'hf:/a', colour: red}\n", "valid options"),
        ("- {kind: hf, target: /a, colour: red}\n", "valid keys"),
        ("- 42\n", "must be a string or a mapping"),
        ("models: [hf:/a]\n", "expected keys 'arms'"),
        ("- {spec: 'hf:/a', param_dtype: fp8}\n", "param_dtype"),
        ("- {spec: 'hf:/a', max_len: 0}\n", "max_len must be a positive integer"),
        ("- {spec: 'http://h:1/r', timeout_s: 0}\n", "timeout_s must be > 0"),
        ("arms: [hf:/a\n", "cannot parse"),
    ],
)
def test_malformed_spec_files(tmp_path, text, match):
    path = tmp_path / "pool.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        parse_pool_spec(path)


def test_armspec_validation_direct():
    with pytest.raises(ValueError, match="kind 'onnx' not in"):
        ArmSpec(kind="onnx", target="/a")
    with pytest.raises(ValueError, match="name"):
        ArmSpec(kind="hf", target="/a", name="bad name")
    with pytest.raises(ValueError, match="http\\(s\\)://"):
        ArmSpec(kind="http", target="ftp://host/r")

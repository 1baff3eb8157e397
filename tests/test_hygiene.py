"""Chart hygiene the way chart-testing's `ct lint` does it: helm lint --strict for the
defaults and every ci/ file, yamllint with ct's rules, yamale on Chart.yaml."""
from __future__ import annotations

import json

import pytest
import yamale
from yamllint import linter
from yamllint.config import YamlLintConfig

from support.scenarios import ci_files
from support.helm import ROOT

CT = ROOT / "tests" / "ct"
LINTED = [ROOT / "Chart.yaml", ROOT / "values.yaml", *ci_files()]


@pytest.mark.parametrize("values_file", [None, *ci_files()], ids=lambda p: p.name if p else "defaults")
def test_helm_lint_strict(helm, values_file):
    args = ["lint", "--strict", str(ROOT)] + (["-f", str(values_file)] if values_file else [])
    proc = helm.run(args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 chart(s) failed" in proc.stdout


@pytest.mark.parametrize("path", LINTED, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_yamllint_with_chart_testing_rules(path):
    conf = YamlLintConfig(file=str(CT / "lintconf.yaml"))
    problems = [f"{path.name}:{p.line}:{p.column} {p.rule} {p.message}"
                for p in linter.run(path.read_text(), conf) if p.level == "error"]
    assert not problems, "\n".join(problems)


def test_yamllint_rules_catch_a_planted_mistake():
    conf = YamlLintConfig(file=str(CT / "lintconf.yaml"))
    problems = list(linter.run("a: 1\na: 2\nb:  [ x ]   \n", conf))
    assert {p.rule for p in problems} >= {"key-duplicates", "brackets", "trailing-spaces"}


def test_chart_yaml_matches_chart_testing_schema():
    schema = yamale.make_schema(str(CT / "chart_schema.yaml"))
    data = yamale.make_data(str(ROOT / "Chart.yaml"))
    yamale.validate(schema, data, strict=True)


def test_chart_testing_schema_refuses_a_broken_chart_yaml(tmp_path):
    bad = tmp_path / "Chart.yaml"
    bad.write_text("name: x\nversion: 1.0.0\napiVersion: v2\nhome: h\ndescription: d\nmaintainers: [{email: a@b}]\n")
    with pytest.raises(yamale.YamaleError, match="maintainers"):
        yamale.validate(yamale.make_schema(str(CT / "chart_schema.yaml")), yamale.make_data(str(bad)), strict=True)


def test_chart_yaml_contract():
    import yaml
    chart = yaml.safe_load((ROOT / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2" and chart["name"] == "grpc-ingress"
    assert chart["kubeVersion"] == ">=1.25.0-0"


def test_values_schema_is_self_contained_draft_07_and_subchart_friendly():
    schema = json.loads((ROOT / "values.schema.json").read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["additionalProperties"] is False
    assert {"global", "enabled"} <= set(schema["properties"])
    text = json.dumps(schema)
    assert '"$ref": "http' not in text and "$id" not in text, "no remote references"

    def strict_objects(node, path="$"):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                assert node.get("additionalProperties") is False, f"{path} is not strict"
            for k, v in node.items():
                if k != "global":
                    strict_objects(v, f"{path}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                strict_objects(v, f"{path}[{i}]")
    strict_objects(schema)

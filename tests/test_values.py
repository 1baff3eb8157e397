"""The values interface: the schema's contract (draft-07, strict, friendly to umbrella charts),
unknown keys and wrong types anywhere, and every values set the strategies draw renders valid
manifests (each feature file states what else holds for them)."""
from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest
import yaml

from support.bad_input import assert_refused, bad_values
from support.helm import ROOT
from support.mutations import SCHEMA, assert_edits_refused, edits, get_at, key_re, named_path, path_re, walk
from support.properties import RENDERS
from support.strategies import INT32_MAX, LONGEST_DURATIONS, UINT32_MAX


# --- schema --------------------------------------------------------------------------------

def test_values_schema_is_self_contained_draft_07_and_subchart_friendly():
    schema = json.loads((ROOT / "values.schema.json").read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["additionalProperties"] is False
    assert {"global", "enabled"} <= set(schema["properties"])
    text = json.dumps(schema)
    assert '"$ref": "http' not in text and "$id" not in text, "no remote references"

    def strict_objects(node, path="$"):
        if isinstance(node, dict):
            types = node.get("type") if isinstance(node.get("type"), list) else [node.get("type")]
            if "object" in types and "properties" in node:
                assert node.get("additionalProperties") is False, f"{path} is not strict"
            for k, v in node.items():
                if k != "global":
                    strict_objects(v, f"{path}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                strict_objects(v, f"{path}[{i}]")
    strict_objects(schema)


BAD_VALUES = [
    ("unknown-root-key", {"hostz": ["a.example.com"]}, [r"hostz"]),
]


@pytest.mark.parametrize("values,match", bad_values(BAD_VALUES))
def test_bad_values_are_refused_naming_the_key(helm, values, match):
    assert_refused(helm, values, match)


# --- null means the default ----------------------------------------------------------------

def _map_paths(node, path=()):
    for key, value in node.items():
        if isinstance(value, dict):
            yield path + (key,)
            yield from _map_paths(value, path + (key,))


DEFAULTS = yaml.safe_load((ROOT / "values.yaml").read_text())
# Values whose maps are set, so that null has something to take away: chart-wide and route
# traffic policies, retries and labels.
WITH_MAPS = {
    "commonLabels": {"team": "payments"},
    "trafficPolicy": {"idleTimeout": "30s", "tcpKeepalive": {"time": "10s", "probes": 3}},
    "routes": [{"name": "r", "backend": {"host": "a", "port": 50051, "subsetLabels": {"version": "v1"}},
                "retries": {"attempts": 3}, "trafficPolicy": {"loadBalancer": "RANDOM", "tcpKeepalive": {"probes": 5}}}],
}
ROUTE_MAPS = [("routes", 0, "retries"), ("routes", 0, "trafficPolicy"), ("routes", 0, "trafficPolicy", "tcpKeepalive"),
              ("routes", 0, "backend", "subsetLabels")]


def _with(path, value):
    values = copy.deepcopy(WITH_MAPS)
    node = values
    for key in path[:-1]:
        if isinstance(node, dict):
            node = node.setdefault(key, {})
        else:
            node = node[key]
    node[path[-1]] = value
    return values


@pytest.mark.parametrize("path", [*_map_paths(DEFAULTS), *ROUTE_MAPS], ids=lambda p: ".".join(map(str, p)))
def test_null_for_an_optional_map_renders_what_an_empty_map_renders(helm, path):
    """Helm deletes a key set to null (and the chart's default with it); the chart puts the
    default back, so null means the default, as {} does, for every map of values.yaml and
    the optional maps of a route."""
    empty = helm.template(_with(path, {}))
    null = helm.template(_with(path, None))
    assert empty[0] == 0, empty[2]
    assert null[0] == 0, f"null at {'.'.join(map(str, path))} is refused or crashes the templates:\n{null[2]}"
    assert null[1] == empty[1]


def test_templates_defaults_are_values_yaml():
    """templates/_defaults.tpl is what scripts/values-defaults writes from values.yaml."""
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "values-defaults"), "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


# --- every generated values set ------------------------------------------------------------

@pytest.mark.property
def test_every_generated_values_set_renders_valid_manifests(generated):
    """The base of every @for_every_valid_values_set property in the feature specs: the values
    support.strategies draws are valid, so helm renders them and every document passes the
    validators."""
    generated.assert_holds(RENDERS)


@pytest.mark.property
def test_the_property_run_tries_nulls_range_edges_and_regex_edge_cases(generated):
    raw = [c.raw_values for c in generated.cases]
    text = json.dumps(raw)
    assert ": null" in text and ": {}" in text, "optional maps written as null and {}"
    assert any(d in text for d in LONGEST_DURATIONS), "Go's longest durations"
    assert str(INT32_MAX) in text and str(UINT32_MAX) in text, "the largest int32 and uint32 Istio takes"
    regexes = [r["regex"] for v in raw for r in v["routes"] if "regex" in r]
    assert any(len(r) == 1024 for r in regexes), "a regex of 1,024 characters"
    assert any("(?i)" in r for r in regexes) and any("\\Q" in r for r in regexes), "RE2-only syntax"


# --- bad edits of valid values -------------------------------------------------------------

def m_unknown_key(v, rnd):
    spots = [p for p, val, s in walk(v, SCHEMA)
             if isinstance(val, dict) and s.get("additionalProperties") is False and "properties" in s]
    path = rnd.choice(spots)
    key = rnd.choice(["unexpectedKey", "timeOut", "hostz", "extra_field", "Enabled"])
    get_at(v, path)[key] = rnd.choice([1, "x", True])
    return ([path_re(*path)] if path else []) + [key_re(key)]


def m_wrong_type(v, rnd):
    spots = [(p, s["type"]) for p, val, s in walk(v, SCHEMA)
             if p and not isinstance(val, (dict, list)) and s.get("type") in ("string", "integer", "boolean")]
    path, kind = rnd.choice(spots)
    bad = {"string": [7, True, 1.5], "integer": ["7", True, 1.5], "boolean": ["yes", "true", 1]}[kind]
    get_at(v, path[:-1])[path[-1]] = rnd.choice(bad)
    return [path_re(*named_path(path))]


def m_bad_port(v, rnd):
    spots = [p for p, val, s in walk(v, SCHEMA)
             if p and p[-1] in ("port", "redirectPort") and s.get("type") == "integer"]
    path = rnd.choice(spots)
    get_at(v, path[:-1])[path[-1]] = rnd.choice([0, 65536, -1, 100000])
    return [path_re(*path)]


@pytest.mark.parametrize("mutation", edits(
    m_unknown_key, m_wrong_type, m_bad_port))
def test_bad_edits_of_valid_values_are_refused_naming_the_key(helm, mutation_bases, mutation):
    assert_edits_refused(helm, mutation, mutation_bases)

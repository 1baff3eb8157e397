"""The suite's own tools can fail: the key-path matcher and the round-trip comparison the
bad-input and injection tests rely on. (The Istio promises' own check is in
test_istio_properties.py: test_a_render_of_other_values_breaks_the_promises.)"""
from __future__ import annotations

import json
import re

import pytest

from support.injection import Field, Injected, substitute
from support import mutations
from support.mutations import path_re


def test_path_regexes_do_not_match_longer_paths():
    """The key-path matcher must be able to fail: routes.1 is not routes.10 nor tls.routes.1."""
    assert re.search(path_re("routes", 1), "at routes.1: bad")
    assert re.search(path_re("routes", 1), "- routes.1.timeout: bad")
    assert not re.search(path_re("routes", 1), "at routes.10: bad")
    assert re.search(path_re("hosts"), "at hosts: minItems: got 0, want 1")
    assert not re.search(path_re("hosts"), "tls.hosts.0.hosts.1: not listed")
    assert not re.search(path_re("hosts", 0), "tls.hosts.0: x")


def test_round_trip_check_catches_a_changed_value():
    """The comparison the cases rely on can fail: a value that comes back changed, or a key
    that appears, makes the output differ from the substituted placeholder output."""
    base = [{"metadata": {"name": "x", "annotations": {"note": "zqxjkval"}}}]
    assert substitute(base, "zqxjkval", "a: b") == [{"metadata": {"name": "x", "annotations": {"note": "a: b"}}}]
    assert substitute(base, "zqxjkval", "a: b") != [{"metadata": {"name": "x", "annotations": {"note": "a", "b": None}}}]
    assert substitute(base, "zqxjkval", "true") != [{"metadata": {"name": "x", "annotations": {"note": True}}}]


# --- injection batches (support.injection) ------------------------------------------------------

class _EchoHelm:
    """A helm stand-in whose 'render' is the values themselves, except that it drops the value
    of the key `mangle` names (a chart bug) when it carries the payload."""
    major = 4

    def __init__(self, mangle=None, refuse=None):
        self.mangle, self.refuse = mangle, refuse
        self.renders = 0

    def template(self, values, release, namespace):
        self.renders += 1
        docs = [json.loads(json.dumps(values))]
        if self.refuse and "PAYLOAD" in json.dumps(docs[0].get(self.refuse[0], "")):
            return 1, "", f"Error: 1 problem in the values: 1. {self.refuse[1]}: not taken", None, []
        if self.mangle and self.mangle in docs[0] and "PAYLOAD" in json.dumps(docs[0][self.mangle]):
            docs[0][self.mangle] = {}
        return 0, "x", "", docs, []


class _Item:
    fixturenames = ("injected",)

    def __init__(self, field, payload):
        self.callspec = type("CallSpec", (), {"params": {"field": field, "payload": payload}})()


# Two keys the schema accepts "PAYLOAD" in, in different top-level sections: one batch.
_A = Field("a", lambda s: {"commonAnnotations": {"note": s}}, "zqxjka", "commonAnnotations.note", free_text=True)
_B = Field("b", lambda s: {"tls": {"subjectAltNames": [s]}}, "zqxjkb", "tls.subjectAltNames.0", loose=True)


def test_a_kept_batch_stands_for_its_keys_only_when_every_key_kept_the_payload():
    items = [_Item(_A, "PAYLOAD"), _Item(_B, "PAYLOAD")]
    good = Injected(_EchoHelm(), items)
    assert {(f.name, p) for f, p in good.verified} == {("a", "PAYLOAD"), ("b", "PAYLOAD")}
    good.check(_A, "PAYLOAD")

    bad = Injected(_EchoHelm(mangle="tls"), items)
    assert not bad.verified, "a batch in which one key lost the payload verifies nothing"
    bad.check(_A, "PAYLOAD")  # rendered alone: kept
    with pytest.raises(AssertionError, match="did not round-trip"):
        bad.check(_B, "PAYLOAD")


_C = Field("c", lambda s: {"commonLabels": {"team": s}}, "zqxjkc", "commonLabels.team")


def test_a_kept_batch_the_chart_refuses_is_tried_again_without_the_keys_its_error_names():
    """A key the chart (not the schema) refuses sinks a kept batch: the keys its error names
    render alone (and report the refusal), the others are verified in a second batch."""
    items = [_Item(_A, "PAYLOAD"), _Item(_B, "PAYLOAD"), _Item(_C, "PAYLOAD")]
    helm = _EchoHelm(refuse=("tls", "tls.subjectAltNames[0]"))
    injected = Injected(helm, items)
    assert {(f.name, p) for f, p in injected.verified} == {("a", "PAYLOAD"), ("c", "PAYLOAD")}
    assert injected.results[_B, "PAYLOAD"].rc == 1
    injected.check(_B, "PAYLOAD")  # refused, naming its key
    assert helm.renders == 3 + 2 + 2 + 1  # bases, batch and its base, the retry and its base, b alone


# --- the schema walk bad edits use (support.mutations) ------------------------------------------

def test_the_schema_walk_follows_shared_definitions_like_inline_schemas(monkeypatch):
    """Bad edits find their spots (strict objects, typed leaves) by walking values.schema.json;
    a schema that moves a shape into definitions must not hide it from them."""
    obj = {"type": "object", "additionalProperties": False, "properties": {"x": {"type": "integer"}}}
    inline = {"type": "object", "additionalProperties": False,
              "properties": {"t": {"type": "string"}, "o": obj, "l": {"type": "array", "items": obj}}}
    shared = {"definitions": {"o": obj, "s": {"type": "string"}}, "type": "object", "additionalProperties": False,
              "properties": {"t": {"$ref": "#/definitions/s"}, "o": {"$ref": "#/definitions/o"},
                             "l": {"type": "array", "items": {"$ref": "#/definitions/o"}}}}
    values = {"t": "a", "o": {"x": 1}, "l": [{"x": 2}]}
    monkeypatch.setattr(mutations, "SCHEMA", shared)
    spots = [(p, s.get("type")) for p, _, s in mutations.walk(values, shared)]
    assert spots == [(p, s.get("type")) for p, _, s in mutations.walk(values, inline)]
    assert (("l", 0, "x"), "integer") in spots


# --- schema refusals answered in batches (Helm.prefetch_refusals) ------------------------------

def _lines(stderr: str) -> list[str]:
    """An error's lines, in order-free form: both Helms list a map's errors (and the names in
    "additional properties 'a', 'b'") in Go's random map order, run to run."""
    return sorted(re.sub(r"'[^']*'(, '[^']*')+", lambda m: ", ".join(sorted(m.group(0).split(", "))), line)
                  for line in stderr[stderr.index("Error:"):].splitlines())


def test_a_batched_schema_refusal_is_the_standalone_render_s_error(helm):
    """Each values set's answer from an umbrella render is the error `helm template` gives
    it alone (same lines, the chart's name in the header), and a set the schema accepts gets
    no answer from the batch (it renders alone): the batched bad-input rows can fail."""
    from support.helm import Helm
    rows = [{"listeners": 7}, {"bogus": 1, "tls": {"mode": "X"}}, {"commonLabels": {"a": 1}},
            {"routes": [{"name": "a b", "timeout": "x", "backend": {"host": "h", "port": 70000}}]},
            {"tls": {"minProtocolVersion": "TLSV1_1"}, "routes": [{"name": "r", "timeout": 5}]}]
    accepted = {"routes": [{"name": "r", "backend": {"host": "greeter", "port": 50051}, "timeout": "5s"}]}
    batched = Helm(binary=helm.binary, version=helm.version)
    assert batched.prefetch_refusals(rows + [accepted]) == len(rows)
    assert batched.processes == 2  # the package, then one render for all of them
    for values in rows:
        rc, out, err, docs, _ = batched.template(values)
        alone = Helm(binary=helm.binary, version=helm.version).template(values)
        assert (rc != 0, out, docs) == (alone[0] != 0, alone[1], alone[3])
        assert _lines(err) == _lines(alone[2])
        assert "grpc-ingress:" in err.splitlines()
    assert batched.processes == 2  # every row came from the batch
    assert batched.template(accepted)[0] == 0 and batched.processes == 3


# --- Istio's deployment controller, shared between sessions (ISTIO_CACHE) ----------------------

def test_a_gateway_install_asked_in_one_session_is_read_by_the_next_through_istio_cache(helm, tmp_path, monkeypatch):
    """scripts/test's two Helm runs share ISTIO_CACHE: the deployment controller's answer for a
    Gateway one session asked is read by the other, with no harness process of its own."""
    from support import istio
    gw = helm.render({"api": "gateway-api", "gateway": {"name": "shared-cache-check"}}).one("Gateway")
    monkeypatch.setenv("ISTIO_CACHE", str(tmp_path))
    monkeypatch.setattr(istio, "_DEPLOYED", {})
    before = istio.DEPLOY_STATS["processes"]
    (first,) = istio.deployed([gw])
    assert istio.DEPLOY_STATS["processes"] == before + 1
    monkeypatch.setattr(istio, "_DEPLOYED", {})  # a second session: nothing asked yet
    (second,) = istio.deployed([gw])
    assert istio.DEPLOY_STATS["processes"] == before + 1, "the second session ran the controller again"
    assert second == first and any(o["kind"] == "Service" for o in second)

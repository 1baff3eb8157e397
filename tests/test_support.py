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

    def __init__(self, mangle=None):
        self.mangle = mangle

    def template(self, values, release, namespace):
        docs = [json.loads(json.dumps(values))]
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

"""The suite's own tools can fail: the key-path matcher, the round-trip comparison the
bad-input and injection tests rely on, and the routing model the routing specs ask."""
from __future__ import annotations

import json
import re

import pytest

from support.injection import Field, Injected, substitute
from support import mutations
from support.mutations import path_re
from support.routing import route_for, traffic_shares


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


# --- the routing model (support.routing) --------------------------------------------------------

def _dest(host, subset=None, weight=None):
    d = {"destination": {"host": host, "port": {"number": 50051}}}
    if subset:
        d["destination"]["subset"] = subset
    if weight is not None:
        d["weight"] = weight
    return d


MODEL_VS = {"spec": {"http": [
    {"name": "exact", "match": [{"uri": {"exact": "/a.S/M"}}], "route": [_dest("one", weight=37)]},
    {"name": "service", "match": [{"uri": {"prefix": "/a.S/"}}],
     "route": [_dest("two", "v1", 90), _dest("two", "v2", 10)]},
    {"name": "regex", "match": [{"uri": {"regex": "/r\\.S/(Get|List)"}}], "route": [_dest("three")]},
    {"name": "web", "match": [{"uri": {"prefix": "/w/"}, "headers": {"content-type": {"prefix": "application/grpc-web"}}}],
     "route": [_dest("four")]},
    {"name": "all", "route": [_dest("five")]},
]}}


def test_the_first_matching_entry_serves_a_call():
    assert route_for(MODEL_VS, "/a.S/M")["name"] == "exact"
    assert route_for(MODEL_VS, "/a.S/Mx")["name"] == "service"
    assert route_for(MODEL_VS, "/b.S/M")["name"] == "all"


def test_regexes_match_the_whole_path_and_every_header_must_match():
    assert route_for(MODEL_VS, "/r.S/List")["name"] == "regex"
    assert route_for(MODEL_VS, "/r.S/ListAll")["name"] == "all"
    assert route_for(MODEL_VS, "/w/x", headers={"content-type": "application/grpc-web+proto"})["name"] == "web"
    assert route_for(MODEL_VS, "/w/x", method="OPTIONS")["name"] == "all", "a preflight carries no content-type"


def test_no_match_and_no_catch_all_means_no_route():
    assert route_for({"spec": {"http": MODEL_VS["spec"]["http"][:1]}}, "/b.S/M") is None


def test_traffic_shares_are_what_envoy_sends_each_destination():
    entries = {e["name"]: e for e in MODEL_VS["spec"]["http"]}
    assert traffic_shares(entries["exact"]) == {("one", 50051, None): 100}, "a lone destination takes every call"
    assert traffic_shares(entries["service"]) == {("two", 50051, "v1"): 90, ("two", 50051, "v2"): 10}
    unweighted = {"route": [_dest("a", weight=100), _dest("b")]}
    assert traffic_shares(unweighted) == {("a", 50051, None): 100, ("b", 50051, None): 0}


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

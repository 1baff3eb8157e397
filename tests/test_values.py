"""The values interface: the schema's contract, every values set the strategies draw renders
valid manifests that route as promised, and strings from values never inject YAML."""
from __future__ import annotations

import pytest

from support.bad_input import bad_values
from support.routing import backends_for, route_for
from support.summary import STATS
from support.values import PEM_CERT, PEM_KEY
import copy
import json
import random

from hypothesis import given, note, settings
from hypothesis import strategies as st

from support.mutations import BASE, SCHEMA, assert_refused, get_at, key_re, named_path, path_re, walk
from support.mutations import quiet_helm  # noqa: F401 (a fixture)
from support.strategies import COMMON_SETTINGS, MUTATIONS_PER_KIND, valid_cases
from concurrent.futures import ThreadPoolExecutor
import re

from support.helm import ROOT, normalize_paths
from support.injection import (FREE_TEXT_PAYLOADS, HARD_TEXT, HELM3_OWN_REFUSAL, PAYLOADS, SHORT_LIST_FIELDS, Field,
                               _case_id, occurrences, plan, render_utf8, substitute)
from support.injection import path_re as error_path_re
from support.strategies import EXAMPLES, _targets
from support.values import CERT_MANAGER, WEB


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
            if node.get("type") == "object" and "properties" in node:
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
def test_bad_values_fail_and_name_the_key(helm, values, match):
    STATS["bad_input_cases"] += 1
    helm.render_fails(values, match=match)


# --- every generated values set ------------------------------------------------------------

def expected_destinations(route):
    """What backends_for() must answer for a path this route serves."""
    targets = _targets(route)
    weighted = len(targets) > 1
    return sorted(((t["host"], t["port"], t.get("subset"), t.get("weight", 0) if weighted else None)
                   for t in targets), key=repr)

def probe_paths(route):
    """Paths the route must serve (Probe is never a generated method name)."""
    paths = ["/%s/Probe" % s for s in route.get("services", [])]
    paths += ["/" + m for m in route.get("methods", [])]
    if "prefix" in route:
        paths.append(route["prefix"] + "Probe")
    if "regex" in route:
        paths.append(route["regex"].replace("\\.", ".").replace(".*", "Probe"))
    return paths

_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")

def check_invariants(values, r, release, namespace):
    vs = r.one("VirtualService")
    routes = values["routes"]
    by_name = {route["name"]: route for route in routes}
    entries = vs["spec"]["http"]
    assert sorted(e["name"] for e in entries) == sorted(by_name), "one http entry per route"
    gw = values["gateway"]
    if gw["create"]:
        meta = r.one("Gateway")["metadata"]
        assert meta["namespace"] == gw.get("namespace", namespace) and meta["name"] == gw.get("name", meta["name"])
        assert vs["spec"]["gateways"] == ["%s/%s" % (meta["namespace"], meta["name"])]
    else:
        assert vs["spec"]["gateways"] == [gw["ref"]]

    # Every route's services, methods and raw matches reach that route's destinations.
    for route in routes:
        for path in probe_paths(route):
            entry = route_for(vs, path)
            assert entry is not None and entry["name"] == route["name"], \
                "%s reaches %s, not route %s" % (path, entry and entry["name"], route["name"])
            assert sorted(backends_for(vs, path), key=repr) == expected_destinations(route), path
    catch_all = [route["name"] for route in routes if not probe_paths(route)]
    fallback = catch_all[0] if catch_all else None
    entry = route_for(vs, "/zz.Unknown/Call")
    assert (entry and entry["name"]) == fallback

    # Near misses: a service's longer or shorter neighbour (pkg1.Svc1Admin / pkg1.Svc1) and a
    # method's longer neighbour (pkg1.Svc1/M1x) go where their own service goes.
    owner = {s: route["name"] for route in routes for s in route.get("services", [])}
    for route in routes:
        for s in route.get("services", []):
            neighbour = s[:-len("Admin")] if s.endswith("Admin") else s + "Admin"
            entry = route_for(vs, "/%s/Probe" % neighbour)
            assert (entry and entry["name"]) == owner.get(neighbour, fallback), "/%s/Probe" % neighbour
        for m in route.get("methods", []):
            entry = route_for(vs, "/%sx" % m)
            assert (entry and entry["name"]) == owner.get(m.split("/")[0], fallback), "/%sx" % m
    if catch_all:
        assert "match" not in entries[-1] and entries[-1]["name"] == catch_all[0], "the catch-all goes last"

    # Streams never get a route timeout; unary routes keep theirs.
    for e in entries:
        route = by_name[e["name"]]
        if route.get("streaming"):
            assert "timeout" not in e, "streaming route %s has a timeout" % e["name"]
        else:
            assert e.get("timeout") == route.get("timeout")
        assert ("corsPolicy" in e) == bool(values.get("grpcWeb", {}).get("enabled"))

    # Names: DNS-1123 subdomains of at most 63 characters, unique per kind and namespace.
    seen = set()
    for d in r.docs:
        meta = d["metadata"]
        assert len(meta["name"]) <= 63 and _SUBDOMAIN.match(meta["name"]), "%s %r" % (d["kind"], meta["name"])
        identity = (d["apiVersion"], d["kind"], meta.get("namespace"), meta["name"])
        assert identity not in seen, identity
        seen.add(identity)

    # Gateway: port names unique, one protocol family per port number.
    if values["gateway"]["create"]:
        servers = r.one("Gateway")["spec"]["servers"]
        names = [s["port"]["name"] for s in servers]
        assert len(names) == len(set(names)), names
        protocols = {}
        for s in servers:
            protocols.setdefault(s["port"]["number"], set()).add(s["port"]["protocol"])
        assert all(len(p) == 1 for p in protocols.values()), protocols
    else:
        assert not r.has("Gateway")

    # The servers are exactly the listeners asked for, on the hosts asked for.
    assert vs["spec"]["hosts"] == values["hosts"]
    tls, h2c, web = values["tls"], values.get("h2c", {}), values.get("grpcWeb", {})
    if values["gateway"]["create"]:
        expected = set()
        if tls["enabled"]:
            expected.add((tls["port"], "HTTPS"))
            if tls.get("httpsRedirect"):
                expected.add((tls["redirectPort"], "HTTP"))
        if h2c.get("enabled"):
            expected.add((h2c["port"], "HTTP2"))
        if web.get("enabled") and not tls["enabled"]:
            expected.add((web["port"], "GRPC-WEB"))
        servers = r.one("Gateway")["spec"]["servers"]
        assert {(s["port"]["number"], s["port"]["protocol"]) for s in servers} == expected
        for protocol in {p for _, p in expected}:
            served = [h for s in servers if s["port"]["protocol"] == protocol for h in s["hosts"]]
            assert sorted(served) == sorted(values["hosts"]), "%s servers cover %s" % (protocol, served)

    # gRPC-Web over TLS: the EnvoyFilter exactly when asked, on the pod's listener port.
    mode = str(web.get("envoyFilter", {}).get("enabled", "auto")).lower()
    wants_filter = web.get("enabled") and tls["enabled"] and (mode == "true" or (mode == "auto" and values["gateway"]["create"]))
    assert r.has("EnvoyFilter") == bool(wants_filter)
    if wants_filter:
        port = web.get("envoyFilter", {}).get("listenerPort", 8443) or tls["port"]
        assert {p["match"]["listener"]["portNumber"] for p in r.one("EnvoyFilter")["spec"]["configPatches"]} == {port}

    # Backend Services: Istio must know their port speaks gRPC.
    for s in values.get("backendServices", []):
        (port,) = r.one("Service", s["name"])["spec"]["ports"]
        assert port["name"] == s.get("portName", port["name"]) and re.match(r"grpc(-|$)", port["name"]), port
        assert port["appProtocol"] == s.get("appProtocol", "grpc") and port["protocol"] == "TCP", port
        assert (port["port"], port["targetPort"]) == (s["port"], s.get("targetPort", s["port"]))

    # A DestinationRule for name.ns.svc[.cluster.local] lives in ns, where Istio applies it.
    for dr in r.of_kind("DestinationRule"):
        parts = dr["spec"]["host"].removesuffix(".cluster.local").split(".")
        want = parts[1] if len(parts) == 3 and parts[2] == "svc" else namespace
        assert dr["metadata"]["namespace"] == want, dr["spec"]["host"]

    # Every subset a destination names is defined, unless defined elsewhere.
    if not values.get("externalSubsets"):
        defined = {(dr["spec"]["host"], s["name"]) for dr in r.of_kind("DestinationRule")
                   for s in dr["spec"].get("subsets", [])}
        for e in entries:
            for dest in e["route"]:
                d = dest["destination"]
                if "subset" in d:
                    assert (d["host"], d["subset"]) in defined, d

@settings(max_examples=EXAMPLES, **COMMON_SETTINGS)
@given(case=valid_cases())
def test_every_valid_values_set_renders_and_routes_as_promised(quiet_helm, case):
    values, release, namespace = case
    note(json.dumps(values, indent=1))
    STATS["hypothesis_examples"] += 1
    r = quiet_helm.helm.render(values, release=release, namespace=namespace)  # validated by conftest's validator
    check_invariants(values, r, release, namespace)

def test_base_values_are_valid(helm):
    check_invariants(BASE, helm.render(BASE, release="base", namespace="apps"), "base", "apps")


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


MUTATIONS = {fn.__name__[2:]: fn for fn in [
    m_unknown_key, m_wrong_type, m_bad_port,
]}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_each_mutation_of_the_base_values_is_refused(helm, name):
    values = copy.deepcopy(BASE)
    patterns = MUTATIONS[name](values, random.Random(name))
    STATS["bad_input_cases"] += 1
    assert_refused(helm, values, patterns, "base", "apps")


@pytest.mark.parametrize("name", sorted(MUTATIONS))
@settings(max_examples=max(1, MUTATIONS_PER_KIND), **COMMON_SETTINGS)
@given(case=valid_cases(max_routes=4), rnd=st.randoms(use_true_random=False))
def test_mutations_of_valid_values_are_refused_naming_the_key(quiet_helm, name, case, rnd):
    """Each mutation on a few random valid values sets (parametrized rather than drawn, so
    every mutation runs: hypothesis draws the first items of a sampled_from far more often)."""
    values, release, namespace = copy.deepcopy(case)
    patterns = MUTATIONS[name](values, rnd)
    note("mutation %s -> %s\n%s" % (name, patterns, json.dumps(values, indent=1)))
    STATS["hypothesis_examples"] += 1
    STATS["bad_input_cases"] += 1
    assert_refused(quiet_helm.helm, values, patterns, release, namespace)


# --- values are data: no YAML injection ----------------------------------------------------

def _route(**kw):
    r = {"name": "r", "services": ["pkg.Svc"], "backend": {"host": "svc", "port": 50051}}
    r.update(kw)
    return r

FIELDS = [
    Field("hosts", lambda s: {"hosts": [s, "grpc.example.com"], "tls": {"certManager": CERT_MANAGER, "credentialName": ""}},
          "zqxjk.example", "hosts.0"),
    Field("route-name", lambda s: {"routes": [_route(name=s)]}, "zqxjk-route", "routes.0.name"),
    Field("backend-host", lambda s: {"routes": [_route(backend={"host": s, "port": 50051})]}, "zqxjk-backend",
          "routes.0.backend.host"),
    Field("allow-header", lambda s: {"grpcWeb": {**WEB, "cors": {**WEB["cors"], "allowHeaders": [s]}}}, "zqxjk-hdr",
          "grpcWeb.cors.allowHeaders.0"),
    Field("expose-header", lambda s: {"grpcWeb": {**WEB, "cors": {**WEB["cors"], "exposeHeaders": [s]}}}, "zqxjk-hdr",
          "grpcWeb.cors.exposeHeaders.0"),
    Field("label-key", lambda s: {"commonLabels": {s: "v"}, "tls": {"certManager": CERT_MANAGER, "credentialName": ""}},
          "zqxjkkey", "commonLabels"),
    Field("label-value", lambda s: {"commonLabels": {"team": s}, "tls": {"certManager": CERT_MANAGER, "credentialName": ""}},
          "zqxjkval", "commonLabels.team"),
    Field("annotation-key", lambda s: {"commonAnnotations": {s: "v"}}, "zqxjkkey", "commonAnnotations"),
    Field("selector-key", lambda s: {"gateway": {"selector": {s: "v"}}, "grpcWeb": WEB}, "zqxjkkey", "gateway.selector"),
    Field("selector-value", lambda s: {"gateway": {"selector": {"app": s}}, "grpcWeb": WEB}, "zqxjkval",
          "gateway.selector.app"),
    Field("subset-label-key", lambda s: {"routes": [_route(backend=None, backends=[
        {"host": "svc", "port": 1, "subset": "v1", "subsetLabels": {s: "v"}}])]}, "zqxjkkey",
        "routes.0.backends.0.subsetLabels"),
    Field("subset-label-value", lambda s: {"routes": [_route(backend=None, backends=[
        {"host": "svc", "port": 1, "subset": "v1", "subsetLabels": {"version": s}}])]}, "zqxjkval",
        "routes.0.backends.0.subsetLabels.version"),
    Field("credential-name", lambda s: {"tls": {"credentialName": s, "secret": {"create": True, "cert": PEM_CERT, "key": PEM_KEY}}},
          "zqxjk-tls", "tls.credentialName"),
    Field("issuer-name", lambda s: {"tls": {"certManager": {**CERT_MANAGER, "issuerRef": {"name": s}}}}, "zqxjk-issuer",
          "tls.certManager.issuerRef.name"),
    # free text
    Field("annotation-value", lambda s: {"commonAnnotations": {"note": s}}, "zqxjkval", "commonAnnotations.note", True),
    # strings with a loose syntax, refused only for what YAML or Envoy cannot carry
    Field("subject-alt-name", lambda s: {"tls": {"mode": "MUTUAL", "externalCA": True, "subjectAltNames": [s]}},
          "zqxjkval", "tls.subjectAltNames.0"),
    Field("origin-exact", lambda s: {"grpcWeb": {**WEB, "cors": {"allowOrigins": [{"exact": s}]}}}, "zqxjkval",
          "grpcWeb.cors.allowOrigins.0"),
    Field("route-regex", lambda s: {"routes": [{"name": "r", "regex": s, "backend": {"host": "svc", "port": 1}}]},
          "/zqxjkval", "routes.0.regex"),
]

# Empty has a documented meaning for credentialName: derive <fullname>-tls (test_scenarios).
MEANINGFUL = {("credential-name", "")}

CASES = [(f, p) for f in FIELDS for p in (FREE_TEXT_PAYLOADS if f.name in SHORT_LIST_FIELDS else PAYLOADS)
         if (f.name, p) not in MEANINGFUL]

CASES += [(f, p) for f in FIELDS if f.free_text or f.name in SHORT_LIST_FIELDS for p in HARD_TEXT]

# Known chart bugs, (field name, payload) -> reason: such a case is expected to fail and turns
# red once fixed (strict xfail), so the entry goes with the fix. None today.
KNOWN_BUGS: dict = {}


@pytest.fixture(scope="module")
def rendered(helm):
    """Every job's render, two helm processes at a time; (case or base key) -> Result."""
    jobs, where = plan(CASES, FIELDS)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(jobs, pool.map(lambda v: render_utf8(helm, v), jobs.values())))
    out = {key: results[job] for key, job in where.items()}
    out.update({key: results[key] for key in jobs if key[0] == "base"})
    return out

def test_every_placeholder_renders_valid_manifests_where_the_field_lands(helm, rendered):
    """The base renders are what the cases compare against: they must be valid and carry
    the placeholder, or a case could pass without the payload reaching the output."""
    for f in FIELDS:
        base = rendered["base", f.name]
        assert base.rc == 0 and base.docs, "%s: %s" % (f.name, base.stderr or base.parse_error)
        assert helm.validate(base.docs) == [], f.name
        assert occurrences(base.docs, f.placeholder) > 0, "%s: the placeholder does not reach the output" % f.name

@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_payload_is_refused_naming_the_key_or_round_trips_exactly(request, helm, rendered, case):
    field, payload = case
    if (field.name, payload) in KNOWN_BUGS:
        request.applymarker(pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[field.name, payload]))
    STATS["bad_input_cases"] += 1
    got = rendered[field, payload]
    if got.rc != 0 and helm.major == 3 and payload in HARD_TEXT and HELM3_OWN_REFUSAL in got.stderr:
        return
    if got.rc != 0:
        assert not field.free_text, \
            "%s is free text; helm refused %r:\n%s" % (field.path, payload, got.stderr)
        assert not got.stdout.strip(), "a refused render must print no manifests"
        assert re.search(error_path_re(field.path), normalize_paths(got.stderr)), \
            "the error does not name %s:\n%s" % (field.path, got.stderr)
        return
    assert got.parse_error is None, "the output is not loadable YAML: %s" % got.parse_error
    base = rendered["base", field.name]
    expected = substitute(base.docs, field.placeholder, payload)
    assert got.docs == expected, "%r did not round-trip: the output differs from the placeholder's beyond the value" % payload

def test_annotation_values_are_never_refused(rendered):
    """Annotation values are free text: whatever the string, helm renders it."""
    refused = [p for f, p in CASES if f.name == "annotation-value" and p in PAYLOADS and rendered[f, p].rc != 0]
    assert refused == []

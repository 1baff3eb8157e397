"""Values cannot inject YAML.

A string from values that contains YAML or template syntax (": ", "#", quotes, newlines,
"{{ }}", unicode, surrounding spaces, true/null/0x10/~/*anchor/&a/!tag...) either makes
helm refuse the values, naming the key, or is rendered quoted: the parsed output is the
output of a harmless placeholder with the placeholder replaced by the exact string, so no
key is added, removed or changed anywhere. Annotation values are free text: never refused
(except by Helm 3 itself, for characters YAML cannot carry), always round-trip.

Also: long release names and name overrides give names of at most 63 characters that are
DNS-1123 labels, and long names that share a prefix do not collide.
"""
from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from jsonschema import Draft7Validator

from support.summary import STATS
from support.helm import ROOT, normalize_paths

# --- rendering ----------------------------------------------------------------------------


@dataclass
class Result:
    rc: int
    stdout: str
    stderr: str
    docs: list | None
    parse_error: str | None




def render_utf8(helm, values, release="inj", namespace="default") -> Result:
    """helm template through the session's render cache (values written by helm.values_json)."""
    rc, out, err, docs, errors = helm.template(values, release=release, namespace=namespace)
    if rc != 0:
        return Result(rc, out, err, None, None)
    if docs is None:  # output that a YAML 1.1 reader cannot load is a failure too
        return Result(0, out, err, None, "; ".join(errors))
    return Result(0, out, err, docs, None)


def substitute(node, placeholder, payload):
    """The node with placeholder replaced by payload in every key and string value."""
    if isinstance(node, dict):
        return {substitute(k, placeholder, payload): substitute(v, placeholder, payload) for k, v in node.items()}
    if isinstance(node, list):
        return [substitute(v, placeholder, payload) for v in node]
    if isinstance(node, str):
        return node.replace(placeholder, payload)
    return node


def occurrences(node, needle) -> int:
    if isinstance(node, dict):
        return sum(occurrences(k, needle) + occurrences(v, needle) for k, v in node.items())
    if isinstance(node, list):
        return sum(occurrences(v, needle) for v in node)
    return int(isinstance(node, str) and needle in node)


def path_re(path: str) -> str:
    return r"(?<![\w.])" + re.escape(path) + r"(?!\w)"


# --- fields and payloads ------------------------------------------------------------------

PEM_CERT = "-----BEGIN CERTIFICATE-----\nMIIBdummy\n-----END CERTIFICATE-----\n"
PEM_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEdummy\n-----END PRIVATE KEY-----\n"
WEB = {"enabled": True, "cors": {"allowOrigins": ["https://app.example.com"]}}
CERT_MANAGER = {"enabled": True, "issuerRef": {"name": "ca"}}


def _route(**kw):
    r = {"name": "r", "services": ["pkg.Svc"], "backend": {"host": "svc", "port": 50051}}
    r.update(kw)
    return r


@dataclass(frozen=True)
class Field:
    """A place a string from values ends up in the output. build(s) -> values with s there;
    placeholder: a valid, unique stand-in; path: how a refusal must name the key;
    free_text: the schema allows any string, so it must always render and round-trip."""
    name: str
    build: object
    placeholder: str
    path: str
    free_text: bool = False


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


def _clean(values):
    """Drop the None placeholders _route uses to remove a key."""
    for r in values.get("routes", []):
        for k in [k for k, v in r.items() if v is None]:
            del r[k]
    return values


PAYLOADS = [
    # YAML syntax
    "a: b", "# comment", "a #b", "'single'", '"double"', "- item", "[a]", "{a: 1}", "|", "---", "a\tb", "\\",
    # template syntax: values are data, never templates
    "{{ .Release.Name }}",
    # newlines, spaces, unicode
    "line1\nline2", "trailing\n", " lead", "trail ", "", "ünïcødé ☃", "\U0001F600",
    # scalars YAML would read as something else
    "true", "False", "null", "~", "yes", "0x10", "012", "1e3", "1.5", "2001-12-14", "*anchor", "&a", "!tag",
    # strings that pass the host / label patterns and stay strings only when quoted
    "1.0e10", "0x10.example",
]

# SANs, CORS origins and raw regexes (loose syntax, mostly refused) get a shorter list.
FREE_TEXT_PAYLOADS = ["a: b", "# comment", '"double"', "line1\nline2", " lead", "trail ", "{{ .Release.Name }}",
                      "\U0001F600", "true", "null", "~", "*anchor", "&a", "!tag"]
SHORT_LIST_FIELDS = {"subject-alt-name", "origin-exact", "route-regex"}

# Strings that toYaml/fromYaml cannot carry: written plain, "=" and "<<" load as YAML 1.1
# value/merge tags; sigs.k8s.io/yaml (behind Helm's toYaml and fromYaml) fails on DEL, C1
# controls and noncharacters (toYaml then returns "", dropping a whole block) and folds NEL
# into a space. Values carrying them must be quoted one by one, or refused.
HARD_TEXT = ["=", "<<", "a\u007fb", "a\u0080b", "a\ufffeb", "a\u0085b"]

# Empty has a documented meaning for credentialName: derive <fullname>-tls (test_scenarios).
MEANINGFUL = {("credential-name", "")}
CASES = [(f, p) for f in FIELDS for p in (FREE_TEXT_PAYLOADS if f.name in SHORT_LIST_FIELDS else PAYLOADS)
         if (f.name, p) not in MEANINGFUL]
CASES += [(f, p) for f in FIELDS if f.free_text or f.name in SHORT_LIST_FIELDS for p in HARD_TEXT]

# Known chart bugs, (field name, payload) -> reason: such a case is expected to fail and turns
# red once fixed (strict xfail), so the entry goes with the fix. None today.
KNOWN_BUGS: dict = {}

# Helm 3 itself refuses values holding characters YAML cannot carry raw (it re-encodes the
# values as YAML to check the schema), before the chart is involved and without naming the
# key; Helm 4 hands them to the chart.
HELM3_OWN_REFUSAL = "control characters are not allowed"


def _case_id(case):
    field, payload = case
    return "%s-%s" % (field.name, json.dumps(payload, ensure_ascii=True)[1:-1] or "empty")


def _python_patterns(node):
    """The schema with its Go RE2 \\x{HHHH} escapes written the way Python's re spells them."""
    if isinstance(node, dict):
        return {_python_patterns(k) if isinstance(k, str) else k: _python_patterns(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_python_patterns(v) for v in node]
    if isinstance(node, str):
        return re.sub(r"\\x\{([0-9a-fA-F]+)\}", lambda m: "\\U%08x" % int(m.group(1), 16), node)
    return node


_SCHEMA = Draft7Validator(_python_patterns(json.loads((ROOT / "values.schema.json").read_text())))


def schema_refuses(values) -> bool:
    """Does values.schema.json refuse these values? ("required" aside: helm merges the
    defaults in first.) Only used to batch renders: a wrong guess fails the case."""
    return any(e.validator != "required" for e in _SCHEMA.iter_errors(values))


class Conflict(Exception):
    pass


def merge(a, b):
    """Deep merge of two values sets that must not disagree on any key or list item."""
    if isinstance(a, dict) and isinstance(b, dict):
        return {**a, **{k: merge(a[k], v) if k in a else v for k, v in b.items()}}
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [merge(x, y) for x, y in zip(a, b)]
    if a == b and type(a) is type(b):
        return a
    raise Conflict


def _overlaps(p, q):
    return p == q or p.startswith(q + ".") or q.startswith(p + ".")


def plan(cases):
    """Render jobs: {job key: values} and {case: job key}. A payload the schema refuses in
    several fields is tried in all of them in one render (helm lists every schema error, and
    each case checks that its own key is named); fields whose values would clash, or whose
    paths nest, go to separate renders. Everything else renders alone."""
    jobs = {("base", f.name): _clean(f.build(f.placeholder)) for f in FIELDS}
    where = {}
    batches = {}  # payload -> [(values, [fields])]
    for f, p in cases:
        values = _clean(f.build(p))
        if not schema_refuses(values):
            jobs[f.name, p] = values
            where[f, p] = (f.name, p)
            continue
        for i, (merged, fields) in enumerate(batches.setdefault(p, [])):
            if any(_overlaps(f.path, g.path) for g in fields):
                continue
            try:
                batches[p][i] = (merge(merged, values), fields + [f])
                break
            except Conflict:
                continue
        else:
            batches[p].append((values, [f]))
    for p, groups in batches.items():
        for i, (merged, fields) in enumerate(groups):
            jobs["batch", p, i] = merged
            where.update({(f, p): ("batch", p, i) for f in fields})
    return jobs, where


@pytest.fixture(scope="module")
def rendered(helm):
    """Every job's render, two helm processes at a time; (case or base key) -> Result."""
    jobs, where = plan(CASES)
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
        assert re.search(path_re(field.path), normalize_paths(got.stderr)), \
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


def test_round_trip_check_catches_a_changed_value():
    """The comparison the cases rely on can fail: a value that comes back changed, or a key
    that appears, makes the output differ from the substituted placeholder output."""
    base = [{"metadata": {"name": "x", "annotations": {"note": "zqxjkval"}}}]
    assert substitute(base, "zqxjkval", "a: b") == [{"metadata": {"name": "x", "annotations": {"note": "a: b"}}}]
    assert substitute(base, "zqxjkval", "a: b") != [{"metadata": {"name": "x", "annotations": {"note": "a", "b": None}}}]
    assert substitute(base, "zqxjkval", "true") != [{"metadata": {"name": "x", "annotations": {"note": True}}}]


# --- long names -----------------------------------------------------------------------------

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")

# Values that make the chart render every kind of resource it names from the fullname:
# Gateway, VirtualService, EnvoyFilter, DestinationRule, helm test Pod, TLS Secret (derived
# name) or Certificate (derived name).
EVERYTHING_SECRET = {
    "hosts": ["grpc.example.com"],
    "tls": {"credentialName": "", "secret": {"create": True, "cert": PEM_CERT, "key": PEM_KEY}},
    "grpcWeb": WEB,
    "trafficPolicy": {"loadBalancer": "LEAST_REQUEST"},
    "routes": [{"name": "r", "backend": {"host": "a-long-backend-service-name.some-namespace.svc.cluster.local", "port": 1}}],
}
EVERYTHING_CERT_MANAGER = {**EVERYTHING_SECRET, "tls": {"credentialName": "", "certManager": CERT_MANAGER}}
CHART_NAMED_KINDS = {"Gateway", "VirtualService", "EnvoyFilter", "DestinationRule", "Pod", "Secret", "Certificate"}

LONG_RELEASES = ["a", "grpc-ingress", "x" * 52 + "1", "r" * 53, "a-" * 26 + "b", "release-" + "9" * 45]


def names(render):
    return {(d["kind"], d["metadata"]["namespace"], d["metadata"]["name"]) for d in render.docs}


def assert_short_labels(render):
    kinds = {kind for kind, _, _ in names(render)}
    assert {"Gateway", "VirtualService", "EnvoyFilter", "DestinationRule", "Pod"} <= kinds
    assert kinds & {"Secret", "Certificate"}
    for kind, _, name in names(render):
        assert len(name) <= 63 and DNS_LABEL.match(name), "%s name %r is not a DNS-1123 label of <= 63 characters" % (kind, name)


@pytest.mark.parametrize("values", [EVERYTHING_SECRET, EVERYTHING_CERT_MANAGER], ids=["secret", "cert-manager"])
@pytest.mark.parametrize("release", LONG_RELEASES)
def test_release_names_up_to_53_give_names_that_are_63_character_labels(helm, values, release):
    assert len(release) <= 53
    assert_short_labels(helm.render(values, release=release))


@pytest.mark.parametrize("override", [
    {"nameOverride": "n" * 63},
    {"nameOverride": "name-" * 12 + "abc"},
    {"fullnameOverride": "f" * 63},
    {"fullnameOverride": "full-" * 12 + "abc"},
    {"nameOverride": "n" * 63, "fullnameOverride": "f" * 63},
], ids=["name-63", "name-63-dashes", "fullname-63", "fullname-63-dashes", "both"])
def test_long_name_overrides_give_names_that_are_63_character_labels(helm, override):
    assert_short_labels(helm.render({**EVERYTHING_SECRET, **override}, release="r" * 53))
    assert_short_labels(helm.render({**EVERYTHING_CERT_MANAGER, **override}, release="r" * 53))


@pytest.mark.parametrize("a,b", [
    # Helm caps release names at 53, so two release names can share at most 52 characters;
    # their fullnames (release-grpc-ingress, 66) share the 54 characters that are kept.
    ({"release": "p" * 52 + "a"}, {"release": "p" * 52 + "b"}),
    ({"release": "p" * 50 + "-a"}, {"release": "p" * 50 + "-b"}),
    # Overrides can share 60 characters and more.
    ({"values": {"nameOverride": "n" * 60 + "abc"}}, {"values": {"nameOverride": "n" * 60 + "abd"}}),
    ({"values": {"fullnameOverride": "f" * 60 + "abc"}}, {"values": {"fullnameOverride": "f" * 60 + "abd"}}),
    ({"values": {"fullnameOverride": "f" * 60 + "-ab"}}, {"values": {"fullnameOverride": "f" * 60 + "-ac"}}),
], ids=["release-52", "release-50-dash", "name-override-60", "fullname-override-60", "fullname-override-60-dash"])
def test_long_names_sharing_a_prefix_do_not_collide(helm, a, b):
    renders = []
    for side in (a, b):
        values = {**EVERYTHING_SECRET, **side.get("values", {})}
        renders.append(helm.render(values, release=side.get("release", "r" * 53)))
    for values_kind in CHART_NAMED_KINDS - {"Certificate"}:
        left = {(ns, n) for k, ns, n in names(renders[0]) if k == values_kind}
        right = {(ns, n) for k, ns, n in names(renders[1]) if k == values_kind}
        assert left and right and not (left & right), "%s names collide: %s" % (values_kind, left & right)


def test_two_long_hosts_sharing_a_prefix_get_different_destination_rules(helm):
    shared = "backend-" + "x" * 50
    r = helm.render({"trafficPolicy": {"loadBalancer": "RANDOM"}, "routes": [
        {"name": "a", "services": ["a.S"], "backend": {"host": shared + "-one", "port": 1}},
        {"name": "b", "services": ["b.S"], "backend": {"host": shared + "-two", "port": 1}},
    ]}, release="r" * 53)
    drs = [d["metadata"]["name"] for d in r.of_kind("DestinationRule")]
    assert len(drs) == 2 and len(set(drs)) == 2, drs
    assert all(len(n) <= 63 and DNS_LABEL.match(n) for n in drs), drs


@pytest.mark.parametrize("key", ["fullnameOverride", "nameOverride"])
def test_name_overrides_longer_than_63_are_refused_naming_the_key(helm, key):
    STATS["bad_input_cases"] += 1
    helm.render_fails({key: "a" * 64}, match=[path_re(key)])


def test_release_names_longer_than_53_are_refused_by_helm(helm):
    """Why the 60-character-prefix case above goes through overrides: helm itself refuses
    longer release names (Kubernetes label values and Secret names hold release names)."""
    proc = helm.run(["template", "r" * 54, str(ROOT)])
    assert proc.returncode != 0 and not proc.stdout.strip()


def test_client_ca_secret_name_fits_63_for_long_release_names(helm):
    """Istio reads the client CA from <credentialName>-cacert: a derived credentialName must
    leave room for the suffix."""
    values = {"tls": {"credentialName": "", "mode": "MUTUAL", "secret": {
        "create": True, "cert": PEM_CERT, "key": PEM_KEY, "caCert": PEM_CERT}}}
    rc, _, err, docs, errors = helm.template(values, release="r" * 53)
    assert rc == 0, err
    long_names = [d["metadata"]["name"] for d in docs if len(d["metadata"]["name"]) > 63]
    assert not long_names and not errors, (long_names, errors)

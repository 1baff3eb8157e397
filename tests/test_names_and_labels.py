"""Names and labels: every resource name a DNS-1123 label of at most 63 characters, long
names kept apart by a hash, standard labels and commonLabels/commonAnnotations on everything."""
from __future__ import annotations

import re

import pytest

from support.bad_input import assert_refused, bad_values
from support.helm import ROOT
from support.injection import Field, string_keys
from support.mutations import assert_edits_refused, edits, path_re
from support.properties import for_every_valid_values_set
from support.values import CERT_MANAGER, PEM_CERT, PEM_KEY, WEB, routes


def test_standard_labels_on_every_resource(helm):
    r = helm.render({"commonLabels": {"team": "payments", "app.kubernetes.io/name": "ignored"},
                     "commonAnnotations": {"owner": "platform"}}, release="rel")
    for d in r.docs:
        labels = d["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == "rel"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/name"] == "grpc-ingress", "standard labels win over commonLabels"
        assert labels["team"] == "payments"
        assert d["metadata"]["annotations"]["owner"] == "platform"


# --- long names ----------------------------------------------------------------------------

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


# --- every generated values set ------------------------------------------------------------

_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")


@for_every_valid_values_set
def test_names_are_dns_subdomains_of_at_most_63_characters_unique_per_kind_and_namespace(case):
    seen = set()
    for d in case.render.docs:
        meta = d["metadata"]
        assert len(meta["name"]) <= 63 and _SUBDOMAIN.match(meta["name"]), "%s %r" % (d["kind"], meta["name"])
        identity = (d["apiVersion"], d["kind"], meta.get("namespace"), meta["name"])
        assert identity not in seen, identity
        seen.add(identity)


# --- strings from values: refused naming the key, or kept verbatim (support.injection) --------

STRING_KEYS = string_keys(
    Field("label-key", lambda s: {"commonLabels": {s: "v"}, "tls": {"certManager": CERT_MANAGER, "credentialName": ""}},
          "zqxjkkey", "commonLabels"),
    Field("label-value", lambda s: {"commonLabels": {"team": s}, "tls": {"certManager": CERT_MANAGER, "credentialName": ""}},
          "zqxjkval", "commonLabels.team"),
    Field("annotation-key", lambda s: {"commonAnnotations": {s: "v"}}, "zqxjkkey", "commonAnnotations"),
    # free text: never refused, always kept verbatim
    Field("annotation-value", lambda s: {"commonAnnotations": {"note": s}}, "zqxjkval", "commonAnnotations.note",
          free_text=True),
)


@pytest.mark.parametrize("field,payload", STRING_KEYS)
def test_strings_in_label_and_annotation_keys_are_refused_naming_the_key_or_kept_verbatim(injected, field, payload):
    injected.check(field, payload)


# --- bad input -----------------------------------------------------------------------------

# A DNS subdomain of 254 characters: three labels of 63 and one of 62, joined by dots.
PREFIX_254 = ".".join(["a" * 63] * 3) + "." + "a" * 62

BAD_VALUES = [
    ("fullname-override-64", {"fullnameOverride": "a" * 64}, [r"fullnameOverride"]),
    ("name-override-64", {"nameOverride": "a" * 64}, [r"(?<![\w.])nameOverride"]),
    ("fullname-override-dots", {"fullnameOverride": "my.release"}, [r"fullnameOverride"]),
    ("common-label-value-too-long", {"commonLabels": {"team": "x" * 64}}, [r"commonLabels\.team"]),
    ("common-label-key-bad", {"commonLabels": {"bad key": "x"}}, [r"commonLabels", r'"bad key"', r"rename the key"]),
    ("annotation-key-bad", {"commonAnnotations": {"a/b/c": "x"}}, [r"commonAnnotations", r'"a/b/c"', r"rename the key"]),
    ("selector-key-bad", {"gateway": {"selector": {"-app": "x"}}}, [r"gateway\.selector", r'"-app"', r"rename the key"]),
    ("service-selector-key-bad", {"backendServices": [{"name": "a", "selector": {"app/": "a"}, "port": 1}]},
     [r"backendServices\.0\.selector", r'"app/"', r"rename the key"]),
    ("subset-label-key-bad", routes({"name": "r", "backend": {"host": "a", "port": 1, "subset": "v1",
                                                              "subsetLabels": {"x" * 64: "1"}}}),
     [r"routes\.0\.backend\.subsetLabels", "x" * 64, r"rename the key"]),
    # every bad key is named, each once, though keys are checked once per render
    ("label-keys-bad-twice", {"commonLabels": {"bad key": "x"}, "gateway": {"selector": {"bad key": "x"}}},
     [r'commonLabels: the key "bad key"', r'gateway\.selector: the key "bad key"']),
    # the API server's limits: a key prefix is a DNS subdomain (253), annotations 256 KiB in all
    ("common-label-key-prefix-254", {"commonLabels": {PREFIX_254 + "/team": "x"}}, [r"commonLabels", r"254-character prefix", r"253"]),
    ("selector-key-prefix-254", {"gateway": {"selector": {PREFIX_254 + "/app": "x"}}}, [r"gateway\.selector", r"254-character prefix"]),
    ("annotation-key-prefix-254", {"commonAnnotations": {PREFIX_254 + "/note": "x"}}, [r"commonAnnotations", r"254-character prefix"]),
    ("service-selector-key-prefix-254", {"backendServices": [{"name": "a", "selector": {PREFIX_254 + "/app": "a"}, "port": 1}]},
     [r"backendServices\.0\.selector", r"254-character prefix"]),
    ("subset-label-key-prefix-254", routes({"name": "r", "backend": {"host": "a", "port": 1, "subset": "v1",
                                                                    "subsetLabels": {PREFIX_254 + "/v": "1"}}}),
     [r"routes\.0\.backend\.subsetLabels", r"254-character prefix"]),
    ("annotations-300-kb", {"commonAnnotations": {"runbook": "x" * 300_000}}, [r"commonAnnotations", r"300112 bytes", r"262144"]),
]


def test_keys_and_annotations_at_the_api_servers_limits_render(helm):
    """A 253-character key prefix, and annotations of exactly 256 KiB on the helm test Pod,
    which carries two hook annotations and sidecar.istio.io/inject (105 bytes) besides
    commonAnnotations."""
    prefix = PREFIX_254[:253]
    big = "x" * (262144 - 105 - len("runbook"))
    r = helm.render({"commonLabels": {prefix + "/team": "payments"}, "commonAnnotations": {"runbook": big}})
    pod = r.one("Pod")
    assert sum(len(k) + len(v) for k, v in pod["metadata"]["annotations"].items()) == 262144
    assert all(d["metadata"]["labels"][prefix + "/team"] == "payments" for d in r.docs)


@pytest.mark.parametrize("values,match", bad_values(BAD_VALUES))
def test_bad_values_are_refused_naming_the_key(helm, values, match):
    assert_refused(helm, values, match)


# --- bad edits of valid values -------------------------------------------------------------

def m_bad_name_override(v, rnd):
    key = rnd.choice(["fullnameOverride", "nameOverride"])
    v[key] = rnd.choice(["a" * 64, "Upper", "has.dot", "-lead", "trail-", "under_score"])
    return [path_re(key)]


def m_bad_label(v, rnd):
    field = rnd.choice(["commonLabels", "gateway.selector"])
    target = v["gateway"].setdefault("selector", {"istio": "ingressgateway"}) if field == "gateway.selector" \
        else v.setdefault("commonLabels", {})
    if rnd.random() < 0.5:
        target["team"] = rnd.choice(["has space", "x" * 64, "-lead", "a/b"])
        return [path_re(*field.split("."), "team")]
    target[rnd.choice(["bad key", "-lead", "a/b/c", "x" * 64])] = "v"
    return [path_re(*field.split("."))]


@pytest.mark.parametrize("mutation", edits(
    m_bad_name_override, m_bad_label))
def test_bad_edits_of_valid_values_are_refused_naming_the_key(helm, mutation_bases, mutation):
    assert_edits_refused(helm, mutation, mutation_bases)

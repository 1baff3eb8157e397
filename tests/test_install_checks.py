"""How users check an install: NOTES.txt's grpcurl command and the `helm test` Pod, both with
the real authority, port, and TLS or plaintext."""
from __future__ import annotations

import shutil

import pytest

from support.bad_input import assert_refused, bad_values
from support.helm import ROOT
from support.scenarios import ci, servers


def test_helm_test_pod_calls_health_check_through_the_gateway(default_render):
    pod = default_render.one("Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (c,) = pod["spec"]["containers"]
    assert c["args"][-2:] == ["istio-ingressgateway.istio-system.svc.cluster.local:443", "grpc.health.v1.Health/Check"]
    assert c["args"][:2] == ["-authority", "grpc.example.com"]
    assert "-plaintext" not in c["args"]
    sc = c["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]} and sc["runAsNonRoot"] is True
    assert pod["spec"]["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert c["resources"]["limits"] and c["resources"]["requests"]
    assert ":" in c["image"] and not c["image"].endswith(":latest")


def test_helm_test_pod_uses_plaintext_for_h2c(helm):
    c = ci(helm, "h2c-values.yaml").one("Pod")["spec"]["containers"][0]
    assert "-plaintext" in c["args"] and c["args"][-2].endswith(":80")


def test_helm_test_pod_options(helm):
    r = helm.render({"hosts": ["*.example.com"], "tests": {"healthService": "helloworld.Greeter",
                                                          "gatewayAddress": "gw.edge.svc.cluster.local",
                                                          "image": {"repository": "r.example.com/grpcurl", "tag": "v1",
                                                                    "digest": "sha256:" + "a" * 64}}})
    c = r.one("Pod")["spec"]["containers"][0]
    assert c["args"][:2] == ["-authority", "test.example.com"], "a wildcard host gets a concrete name"
    assert '{"service":"helloworld.Greeter"}' in c["args"]
    assert c["args"][-2] == "gw.edge.svc.cluster.local:443"
    assert c["image"] == "r.example.com/grpcurl@sha256:" + "a" * 64
    assert not helm.render({"tests": {"enabled": False}}).has("Pod")


PER_SERVICE = {"routes": [{"name": "orders", "services": ["shop.v1.OrderService"], "backend": {"host": "orders", "port": 50051}}]}
REFLECTION = {"reflection": {"enabled": True, "backend": {"host": "orders", "port": 50051}}}
HEALTH = {"health": {"enabled": True, "backend": {"host": "orders", "port": 50051}}}


def test_without_a_route_for_health_or_reflection_there_is_no_test_pod(helm):
    """Per-service routes leave the health check unrouted: a Pod calling it would only fail."""
    assert not helm.render(PER_SERVICE).has("Pod")


@pytest.mark.parametrize("values, call", [
    ({**PER_SERVICE, **HEALTH}, "grpc.health.v1.Health/Check"),
    ({**PER_SERVICE, **REFLECTION}, "list"),
    ({**PER_SERVICE, **REFLECTION, **HEALTH}, "grpc.health.v1.Health/Check"),
    ({"routes": PER_SERVICE["routes"] + [{"name": "h", "methods": ["grpc.health.v1.Health/Check"],
                                          "backend": {"host": "orders", "port": 50051}}]}, "grpc.health.v1.Health/Check"),
    ({"routes": PER_SERVICE["routes"] + [{"name": "raw", "prefix": "/grpc.", "backend": {"host": "orders", "port": 50051}}]},
     "grpc.health.v1.Health/Check"),
    ({"routes": PER_SERVICE["routes"] + [{"name": "re", "regex": "/grpc\\.reflection\\..*",
                                          "backend": {"host": "orders", "port": 50051}}]}, "list"),
], ids=["health-route", "reflection-route", "both", "health-method-in-a-route", "raw-prefix", "reflection-regex"])
def test_helm_test_pod_calls_what_a_route_serves(helm, values, call):
    args = helm.render({**values, "tests": {"healthService": "shop.v1.OrderService"}}).one("Pod")["spec"]["containers"][0]["args"]
    assert args[-1] == call
    assert args[-2] == "istio-ingressgateway.istio-system.svc.cluster.local:443"
    assert ("-d" in args) == (call != "list"), "the health service name goes with the health check only"


def test_helm_test_pod_for_mutual_tls_with_client_secret(helm):
    pod = helm.render({"tls": {"mode": "MUTUAL", "externalCA": True}, "tests": {"clientSecret": "test-client"}}).one("Pod")
    assert {"-cert", "-key"} <= set(pod["spec"]["containers"][0]["args"])
    assert pod["spec"]["volumes"][0]["secret"]["secretName"] == "test-client"


# --- NOTES.txt -----------------------------------------------------------------------------

# `helm template` does not print NOTES and Helm 3's dry-run install wants a cluster, so a copy of
# the chart renders NOTES.txt (itself a named template) into a ConfigMap, under both Helms.
WRAPPER = """apiVersion: v1
kind: ConfigMap
metadata:
  name: notes
data:
  notes: {{ include (print .Chart.Name "/templates/NOTES.txt") . | quote }}
"""


@pytest.fixture(scope="module")
def notes_chart(tmp_path_factory):
    chart = tmp_path_factory.mktemp("notes") / "grpc-ingress"
    shutil.copytree(ROOT, chart, ignore=shutil.ignore_patterns(".git", ".venv", ".tools", "node_modules", "tests", "scripts"))
    (chart / "templates" / "zz-notes.yaml").write_text(WRAPPER)
    return chart


def notes(helm, chart, values=None, **kw):
    return helm.render(values, chart=chart, **kw).one("ConfigMap", "notes")["data"]["notes"]


def test_tls_notes(helm, notes_chart):
    text = notes(helm, notes_chart, {"hosts": ["api.example.com"], "gateway": {"workloadNamespace": "edge"}}, namespace="apps")
    assert "grpcurl -authority api.example.com $GATEWAY:443 grpc.health.v1.Health/Check" in text
    assert "-insecure" in text and "-cacert" in text, "say what to do with a self-signed certificate"
    assert "-plaintext" not in text
    assert "grpc-ingress-tls must exist in namespace edge" in text
    assert "helm test grpc-ingress -n apps" in text


@pytest.mark.parametrize("values, namespace", [
    (None, None),
    ({"tls": {"credentialName": "api-cert"}, "gateway": {"workloadNamespace": "edge"}}, "edge"),
], ids=["defaults", "named-secret-elsewhere"])
def test_notes_name_the_secret_the_gateway_reads(helm, notes_chart, values, namespace):
    r = helm.render(values, chart=notes_chart)
    (srv,) = [s for s in servers(r) if s["port"]["protocol"] == "HTTPS"]
    text = r.one("ConfigMap", "notes")["data"]["notes"]
    assert f"{srv['tls']['credentialName']} must exist in namespace {namespace or ''}" in text


def test_h2c_notes(helm, notes_chart):
    text = notes(helm, notes_chart, {"tls": {"enabled": False}, "h2c": {"enabled": True, "port": 80}})
    assert "grpcurl -plaintext -authority grpc.example.com $GATEWAY:80 grpc.health.v1.Health/Check" in text
    assert "must exist in namespace" not in text, "no TLS secret to remind of"


def test_wildcard_host_notes_use_a_concrete_authority(helm, notes_chart):
    text = notes(helm, notes_chart, {"hosts": ["*.example.com"]})
    assert "-authority test.example.com" in text


def test_notes_stay_short(helm, notes_chart):
    assert len(notes(helm, notes_chart).splitlines()) <= 15
    assert len(notes(helm, notes_chart, {**PER_SERVICE, **REFLECTION, **HEALTH, "h2c": {"enabled": True}}).splitlines()) <= 15


def test_notes_call_reflection_when_only_reflection_is_routed(helm, notes_chart):
    text = notes(helm, notes_chart, {**PER_SERVICE, **REFLECTION})
    assert "grpcurl -authority grpc.example.com $GATEWAY:443 list" in text
    assert "grpc.health.v1.Health/Check" not in text


def test_notes_show_reflection_next_to_the_health_check(helm, notes_chart):
    text = notes(helm, notes_chart, {**PER_SERVICE, **REFLECTION, **HEALTH})
    assert "$GATEWAY:443 grpc.health.v1.Health/Check" in text and "$GATEWAY:443 list" in text


def test_notes_say_why_there_is_no_check(helm, notes_chart):
    text = notes(helm, notes_chart, PER_SERVICE, namespace="apps")
    assert "grpcurl" not in text and "helm test grpc-ingress" not in text
    assert "No route serves grpc.health.v1.Health or server reflection" in text and "health.enabled" in text
    text = notes(helm, notes_chart, {"tls": {"mode": "MUTUAL", "externalCA": True}})
    assert "No helm test Pod: tls.mode is MUTUAL and tests.clientSecret" in text


# --- bad input -----------------------------------------------------------------------------

BAD_VALUES = [
    ("test-requests-above-limits", {"tests": {"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}},
     [r"tests\.resources\.requests\.cpu"]),
    ("test-image-digest-bad", {"tests": {"image": {"digest": "sha256:xyz"}}}, [r"tests\.image\.digest"]),
    # a tag is 1 to 128 characters (the registry's rule), the longest still renders
    ("test-image-tag-129", {"tests": {"image": {"tag": "v" * 129}}}, [r"tests\.image\.tag"]),
    ("test-image-tag-leading-dot", {"tests": {"image": {"tag": ".v1"}}}, [r"tests\.image\.tag"]),
    # the API server's resource names and quantity grammar
    ("test-resource-name-unknown", {"tests": {"resources": {"requests": {"foo": "1"}}}},
     [r"tests\.resources\.requests\.foo", r"cpu, memory or ephemeral-storage"]),
    ("test-request-not-a-quantity", {"tests": {"resources": {"requests": {"cpu": "lots"}}}},
     [r"tests\.resources\.requests\.cpu", r'"lots"', r"quantity"]),
    ("test-limit-in-megabytes", {"tests": {"resources": {"limits": {"memory": "64MB"}}}},
     [r"tests\.resources\.limits\.memory", r'"64MB"', r"64Mi"]),
    ("test-limit-negative", {"tests": {"resources": {"limits": {"cpu": "-1"}}}}, [r"tests\.resources\.limits\.cpu"]),
    ("test-request-above-limit-exponent", {"tests": {"resources": {"requests": {"cpu": "2e3"}, "limits": {"cpu": "1E3"}}}},
     [r"tests\.resources\.requests\.cpu"]),
]


def test_quantities_in_every_form_the_api_server_takes_render(helm):
    resources = {"requests": {"cpu": "+.5", "memory": "1e6", "ephemeral-storage": "1Ki"},
                 "limits": {"cpu": 1, "memory": "1E", "ephemeral-storage": "2048"}}
    pod = helm.render({"tests": {"resources": resources}}).one("Pod")
    assert pod["spec"]["containers"][0]["resources"] == resources


def test_a_128_character_image_tag_renders(helm):
    tag = "v1_" + "." * 124 + "-"
    pod = helm.render({"tests": {"image": {"tag": tag}}}).one("Pod")
    assert pod["spec"]["containers"][0]["image"].endswith(":" + tag)


@pytest.mark.parametrize("values,match", bad_values(BAD_VALUES))
def test_bad_values_are_refused_naming_the_key(helm, values, match):
    assert_refused(helm, values, match)

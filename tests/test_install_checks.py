"""How users check an install: NOTES.txt's grpcurl command and the `helm test` Pod, both with
the real authority, port, and TLS or plaintext."""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time

import pytest

from support.bad_input import assert_refused, bad_values
from support.helm import ROOT
from support.scenarios import ci, servers


def containers(render) -> dict[str, dict]:
    return {c["name"]: c for c in render.one("Pod")["spec"]["containers"]}


def test_helm_test_pod_calls_health_check_through_the_gateway(default_render):
    pod = default_render.one("Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (c,) = pod["spec"]["containers"]
    assert c["name"] == "grpcurl-https-443", "the container names the listener it checks"
    assert c["args"][-2:] == ["istio-ingressgateway.istio-system.svc.cluster.local:443", "grpc.health.v1.Health/Check"]
    args = c["args"]
    assert args[args.index("-authority") + 1] == "grpc.example.com"
    assert "-plaintext" not in args
    sc = c["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]} and sc["runAsNonRoot"] is True
    assert pod["spec"]["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert c["resources"]["limits"] and c["resources"]["requests"]
    assert ":" in c["image"] and not c["image"].endswith(":latest")


def test_helm_test_pod_stays_out_of_the_mesh(helm):
    """In an injected namespace an istio-proxy sidecar keeps the Pod running after the probes
    exit, and `helm test` times out; ambient's ztunnel would capture it too. commonLabels
    cannot switch injection back on."""
    for values in (None, {"commonLabels": {"sidecar.istio.io/inject": "true"}, "commonAnnotations": {"sidecar.istio.io/inject": "true"}}):
        meta = helm.render(values).one("Pod")["metadata"]
        assert meta["labels"]["sidecar.istio.io/inject"] == "false"
        assert meta["annotations"]["sidecar.istio.io/inject"] == "false"
        assert meta["labels"]["istio.io/dataplane-mode"] == "none"


def test_health_check_needs_no_reflection(default_render):
    """grpcurl resolves a method through server reflection unless given its .proto; a server
    need not list grpc.health.v1 there, and reflection is usually not routed. The Pod mounts
    health.proto from a test-hook ConfigMap created just before it."""
    pod = default_render.one("Pod")
    args = pod["spec"]["containers"][0]["args"]
    assert args[args.index("-proto") + 1] == "health.proto" and args[args.index("-import-path") + 1] == "/protos"
    (cm,) = [d for d in default_render.of_kind("ConfigMap")]
    assert cm["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert int(cm["metadata"]["annotations"]["helm.sh/hook-weight"]) < 0, "created before the Pod"
    proto = cm["data"]["health.proto"]
    assert "package grpc.health.v1;" in proto and "rpc Check(HealthCheckRequest) returns (HealthCheckResponse);" in proto
    assert pod["spec"]["volumes"] == [{"name": "protos", "configMap": {"name": cm["metadata"]["name"]}}]


def test_helm_test_pod_uses_plaintext_for_h2c(helm):
    c = ci(helm, "h2c-values.yaml").one("Pod")["spec"]["containers"][0]
    assert "-plaintext" in c["args"] and c["args"][-2].endswith(":80")


HEALTH_ROUTE = {"health": {"enabled": True, "backend": {"host": "orders", "port": 50051}}}
WEB = {"grpcWeb": {"enabled": True, "cors": {"allowOrigins": ["https://app.example.com"]}}}


@pytest.mark.parametrize("values, expected", [
    ({}, {"grpcurl-https-443"}),
    ({"h2c": {"enabled": True}}, {"grpcurl-https-443", "grpcurl-h2c-80"}),
    ({**WEB}, {"grpcurl-https-443", "grpc-web-https-443"}),
    ({**WEB, "tls": {"enabled": False}}, {"grpc-web-80"}),
    ({"hosts": ["a.example.com", "b.example.com"], "tls": {"hosts": [{"hosts": ["a.example.com"], "credentialName": "a"}]}},
     {"grpcurl-https-1-443", "grpcurl-https-443"}),
    ({"tls": {"httpsRedirect": True}}, {"grpcurl-https-443"}),
], ids=["tls", "tls+h2c", "tls+grpc-web", "plaintext-grpc-web", "two-certificates", "redirect-serves-no-grpc"])
def test_helm_test_pod_checks_every_listener(helm, values, expected):
    r = helm.render(values)
    assert set(containers(r)) == expected
    listeners = {(s["port"]["number"], s["hosts"][0]) for s in servers(r) if not s.get("tls", {}).get("httpsRedirect")}
    for c in containers(r).values():
        text = " ".join(c.get("args", [])) + " ".join(e["value"] for e in c.get("env", []))
        assert any(f"{p}" in c["name"] for p, _ in listeners)
        assert re.search(r"listener \S+ \((HTTPS|HTTP2|GRPC-WEB), \S+ \d+, gateway pod port \d+\), host \S+, route \S+ to \S+", text), text


def test_grpc_web_probe_posts_grpc_web_to_the_listener(helm):
    c = containers(helm.render({**WEB, **HEALTH_ROUTE, "tests": {"healthService": "shop.v1.Orders"}}))["grpc-web-https-443"]
    assert c["image"].startswith("docker.io/curlimages/curl@sha256:"), "pinned by digest"
    assert c["command"] == ["/bin/sh", "-c"]
    script = c["args"][0]
    assert "content-type: application/grpc-web+proto" in script and "--http1.1" in script
    assert "--connect-to 'grpc.example.com:443:istio-ingressgateway.istio-system.svc.cluster.local:443'" in script
    assert "'https://grpc.example.com:443/grpc.health.v1.Health/Check'" in script
    # HealthCheckRequest{service: "shop.v1.Orders"}: frame flag 0, length 16, tag 0x0a, length 14
    assert r"printf '\000\000\000\000\020\012\016shop.v1.Orders'" in script
    assert "route grpc-health to orders:50051" in c["env"][0]["value"]


@pytest.mark.skipif(not (shutil.which("sh") and shutil.which("curl")), reason="needs sh and curl")
@pytest.mark.parametrize("answer, ok, shown", [
    ("0", True, "OK: grpc-status 0"),
    ("14", False, "FAILED: grpc-status 14"),
    ("trailers-only", False, "FAILED: grpc-status 12"),
], ids=["serving", "unavailable-in-trailers", "unimplemented-trailers-only"])
def test_grpc_web_probe_script_passes_only_on_grpc_status_0(helm, tmp_path, answer, ok, shown):
    """The probe's script, run by sh against a stand-in gateway that answers as Envoy's grpc_web
    filter does (status in the trailer frame, or in the headers of a trailers-only answer)."""
    port = _free_port()
    r = helm.render({**WEB, **HEALTH_ROUTE, "tls": {"enabled": False}, "grpcWeb": {**WEB["grpcWeb"], "port": port},
                     "gateway": {"servicePorts": {str(port): port}}, "tests": {"gatewayAddress": "localhost"}})
    c = containers(r)[f"grpc-web-{port}"]
    server = subprocess.Popen([sys.executable, str(ROOT / "tests" / "support" / "fake_grpc_web.py"), str(port), answer],
                              stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(port)
        proc = subprocess.run(["sh", "-c", c["args"][0]], env={"PATH": os.environ["PATH"], "CHECK": c["env"][0]["value"]},
                              capture_output=True, text=True, timeout=30)
    finally:
        server.terminate()
        err = server.communicate()[1]
    assert (proc.returncode == 0) == ok, proc.stdout + proc.stderr
    assert shown in proc.stdout
    assert "listener grpc-web" in proc.stdout and "route grpc-health" in proc.stdout, "the log says what was checked"
    assert "ct=application/grpc-web+proto" in err and "route grpc-health" in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(port: int) -> None:
    for _ in range(50):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"stand-in gateway did not listen on {port}")


def test_helm_test_pod_options(helm):
    r = helm.render({"hosts": ["*.example.com"], "tests": {"healthService": "helloworld.Greeter",
                                                          "gatewayAddress": "gw.edge.svc.cluster.local",
                                                          "image": {"repository": "r.example.com/grpcurl", "tag": "v1",
                                                                    "digest": "sha256:" + "a" * 64}}})
    c = r.one("Pod")["spec"]["containers"][0]
    assert c["args"][c["args"].index("-authority") + 1] == "test.example.com", "a wildcard host gets a concrete name"
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


@pytest.mark.parametrize("values, call, route", [
    ({**PER_SERVICE, **HEALTH}, "grpc.health.v1.Health/Check", "grpc-health"),
    ({**PER_SERVICE, **REFLECTION}, "list", "grpc-reflection"),
    ({**PER_SERVICE, **REFLECTION, **HEALTH}, "grpc.health.v1.Health/Check", "grpc-health"),
    ({"routes": PER_SERVICE["routes"] + [{"name": "h", "methods": ["grpc.health.v1.Health/Check"],
                                          "backend": {"host": "orders", "port": 50051}}]}, "grpc.health.v1.Health/Check", "h"),
    ({"routes": PER_SERVICE["routes"] + [{"name": "raw", "prefix": "/grpc.", "backend": {"host": "orders", "port": 50051}}]},
     "grpc.health.v1.Health/Check", "raw"),
    ({"routes": PER_SERVICE["routes"] + [{"name": "re", "regex": "/grpc\\.reflection\\..*",
                                          "backend": {"host": "orders", "port": 50051}}]}, "list", "re"),
    ({"routes": [{"name": "orders", "services": ["shop.v1.OrderService"], "backend": {"host": "orders", "port": 50051}},
                 {"name": "all", "backend": {"host": "rest", "port": 50051}}]}, "grpc.health.v1.Health/Check", "all"),
], ids=["health-route", "reflection-route", "both", "health-method-in-a-route", "raw-prefix", "reflection-regex", "catch-all"])
def test_helm_test_pod_calls_what_a_route_serves(helm, values, call, route):
    (c,) = containers(helm.render({**values, "tests": {"healthService": "shop.v1.OrderService"}})).values()
    args = c["args"]
    assert args[-1] == call
    assert args[-2] == "istio-ingressgateway.istio-system.svc.cluster.local:443"
    assert ("-d" in args) == (call != "list"), "the health service name goes with the health check only"
    assert f"route {route} to " in " ".join(args), "the log names the route that answers"


def test_helm_test_pod_calls_a_method_the_user_names(helm):
    proto = 'syntax = "proto3";\npackage shop.v1;\nmessage Q {}\nservice OrderService { rpc Ping(Q) returns (Q); }\n'
    r = helm.render({**PER_SERVICE, **WEB, "tests": {"method": "/shop.v1.OrderService/Ping", "request": '{"id": 1}', "proto": proto}})
    c = containers(r)
    args = c["grpcurl-https-443"]["args"]
    assert args[-1] == "shop.v1.OrderService/Ping" and args[args.index("-d") + 1] == '{"id": 1}'
    assert args[args.index("-proto") + 1] == "method.proto"
    assert r.one("ConfigMap")["data"] == {"method.proto": proto}
    assert "/shop.v1.OrderService/Ping'" in c["grpc-web-https-443"]["args"][0]
    assert "route orders to orders:50051" in c["grpc-web-https-443"]["env"][0]["value"]


def test_grpc_web_cannot_carry_reflection_so_its_listener_is_left_out_and_said_so(helm, notes_chart):
    values = {**PER_SERVICE, **REFLECTION, **WEB}
    assert set(containers(helm.render(values))) == {"grpcurl-https-443"}
    assert "reflection is a bidi stream" in notes(helm, notes_chart, values)


def test_helm_test_pod_for_mutual_tls_with_client_secret(helm):
    pod = helm.render({"tls": {"mode": "MUTUAL", "externalCA": True}, "tests": {"clientSecret": "test-client"}}).one("Pod")
    assert {"-cert", "-key"} <= set(pod["spec"]["containers"][0]["args"])
    assert {"name": "client-tls", "secret": {"secretName": "test-client"}} in pod["spec"]["volumes"]


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
    ("test-method-unrouted", {**PER_SERVICE, **REFLECTION, "tests": {"method": "shop.v1.CartService/Get"}},
     [r"tests\.method: shop\.v1\.CartService/Get is served by no route", r"route its service"]),
    ("test-method-without-descriptor", {**PER_SERVICE, "tests": {"method": "shop.v1.OrderService/Get"}},
     [r"tests\.method", r"tests\.proto", r"reflection\.enabled"]),
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


@pytest.mark.parametrize("values,match", bad_values(BAD_VALUES))
def test_bad_values_are_refused_naming_the_key(helm, values, match):
    assert_refused(helm, values, match)

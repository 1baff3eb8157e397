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
from support.gateway_api import gateway_api_values
from support.helm import NOTES_WRAPPER, ROOT, copy_chart
from support.istio import for_install
from support.istio_checks import case_for, reached
from support.probes import probes
from support.properties import for_every_valid_values_set_in_istio
from support.scenarios import SCENARIOS, ci, load_ci, servers
from support.values import WEB


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
    (cm,) = default_render.of_kind("ConfigMap")
    assert cm["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert int(cm["metadata"]["annotations"]["helm.sh/hook-weight"]) < 0, "created before the Pod"
    proto = cm["data"]["health.proto"]
    assert "package grpc.health.v1;" in proto and "rpc Check(HealthCheckRequest) returns (HealthCheckResponse);" in proto
    assert pod["spec"]["volumes"] == [{"name": "protos", "configMap": {"name": cm["metadata"]["name"]}}]


def test_helm_test_pod_uses_plaintext_for_h2c(helm):
    c = ci(helm, "h2c-values.yaml").one("Pod")["spec"]["containers"][0]
    assert "-plaintext" in c["args"] and c["args"][-2].endswith(":80")


HEALTH_ROUTE = {"health": {"enabled": True, "backend": {"host": "orders", "port": 50051}}}


@pytest.mark.parametrize("values, expected", [
    ({}, {"grpcurl-https-443"}),
    ({"h2c": {"enabled": True}}, {"grpcurl-https-443", "grpcurl-h2c-80"}),
    ({"grpcWeb": WEB}, {"grpcurl-https-443", "grpc-web-https-443"}),
    ({"grpcWeb": WEB, "tls": {"enabled": False}}, {"grpc-web-80"}),
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
    c = containers(helm.render({"grpcWeb": WEB, **HEALTH_ROUTE, "tests": {"healthService": "shop.v1.Orders"}}))["grpc-web-https-443"]
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
    r = helm.render({**HEALTH_ROUTE, "tls": {"enabled": False}, "grpcWeb": {**WEB, "port": port},
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


@pytest.mark.skipif(not (shutil.which("sh") and shutil.which("curl")), reason="needs sh and curl")
@pytest.mark.parametrize("listener_port", [80, None], ids=["default-port-80", "other-port"])
def test_curl_sends_the_authority_the_probe_reader_gives_istio(helm, listener_port):
    """support.probes tells Istio's simulation which authority a gRPC-Web probe sends: the URL's
    host, with its port only when that is not the scheme's default. Asked of curl itself: the
    probe's script, with only --connect-to's address and port pointed at a stand-in, sends the
    Host the stand-in logs."""
    port = _free_port()
    listener_port = listener_port or _free_port()
    r = helm.render({**HEALTH_ROUTE, "tls": {"enabled": False}, "grpcWeb": {**WEB, "port": listener_port},
                     "gateway": {"servicePorts": {str(listener_port): listener_port}}, "tests": {"gatewayAddress": "localhost"}})
    c = containers(r)[f"grpc-web-{listener_port}"]
    (probe,) = [p for p in probes(r) if p.container == c["name"]]
    script, n = re.subn(r"(--connect-to '[^':]+:\d+):localhost:\d+'", rf"\1:127.0.0.1:{port}'", c["args"][0])
    assert n == 1, c["args"][0]
    server = subprocess.Popen([sys.executable, str(ROOT / "tests" / "support" / "fake_grpc_web.py"), str(port), "0"],
                              stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(port)
        proc = subprocess.run(["sh", "-c", script], env={"PATH": os.environ["PATH"], "CHECK": c["env"][0]["value"]},
                              capture_output=True, text=True, timeout=30)
    finally:
        server.terminate()
        err = server.communicate()[1]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"host=(\S+)", err)[1] == probe.call.authority
    assert (":" in probe.call.authority) == (listener_port != 80)


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
    r = helm.render({**PER_SERVICE, "grpcWeb": WEB, "tests": {"method": "/shop.v1.OrderService/Ping", "request": '{"id": 1}', "proto": proto}})
    c = containers(r)
    args = c["grpcurl-https-443"]["args"]
    assert args[-1] == "shop.v1.OrderService/Ping" and args[args.index("-d") + 1] == '{"id": 1}'
    assert args[args.index("-proto") + 1] == "method.proto"
    assert r.one("ConfigMap")["data"] == {"method.proto": proto}
    assert "/shop.v1.OrderService/Ping'" in c["grpc-web-https-443"]["args"][0]
    assert "route orders to orders:50051" in c["grpc-web-https-443"]["env"][0]["value"]


def test_grpc_web_cannot_carry_reflection_so_its_listener_is_left_out_and_said_so(helm, notes_chart):
    values = {**PER_SERVICE, **REFLECTION, "grpcWeb": WEB}
    assert set(containers(helm.render(values))) == {"grpcurl-https-443"}
    assert "reflection is a bidi stream" in notes(helm, notes_chart, values)


def test_helm_test_pod_for_mutual_tls_with_client_secret(helm):
    pod = helm.render({"tls": {"mode": "MUTUAL", "externalCA": True}, "tests": {"clientSecret": "test-client"}}).one("Pod")
    assert {"-cert", "-key"} <= set(pod["spec"]["containers"][0]["args"])
    assert {"name": "client-tls", "secret": {"secretName": "test-client"}} in pod["spec"]["volumes"]


# --- NOTES.txt -----------------------------------------------------------------------------

# A copy of the chart prints NOTES.txt into a ConfigMap (support.helm.NOTES_WRAPPER).
WRAPPER = NOTES_WRAPPER


@pytest.fixture(scope="module")
def notes_chart(tmp_path_factory):
    chart = tmp_path_factory.mktemp("notes") / "grpc-ingress"
    copy_chart(chart)
    (chart / "templates" / "zz-notes.yaml").write_text(WRAPPER)
    return chart


def notes(helm, chart, values=None, **kw):
    return helm.render(values, chart=chart, **kw).one("ConfigMap", "notes")["data"]["notes"]


def section(text: str, title: str) -> list[str]:
    """The indented lines under a NOTES heading ("Listeners:"), up to the next blank line."""
    lines = text.splitlines()
    assert title in lines, f"no {title!r} in NOTES:\n{text}"
    out = []
    for line in lines[lines.index(title) + 1:]:
        if not line.strip():
            break
        out.append(line.strip())
    return out


def test_tls_notes(helm, notes_chart):
    text = notes(helm, notes_chart, {"hosts": ["api.example.com"], "gateway": {"workloadNamespace": "edge"}}, namespace="apps")
    assert "grpcurl -authority api.example.com -proto health.proto $GATEWAY:443 grpc.health.v1.Health/Check" in text
    assert "-insecure" in text and "-cacert" in text, "say what to do with a self-signed certificate"
    assert "-plaintext" not in text
    assert "Secret edge/grpc-ingress-tls must exist" in text
    assert "helm test grpc-ingress -n apps --logs" in text


def test_notes_name_the_certificate_namespace_gateway_api_reads(helm, notes_chart):
    """With api: gateway-api the Secret may live beside the Gateway or in gatewayApi.certificateNamespace
    (read through a ReferenceGrant); NOTES name where it must exist."""
    text = notes(helm, notes_chart, {"hosts": ["api.example.com"], "api": "gateway-api",
                                     "gatewayApi": {"certificateNamespace": "certs"}}, namespace="apps")
    assert "Secret certs/grpc-ingress-tls must exist" in text
    assert "-n certs" in text


def test_notes_tell_how_to_find_the_gateway_address(helm, notes_chart):
    for install, svc, ns in (("istioctl", "istio-ingressgateway", "istio-system"), ("gateway-chart", "istio-ingress", "istio-ingress")):
        text = notes(helm, notes_chart, {"gateway": {"install": install}})
        assert (f"export GATEWAY=$(kubectl get svc {svc} -n {ns} -o jsonpath='{{.status.loadBalancer.ingress[0].ip}}')") in text
        assert ".status.loadBalancer.ingress[0].hostname" in text
    custom = {"gateway": {"install": "custom", "selector": {"istio": "edge"}, "workloadNamespace": "edge",
                          "servicePorts": {"443": 8443}}, "tests": {"gatewayAddress": "edge.edge.svc.cluster.local"}}
    assert "export GATEWAY=<the external address of your gateway Service in edge>" in notes(helm, notes_chart, custom)


@pytest.mark.parametrize("values, namespace", [
    (None, None),
    ({"tls": {"credentialName": "api-cert"}, "gateway": {"workloadNamespace": "edge"}}, "edge"),
], ids=["defaults", "named-secret-elsewhere"])
def test_notes_name_the_secret_the_gateway_reads(helm, notes_chart, values, namespace):
    r = helm.render(values, chart=notes_chart)
    (srv,) = [s for s in servers(r) if s["port"]["protocol"] == "HTTPS"]
    text = r.one("ConfigMap", "notes")["data"]["notes"]
    secret = srv["tls"]["credentialName"]
    assert f"certificate: Secret {namespace or 'istio-system'}/{secret} must exist" in text
    assert f"kubectl create secret tls {secret} -n {namespace or 'istio-system'}" in text


def test_notes_with_cert_manager_say_how_to_watch_the_certificate(helm, notes_chart):
    r = ci(helm, "cert-manager-values.yaml", chart=notes_chart)
    cert = r.one("Certificate")
    text = r.one("ConfigMap", "notes")["data"]["notes"]
    ns, name = cert["metadata"]["namespace"], cert["metadata"]["name"]
    assert f"kubectl get certificate -n {ns} {name} -w" in text
    assert "must exist" not in text, "cert-manager issues the secret"


def test_notes_list_listeners_with_ports(helm, notes_chart):
    values = {"tls": {"httpsRedirect": True, "redirectPort": 80}}
    listeners = section(notes(helm, notes_chart, values), "Listeners:")
    assert any(l.startswith("https: HTTPS on port 443 (gateway pod port 8443)") for l in listeners), listeners
    assert any(l.startswith("http-redirect: HTTP (answers 301 to HTTPS) on port 80 (gateway pod port 8080)") for l in listeners), listeners
    listeners = section(notes(helm, notes_chart, {"gateway": {"install": "gateway-chart"}, "h2c": {"enabled": True}}), "Listeners:")
    assert "h2c: HTTP2 (h2c, plaintext) on port 80 (gateway pod port 80), hosts grpc.example.com" in listeners


def test_notes_list_routes_in_match_order_with_backends_and_weights(helm, notes_chart):
    values = load_ci("canary-values.yaml")
    values["routes"] = [{"name": "watch", "methods": ["helloworld.Greeter/Watch"], "streaming": True,
                         "backend": {"host": "greeter", "port": 50051}}] + values["routes"] + [
                        {"name": "rest", "backend": {"host": "rest", "port": 8080}}]
    routes = section(notes(helm, notes_chart, values), "Routes, in the order the gateway matches them:")
    assert routes[0] == "watch: /helloworld.Greeter/Watch -> greeter:50051 (streaming)"
    assert routes[1] == ("greeter: /helloworld.Greeter/* -> greeter:50051 (subset stable) 90%, greeter:50051 (subset canary) 10% "
                         "(canary split) (timeout 10s)")
    assert routes[2] == "rest: every other call (catch-all) -> rest:8080"


def test_notes_warn_of_a_method_outside_its_services_canary(helm, notes_chart):
    values = load_ci("canary-values.yaml")
    values["routes"] = [{"name": "watch", "methods": ["helloworld.Greeter/Watch"], "streaming": True,
                         "backend": {"host": "greeter", "port": 50051, "subset": "stable"}}] + values["routes"]
    warnings = section(notes(helm, notes_chart, values), "Warnings:")
    (w,) = [w for w in warnings if "canary" in w]
    assert w.startswith("! routes[0].methods: helloworld.Greeter/Watch (streaming) is routed on its own")
    assert 'canary split of route "greeter" (greeter/stable 90%, greeter/canary 10%)' in w
    assert w.endswith('give route "watch" the same backends and weights, or drop the split'), w
    assert "%!" not in notes(helm, notes_chart, values), "a printf with the wrong number of arguments"
    # the same split on the method's own route: no warning
    values["routes"][0]["backends"] = values["routes"][1]["backends"]
    del values["routes"][0]["backend"]
    assert "Warnings:" not in notes(helm, notes_chart, values)


def test_notes_warn_that_plaintext_on_the_shared_gateway_is_public(helm, notes_chart):
    text = notes(helm, notes_chart, {"h2c": {"enabled": True}})
    (w,) = section(text, "Warnings:")
    assert w.startswith("! h2c.enabled: the plaintext HTTP2 server on port 80 is on the same gateway")
    assert "istio-ingressgateway" in w and "reachable unencrypted" in w
    assert "Warnings:" not in notes(helm, notes_chart), "the defaults have no trap to warn of"


def test_notes_warn_of_a_port_added_to_the_stock_service(helm, notes_chart):
    text = notes(helm, notes_chart, {"h2c": {"enabled": True, "port": 8080}, "gateway": {"servicePorts": {"443": 8443, "8080": 8081}}})
    assert any(w.startswith("! h2c.port: port 8080 is not a port of the stock istio-ingressgateway Service")
               for w in section(text, "Warnings:"))


def test_notes_warn_of_a_named_secret_with_cert_manager(helm, notes_chart):
    values = {"tls": {"credentialName": "shared-tls", "certManager": {"enabled": True, "issuerRef": {"name": "ca"}}}}
    assert any("tls.credentialName: shared-tls is named while cert-manager issues it" in w
               for w in section(notes(helm, notes_chart, values), "Warnings:"))


def test_h2c_notes(helm, notes_chart):
    text = notes(helm, notes_chart, {"tls": {"enabled": False}, "h2c": {"enabled": True, "port": 80}})
    assert "grpcurl -plaintext -authority grpc.example.com -proto health.proto $GATEWAY:80 grpc.health.v1.Health/Check" in text
    assert "certificate:" not in text, "no TLS secret to remind of"


def test_grpc_web_notes(helm, notes_chart):
    web = {"grpcWeb": {"enabled": True, "cors": {"allowOrigins": ["https://app.example.com"]}}}
    text = notes(helm, notes_chart, web)
    assert "gRPC-Web too: EnvoyFilter istio-system/grpc-ingress-grpc-web" in text
    assert "gRPC-Web clients (browsers): https://grpc.example.com" in text
    text = notes(helm, notes_chart, {**web, "tls": {"enabled": False}})
    assert "grpc-web: GRPC-WEB (gRPC-Web, plaintext) on port 80" in text
    assert "gRPC-Web clients (browsers on the allowed origins): http://grpc.example.com    (grpc-web)" in text
    assert "https://" not in text.replace("https://app.example.com", ""), "a plaintext listener has no https:// address"
    gateway_api = notes(helm, notes_chart, {**web, "tls": {"enabled": False}, "api": "gateway-api"})
    assert "gRPC-Web clients (browsers on the allowed origins): http://grpc.example.com    (grpc-web)" in gateway_api
    assert "https://" not in gateway_api.replace("https://app.example.com", ""), \
        "with api: gateway-api an EnvoyFilter serves plaintext gRPC-Web too, and its listener is still plaintext"


def test_notes_warn_when_no_envoy_filter_serves_grpc_web(helm, notes_chart):
    """grpcWeb.envoyFilter.enabled false on a gateway the chart owns: fine on Istio's plaintext
    GRPC-WEB server (Istio adds grpc_web there itself; test_grpc_web asks it), said on HTTPS and
    on the Gateway API's plaintext listener, where only an EnvoyFilter adds it."""
    off = {"grpcWeb": {**WEB, "envoyFilter": {"enabled": False}}}
    plaintext = {**off, "tls": {"enabled": False}}
    said = lambda values: [w.strip() for w in notes(helm, notes_chart, values).splitlines()  # noqa: E731
                           if w.strip().startswith("! grpcWeb.envoyFilter.enabled: false")]
    assert "HTTPS listener" in said(off)[0]
    assert "plaintext listener" in said({**plaintext, "api": "gateway-api"})[0]
    assert said(plaintext) == [] and said({"grpcWeb": WEB}) == []


def test_wildcard_host_notes_use_a_concrete_authority(helm, notes_chart):
    text = notes(helm, notes_chart, {"hosts": ["*.example.com"]})
    assert "-authority test.example.com" in text


def test_notes_list_what_the_test_pod_checks(helm, notes_chart):
    text = notes(helm, notes_chart, {"h2c": {"enabled": True}})
    probes = section(text, "In-cluster check (one container per listener; the Pod runs outside the mesh):")
    names = [c["name"] for c in helm.render({"h2c": {"enabled": True}}).one("Pod")["spec"]["containers"]]
    assert [p.split(":")[0] for p in probes[1:]] == names


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


def test_aliased_instances_name_themselves(helm, tmp_path):
    """An umbrella chart with two aliased instances: Helm renders a subchart's NOTES only with
    --render-subchart-notes, and .Chart.Name is then the alias."""
    parent = tmp_path / "umbrella"
    (parent / "charts").mkdir(parents=True)
    (parent / "templates").mkdir()
    (parent / "Chart.yaml").write_text(
        "apiVersion: v2\nname: umbrella\nversion: 0.1.0\ndependencies:\n"
        "  - {name: grpc-ingress, version: '*', alias: public}\n  - {name: grpc-ingress, version: '*', alias: admin}\n")
    chart = parent / "charts" / "grpc-ingress"
    copy_chart(chart)
    (chart / "templates" / "zz-notes.yaml").write_text(WRAPPER.replace("name: notes", "name: notes-{{ .Chart.Name }}"))
    r = helm.render({"admin": {"hosts": ["admin.example.com"]}}, chart=parent, release="shop")
    public = r.one("ConfigMap", "notes-public")["data"]["notes"]
    admin = r.one("ConfigMap", "notes-admin")["data"]["notes"]
    assert public.strip().splitlines()[0].startswith('grpc-ingress instance "public" of release shop')
    assert admin.strip().splitlines()[0].startswith('grpc-ingress instance "admin" of release shop')
    assert "values under admin: in the parent chart; resources named shop-admin" in admin
    assert "shop-public-tls" in public and "shop-admin-tls" in admin, "each instance its own certificate secret"


def test_helm4_dry_run_prints_the_notes_the_wrapper_renders(helm, notes_chart):
    """The wrapper (NOTES.txt included into a ConfigMap) renders what Helm itself prints."""
    if helm.version[0] < 4:
        pytest.skip("Helm 3's install --dry-run needs a cluster")
    values = {"h2c": {"enabled": True}}
    proc = subprocess.run([helm.binary, "install", "grpc-ingress", str(ROOT), "--dry-run=client", "--set", "h2c.enabled=true"],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "KUBECONFIG": "/nonexistent"})
    assert proc.returncode == 0, proc.stderr
    printed = proc.stdout.split("\nNOTES:\n", 1)[1]
    assert printed.strip() == notes(helm, notes_chart, values).strip()


# --- bad input -----------------------------------------------------------------------------

BAD_VALUES = [
    ("test-requests-above-limits", {"tests": {"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}},
     [r"tests\.resources\.requests\.cpu"]),
    ("test-image-digest-bad", {"tests": {"image": {"digest": "sha256:xyz"}}}, [r"tests\.image\.digest"]),
    # a tag is 1 to 128 characters (the registry's rule), the longest still renders
    ("test-image-tag-129", {"tests": {"image": {"tag": "v" * 129}}}, [r"tests\.image\.tag"]),
    ("test-image-tag-leading-dot", {"tests": {"image": {"tag": ".v1"}}}, [r"tests\.image\.tag"]),
    ("test-method-unrouted", {**PER_SERVICE, **REFLECTION, "tests": {"method": "shop.v1.CartService/Get"}},
     [r"tests\.method: shop\.v1\.CartService/Get is served by no route", r"route its service"]),
    ("test-request-not-json", {**PER_SERVICE, **REFLECTION, "tests": {"method": "shop.v1.OrderService/Get", "request": "id: 1"}},
     [r"tests\.request: \"id: 1\" is not a JSON object", r"write it as JSON"]),
    ("test-request-broken-json", {**PER_SERVICE, **REFLECTION, "tests": {"method": "shop.v1.OrderService/Get", "request": '{"id": }'}},
     [r"tests\.request: .* is not valid JSON", r"JSON object"]),
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


def test_a_128_character_image_tag_renders(helm):
    tag = "v1_" + "." * 124 + "-"
    pod = helm.render({"tests": {"image": {"tag": tag}}}).one("Pod")
    assert pod["spec"]["containers"][0]["image"].endswith(":" + tag)


@pytest.mark.parametrize("values,match", bad_values(BAD_VALUES))
def test_bad_values_are_refused_naming_the_key(helm, values, match):
    assert_refused(helm, values, match)


# --- the probes, asked of Istio ------------------------------------------------------------------
# Each probe of the helm test Pod, read back from the render as the request it sends
# (support.probes), through Istio's own simulation of the gateway: it must be answered by the
# route its check text names (the chart picks that route itself, "as Envoy matches paths", in
# templates/_passthrough.tpl), with no error, on the listener, port and TLS the Pod dials.

PROBE_INSTALLS = ("classic", "gateway-chart", "gateway-api")
HEALTH_BACKEND = {"health": {"enabled": True, "backend": {"host": "health", "port": 50051}}}


def _probe_values(helm, name: str, install: str) -> dict | None:
    """A ci scenario's values with a helm test Pod (a health route added when the scenario
    routes neither health nor reflection), or None when the Pod cannot exist there."""
    base = gateway_api_values(name) if install == "gateway-api" else for_install(load_ci(SCENARIOS[name]), install)
    for values in (base, {**base, **HEALTH_BACKEND}):
        code, _, _, docs, _ = helm.template(values)
        # With api: gateway-api and a Gateway of the platform's (gateway.create false), the gateway
        # Istio deploys is not the render's to describe (test_istio_gateway_api asks that one).
        own = install != "gateway-api" or any(d["kind"] == "Gateway" for d in docs)
        if code == 0 and own and any(d["kind"] == "Pod" for d in docs):
            return values
    return None


@pytest.fixture(scope="module")
def probe_answers(helm, istio):
    """{(scenario, install): (probes, Istio's answer)}, one harness process."""
    keys, cases, found = [], [], {}
    for name in sorted(SCENARIOS):
        for install in PROBE_INSTALLS:
            values = _probe_values(helm, name, install)
            if values is None:
                continue
            ps = probes(helm.render(values))
            _, case = case_for(helm, istio, values, [p.call for p in ps])
            keys.append((name, install))
            cases.append(case)
            found[(name, install)] = ps
    return {k: (found[k], res) for k, res in zip(keys, istio.run(cases))}


@pytest.mark.parametrize("install", PROBE_INSTALLS)
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_probe_reaches_the_route_it_names_through_istio(probe_answers, name, install):
    if (name, install) not in probe_answers:
        pytest.skip("no helm test Pod for this scenario here (a shared gateway, or MUTUAL without tests.clientSecret)")
    ps, res = probe_answers[(name, install)]
    assert ps, "a Pod without probes"
    assert_probes_reach_their_routes(ps, res, gateway_api=install == "gateway-api")


@for_every_valid_values_set_in_istio
def test_every_probe_of_every_valid_values_set_reaches_the_route_it_names(case):
    """The property run's values sets, each on the stock install it names: every probe of the
    helm test Pod (when the values have one) goes where its check text says. With
    gateway.create false the probes dial the platform's Gateway, whose listeners the harness
    world only knows as HTTPS on 443 (support.istio.world_for), so those sets are left out."""
    if case.values["gateway"]["create"]:
        assert_probes_reach_their_routes(probes(case.render), case.answer())


def assert_probes_reach_their_routes(ps, res, gateway_api: bool = False) -> None:
    for p in ps:
        got = res.call(p.call.id)
        assert not got.get("error"), f"{p.container}: {got['error']} ({p.check})"
        # The Envoy route is the VirtualService route's name, or with api: gateway-api the rule's,
        # which the chart prefixes with namespace and release (templates/_gatewayapi.tpl).
        named = got["route"] == p.route or (gateway_api and got["route"].endswith("-" + p.route))
        assert named, f"{p.container}: Istio answers with route {got['route']!r}, the probe says {p.check}"
        assert _backends(reached(res, p.call.id)) == _backends_said(p.backends), (p.container, got["upstreams"], p.check)


def _backends(clusters: dict[str, int]) -> set[tuple]:
    """outbound|port|subset|host.ns.svc.cluster.local -> (host's first label, port, subset, percent)."""
    return {(c.split("|")[3].split(".")[0], int(c.split("|")[1]), c.split("|")[2], pct) for c, pct in clusters.items()}


def _backends_said(text: str) -> set[tuple]:
    """The probe's "host:port (subset s) 90%, ..." in the same terms."""
    out = set()
    for part in text.split(", "):
        m = re.fullmatch(r"(?P<host>[^:\s]+):(?P<port>\d+)(?: \(subset (?P<subset>[^)]+)\))?(?: (?P<pct>\d+)%)?", part)
        assert m, f"unreadable backend {part!r} in {text!r}"
        out.add((m["host"].split(".")[0], int(m["port"]), m["subset"] or "", int(m["pct"] or 100)))
    return out

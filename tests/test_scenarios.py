"""Every documented scenario, asserted on its semantics: what the gateway listens on, which
backend a gRPC path reaches, what a stream is allowed to do."""
from __future__ import annotations

import base64

import pytest

from support.scenarios import ci_files, load_ci
from support.helm import get
from support.routing import backends_for, route_for

SCENARIOS = {p.name: p for p in ci_files()}


def ci(helm, name, **kw):
    return helm.render(load_ci(SCENARIOS[name]), **kw)


def servers(render):
    return render.one("Gateway")["spec"]["servers"]


def server_by_name(render, name):
    found = [s for s in servers(render) if s["port"]["name"] == name]
    assert len(found) == 1, f"no single server {name}: {servers(render)}"
    return found[0]


# --- ci/ files: every scenario renders and validates -------------------------------------

@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_ci_scenario_renders_valid_manifests(helm, name):
    r = ci(helm, name)
    assert r.has("VirtualService")
    vs = r.one("VirtualService")
    assert vs["spec"]["http"], "a VirtualService with no routes serves nothing"


def test_expected_scenarios_exist():
    expected = {"tls", "h2c", "multi-route", "streaming", "grpc-web-tls", "grpc-web-plaintext", "backend-services",
                "mutual-tls", "existing-gateway", "cert-manager", "canary"}
    assert expected <= {n.removesuffix("-values.yaml") for n in SCENARIOS}


# --- defaults --------------------------------------------------------------------------

def test_defaults_render_a_tls_gateway_and_a_catch_all_route(default_render):
    r = default_render
    assert sorted(r.kinds()) == ["Gateway", "Pod", "VirtualService"]
    (srv,) = servers(r)
    assert srv["port"] == {"number": 443, "name": "https", "protocol": "HTTPS"}
    assert srv["hosts"] == ["grpc.example.com"]
    assert srv["tls"] == {"mode": "SIMPLE", "credentialName": "grpc-ingress-tls", "minProtocolVersion": "TLSV1_2"}
    assert r.one("Gateway")["spec"]["selector"] == {"istio": "ingressgateway"}
    vs = r.one("VirtualService")
    assert vs["spec"]["gateways"] == ["default/grpc-ingress"]
    for path in ["/helloworld.Greeter/SayHello", "/grpc.health.v1.Health/Check"]:
        assert backends_for(vs, path) == [("grpc-service", 50051, None, None)]


def test_default_unary_retries_are_safe_to_repeat(default_render):
    (entry,) = default_render.one("VirtualService")["spec"]["http"]
    assert entry["retries"] == {"attempts": 2, "retryOn": "connect-failure,refused-stream,unavailable"}
    assert "timeout" not in entry, "Istio sets no route timeout by default; neither do we"


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


# --- TLS -------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["SIMPLE", "MUTUAL", "OPTIONAL_MUTUAL"])
def test_tls_modes(helm, mode):
    r = helm.render({"tls": {"mode": mode, "externalCA": True}})
    srv = server_by_name(r, "https")
    assert srv["port"]["protocol"] == "HTTPS"
    assert srv["tls"]["mode"] == mode


def test_tls_scenario_sets_credential_and_protocol_versions(helm):
    srv = server_by_name(ci(helm, "tls-values.yaml"), "https")
    assert srv["tls"]["credentialName"] == "grpc-example-tls"
    assert srv["tls"]["minProtocolVersion"] == "TLSV1_2"


def test_mutual_tls_renders_server_and_ca_secrets_in_the_gateway_pod_namespace(helm):
    r = ci(helm, "mutual-tls-values.yaml")
    values = load_ci(SCENARIOS["mutual-tls-values.yaml"])
    srv = server_by_name(r, "https")
    assert srv["tls"]["mode"] == "MUTUAL"
    assert srv["tls"]["subjectAltNames"] == ["spiffe://example.com/client"]
    tls = r.one("Secret", "grpc-mtls")
    assert tls["type"] == "kubernetes.io/tls"
    assert tls["metadata"]["namespace"] == "istio-system"
    assert base64.b64decode(tls["data"]["tls.crt"]).decode() == values["tls"]["secret"]["cert"]
    assert base64.b64decode(tls["data"]["tls.key"]).decode() == values["tls"]["secret"]["key"]
    ca = r.one("Secret", "grpc-mtls-cacert")
    assert ca["metadata"]["namespace"] == "istio-system"
    assert base64.b64decode(ca["data"]["ca.crt"]).decode() == values["tls"]["secret"]["caCert"]
    assert not r.has("Pod"), "the helm test Pod has no client certificate for MUTUAL unless tests.clientSecret is set"


def test_secret_follows_workload_namespace_not_gateway_namespace(helm):
    values = load_ci(SCENARIOS["mutual-tls-values.yaml"])
    values["gateway"] = {"namespace": "apps", "workloadNamespace": "ingress-pods"}
    r = helm.render(values)
    assert r.one("Gateway")["metadata"]["namespace"] == "apps"
    assert {s["metadata"]["namespace"] for s in r.of_kind("Secret")} == {"ingress-pods"}
    assert r.one("VirtualService")["spec"]["gateways"] == ["apps/grpc-ingress"]


def test_https_redirect_is_a_plaintext_server_with_only_https_redirect(helm):
    r = ci(helm, "https-redirect-values.yaml")
    redirect = server_by_name(r, "http-redirect")
    assert redirect["port"] == {"number": 80, "name": "http-redirect", "protocol": "HTTP"}
    assert redirect["tls"] == {"httpsRedirect": True}


def test_tls_hosts_get_a_server_and_certificate_each(helm):
    r = ci(helm, "tls-hosts-values.yaml")
    a = server_by_name(r, "https-1")
    rest = server_by_name(r, "https")
    assert a["hosts"] == ["a.example.com"] and a["tls"]["credentialName"] == "a-example-tls"
    assert rest["hosts"] == ["b.example.com", "c.example.com"] and rest["tls"]["credentialName"] == "shared-tls"
    assert r.one("VirtualService")["spec"]["hosts"] == ["a.example.com", "b.example.com", "c.example.com"]
    names = [s["port"]["name"] for s in servers(r)]
    assert len(names) == len(set(names))


def test_tls_hosts_with_cert_manager_issue_one_certificate_per_server(helm):
    values = load_ci(SCENARIOS["tls-hosts-values.yaml"])
    values["tls"]["certManager"] = {"enabled": True, "issuerRef": {"name": "ca", "kind": "Issuer"}}
    certs = {c["spec"]["secretName"]: c["spec"]["dnsNames"] for c in helm.render(values).of_kind("Certificate")}
    assert certs == {"a-example-tls": ["a.example.com"], "shared-tls": ["b.example.com", "c.example.com"]}


# --- h2c -------------------------------------------------------------------------------

def test_h2c_is_a_plaintext_http2_server_without_tls(helm):
    r = ci(helm, "h2c-values.yaml")
    (srv,) = servers(r)
    assert srv["port"] == {"number": 80, "name": "h2c", "protocol": "HTTP2"}
    assert "tls" not in srv


def test_h2c_next_to_tls(helm):
    r = helm.render({"h2c": {"enabled": True, "port": 8080}})
    protocols = {s["port"]["number"]: s["port"]["protocol"] for s in servers(r)}
    assert protocols == {443: "HTTPS", 8080: "HTTP2"}


# --- routing ---------------------------------------------------------------------------

def test_services_methods_and_catch_all_reach_the_right_backend(helm):
    vs = ci(helm, "multi-route-values.yaml").one("VirtualService")
    assert backends_for(vs, "/shop.v1.OrderService/Create")[0][0] == "orders"
    assert backends_for(vs, "/shop.v1.CartService/Add")[0][0] == "orders"
    assert backends_for(vs, "/shop.v1.OrderService/Export")[0][0] == "exporter.batch.svc.cluster.local", \
        "a single method routed elsewhere must win over its service's prefix"
    assert backends_for(vs, "/users.v1.UserService/Get")[0][0] == "users"
    assert backends_for(vs, "/grpc.health.v1.Health/Watch")[0][0] == "orders"
    assert backends_for(vs, "/other.Thing/Do")[0][0] == "legacy", "unknown services reach the catch-all"
    assert "match" not in vs["spec"]["http"][-1], "the catch-all comes last"


def test_service_prefix_keeps_its_trailing_slash(helm):
    vs = helm.render({"routes": [
        {"name": "greeter", "services": ["a.Greeter"], "backend": {"host": "greeter", "port": 1}},
    ]}).one("VirtualService")
    assert route_for(vs, "/a.Greeter/SayHello")["name"] == "greeter"
    assert route_for(vs, "/a.GreeterX/SayHello") is None, "/a.Greeter/ must not catch /a.GreeterX/"
    assert vs["spec"]["http"][0]["match"] == [{"uri": {"prefix": "/a.Greeter/"}}]


def test_method_match_is_exact(helm):
    vs = helm.render({"routes": [
        {"name": "one", "methods": ["a.S/Get"], "backend": {"host": "one", "port": 1}},
    ]}).one("VirtualService")
    assert route_for(vs, "/a.S/Get")["name"] == "one"
    assert route_for(vs, "/a.S/GetAll") is None


def test_more_specific_matches_come_first_whatever_the_user_order(helm):
    vs = helm.render({"routes": [
        {"name": "all", "backend": {"host": "fallback", "port": 1}},
        {"name": "raw", "prefix": "/legacy/", "backend": {"host": "raw", "port": 1}},
        {"name": "svc", "services": ["a.S"], "backend": {"host": "svc", "port": 1}},
        {"name": "meth", "methods": ["a.S/M"], "backend": {"host": "meth", "port": 1}},
    ]}).one("VirtualService")
    assert [e["name"] for e in vs["spec"]["http"]] == ["meth", "svc", "raw", "all"]


def test_raw_regex_escape_hatch(helm):
    vs = helm.render({"routes": [
        {"name": "reflection", "regex": "/grpc\\.reflection\\.v1(alpha)?\\.ServerReflection/.*",
         "backend": {"host": "reflect", "port": 1}},
    ]}).one("VirtualService")
    assert route_for(vs, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")["name"] == "reflection"
    assert route_for(vs, "/grpc.reflection.v2.ServerReflection/X") is None


def test_gateway_binding_uses_namespace_and_name(helm):
    r = helm.render({"gateway": {"name": "edge", "namespace": "ingress"}}, namespace="apps")
    gw = r.one("Gateway")["metadata"]
    assert (gw["name"], gw["namespace"]) == ("edge", "ingress")
    vs = r.one("VirtualService")
    assert vs["metadata"]["namespace"] == "apps"
    assert vs["spec"]["gateways"] == ["ingress/edge"]


# --- streaming -------------------------------------------------------------------------

def test_streaming_routes_carry_no_timeout_and_unary_ones_keep_theirs(helm):
    r = ci(helm, "streaming-values.yaml")
    vs = r.one("VirtualService")
    stream = route_for(vs, "/chat.v1.Chat/Subscribe")
    unary = route_for(vs, "/chat.v1.Chat/Send")
    assert stream["name"] == "chat-stream" and "timeout" not in stream
    assert unary["name"] == "chat" and unary["timeout"] == "3s"
    assert stream["retries"] == {"attempts": 1, "retryOn": "connect-failure,refused-stream,unavailable"}


def test_streaming_backend_gets_keepalive_idle_timeout_and_rebalancing(helm):
    dr = ci(helm, "streaming-values.yaml").one("DestinationRule")
    assert dr["spec"]["host"] == "chat"
    pool = dr["spec"]["trafficPolicy"]["connectionPool"]
    assert pool["http"]["idleTimeout"] == "2h"
    assert pool["http"]["maxRequestsPerConnection"] == 1000
    assert pool["tcp"]["tcpKeepalive"] == {"time": "60s", "interval": "15s", "probes": 4}
    assert "h2UpgradePolicy" not in pool["http"], "omit what the user did not ask for"


def test_no_destination_rule_unless_asked(default_render):
    assert not default_render.has("DestinationRule")


def test_retries_can_be_turned_off(helm):
    (entry,) = helm.render({"routes": [{"name": "a", "backend": {"host": "a", "port": 1},
                                        "retries": {"attempts": 0}}]}).one("VirtualService")["spec"]["http"]
    assert entry["retries"] == {"attempts": 0}


# --- canary and DestinationRules -------------------------------------------------------

def test_canary_splits_by_weight_and_defines_the_subsets(helm):
    r = ci(helm, "canary-values.yaml")
    assert sorted(backends_for(r.one("VirtualService"), "/helloworld.Greeter/SayHello")) == [
        ("greeter", 50051, "canary", 10), ("greeter", 50051, "stable", 90)]
    dr = r.one("DestinationRule")
    assert {s["name"]: s["labels"] for s in dr["spec"]["subsets"]} == {"stable": {"version": "v1"}, "canary": {"version": "v2"}}


def test_external_subsets_skip_the_destination_rule(helm):
    r = helm.render({"externalSubsets": True, "routes": [{"name": "a", "backends": [
        {"host": "a", "port": 1, "subset": "v1", "weight": 50}, {"host": "a", "port": 1, "subset": "v2", "weight": 50}]}]})
    assert not r.has("DestinationRule")


def test_destination_rule_names_never_collide(helm):
    r = helm.render({"trafficPolicy": {"loadBalancer": "RANDOM"}, "routes": [
        {"name": "a", "services": ["a.S"], "backend": {"host": "a.b", "port": 1}},
        {"name": "b", "backend": {"host": "a-b", "port": 1}}]})
    names = [d["metadata"]["name"] for d in r.of_kind("DestinationRule")]
    assert len(names) == 2 and len(set(names)) == 2


def test_chart_wide_retries_can_be_turned_off(helm):
    (entry,) = helm.render({"retries": {"unary": {"attempts": 0}}}).one("VirtualService")["spec"]["http"]
    assert entry["retries"] == {"attempts": 0}


def test_gateway_selector_replaces_the_default(helm):
    r = helm.render({"gateway": {"selector": {"app": "my-gateway"}},
                     "grpcWeb": {"enabled": True, "cors": {"allowOrigins": ["https://a.example.com"]}}})
    assert r.one("Gateway")["spec"]["selector"] == {"app": "my-gateway"}
    assert r.one("EnvoyFilter")["spec"]["workloadSelector"] == {"labels": {"app": "my-gateway"}}


def test_h2_upgrade_for_a_backend_istio_cannot_recognise(helm):
    r = ci(helm, "backend-services-values.yaml")
    (dr,) = r.of_kind("DestinationRule")
    assert dr["spec"]["host"] == "legacy-grpc"
    assert dr["spec"]["trafficPolicy"] == {"connectionPool": {"http": {"h2UpgradePolicy": "UPGRADE"}}}


def test_destination_rule_for_fqdn_host_lives_in_the_service_namespace(helm):
    r = helm.render({"trafficPolicy": {"loadBalancer": "LEAST_REQUEST"}, "routes": [
        {"name": "a", "backend": {"host": "exporter.batch.svc.cluster.local", "port": 1}}]}, namespace="apps")
    dr = r.one("DestinationRule")
    assert dr["metadata"]["namespace"] == "batch"
    assert dr["spec"]["trafficPolicy"]["loadBalancer"] == {"simple": "LEAST_REQUEST"}


# --- backend Services ------------------------------------------------------------------

def test_backend_services_are_known_to_istio_as_grpc(helm):
    r = ci(helm, "backend-services-values.yaml")
    greeter = r.one("Service", "greeter")["spec"]["ports"][0]
    echo = r.one("Service", "echo")["spec"]["ports"][0]
    assert greeter == {"name": "grpc-api", "port": 50051, "targetPort": 9090, "protocol": "TCP", "appProtocol": "grpc"}
    assert echo == {"name": "grpc-echo", "port": 8080, "targetPort": "grpc", "protocol": "TCP", "appProtocol": "kubernetes.io/h2c"}
    for svc in r.of_kind("Service"):
        for p in svc["spec"]["ports"]:
            assert p["protocol"] in ("TCP", "UDP", "SCTP")
            assert p["name"].startswith("grpc-") and p["appProtocol"] in ("grpc", "kubernetes.io/h2c")
    assert r.one("Service", "echo")["spec"]["selector"] == {"app.kubernetes.io/name": "echo"}


# --- gRPC-Web --------------------------------------------------------------------------

GRPC_WEB_HEADERS = ["content-type", "x-grpc-web", "x-user-agent", "grpc-timeout"]
GRPC_EXPOSED = ["grpc-status", "grpc-message", "grpc-status-details-bin"]


def test_grpc_web_over_tls_uses_an_envoy_filter_on_the_tls_listener(helm):
    r = ci(helm, "grpc-web-tls-values.yaml")
    ef = r.one("EnvoyFilter")
    assert ef["metadata"]["namespace"] == "istio-system"
    assert ef["spec"]["workloadSelector"] == {"labels": {"istio": "ingressgateway"}}
    (patch,) = ef["spec"]["configPatches"]
    assert patch["applyTo"] == "HTTP_FILTER"
    assert patch["match"]["context"] == "GATEWAY"
    assert patch["match"]["listener"]["portNumber"] == 8443
    assert get(patch, "match.listener.filterChain.filter.subFilter.name") == "envoy.filters.http.router"
    assert get(patch, "match.listener.filterChain.sni") == "api.example.com", "scoped to this chart's server only"
    assert patch["patch"]["operation"] == "INSERT_BEFORE"
    assert patch["patch"]["value"]["name"] == "envoy.filters.http.grpc_web"
    assert [s["port"]["protocol"] for s in servers(r)] == ["HTTPS"], "no extra plaintext server when TLS carries gRPC-Web"


def test_envoy_filter_has_one_patch_per_tls_server(helm):
    r = helm.render({"hosts": ["a.example.com", "b.example.com", "*.c.example.com"],
                     "tls": {"hosts": [{"hosts": ["b.example.com"], "credentialName": "b-tls"}]},
                     "grpcWeb": {"enabled": True, "cors": {"allowOrigins": ["https://a.example.com"]}}})
    snis = [get(p, "match.listener.filterChain.sni") for p in r.one("EnvoyFilter")["spec"]["configPatches"]]
    server_hosts = [s["hosts"] for s in servers(r)]
    assert len(snis) == len(server_hosts) == 2, "one patch per HTTPS server: two patches on one chain insert the filter twice"
    assert all(any(sni in hosts for hosts in server_hosts) for sni in snis)


def test_envoy_filter_port_follows_listener_port(helm):
    r = helm.render({"tls": {"port": 8443}, "grpcWeb": {"enabled": True, "envoyFilter": {"listenerPort": 0, "namespace": "gw"},
                                                        "cors": {"allowOrigins": ["https://a.example.com"]}}})
    ef = r.one("EnvoyFilter")
    assert ef["spec"]["configPatches"][0]["match"]["listener"]["portNumber"] == 8443
    assert ef["metadata"]["namespace"] == "gw"


def test_grpc_web_cors_is_on_the_route_the_preflight_reaches(helm):
    vs = ci(helm, "grpc-web-tls-values.yaml").one("VirtualService")
    # The browser's preflight: OPTIONS, no content-type: application/grpc-web.
    preflight = route_for(vs, "/helloworld.Greeter/SayHello", method="OPTIONS",
                          headers={"access-control-request-method": "POST"})
    call = route_for(vs, "/helloworld.Greeter/SayHello", headers={"content-type": "application/grpc-web+proto"})
    assert preflight is call, "the preflight must reach the route that serves the call"
    cors = preflight["corsPolicy"]
    assert cors["allowOrigins"] == [{"exact": "https://app.example.com"}, {"prefix": "https://preview-"}]
    assert cors["allowMethods"] == ["POST", "OPTIONS"]
    assert cors["allowHeaders"] == GRPC_WEB_HEADERS + ["authorization"]
    assert cors["exposeHeaders"] == GRPC_EXPOSED + ["x-request-id"]
    assert cors["maxAge"] == "1h" and cors["allowCredentials"] is True
    for entry in vs["spec"]["http"]:
        assert "corsPolicy" in entry
        for m in entry.get("match", []):
            assert "content-type" not in m.get("headers", {}), "a content-type match hides the route from the preflight"


def test_grpc_web_plaintext_is_a_grpc_web_server_without_envoy_filter(helm):
    r = ci(helm, "grpc-web-plaintext-values.yaml")
    (srv,) = servers(r)
    assert srv["port"] == {"number": 8080, "name": "grpc-web", "protocol": "GRPC-WEB"}
    assert "tls" not in srv
    assert not r.has("EnvoyFilter"), "Istio adds the grpc_web filter itself on GRPC-WEB servers"


def test_grpc_web_envoy_filter_opt_out(helm):
    values = load_ci(SCENARIOS["grpc-web-tls-values.yaml"])
    values["grpcWeb"]["envoyFilter"] = {"enabled": False}
    assert not helm.render(values).has("EnvoyFilter")


def test_any_origin_with_explicit_opt_in(helm):
    r = helm.render({"grpcWeb": {"enabled": True, "cors": {"allowOrigins": ["*"], "allowAnyOrigin": True}}})
    assert r.one("VirtualService")["spec"]["http"][0]["corsPolicy"]["allowOrigins"] == [{"exact": "*"}]


# --- existing gateway and cert-manager -------------------------------------------------

def test_existing_gateway_renders_only_routes(helm):
    r = ci(helm, "existing-gateway-values.yaml")
    assert not r.has("Gateway") and not r.has("EnvoyFilter")
    assert r.one("VirtualService")["spec"]["gateways"] == ["istio-ingress/shared-gateway"]


def test_existing_gateway_with_grpc_web_renders_envoy_filter_only_when_asked(helm):
    values = load_ci(SCENARIOS["existing-gateway-values.yaml"])
    values["grpcWeb"] = {"enabled": True, "cors": {"allowOrigins": ["https://a.example.com"]}}
    assert not helm.render(values).has("EnvoyFilter")
    values["grpcWeb"]["envoyFilter"] = {"enabled": True}
    assert helm.render(values).has("EnvoyFilter")


def test_cert_manager_certificate_matches_the_gateway_secret(helm):
    r = ci(helm, "cert-manager-values.yaml")
    cert = r.one("Certificate")
    srv = server_by_name(r, "https")
    assert cert["metadata"]["namespace"] == "istio-system"
    assert cert["spec"]["secretName"] == srv["tls"]["credentialName"] == "grpc-ingress-tls"
    assert cert["spec"]["dnsNames"] == ["grpc.example.com", "*.api.example.com"]
    assert cert["spec"]["issuerRef"] == {"name": "letsencrypt-prod", "kind": "ClusterIssuer", "group": "cert-manager.io"}
    assert cert["spec"]["duration"] == "2160h" and cert["spec"]["renewBefore"] == "360h"


def test_cert_manager_with_a_namespaced_issuer(helm):
    cert = helm.render({"tls": {"certManager": {"enabled": True, "issuerRef": {"name": "internal-ca", "kind": "Issuer"}}},
                        "gateway": {"workloadNamespace": "edge"}}).one("Certificate")
    assert cert["metadata"]["namespace"] == "edge", "an Issuer must sit next to the Certificate"
    assert cert["spec"]["issuerRef"]["kind"] == "Issuer"


# --- helm test -------------------------------------------------------------------------

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


def test_helm_test_pod_for_mutual_tls_with_client_secret(helm):
    pod = helm.render({"tls": {"mode": "MUTUAL", "externalCA": True}, "tests": {"clientSecret": "test-client"}}).one("Pod")
    assert {"-cert", "-key"} <= set(pod["spec"]["containers"][0]["args"])
    assert pod["spec"]["volumes"][0]["secret"]["secretName"] == "test-client"

"""api: gateway-api: the same values rendered as the Kubernetes Gateway API that Istio serves
(Gateway, GRPCRoute, HTTPRoute where a route needs what GRPCRoute lacks, ReferenceGrant), with
the gRPC-Web EnvoyFilter, backend Services and gateway-scoped DestinationRules as in the Istio
mode. Every render here is validated against the vendored Gateway API CRDs (standard channel,
v1.6.1) with their CEL rules by the suite's validator. What Istio does with these objects is
cited in templates/_gatewayapi.tpl."""
from __future__ import annotations

import subprocess
import sys

import pytest
from yamllint import linter
from yamllint.config import YamlLintConfig

from support.bad_input import assert_refused, bad_values
from support.both_apis import behaviour, differences, undocumented
from support.summary import STATS, count
from support.gateway_api import (GATEWAY_API, REFUSED, expressible, gateway, gateway_api_values, listeners, reference_grants,
                                 route_named, routes, variant)
from support.helm import ROOT
from support.properties import BOTH_APIS_SETS, for_every_valid_values_set, for_every_valid_values_set_in_istio
from support.scenarios import SCENARIOS, grpc_web_filter, load_ci
from support.values import PEM_CA, WEB

GAPI = "gateway.networking.k8s.io"
GATEWAY_API_KINDS = {"GRPCRoute", "HTTPRoute", "ReferenceGrant"}


def gapi(**values):
    return {**values, **GATEWAY_API}


# --- the switch -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_ci_scenario_renders_with_gateway_api_and_validates(helm, name):
    r = helm.render(gateway_api_values(name))
    kinds = set(r.kinds())
    assert not kinds & {"VirtualService"}, "an Istio route object rendered in gateway-api mode"
    assert routes(r), "no GRPCRoute or HTTPRoute"
    if load_ci(SCENARIOS[name]).get("gateway", {}).get("create", True):
        assert gateway(r)["apiVersion"] == f"{GAPI}/v1"
        assert not [d for d in r.of_kind("Gateway") if d["apiVersion"].startswith("networking.istio.io")]


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_scenarios_with_istio_only_values_are_refused_naming_each_key(helm, name):
    assert_refused(helm, gapi(**load_ci(SCENARIOS[name])), REFUSED[name][0])
    helm.render(variant(name))  # the variant is fine for the Istio mode too, so both can be compared


def test_the_default_api_is_istio_and_prints_no_gateway_api_object(helm, default_render):
    assert set(default_render.kinds()) & GATEWAY_API_KINDS == set()
    assert default_render.one("VirtualService")
    assert default_render.one("Gateway")["apiVersion"] == "networking.istio.io/v1"
    assert helm.render({"api": "istio"}).stdout == default_render.stdout


def test_gateway_api_renders_no_istio_gateway_or_virtual_service(helm):
    r = helm.render(GATEWAY_API)
    assert [d["apiVersion"] for d in r.of_kind("Gateway")] == [f"{GAPI}/v1"]
    assert not r.has("VirtualService")


def test_helm_3_and_helm_4_print_the_same_bytes(helm):
    """The other Helm's render of four scenarios, against this session's (cached) one."""
    other = ROOT / ".tools" / ("helm3" if helm.version[0] >= 4 else "helm4") / "helm"
    if not other.exists():
        pytest.skip("scripts/setup installs both Helms under .tools/")
    import json
    import tempfile
    for name in ["tls-hosts-values.yaml", "grpc-web-tls-values.yaml", "multi-route-values.yaml", "h2c-values.yaml"]:
        values = gateway_api_values(name)
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            f.write(json.dumps(values))
            f.flush()
            theirs = subprocess.run([str(other), "template", "grpc-ingress", str(ROOT), "-f", f.name],
                                    capture_output=True, text=True, check=True).stdout
        assert helm.render(values).stdout == theirs, f"{name}: Helm 3 and Helm 4 differ"


# --- the Gateway ------------------------------------------------------------------------------

def test_one_https_listener_per_host_each_with_its_entrys_certificate(helm):
    r = helm.render(gateway_api_values("tls-hosts-values.yaml"))
    https = [l for l in listeners(r) if l["protocol"] == "HTTPS"]
    by_host = {l["hostname"]: l for l in https}
    assert sorted(by_host) == ["a.example.com", "b.example.com", "c.example.com"]
    assert by_host["a.example.com"]["tls"]["certificateRefs"] == [{"group": "", "kind": "Secret", "name": "a-example-tls"}]
    for host in ("b.example.com", "c.example.com"):
        assert by_host[host]["tls"]["certificateRefs"][0]["name"] == "shared-tls"
    for l in https:
        assert l["port"] == 443 and l["tls"]["mode"] == "Terminate"
    assert len({l["name"] for l in https}) == 3


def test_the_gateway_class_is_istio_unless_set(helm):
    assert gateway(helm.render(GATEWAY_API))["spec"]["gatewayClassName"] == "istio"
    r = helm.render(gapi(gatewayApi={"gatewayClassName": "istio-edge", "labels": {"team": "edge"},
                                     "annotations": {"example.com/owner": "edge"}}))
    gw = gateway(r)
    assert gw["spec"]["gatewayClassName"] == "istio-edge"
    assert gw["metadata"]["labels"]["team"] == "edge"
    assert gw["metadata"]["annotations"] == {"example.com/owner": "edge"}


def test_gateway_labels_go_over_the_chart_s_and_each_key_is_written_once(helm):
    """gatewayApi.labels sit on top of the standard labels and commonLabels: a key in both is
    one YAML key with the user's value (a second copy of a key is a document some YAML readers
    refuse and others read differently). yamllint's key-duplicates rule reads the text."""
    r = helm.render(gapi(commonLabels={"team": "all", "tier": "edge"},
                         gatewayApi={"labels": {"app.kubernetes.io/name": "edge-gateway", "team": "edge"}}))
    labels = gateway(r)["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "edge-gateway" and labels["team"] == "edge" and labels["tier"] == "edge"
    assert labels["app.kubernetes.io/instance"] == "grpc-ingress"
    conf = YamlLintConfig("rules: {key-duplicates: enable}")
    assert not [f"{p.line}: {p.message}" for p in linter.run(r.stdout, conf)]
    other = [d for d in r.docs if d is not gateway(r)]
    assert other and all(d["metadata"]["labels"]["app.kubernetes.io/name"] == "grpc-ingress" for d in other), \
        "the Gateway's labels stay on the Gateway"


def test_h2c_is_a_plaintext_http_listener_without_tls(helm):
    r = helm.render(gateway_api_values("h2c-values.yaml"))
    (h2c,) = listeners(r)
    assert h2c["protocol"] == "HTTP" and h2c["port"] == 80 and "tls" not in h2c
    for route in routes(r):
        assert [p["sectionName"] for p in route["spec"]["parentRefs"]] == [h2c["name"]]


def test_the_https_redirect_is_a_request_redirect_on_the_plaintext_listener_alone(helm):
    r = helm.render(gateway_api_values("https-redirect-values.yaml"))
    by_protocol = {l["protocol"]: l for l in listeners(r)}
    plain = by_protocol["HTTP"]
    assert plain["port"] == 80 and plain["allowedRoutes"]["kinds"] == [{"group": GAPI, "kind": "HTTPRoute"}]
    redirects = [h for h in r.of_kind("HTTPRoute") if any(f["type"] == "RequestRedirect"
                                                         for rule in h["spec"]["rules"] for f in rule.get("filters", []))]
    (redirect,) = redirects
    assert redirect["spec"]["parentRefs"] == [{"name": gateway(r)["metadata"]["name"], "namespace": "default",
                                               "sectionName": plain["name"]}]
    assert redirect["spec"]["rules"][0]["filters"][0]["requestRedirect"] == {"scheme": "https", "statusCode": 301}
    assert redirect["spec"]["hostnames"] == ["grpc.example.com"]
    for route in routes(r):
        if route is not redirect:
            assert plain["name"] not in [p.get("sectionName") for p in route["spec"]["parentRefs"]]


def test_listeners_admit_only_the_route_kinds_the_chart_attaches_from_the_release_namespace(helm):
    only_grpc = helm.render(GATEWAY_API)
    for l in listeners(only_grpc):
        assert l["allowedRoutes"] == {"namespaces": {"from": "Same"}, "kinds": [{"group": GAPI, "kind": "GRPCRoute"}]}
    elsewhere = helm.render(gapi(gateway={"namespace": "edge"}))
    (l,) = listeners(elsewhere)
    assert l["allowedRoutes"]["namespaces"] == {"from": "Selector", "selector": {
        "matchLabels": {"kubernetes.io/metadata.name": "default"}}}
    both = helm.render(gapi(routes=[
        {"name": "slow", "services": ["a.A"], "timeout": "30s", "backend": {"host": "a", "port": 50051}},
        {"name": "b", "services": ["b.B"], "backend": {"host": "b", "port": 50051}}]))
    kinds = {k["kind"] for l in listeners(both) for k in l["allowedRoutes"]["kinds"]}
    assert kinds == {r["kind"] for r in routes(both)} == {"GRPCRoute", "HTTPRoute"}


def test_an_existing_gateway_is_attached_to_and_not_rendered(helm):
    r = helm.render(gateway_api_values("existing-gateway-values.yaml"))
    assert not r.has("Gateway")
    for route in routes(r):
        assert route["spec"]["parentRefs"] == [{"name": "shared-gateway", "namespace": "istio-ingress"}]
    # A shared gateway's owner sets its listener EnvoyFilters (auto); the release's own routes'
    # retries still go on the shared gateway's pods, in its namespace.
    (ef,) = r.of_kind("EnvoyFilter")
    assert ef["metadata"]["namespace"] == "istio-ingress"
    assert ef["spec"]["workloadSelector"]["labels"] == {"gateway.networking.k8s.io/gateway-name": "shared-gateway"}
    assert {p["applyTo"] for p in ef["spec"]["configPatches"]} == {"HTTP_ROUTE"}
    ref = {"name": "edge", "namespace": "gateways", "sectionName": "https-payments"}
    r = helm.render(gapi(gateway={"create": False}, gatewayApi={"parentRefs": [ref]}))
    for route in routes(r):
        assert route["spec"]["parentRefs"] == [ref]


# --- routes -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_route_carries_every_host_as_hostnames(helm, name):
    values = gateway_api_values(name)
    r = helm.render(values)
    hosts = values.get("hosts", ["grpc.example.com"])
    for route in routes(r):
        assert route["spec"]["hostnames"] == hosts, route["metadata"]["name"]


def test_services_and_methods_are_grpc_method_matches(helm):
    r = helm.render(gateway_api_values("h2c-values.yaml"))
    greeter = route_named(r, "greeter")
    assert greeter["kind"] == "GRPCRoute"
    assert greeter["spec"]["rules"][0]["matches"] == [{"method": {"type": "Exact", "service": "helloworld.Greeter"}}]
    assert greeter["spec"]["rules"][0]["backendRefs"] == [{"name": "greeter", "port": 50051}]
    health = route_named(r, "grpc-health")
    assert health["spec"]["rules"][0]["matches"] == [{"method": {"type": "Exact", "service": "grpc.health.v1.Health"}}]


def test_canary_weights_become_weighted_backend_refs(helm):
    r = helm.render(gateway_api_values("canary-values.yaml"))
    rule = route_named(r, "greeter")["spec"]["rules"][0]
    assert rule["backendRefs"] == [{"name": "greeter-v1", "port": 50051, "weight": 90},
                                   {"name": "greeter-v2", "port": 50051, "weight": 10}]


def test_a_unary_timeout_needs_an_httproute_matching_the_grpc_path(helm):
    r = helm.render(gateway_api_values("tls-values.yaml"))
    greeter = route_named(r, "greeter")
    assert greeter["kind"] == "HTTPRoute"
    rule = greeter["spec"]["rules"][0]
    assert rule["timeouts"] == {"request": "10s"}
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/helloworld.Greeter/"}}]
    assert "# HTTPRoute, not GRPCRoute: timeout (timeouts.request: GRPCRoute has no timeouts" in r.stdout


def test_streaming_routes_stay_grpcroutes_without_a_timeout(helm):
    r = helm.render(gapi(routes=[
        {"name": "watch", "methods": ["chat.v1.Chat/Subscribe", "chat.v1.Chat/Connect"], "streaming": True,
         "backend": {"host": "chat", "port": 50051}},
        {"name": "users", "services": ["users.v1.Users"], "timeout": "3s", "backend": {"host": "users", "port": 50051}}]))
    stream = route_named(r, "watch")
    assert stream["kind"] == "GRPCRoute"
    assert stream["spec"]["rules"][0]["matches"] == [
        {"method": {"type": "Exact", "service": "chat.v1.Chat", "method": "Subscribe"}},
        {"method": {"type": "Exact", "service": "chat.v1.Chat", "method": "Connect"}}]
    assert "timeouts" not in stream["spec"]["rules"][0]
    unary = route_named(r, "users")
    assert unary["kind"] == "HTTPRoute" and unary["spec"]["rules"][0]["timeouts"] == {"request": "3s"}


@pytest.mark.parametrize("version,kind", [("1.30", "GRPCRoute"), ("1.29", "HTTPRoute")])
def test_a_streaming_route_beside_an_httproute_has_no_timeout_whatever_its_kind(helm, version, kind):
    r = helm.render({**gateway_api_values("streaming-values.yaml"), "istio": {"version": version}})
    stream = route_named(r, "chat-stream")
    assert stream["kind"] == kind, "GRPCRoute, but one kind per release before Istio 1.30"
    rule = stream["spec"]["rules"][0]
    if kind == "HTTPRoute":
        assert rule["matches"] == [{"path": {"type": "Exact", "value": "/chat.v1.Chat/Subscribe"}},
                                   {"path": {"type": "Exact", "value": "/chat.v1.Chat/Connect"}}]
    else:
        assert rule["matches"] == [{"method": {"type": "Exact", "service": "chat.v1.Chat", "method": "Subscribe"}},
                                   {"method": {"type": "Exact", "service": "chat.v1.Chat", "method": "Connect"}}]
    assert "timeouts" not in rule
    assert route_named(r, "chat")["spec"]["rules"][0]["timeouts"] == {"request": "3s"}


@pytest.mark.parametrize("timeout,written", [("1.5s", "1s500ms"), ("120s", "2m"), ("90m", "1h30m"), ("250ms", "250ms")])
def test_timeouts_are_written_as_gateway_api_durations(helm, timeout, written):
    r = helm.render(gapi(routes=[{"name": "t", "services": ["a.A"], "timeout": timeout,
                                  "backend": {"host": "a", "port": 50051}}]))
    assert route_named(r, "t")["spec"]["rules"][0]["timeouts"] == {"request": written}


def test_grpc_web_cors_is_an_httproute_cors_filter_on_every_call_route(helm):
    r = helm.render(gateway_api_values("grpc-web-tls-values.yaml"))
    for route in routes(r):
        assert route["kind"] == "HTTPRoute"
        (f,) = route["spec"]["rules"][0]["filters"]
        assert f["type"] == "CORS"
        assert f["cors"]["allowOrigins"] == ["https://app.example.com", "https://preview-app.example.com"]
        assert f["cors"]["allowMethods"] == ["POST", "OPTIONS"]
        assert f["cors"]["maxAge"] == 3600 and f["cors"]["allowCredentials"] is True
        assert "authorization" in f["cors"]["allowHeaders"] and "x-request-id" in f["cors"]["exposeHeaders"]
    updates = route_named(r, "updates")["spec"]["rules"][0]
    assert updates["matches"] == [{"path": {"type": "Exact", "value": "/helloworld.Greeter/StreamUpdates"}}]
    assert "timeouts" not in updates


def test_from_istio_1_30_a_route_is_an_httproute_only_when_it_needs_one(helm):
    """Istio 1.30 merges a hostname's GRPCRoute and HTTPRoute rules into one VirtualService and
    orders them by match (test_istio_gateway_api asks it), so the kinds mix."""
    r = helm.render(gateway_api_values("multi-route-values.yaml"))
    kinds = {x["metadata"]["name"].removeprefix("grpc-ingress-"): x["kind"] for x in routes(r)}
    needs = {n for n, k in kinds.items() if k == "HTTPRoute"}
    assert needs and needs != set(kinds), kinds
    for name in needs:
        assert "timeouts" in route_named(r, name)["spec"]["rules"][0], f"{name}: an HTTPRoute without a reason"
    assert "one-kind" not in r.stdout
    fallback = route_named(r, "fallback")
    assert fallback["kind"] == "GRPCRoute" and "matches" not in fallback["spec"]["rules"][0], "a catch-all"


@pytest.mark.parametrize("version", ["1.26", "1.29"])
def test_on_istio_1_26_to_1_29_a_releases_routes_are_all_one_kind(helm, version):
    """Istio 1.26 to 1.29 make one VirtualService per kind, gateway and hostname, both of one name
    (route_collections.go: Key parent/hostname; fixed by istio/istio#59222 in 1.30), and only
    one takes effect: one HTTPRoute makes every route an HTTPRoute. Without one, all stay
    GRPCRoute; 1.24 and 1.25 merged both kinds into one VirtualService, so the kinds mix."""
    r = helm.render({**gateway_api_values("multi-route-values.yaml"), "istio": {"version": version}})
    assert {x["kind"] for x in routes(r)} == {"HTTPRoute"}
    assert "one-kind (another route is an HTTPRoute" in r.stdout
    fallback = route_named(r, "fallback")["spec"]["rules"][0]
    assert "matches" not in fallback  # a catch-all, as in the Istio mode
    r = helm.render(gapi(istio={"version": version}, routes=[
        {"name": "a", "services": ["a.A"], "backend": {"host": "a", "port": 50051}},
        {"name": "b", "methods": ["b.B/Get"], "streaming": True, "backend": {"host": "b", "port": 50051}}]))
    assert {x["kind"] for x in routes(r)} == {"GRPCRoute"}


@pytest.mark.parametrize("version", ["1.25", "1.30"])
def test_on_istio_1_25_and_from_1_30_the_kinds_mix(helm, version):
    r = helm.render({**gateway_api_values("multi-route-values.yaml"), "istio": {"version": version}})
    assert {x["kind"] for x in routes(r)} == {"GRPCRoute", "HTTPRoute"}
    assert "one-kind" not in r.stdout


def test_backends_in_other_namespaces_get_a_reference_grant_there(helm):
    r = helm.render(gateway_api_values("multi-route-values.yaml"))
    export = route_named(r, "order-export")["spec"]["rules"][0]
    assert export["backendRefs"] == [{"name": "exporter", "namespace": "batch", "port": 50051}]
    (grant,) = reference_grants(r)
    assert grant["metadata"]["namespace"] == "batch"
    assert grant["spec"]["to"] == [{"group": "", "kind": "Service", "name": "exporter"}]
    # From every route kind the release renders (any of them may name a backend there).
    assert grant["spec"]["from"] == [{"group": GAPI, "kind": k, "namespace": "default"}
                                     for k in sorted({x["kind"] for x in routes(r)})]
    assert route_named(r, "order-export")["kind"] in {f["kind"] for f in grant["spec"]["from"]}


def test_service_entry_hosts_are_istio_hostname_backends_from_1_26(helm):
    route = {"name": "ext", "services": ["x.X"], "backend": {"host": "api.partner.example", "port": 443}}
    r = helm.render(gapi(routes=[route]))
    assert route_named(r, "ext")["spec"]["rules"][0]["backendRefs"] == [
        {"group": "networking.istio.io", "kind": "Hostname", "name": "api.partner.example", "port": 443}]
    assert_refused(helm, gapi(routes=[route], istio={"version": "1.25"}), [r"routes\.0\.backend\.host", "1.26"])


# --- certificates -----------------------------------------------------------------------------

def test_no_reference_grant_when_the_certificate_lives_with_the_gateway(helm):
    r = helm.render(gateway_api_values("tls-values.yaml"))
    assert not reference_grants(r)
    assert "namespace" not in listeners(r)[0]["tls"]["certificateRefs"][0]


def test_a_certificate_in_another_namespace_gets_a_reference_grant_for_the_gateway(helm):
    r = helm.render(gapi(**load_ci(SCENARIOS["cert-manager-values.yaml"]), gatewayApi={"certificateNamespace": "certs"}))
    (grant,) = reference_grants(r)
    assert grant["metadata"]["namespace"] == "certs"
    assert grant["spec"]["from"] == [{"group": GAPI, "kind": "Gateway", "namespace": "default"}]
    secret = r.one("Certificate")["spec"]["secretName"]
    assert grant["spec"]["to"] == [{"group": "", "kind": "Secret", "name": secret}]
    assert r.one("Certificate")["metadata"]["namespace"] == "certs"
    for l in listeners(r):
        assert l["tls"]["certificateRefs"] == [{"group": "", "kind": "Secret", "name": secret, "namespace": "certs"}]


def test_mutual_tls_is_istios_terminate_mode_option_with_the_ca_secret_beside_the_certificate(helm):
    r = helm.render(gateway_api_values("mutual-tls-values.yaml"))
    (l,) = listeners(r)
    assert l["tls"]["options"] == {"gateway.istio.io/tls-terminate-mode": "MUTUAL"}
    assert {s["metadata"]["name"]: s["metadata"]["namespace"] for s in r.of_kind("Secret")} == {
        "grpc-mtls": "default", "grpc-mtls-cacert": "default"}


# --- what stays as in the Istio mode ----------------------------------------------------------

def test_the_grpc_web_envoyfilter_targets_the_deployed_gateway_pods_on_the_listener_port(helm):
    r = helm.render(gateway_api_values("grpc-web-tls-values.yaml"))
    ef = grpc_web_filter(r)
    assert ef["metadata"]["namespace"] == gateway(r)["metadata"]["namespace"]
    assert ef["spec"]["workloadSelector"]["labels"] == {"gateway.networking.k8s.io/gateway-name": gateway(r)["metadata"]["name"]}
    assert ef["spec"]["priority"] == 10
    inserts = [p for p in ef["spec"]["configPatches"] if p["patch"]["operation"] == "INSERT_BEFORE"]
    assert [p["match"]["listener"]["filterChain"]["sni"] for p in inserts] == ["api.example.com"]
    for p in inserts:
        assert p["match"]["listener"]["portNumber"] == 443  # the listener port itself, not 8443
        assert p["match"]["listener"]["filterChain"]["filter"]["subFilter"]["name"] == "envoy.filters.http.grpc_stats"


def retry_filter(r):
    (ef,) = [d for d in r.of_kind("EnvoyFilter") if d["metadata"]["name"].endswith("-retries")]
    return ef


def test_each_route_gets_the_charts_retry_policy_through_an_envoyfilter_merge_on_its_rule_name(helm):
    """The standard channel has no retry field, so the chart's policy per route (its own, else the
    chart's for its kind) is a MERGE on the Envoy route named as the rule; HTTP status codes in
    retryOn move to retriable_status_codes as Istio's ConvertPolicy moves them."""
    r = helm.render(gapi(hosts=["api.example.com"], retries={"unary": {"perTryTimeout": "250ms"}}, routes=[
        {"name": "unary", "services": ["a.A"], "backend": {"host": "a", "port": 50051}},
        {"name": "stream", "services": ["b.B"], "streaming": True, "backend": {"host": "b", "port": 50051}},
        {"name": "own", "methods": ["c.C/M"], "backend": {"host": "c", "port": 50051},
         "retries": {"attempts": 4, "retryOn": "503,unavailable"}}]))
    ef = retry_filter(r)
    assert ef["metadata"]["namespace"] == gateway(r)["metadata"]["namespace"]
    assert ef["spec"]["workloadSelector"]["labels"] == {"gateway.networking.k8s.io/gateway-name": gateway(r)["metadata"]["name"]}
    rule_names = {n: route_named(r, n)["spec"]["rules"][0]["name"] for n in ("unary", "stream", "own")}
    got = {}
    for p in ef["spec"]["configPatches"]:
        assert (p["applyTo"], p["match"]["context"], p["patch"]["operation"]) == ("HTTP_ROUTE", "GATEWAY", "MERGE")
        assert set(p["match"]["routeConfiguration"]) == {"vhost"} and set(p["match"]["routeConfiguration"]["vhost"]) == {"route"}
        got[p["match"]["routeConfiguration"]["vhost"]["route"]["name"]] = p["patch"]["value"]["route"]["retry_policy"]
    assert got == {
        rule_names["unary"]: {"num_retries": 2, "retry_on": "connect-failure,refused-stream,unavailable",
                                                        "per_try_timeout": "0.250s"},
        rule_names["stream"]: {"num_retries": 1, "retry_on": "connect-failure,refused-stream"},
        rule_names["own"]: {"num_retries": 4, "retry_on": "unavailable,retriable-status-codes",
                                                      "retriable_status_codes": [503]},
    }
    assert len(set(rule_names.values())) == 3


def test_rule_names_are_unique_per_namespace_and_release(helm):
    """The rule name is the Envoy route's name, which the retries EnvoyFilter matches on a Gateway
    other releases may share: two releases, or one release name in two namespaces, never share one."""
    values = gapi(gateway={"create": False}, gatewayApi={"parentRefs": [{"name": "edge", "namespace": "gw"}]},
                  routes=[{"name": "r", "services": ["a.A"], "backend": {"host": "a", "port": 50051}}])
    names = [routes(helm.render(values, release=rel, namespace=ns))[0]["spec"]["rules"][0]["name"]
             for rel, ns in (("one", "a"), ("one", "b"), ("two", "a"))]
    assert len(set(names)) == 3


def test_plaintext_grpc_web_patches_the_http_listener_by_port(helm):
    r = helm.render(gateway_api_values("grpc-web-plaintext-values.yaml"))
    (l,) = listeners(r)
    assert l["protocol"] == "HTTP" and l["port"] == 80
    ef = grpc_web_filter(r)
    for p in ef["spec"]["configPatches"]:
        assert p["match"]["listener"]["portNumber"] == 80
        assert "sni" not in p["match"]["listener"]["filterChain"]


def test_every_https_host_is_its_own_chain_for_the_envoyfilters(helm):
    values = gateway_api_values("tls-hosts-values.yaml")
    r = helm.render({**values, "grpcWeb": WEB})
    inserts = [p for p in grpc_web_filter(r)["spec"]["configPatches"] if p["patch"]["operation"] == "INSERT_BEFORE"]
    assert sorted(p["match"]["listener"]["filterChain"]["sni"] for p in inserts) == ["a.example.com", "b.example.com", "c.example.com"]


def _strip(doc):
    meta = {k: v for k, v in doc["metadata"].items() if k != "namespace"}
    return {**doc, "metadata": meta}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_services_destination_rules_and_connection_settings_are_those_of_the_istio_mode(helm, name):
    istio = helm.render(variant(name))
    gw = helm.render(gateway_api_values(name))
    assert gw.of_kind("Service") == istio.of_kind("Service")
    # DestinationRules: the same rules, in the namespace of the gateway pods (for a Gateway the
    # chart renders: the Gateway's; for an existing one: its parent's).
    pods_ns = gateway(gw)["metadata"]["namespace"] if gw.has("Gateway") else \
        routes(gw)[0]["spec"]["parentRefs"][0]["namespace"]
    assert [_strip(d) for d in gw.of_kind("DestinationRule")] == [_strip(d) for d in istio.of_kind("DestinationRule")]
    assert {d["metadata"]["namespace"] for d in gw.of_kind("DestinationRule")} <= {pods_ns}
    conn = lambda r: [p["patch"] for d in r.of_kind("EnvoyFilter") if d["metadata"]["name"].endswith("-connections")
                      for p in d["spec"]["configPatches"]]
    assert {str(p) for p in conn(gw)} == {str(p) for p in conn(istio)}


def test_the_helm_test_pod_calls_the_service_istio_deploys_for_the_gateway(helm):
    r = helm.render(gapi(gateway={"namespace": "edge"}))
    args = r.one("Pod")["spec"]["containers"][0]["args"]
    assert "grpc-ingress-istio.edge.svc.cluster.local:443" in args


# --- refused: values the Gateway API cannot express -------------------------------------------

BAD_VALUES = [
    ("gapi-subset", gapi(routes=[{"name": "r", "backends": [
        {"host": "a", "port": 1, "subset": "v1", "subsetLabels": {"v": "1"}, "weight": 50},
        {"host": "a", "port": 1, "subset": "v2", "subsetLabels": {"v": "2"}, "weight": 50}]}]),
     [r"routes\.0\.backends\.0\.subset: v1", r"routes\.0\.backends\.1\.subset: v2", "backendServices"]),
    # Custom retries render (the retries EnvoyFilter); only turning them off cannot be merged.
    ("gapi-route-retries-off", gapi(routes=[{"name": "r", "backend": {"host": "a", "port": 1}, "retries": {"attempts": 0}}]),
     [r"routes\.0\.retries\.attempts: 0", "EnvoyFilter MERGE", "keep api: istio"]),
    ("gapi-chart-retries-off", gapi(retries={"streaming": {"attempts": 0}}), [r"retries\.streaming\.attempts: 0", "cannot zero"]),
    ("gapi-tls13", gapi(tls={"minProtocolVersion": "TLSV1_3"}), [r"tls\.minProtocolVersion: TLSV1_3", "TLSV1_2"]),
    ("gapi-max-tls", gapi(tls={"maxProtocolVersion": "TLSV1_2"}), [r"tls\.maxProtocolVersion: TLSV1_2"]),
    ("gapi-sans", gapi(tls={"mode": "MUTUAL", "secret": {"caCert": PEM_CA}, "subjectAltNames": ["spiffe://x/y"]}),
     [r"tls\.subjectAltNames: "]),
    ("gapi-ciphers-before-1.29", gapi(istio={"version": "1.28"}, tls={"cipherSuites": ["ECDHE-ECDSA-AES256-GCM-SHA384"]}),
     [r"tls\.cipherSuites: ", "1.29"]),
    ("gapi-cors-before-1.26", gapi(istio={"version": "1.25"}, grpcWeb=WEB), [r"grpcWeb\.enabled: ", "1.26"]),
    ("gapi-cors-regex-origin", gapi(grpcWeb={"enabled": True, "cors": {"allowOrigins": [{"regex": "https://[a-z]+\\.example\\.com"}]}}),
     [r"grpcWeb\.cors\.allowOrigins\.0: ", "exact scheme://host"]),
    ("gapi-cors-max-age-under-a-second", gapi(grpcWeb={**WEB, "cors": {**WEB["cors"], "maxAge": "500ms"}}),
     [r"grpcWeb\.cors\.maxAge: 500ms", "whole seconds"]),
    ("gapi-cors-max-age-beyond-int32", gapi(grpcWeb={**WEB, "cors": {**WEB["cors"], "maxAge": "600000h"}}),
     [r"grpcWeb\.cors\.maxAge: 600000h", "2147483647"]),
    ("gapi-raw-prefix-mid-segment", gapi(routes=[{"name": "r", "prefix": "/pkg.Ser", "backend": {"host": "a", "port": 1}}]),
     [r"routes\.0\.prefix: /pkg\.Ser", "end the prefix with /"]),
    ("gapi-too-many-hosts", gapi(hosts=[f"h{i}.example.com" for i in range(17)]), [r"hosts: 17 hosts", "16"]),
    ("gapi-selector", gapi(gateway={"selector": {"istio": "ingressgateway"}}), [r"gateway\.selector: ", "gateway-name"]),
    ("gapi-service-ports", gapi(gateway={"servicePorts": {"443": 8443}}), [r"gateway\.servicePorts: "]),
    ("gapi-workload-namespace", gapi(gateway={"workloadNamespace": "istio-system"}),
     [r"gateway\.workloadNamespace: istio-system", "Gateway's namespace"]),
    ("gapi-parent-refs-with-own-gateway", gapi(gatewayApi={"parentRefs": [{"name": "edge"}]}),
     [r"gatewayApi\.parentRefs: ", "gateway.create: false"]),
    ("gapi-timeout-beyond-duration", gapi(routes=[{"name": "r", "services": ["a.A"], "timeout": "2562047h",
                                                   "backend": {"host": "a", "port": 1}}]),
     [r"routes\.0\.timeout: 2562047h", "99999h"]),
    ("gapi-unknown-api", {"api": "gateway"}, [r"\bapi: .*must be one of\b.*\bistio\b.*\bgateway-api\b"]),
    ("gapi-parent-ref-without-name", gapi(gateway={"create": False}, gatewayApi={"parentRefs": [{"namespace": "x"}]}),
     [r"gatewayApi\.parentRefs\.0", "name"]),
    ("gapi-gateway-name-a-yaml-number", gapi(gateway={"name": "1e3"}),
     [r'gateway\.name: "1e3" reads as the YAML number 1000', "kube-gateway.yaml", "gw-1e3"]),
    ("gapi-gateway-name-a-yaml-boolean", gapi(gateway={"name": "on"}), [r'gateway\.name: "on" reads as the YAML boolean true']),
    ("gapi-gateway-name-too-long-for-istio", gapi(gateway={"name": "g" * 58}),
     [r'gateway\.name: "g{58}" is 58 characters', "Kubernetes refuses over 63 characters", "at most 57 characters"]),
    ("gapi-gateway-name-starts-with-a-digit", gapi(gateway={"name": "1-2"}),
     [r'gateway\.name: "1-2" starts with a digit', "RelaxedServiceNameValidation", r"gw-1-2\)"]),
    ("gapi-full-name-starts-with-a-digit", gapi(fullnameOverride="9prod"),
     [r'gateway\.name: unset, so the Gateway takes the release\'s full name "9prod", which starts with a digit']),
    ("gapi-full-name-a-yaml-number", gapi(fullnameOverride="0x1f"),
     [r'gateway\.name: unset, so the Gateway takes the release\'s full name "0x1f", which reads as the YAML number 31']),
]


@pytest.mark.parametrize("values,match", bad_values(BAD_VALUES))
def test_bad_values_are_refused_naming_the_key(helm, values, match):
    assert_refused(helm, values, match)


def test_a_wildcard_origin_is_refused_by_an_error_that_offers_only_forms_the_chart_takes(helm):
    """The chart writes exact origins and "*"; the error once offered "*.domain" too, a form its
    own check refuses."""
    err = assert_refused(helm, gapi(grpcWeb={**WEB, "cors": {**WEB["cors"], "allowOrigins": ["https://*.example.com"]}}),
                         [r'grpcWeb\.cors\.allowOrigins\.0: "https://\*\.example\.com"', r"exact scheme://host\[:port\] \(http or https\)", "no prefix, regex or wildcard-host"])
    assert "*.domain" not in err
    helm.render(gapi(grpcWeb={**WEB, "cors": {**WEB["cors"], "allowOrigins": ["https://app.example.com:8443"]}}))


def test_every_refusal_comes_in_one_error(helm):
    err = assert_refused(helm, gapi(**load_ci(SCENARIOS["mutual-tls-values.yaml"]), retries={"unary": {"attempts": 0}}),
                         [r"tls\.minProtocolVersion", r"tls\.subjectAltNames", r"retries\.unary\.attempts"])
    assert err.count("keep api: istio") >= 3


# --- every values set the chart accepts -------------------------------------------------------

@for_every_valid_values_set
def test_every_valid_values_set_renders_as_gateway_api_or_is_refused_for_gateway_api_reasons_only(case):
    """With api: gateway-api a values set the Istio mode accepts renders objects the Gateway API
    CRDs accept, every route carrying every host and the Services of the Istio mode, or is refused
    only for what the Gateway API cannot say (each problem names api: istio / api: gateway-api);
    brought to its expressible form (support.gateway_api.expressible) it renders."""
    helm = sys.modules["conftest"]._SESSION["helm"]  # the session's Helm (conftest): cache and validator
    hosts = case.values["hosts"] if case.values.get("hosts") else ["grpc.example.com"]
    if len(hosts) > 16:
        return
    rc, out, err, docs, errors = helm.template({**case.raw_values, **GATEWAY_API}, release=case.release,
                                               namespace=case.namespace)
    easy = expressible(case.values, case.release)
    outcome = "gateway_api_refused" if rc else "gateway_api_rendered"
    count(outcome)
    if rc != 0:
        assert easy != case.values, f"refused although nothing Istio-only is set:\n{err}"
        problems = [line for line in err.splitlines() if line[:1].isdigit() and ". " in line[:6]]
        assert problems, err
        for p in problems:
            assert "api: istio" in p or "api: gateway-api" in p, f"refused for a reason of its own:\n{p}"
        rc, out, err, docs, errors = helm.template({**easy, **GATEWAY_API}, release=case.release, namespace=case.namespace)
        assert rc == 0, f"the expressible form is refused too:\n{err}"
        count("gateway_api_expressible")
    assert not errors, "\n".join(errors)
    rendered = [d for d in docs if d["kind"] in ("GRPCRoute", "HTTPRoute")]
    assert rendered
    for d in rendered:
        assert d["spec"]["hostnames"] == hosts
    assert [d for d in docs if d["kind"] == "Service"] == case.render.of_kind("Service")


@for_every_valid_values_set_in_istio
def test_every_valid_values_set_behaves_alike_through_istio_with_either_api(case):
    """A generated values set in its Gateway API form (support.gateway_api.expressible: subsets,
    TLS versions and the other Istio-only values taken out), rendered with each API: every call
    those values promise (support.istio_promises), asked of Istio for both renders, goes to the
    same clusters over the same protocol, with the same timeout, retries, CORS, gRPC-Web, TLS and
    connection settings, or differs only as support.both_apis.DIFFERENCES documents. (The first
    BOTH_APIS_SETS sets with a Gateway of the chart's own.)"""
    answers = case.both_apis_answers()
    if answers is None:
        return
    plan, istio_mode, gateway_api = answers
    for p in plan.promises:
        unexplained = undocumented(differences(behaviour(istio_mode, p.call.id), behaviour(gateway_api, p.call.id)))
        assert unexplained == {}, f"{p.call.id} ({p.call.path} on {p.call.authority}:{p.call.port}): (istio, gateway-api) {unexplained}"


def test_the_two_apis_are_compared_on_most_of_the_first_generated_values_sets(generated, istio):
    """The property above is no vacuous pass: nearly every set with a Gateway of its own (about
    half of those drawn) is compared."""
    generated.check_istio(istio)
    own = [c for c in generated.rendered() if c.index < BOTH_APIS_SETS and c.values["gateway"]["create"]]
    compared = sum(1 for c in own if c.both_apis() is not None)
    assert compared >= 0.9 * len(own) and compared >= 0.3 * BOTH_APIS_SETS, f"{compared} of {len(own)} compared"


def test_the_generated_values_sets_render_as_gateway_api_as_given_or_in_expressible_form(generated):
    """The property above is no vacuous pass: nearly every generated set renders as Gateway API (as
    given, or once its Istio-only values are taken out), and those with Istio-only values are refused."""
    rendered = STATS.get("gateway_api_rendered", 0) + STATS.get("gateway_api_expressible", 0)
    assert rendered >= 0.9 * len(generated.cases), f"{rendered} of {len(generated.cases)} rendered"
    assert STATS.get("gateway_api_refused", 0) >= 10

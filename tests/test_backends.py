"""Backends: the Services the chart can create (known to Istio as gRPC) and the DestinationRules
(traffic policy, subsets) for the hosts the routes send to."""
from __future__ import annotations

import copy
import re

import pytest

from support.bad_input import assert_refused, bad_values
from support.injection import Field, string_keys
from support.istio import for_install, grpc, world_for
from support.istio_checks import analysis_problems
from support.mutations import assert_edits_refused, edits, fresh_service, new_route, path_re
from support.properties import for_every_valid_values_set
from support.scenarios import ci
from support.values import B, routes


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


def test_external_subsets_skip_the_destination_rule(helm):
    r = helm.render({"externalSubsets": True, "routes": [{"name": "a", "backends": [
        {"host": "a", "port": 1, "subset": "v1", "weight": 50}, {"host": "a", "port": 1, "subset": "v2", "weight": 50}]}]})
    assert not r.has("DestinationRule")


def test_a_routes_false_or_zero_wins_over_the_chart_default(helm):
    r = helm.render({"trafficPolicy": {"h2Upgrade": True, "maxRequestsPerConnection": 5}, "routes": [
        {"name": "own", "services": ["a.S"], "backend": {"host": "own", "port": 1},
         "trafficPolicy": {"h2Upgrade": False, "maxRequestsPerConnection": 0}},
        {"name": "rest", "backend": {"host": "rest", "port": 1}}]})
    rules = {d["spec"]["host"]: d["spec"] for d in r.of_kind("DestinationRule")}
    assert "own.default.svc.cluster.local" not in rules, \
        "the route asked for Istio's defaults: no upgrade, unlimited requests per connection"
    assert rules["rest.default.svc.cluster.local"]["trafficPolicy"]["connectionPool"]["http"] == {"h2UpgradePolicy": "UPGRADE", "maxRequestsPerConnection": 5}


INT_EDGES = [("maxRequestsPerConnection", 2147483647), ("http2MaxRequests", 2147483647), ("tcpKeepalive.probes", 4294967295)]


@pytest.mark.parametrize("field,largest", INT_EDGES, ids=[e[0] for e in INT_EDGES])
def test_traffic_policy_numbers_up_to_istios_field_size_render_and_istio_refuses_one_more(helm, istio, field, largest):
    """The bounds are the sizes of istio.io/api's fields (int32, uint32): the largest renders
    and Istio accepts it, one more is what the chart refuses and what Istio would refuse."""
    policy = {"tcpKeepalive": {"probes": largest}} if "." in field else {field: largest}
    r = helm.render({"trafficPolicy": policy})
    planted = r.stdout.replace(str(largest), str(largest + 1))
    accepted, refused = istio.run([istio.case(r.stdout, analyze=False, simulate=False),
                                   istio.case(planted, analyze=False, simulate=False)])
    assert accepted.refused() == []
    assert [v["kind"] for v in refused.refused()] == ["DestinationRule"]
    policy = {"tcpKeepalive": {"probes": largest + 1}} if "." in field else {field: largest + 1}
    helm.render_fails({"trafficPolicy": policy}, match=[re.escape("trafficPolicy." + field), str(largest + 1)])


def test_routes_to_the_charts_services_on_their_port_render_and_others_are_not_theirs(helm):
    r = helm.render({"backendServices": [{"name": "greeter", "selector": {"app": "g"}, "port": 50051, "targetPort": 9090}],
                     "trafficPolicy": {"loadBalancer": "RANDOM"}, "routes": [
                         {"name": "a", "services": ["a.S"], "backend": {"host": "greeter.default.svc.cluster.local", "port": 50051}},
                         {"name": "b", "backend": {"host": "greeter.other.svc.cluster.local", "port": 9999}}]})
    hosts = sorted(d["spec"]["host"] for d in r.of_kind("DestinationRule"))
    assert hosts == ["greeter.default.svc.cluster.local", "greeter.other.svc.cluster.local"], \
        "another namespace's greeter is another Service, with a rule of its own"


def test_destination_rule_names_never_collide(helm):
    r = helm.render({"trafficPolicy": {"loadBalancer": "RANDOM"}, "routes": [
        {"name": "a", "services": ["a.S"], "backend": {"host": "a.b", "port": 1}},
        {"name": "b", "backend": {"host": "a-b", "port": 1}}]})
    names = [d["metadata"]["name"] for d in r.of_kind("DestinationRule")]
    assert len(names) == 2 and len(set(names)) == 2


def test_h2_upgrade_for_a_backend_istio_cannot_recognise(helm):
    r = ci(helm, "backend-services-values.yaml")
    (dr,) = r.of_kind("DestinationRule")
    assert dr["spec"]["host"] == "legacy-grpc.default.svc.cluster.local"
    assert dr["spec"]["trafficPolicy"] == {"connectionPool": {"http": {"h2UpgradePolicy": "UPGRADE"}}}


@pytest.mark.parametrize("install,namespace", [("istioctl", "istio-system"), ("gateway-chart", "istio-ingress")])
def test_destination_rules_are_private_to_the_gateway_namespace_with_fqdn_hosts(helm, install, namespace):
    """Istio's gateway reads a rule of its own namespace first and stops there; exportTo ["."] keeps
    it from every other client; a short host would resolve in the gateway's namespace."""
    r = helm.render({"gateway": {"install": install}, "trafficPolicy": {"loadBalancer": "LEAST_REQUEST"}, "routes": [
        {"name": "a", "services": ["a.S"], "backend": {"host": "exporter.batch.svc.cluster.local", "port": 1}},
        {"name": "b", "services": ["b.S"], "backend": {"host": "greeter", "port": 1}}]}, namespace="apps")
    drs = {d["spec"]["host"]: d for d in r.of_kind("DestinationRule")}
    assert set(drs) == {"exporter.batch.svc.cluster.local", "greeter.apps.svc.cluster.local"}
    for dr in drs.values():
        assert dr["metadata"]["namespace"] == namespace
        assert dr["spec"]["exportTo"] == ["."]
        assert dr["spec"]["trafficPolicy"]["loadBalancer"] == {"simple": "LEAST_REQUEST"}
    assert drs["greeter.apps.svc.cluster.local"]["metadata"]["name"] == "grpc-ingress-greeter-apps"


@pytest.mark.parametrize("host,fqdn", [
    ("cart.payments", "cart.payments.svc.cluster.local"),
    ("cart.payments.svc", "cart.payments.svc.cluster.local"),
    ("cart.payments.svc.cluster.local", "cart.payments.svc.cluster.local"),
    ("api.partner.example.com", "api.partner.example.com"),
])
def test_a_name_dot_namespace_host_is_written_as_the_services_fqdn(helm, host, fqdn):
    """Istio takes a dotted host literally (ResolveShortnameToFQDN expands dot-free names only), so
    cart.payments would name no Service: the gateway would answer 503."""
    r = helm.render({"routes": [{"name": "a", "backend": {"host": host, "port": 1}, "trafficPolicy": {"h2Upgrade": True}}]})
    (entry,) = r.one("VirtualService")["spec"]["http"]
    assert entry["route"][0]["destination"]["host"] == fqdn
    assert r.one("DestinationRule")["spec"]["host"] == fqdn


def test_cluster_domain_names_the_fqdn(helm):
    r = helm.render({"clusterDomain": "corp.internal", "routes": [
        {"name": "a", "backend": {"host": "cart.payments", "port": 1}, "trafficPolicy": {"h2Upgrade": True}}]})
    assert r.one("DestinationRule")["spec"]["host"] == "cart.payments.svc.corp.internal"


def test_one_service_spelled_two_ways_is_one_destination_rule(helm):
    r = helm.render({"routes": [
        {"name": "a", "services": ["a.S"], "backend": {"host": "cart", "port": 1}, "trafficPolicy": {"h2Upgrade": True}},
        {"name": "b", "services": ["b.S"], "backend": {"host": "cart.apps.svc.cluster.local", "port": 1},
         "trafficPolicy": {"h2Upgrade": True}}]}, namespace="apps")
    assert [d["spec"]["host"] for d in r.of_kind("DestinationRule")] == ["cart.apps.svc.cluster.local"]


def _policy(render, host="grpc-service"):
    """The traffic policy of the rule for a host (a short name: in the release namespace, default)."""
    fqdn = host if "." in host else host + ".default.svc.cluster.local"
    (dr,) = [d for d in render.of_kind("DestinationRule") if d["spec"]["host"] == fqdn]
    return dr["spec"]["trafficPolicy"]


def test_outlier_detection_ejects_on_gateway_errors_unless_5xx_is_asked_for(helm):
    """Without consecutive5xxErrors, Envoy would still eject a pod after its default 5
    consecutive 5xx, application errors (gRPC INTERNAL, UNKNOWN) included: the chart says 0."""
    od = {"consecutiveGatewayErrors": 3, "interval": "5s", "baseEjectionTime": "1m", "maxEjectionPercent": 50}
    got = _policy(helm.render({"trafficPolicy": {"outlierDetection": od}}))["outlierDetection"]
    assert got == {**od, "consecutive5xxErrors": 0}
    got = _policy(helm.render({"trafficPolicy": {"outlierDetection": {**od, "consecutive5xxErrors": 7}}}))["outlierDetection"]
    assert got["consecutive5xxErrors"] == 7


def test_a_routes_outlier_detection_overrides_the_defaults_field_by_field_zero_included(helm):
    r = helm.render({"trafficPolicy": {"outlierDetection": {"consecutiveGatewayErrors": 5, "consecutive5xxErrors": 5, "interval": "10s"}},
                     "routes": [{"name": "a", "backend": {"host": "a", "port": 1},
                                 "trafficPolicy": {"outlierDetection": {"consecutive5xxErrors": 0, "interval": "2s"}}}]})
    assert _policy(r, "a")["outlierDetection"] == {"consecutiveGatewayErrors": 5, "consecutive5xxErrors": 0, "interval": "2s"}


@pytest.mark.parametrize("given, rendered", [
    ("LEAST_REQUEST", {"simple": "LEAST_REQUEST"}),
    ({"simple": "RANDOM"}, {"simple": "RANDOM"}),
    ({"consistentHash": {"httpHeaderName": "x-user-id"}}, {"consistentHash": {"httpHeaderName": "x-user-id"}}),
], ids=["name", "simple", "consistent-hash-on-a-header"])
def test_load_balancer_choices(helm, given, rendered):
    assert _policy(helm.render({"trafficPolicy": {"loadBalancer": given}}))["loadBalancer"] == rendered


def test_a_routes_load_balancer_replaces_the_chart_default_whole(helm):
    """Helm's merge is deep: {simple} over {consistentHash} would give Istio both, which it refuses."""
    r = helm.render({"trafficPolicy": {"loadBalancer": {"consistentHash": {"httpHeaderName": "x-user-id"}}},
                     "routes": [{"name": "a", "services": ["a.S"], "backend": {"host": "a", "port": 1},
                                 "trafficPolicy": {"loadBalancer": "ROUND_ROBIN"}},
                                {"name": "b", "backend": {"host": "b", "port": 1}}]})
    assert _policy(r, "a")["loadBalancer"] == {"simple": "ROUND_ROBIN"}
    assert _policy(r, "b")["loadBalancer"] == {"consistentHash": {"httpHeaderName": "x-user-id"}}


def test_http2_keepalive_toward_backends_on_istio_1_31(helm):
    r = helm.render({"istio": {"version": "1.31"}, "trafficPolicy": {"http2KeepAlive": {"interval": "30s", "timeout": "10s"}}})
    assert _policy(r)["connectionPool"] == {"http": {"http2KeepAlive": {"interval": "30s", "timeout": "10s"}}}


# --- every generated values set ------------------------------------------------------------

@for_every_valid_values_set
def test_backend_services_speak_grpc_as_istio_sees_it(case):
    for s in case.values.get("backendServices", []):
        (port,) = case.render.one("Service", s["name"])["spec"]["ports"]
        # Istio knows a port as gRPC by appProtocol, or else by a grpc- name; protocol stays TCP.
        assert port["appProtocol"] in ("grpc", "kubernetes.io/h2c") and port["protocol"] == "TCP", port
        assert re.match(r"grpc(-|$)", port["name"]), port
        for key in ("portName", "appProtocol"):
            if key in s:
                assert port[{"portName": "name"}.get(key, key)] == s[key], (key, port)
        assert port["port"] == s["port"]
        # The pods get the calls on targetPort; Kubernetes sends to the Service port when it is unset.
        assert port.get("targetPort", port["port"]) == s.get("targetPort", s["port"])


def gateway_namespace(values):
    gw = values["gateway"]
    return gw.get("workloadNamespace") or {"gateway-chart": "istio-ingress"}.get(gw.get("install"), "istio-system")


@for_every_valid_values_set
def test_destination_rules_reach_the_gateway_and_nothing_else(case):
    """In the gateway pods' namespace (read first by the gateway), private to it (exportTo "."),
    the host as Istio resolves it: the FQDN of the Service the backend names."""
    named = case.facts["host_namespace"]
    fqdns = {"%s.%s.svc.cluster.local" % (h.split(".")[0], ns or case.namespace) if ns or "." not in h else h
             for h, ns in named.items()}
    for dr in case.render.of_kind("DestinationRule"):
        assert dr["metadata"]["namespace"] == gateway_namespace(case.values)
        assert dr["spec"]["exportTo"] == ["."]
        assert dr["spec"]["host"] in fqdns, dr["spec"]["host"]


def fqdn(host, namespace):
    """A VirtualService destination host as Istio reads it: dot-free names resolve in its namespace."""
    return host if "." in host else "%s.%s.svc.cluster.local" % (host, namespace)


@for_every_valid_values_set
def test_load_balancers_and_outlier_detection_are_spelled_as_istio_reads_them(case):
    """One load balancer kind each ({simple} or {consistentHash}), and outlier detection that
    says how many 5xx eject (Envoy would otherwise eject after 5, application errors included)."""
    for dr in case.render.of_kind("DestinationRule"):
        policy = dr["spec"].get("trafficPolicy", {})
        if "loadBalancer" in policy:
            assert len(policy["loadBalancer"]) == 1 and set(policy["loadBalancer"]) <= {"simple", "consistentHash"}
        if "outlierDetection" in policy:
            od = policy["outlierDetection"]
            assert "consecutive5xxErrors" in od and (od["consecutive5xxErrors"] or od["consecutiveGatewayErrors"])
        if "http2KeepAlive" in policy.get("connectionPool", {}).get("http", {}):
            assert case.values["istio"]["version"] == "1.31"


@for_every_valid_values_set
def test_every_subset_a_route_names_is_defined_unless_defined_elsewhere(case):
    if case.values.get("externalSubsets"):
        return
    defined = {(dr["spec"]["host"], s["name"]) for dr in case.render.of_kind("DestinationRule")
               for s in dr["spec"].get("subsets", [])}
    for e in case.entries:
        for dest in e["route"]:
            d = dest["destination"]
            if "subset" in d:
                assert (fqdn(d["host"], case.namespace), d["subset"]) in defined, d


# --- strings from values: refused naming the key, or kept verbatim (support.injection) --------

def _subset_labels(labels):
    return {"routes": [{"name": "r", "services": ["pkg.Svc"], "backends": [
        {"host": "svc", "port": 1, "subset": "v1", "subsetLabels": labels}]}]}


STRING_KEYS = string_keys(
    Field("consistent-hash-header", lambda s: {"trafficPolicy": {"loadBalancer": {"consistentHash": {"httpHeaderName": s}}}},
          "x-zqxjk-hdr", "trafficPolicy.loadBalancer"),
    Field("reflection-backend-host", lambda s: {"reflection": {"enabled": True, "backend": {"host": s, "port": 1}}},
          "zqxjk-reflector", "reflection.backend.host"),
    Field("subset-label-key", lambda s: _subset_labels({s: "v"}), "zqxjkkey", "routes.0.backends.0.subsetLabels"),
    Field("subset-label-value", lambda s: _subset_labels({"version": s}), "zqxjkval",
          "routes.0.backends.0.subsetLabels.version"),
)


@pytest.mark.parametrize("field,payload", STRING_KEYS)
def test_strings_in_subset_label_keys_are_refused_naming_the_key_or_kept_verbatim(injected, field, payload):
    injected.check(field, payload)


# --- bad input -----------------------------------------------------------------------------

BAD_VALUES = [
    ("service-port-65536", {"backendServices": [{"name": "a", "selector": {"app": "a"}, "port": 65536}]},
     [r"backendServices\.0\.port"]),
    ("backend-service-port-name-not-grpc", {"backendServices": [{"name": "a", "selector": {"app": "a"}, "port": 1, "portName": "http"}]},
     [r"backendServices\.0\.portName"]),
    ("backend-service-app-protocol-http", {"backendServices": [{"name": "a", "selector": {"app": "a"}, "port": 1, "appProtocol": "http"}]},
     [r"backendServices\.0\.appProtocol"]),
    ("backend-service-protocol-key", {"backendServices": [{"name": "a", "selector": {"app": "a"}, "port": 1, "protocol": "grpc"}]},
     [r"backendServices\.0", r"protocol"]),
    ("backend-service-name-digit", {"backendServices": [{"name": "1svc", "selector": {"app": "a"}, "port": 1}]},
     [r"backendServices\.0\.name"]),
    ("backend-service-duplicate", {"backendServices": [{"name": "a", "selector": {"app": "a"}, "port": 1},
                                                       {"name": "a", "selector": {"app": "b"}, "port": 2}]},
     [r"backendServices\.1\.name"]),
    ("backend-service-no-selector", {"backendServices": [{"name": "a", "port": 1}]}, [r"backendServices\.0", r"selector"]),
    ("target-port-name-numeric", {"backendServices": [{"name": "a", "selector": {"app": "a"}, "port": 1, "targetPort": "8080"}]},
     [r"backendServices\.0\.targetPort"]),
    ("target-port-name-double-hyphen", {"backendServices": [{"name": "a", "selector": {"app": "a"}, "port": 1, "targetPort": "a--b"}]},
     [r"backendServices\.0\.targetPort"]),
    ("undefined-subset", routes({"name": "r", "backends": [{**B, "subset": "v2", "weight": 100}]}),
     [r"routes\.0\.backends", r"subsetLabels"]),
    ("traffic-policy-conflict", routes(
        {"name": "a", "services": ["a.S"], "backend": B, "trafficPolicy": {"maxRequestsPerConnection": 10}},
        {"name": "b", "services": ["b.S"], "backend": B, "trafficPolicy": {"maxRequestsPerConnection": 20}}),
     [r"routes\.1\.trafficPolicy\.maxRequestsPerConnection"]),
    ("load-balancer-unknown", {"trafficPolicy": {"loadBalancer": "FASTEST"}}, [r"trafficPolicy\.loadBalancer"]),
    # The gateway reads the chart's rule for a host and never the owner's: a subset only the
    # owner's rule defines would be a 503.
    ("external-subset-hidden-by-the-charts-rule", {"externalSubsets": True, **routes(
        {"name": "r", "backends": [{**B, "subset": "v1", "weight": 100}], "trafficPolicy": {"h2Upgrade": True}})},
     [r"routes\.0\.backends: subset v1 of grpc-service\.default\.svc\.cluster\.local is defined outside this chart",
      r"subsetLabels"]),
    ("name-dot-namespace-host-not-a-service-name", routes({"name": "r", "backend": {"host": "1api.payments", "port": 1}}),
     [r"routes\.0\.backend\.host: 1api\.payments reads as Service 1api in namespace payments", r"starts with a letter"]),
    ("load-balancer-simple-and-hash", {"trafficPolicy": {"loadBalancer": {
        "simple": "RANDOM", "consistentHash": {"httpHeaderName": "x-user"}}}}, [r"trafficPolicy\.loadBalancer"]),
    ("consistent-hash-without-header", {"trafficPolicy": {"loadBalancer": {"consistentHash": {}}}},
     [r"trafficPolicy\.loadBalancer"]),
    ("consistent-hash-header-upper-case", {"trafficPolicy": {"loadBalancer": {"consistentHash": {"httpHeaderName": "X-User"}}}},
     [r"trafficPolicy\.loadBalancer"]),
    ("http2-keepalive-on-istio-1-30", {"trafficPolicy": {"http2KeepAlive": {"interval": "30s", "timeout": "10s"}}},
     [r"trafficPolicy\.http2KeepAlive", r"Istio 1\.31", r"istio\.version is 1\.30"]),
    ("http2-keepalive-on-istio-1-24-in-a-route", {"istio": {"version": "1.24"}, "routes": [
        {"name": "r", "backend": B, "trafficPolicy": {"http2KeepAlive": {"interval": "30s", "timeout": "10s"}}}]},
     [r"routes\.0\.trafficPolicy\.http2KeepAlive", r"istio\.version is 1\.24"]),
    ("http2-keepalive-timeout-above-interval", {"istio": {"version": "1.31"},
                                                "trafficPolicy": {"http2KeepAlive": {"interval": "10s", "timeout": "11s"}}},
     [r"trafficPolicy\.http2KeepAlive\.timeout", r"11s", r"10s"]),
    ("http2-keepalive-without-timeout", {"istio": {"version": "1.31"}, "trafficPolicy": {"http2KeepAlive": {"interval": "10s"}}},
     [r"trafficPolicy\.http2KeepAlive", r"timeout"]),
    ("outlier-detection-that-never-ejects", {"trafficPolicy": {"outlierDetection": {"interval": "10s"}}},
     [r"trafficPolicy\.outlierDetection", r"consecutiveGatewayErrors"]),
    ("outlier-detection-both-zero", routes({"name": "r", "backend": B, "trafficPolicy": {"outlierDetection": {
        "consecutiveGatewayErrors": 0, "consecutive5xxErrors": 0}}}), [r"routes\.0\.trafficPolicy\.outlierDetection"]),
    ("outlier-ejection-percent-101", {"trafficPolicy": {"outlierDetection": {"consecutiveGatewayErrors": 5, "maxEjectionPercent": 101}}},
     [r"trafficPolicy\.outlierDetection\.maxEjectionPercent"]),
    ("outlier-interval-0s", {"trafficPolicy": {"outlierDetection": {"consecutiveGatewayErrors": 5, "interval": "0s"}}},
     [r"trafficPolicy\.outlierDetection\.interval"]),
    ("outlier-base-ejection-beyond-go-duration", routes({"name": "r", "backend": B, "trafficPolicy": {"outlierDetection": {
        "consecutiveGatewayErrors": 5, "baseEjectionTime": "3000000h"}}}),
     [r"routes\.0\.trafficPolicy\.outlierDetection\.baseEjectionTime", r"3000000h"]),
    ("istio-version-as-a-number", {"istio": {"version": 1.3}}, [r"istio\.version"]),
    ("istio-version-unsupported", {"istio": {"version": "1.23"}}, [r"istio\.version"]),
    ("route-port-not-on-the-charts-service", {"backendServices": [{"name": "greeter", "selector": {"app": "g"}, "port": 50051}],
                                              **routes({"name": "r", "backend": {"host": "greeter", "port": 9999}})},
     [r"routes\.0\.backend\.port", r"9999", r"backendServices\.0", r"50051"]),
    ("route-port-not-on-the-charts-service-fqdn", {"backendServices": [{"name": "greeter", "selector": {"app": "g"}, "port": 50051}],
                                                   **routes({"name": "r", "backends": [
                                                       {"host": "greeter.default.svc.cluster.local", "port": 50051, "weight": 50},
                                                       {"host": "greeter.default.svc", "port": 8080, "weight": 50}]})},
     [r"routes\.0\.backends\.1\.port", r"8080"]),
    ("one-service-two-spellings", routes(
        {"name": "a", "services": ["a.S"], "backend": {"host": "svc", "port": 1}, "trafficPolicy": {"loadBalancer": "RANDOM"}},
        {"name": "b", "services": ["b.S"], "backend": {"host": "svc.default.svc.cluster.local", "port": 1},
         "trafficPolicy": {"loadBalancer": "LEAST_REQUEST"}}),
     [r"routes\.1\.trafficPolicy\.loadBalancer", r"a DestinationRule is per host \(svc\.default\.svc\.cluster\.local\)"]),
    # int32 and uint32 fields of Istio's DestinationRule
    ("max-requests-per-connection-above-int32", {"trafficPolicy": {"maxRequestsPerConnection": 4294967296}},
     [r"(?<!\.)trafficPolicy\.maxRequestsPerConnection", "4294967296", "2147483647"]),
    ("http2-max-requests-above-int32", routes({"name": "r", "backend": B, "trafficPolicy": {"http2MaxRequests": 3000000000}}),
     [r"routes\.0\.trafficPolicy\.http2MaxRequests", "3000000000"]),
    ("keepalive-probes-above-uint32", {"trafficPolicy": {"tcpKeepalive": {"probes": 5000000000}}},
     [r"trafficPolicy\.tcpKeepalive\.probes", "5000000000", "4294967295"]),
    ("connect-timeout-beyond-go-duration", routes({"name": "r", "backend": B, "trafficPolicy": {"connectTimeout": "9223372036855ms"}}),
     [r"routes\.0\.trafficPolicy\.connectTimeout", "9223372036855ms"]),
    ("idle-timeout-beyond-go-duration", {"trafficPolicy": {"idleTimeout": "3000000h"}}, [r"(?<!\.)trafficPolicy\.idleTimeout", "3000000h"]),
]


@pytest.mark.parametrize("values,match", bad_values(BAD_VALUES))
def test_bad_values_are_refused_naming_the_key(helm, values, match):
    assert_refused(helm, values, match)


# --- bad edits of valid values -------------------------------------------------------------

def m_undefined_subset(v, rnd):
    if v.get("externalSubsets"):  # define every subset here first, so only ghost is undefined
        v["externalSubsets"] = False
        targets = [t for r in v["routes"] for t in (r.get("backends") or [r["backend"]]) if t.get("subset")]
        labels = {(t["host"], t["subset"]): t["subsetLabels"] for t in targets if "subsetLabels" in t}
        for t in targets:
            t["subsetLabels"] = labels.setdefault((t["host"], t["subset"]), {"version": t["subset"]})
    i = rnd.randrange(len(v["routes"]))
    r = v["routes"][i]
    targets = [dict(t) for t in (r.pop("backends", None) or [r.pop("backend")])]
    for t in targets:
        t["weight"] = 0
    targets[0]["weight"] = 100
    r["backends"] = targets + [{"host": "ghost-host", "port": 50051, "subset": "ghost", "weight": 0}]
    return [path_re("routes", i, "backends"), "ghost"]


def m_traffic_policy_conflict(v, rnd):
    key, a, b = rnd.choice([("loadBalancer", "ROUND_ROBIN", "RANDOM"), ("maxRequestsPerConnection", 1, 2),
                            ("idleTimeout", "5s", "6s"), ("h2Upgrade", True, False)])
    for value in (a, b):
        j = new_route(v, services=[fresh_service(v, "tp")], backend={"host": "conflict-host", "port": 50051},
                      trafficPolicy={key: value})
    return [path_re("routes", j, "trafficPolicy", key), "conflict-host"]


def m_subset_labels_differ(v, rnd):
    for version in ("a", "b"):
        j = new_route(v, services=[fresh_service(v, "lbl")],
                      backend={"host": "labels-host", "port": 1, "subset": "v1", "subsetLabels": {"version": version}})
    return [path_re("routes", j, "backends")]


def m_duplicate_backend_service(v, rnd):
    services = v.setdefault("backendServices", [])
    if not services:
        services.append({"name": "dup-svc", "selector": {"app": "a"}, "port": 1})
    services.append(copy.deepcopy(rnd.choice(services)))
    return [path_re("backendServices", len(services) - 1, "name")]


def m_http2_keepalive_below_1_31(v, rnd):
    v["istio"] = {"version": rnd.choice(["1.24", "1.29", "1.30"])}
    j = new_route(v, services=[fresh_service(v, "ka")], backend={"host": "keepalive-host", "port": 50051},
                  trafficPolicy={"http2KeepAlive": {"interval": "30s", "timeout": "10s"}})
    # Any other http2KeepAlive in the values is refused too; this one must be named.
    return [path_re("routes", j, "trafficPolicy", "http2KeepAlive"), re.escape(v["istio"]["version"])]


def m_outlier_detection_never_ejects(v, rnd):
    j = new_route(v, services=[fresh_service(v, "od")], backend={"host": "outlier-host", "port": 50051},
                  # Both counts 0 as written: a count the route leaves out comes from the chart-wide
                  # trafficPolicy.outlierDetection, which may eject.
                  trafficPolicy={"outlierDetection": rnd.choice([
                      {"interval": "10s", "consecutiveGatewayErrors": 0, "consecutive5xxErrors": 0},
                      {"consecutiveGatewayErrors": 0, "consecutive5xxErrors": 0}])})
    return [path_re("routes", j, "trafficPolicy", "outlierDetection")]


@pytest.mark.parametrize("mutation", edits(
    m_undefined_subset, m_traffic_policy_conflict, m_subset_labels_differ, m_duplicate_backend_service,
    m_http2_keepalive_below_1_31, m_outlier_detection_never_ejects))
def test_bad_edits_of_valid_values_are_refused_naming_the_key(helm, mutation_bases, mutation):
    assert_edits_refused(helm, mutation, mutation_bases)


# --- what Istio makes of it (tests/istio) ----------------------------------------------------------

UPSTREAM = {"routes": [{"name": "watch", "methods": ["chat.v1.Chat/Subscribe"], "streaming": True,
                        "backend": {"host": "chat", "port": 50051},
                        "trafficPolicy": {"loadBalancer": {"consistentHash": {"httpHeaderName": "x-user-id"}},
                                          "outlierDetection": {"consecutiveGatewayErrors": 3, "interval": "5s",
                                                               "baseEjectionTime": "1m", "maxEjectionPercent": 50}}},
                       {"name": "send", "services": ["mail.v1.Mail"], "backend": {"host": "mail", "port": 50051},
                        "trafficPolicy": {"loadBalancer": "LEAST_REQUEST"}}]}
KEEPALIVE = {"istio": {"version": "1.31"},
             "trafficPolicy": {"http2KeepAlive": {"interval": "30s", "timeout": "10s"}}}


@pytest.fixture(scope="module")
def upstream_verdicts(helm, istio):
    calls = [grpc("watch", "/chat.v1.Chat/Subscribe", "grpc.example.com"),
             grpc("send", "/mail.v1.Mail/Send", "grpc.example.com")]
    cases = []
    for install in ("classic", "gateway-chart"):
        for values in (UPSTREAM, {**UPSTREAM, **KEEPALIVE}):
            r = helm.render(for_install(values, install))
            cases.append(istio.case(r.stdout, install=install, fixtures=world_for(r.docs, install), calls=calls))
    answers = istio.run(cases)
    return {("classic", False): answers[0], ("classic", True): answers[1],
            ("gateway-chart", False): answers[2], ("gateway-chart", True): answers[3]}


@pytest.mark.parametrize("install", ["classic", "gateway-chart"])
def test_istio_gives_the_gateway_outlier_detection_and_the_load_balancer_asked_for(upstream_verdicts, install):
    res = upstream_verdicts[(install, False)]
    assert res.refused() == [] and res.xds_invalid == [] and analysis_problems(res) == []
    watch = res.call("watch")
    (up,) = watch["upstreams"]
    assert up["protocol"] == "h2"
    # Only gateway errors (connect failures, resets, 502-504: gRPC UNAVAILABLE) eject a pod.
    assert up["outlier_detection"] == {"consecutiveGatewayFailure": 3, "enforcingConsecutiveGatewayFailure": 100,
                                       "consecutive5xx": 0, "enforcingConsecutive5xx": 0, "enforcingSuccessRate": 0,
                                       "interval": "5s", "baseEjectionTime": "60s", "maxEjectionPercent": 50}
    assert up["lb_policy"] == "RING_HASH"
    assert watch["hash_policy"] == [{"header": {"headerName": "x-user-id"}}], "the route hashes on the header"
    (up,) = res.call("send")["upstreams"]
    assert up["lb_policy"] == "LEAST_REQUEST" and up["outlier_detection"] is None


@pytest.mark.istio_release
@pytest.mark.parametrize("install", ["classic", "gateway-chart"])
def test_istio_1_31_sends_http2_pings_to_backends_and_older_istio_drops_the_field(istio, upstream_verdicts, install):
    """On 1.31 the gateway PINGs backend connections; Istio 1.30 knows no such field and drops it
    without a word (no refusal, no PING), which is why the chart refuses it below 1.31."""
    res = upstream_verdicts[(install, True)]
    assert res.refused() == []
    for call in ("watch", "send"):
        (up,) = res.call(call)["upstreams"]
        if istio.release == "1.31":
            assert up["http2_protocol_options"]["connectionKeepalive"] == {"interval": "30s", "timeout": "10s"}
        else:
            assert "connectionKeepalive" not in (up["http2_protocol_options"] or {})

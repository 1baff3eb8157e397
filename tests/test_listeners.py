"""Listeners: the Gateway's servers (HTTPS, h2c, the HTTPS redirect, plaintext gRPC-Web),
their ports and hosts, the gateway pods they select, and the Gateway the routes bind to."""
from __future__ import annotations

import copy

import pytest
import yaml

from support.bad_input import assert_refused, bad_values
from support.injection import Field, string_keys
from support.istio import grpc, world_for
from support.istio_checks import ask_paths, case_for, cl, reached
from support.mutations import assert_edits_refused, edits, enable_tls, free_port, own_gateway, path_re
from support.properties import for_every_valid_values_set
from support.scenarios import ci, grpc_web_filter, server_by_name, servers
from support.values import CERT_MANAGER, WEB


def test_defaults_render_a_tls_gateway_and_a_catch_all_route(default_render, helm, istio):
    """What README's quick start promises for no values (the secret's name: test_install_checks)."""
    r = default_render
    assert sorted(r.kinds()) == ["ConfigMap", "EnvoyFilter", "Gateway", "Pod", "VirtualService"], \
        "no values: no Secret, no DestinationRule; the EnvoyFilter keeps streams open (test_connections); " \
        "the helm test Pod and its health.proto ConfigMap (test_install_checks)"
    (srv,) = servers(r)
    assert srv["port"] == {"number": 443, "name": "https", "protocol": "HTTPS"}
    assert srv["hosts"] == ["grpc.example.com"]
    assert srv["tls"]["mode"] == "SIMPLE", "no client certificate asked for unless configured"
    assert srv["tls"]["minProtocolVersion"] in ("TLSV1_2", "TLSV1_3"), "TLS 1.0 and 1.1 are off by default"
    assert set(srv["tls"]) == {"mode", "credentialName", "minProtocolVersion"}, "nothing else unless asked for"
    assert r.one("Gateway")["spec"]["selector"] == {"istio": "ingressgateway"}
    vs = r.one("VirtualService")
    assert vs["spec"]["gateways"] == ["default/grpc-ingress"]
    res = ask_paths(helm, istio, {"defaults": ({}, {"greet": "/helloworld.Greeter/SayHello",
                                                    "health": "/grpc.health.v1.Health/Check"})})["defaults"]
    assert reached(res, "greet") == reached(res, "health") == {cl("grpc-service"): 100}, "Istio routes every call there"


def test_https_redirect_is_a_plaintext_server_with_only_https_redirect(helm):
    r = ci(helm, "https-redirect-values.yaml")
    redirect = server_by_name(r, "http-redirect")
    assert redirect["port"] == {"number": 80, "name": "http-redirect", "protocol": "HTTP"}
    assert redirect["tls"] == {"httpsRedirect": True}


def test_h2c_is_a_plaintext_http2_server_without_tls(helm):
    r = ci(helm, "h2c-values.yaml")
    (srv,) = servers(r)
    assert srv["port"] == {"number": 80, "name": "h2c", "protocol": "HTTP2"}
    assert "tls" not in srv


def test_h2c_next_to_tls(helm):
    r = helm.render({"h2c": {"enabled": True, "port": 80}})
    protocols = {s["port"]["number"]: s["port"]["protocol"] for s in servers(r)}
    assert protocols == {443: "HTTPS", 80: "HTTP2"}


def test_gateway_binding_uses_namespace_and_name(helm):
    r = helm.render({"gateway": {"name": "edge", "namespace": "ingress"}}, namespace="apps")
    gw = r.one("Gateway")["metadata"]
    assert (gw["name"], gw["namespace"]) == ("edge", "ingress")
    vs = r.one("VirtualService")
    assert vs["metadata"]["namespace"] == "apps"
    assert vs["spec"]["gateways"] == ["ingress/edge"]


def test_gateway_selector_replaces_the_default(helm):
    r = helm.render({"gateway": {"selector": {"app": "my-gateway"}},
                     "grpcWeb": {"enabled": True, "cors": {"allowOrigins": ["https://a.example.com"]}}})
    assert r.one("Gateway")["spec"]["selector"] == {"app": "my-gateway"}
    filters = r.of_kind("EnvoyFilter")  # gRPC-Web and client connections
    assert [ef["spec"]["workloadSelector"] for ef in filters] == [{"labels": {"app": "my-gateway"}}] * 2


# The stock installs as Istio's manifests define them (istio-facts): the classic
# istio-ingressgateway of istioctl, and the istio/gateway chart as Istio's docs install it.
INSTALL_FACTS = {
    "istioctl": {"selector": {"istio": "ingressgateway"}, "namespace": "istio-system", "https_bind": 8443,
                 "address": "istio-ingressgateway.istio-system.svc.cluster.local:443"},
    "gateway-chart": {"selector": {"istio": "ingress"}, "namespace": "istio-ingress", "https_bind": 443,
                      "address": "istio-ingress.istio-ingress.svc.cluster.local:443"},
}


@pytest.mark.parametrize("install", list(INSTALL_FACTS))
def test_gateway_install_sets_selector_namespace_ports_and_test_address_together(helm, install):
    facts = INSTALL_FACTS[install]
    r = helm.render({"gateway": {"install": install}, "grpcWeb": WEB, "trafficPolicy": {"loadBalancer": "RANDOM"},
                     "tls": {"credentialName": "", "certManager": CERT_MANAGER}})
    assert r.one("Gateway")["spec"]["selector"] == facts["selector"]
    ef = grpc_web_filter(r)
    assert ef["spec"]["workloadSelector"] == {"labels": facts["selector"]}
    assert {p["match"]["listener"]["portNumber"] for p in ef["spec"]["configPatches"]} == {facts["https_bind"]}
    for doc in [ef, r.one("Certificate"), r.one("DestinationRule")]:
        assert doc["metadata"]["namespace"] == facts["namespace"], doc["kind"]
    assert facts["address"] in r.one("Pod")["spec"]["containers"][0]["args"]


def test_each_install_default_can_be_overridden_alone(helm):
    r = helm.render({"gateway": {"install": "gateway-chart", "selector": {"app": "edge"}, "workloadNamespace": "edge",
                                 "servicePorts": {"443": 9443, "80": 9080}},
                     "tests": {"gatewayAddress": "edge.edge.svc"}, "grpcWeb": WEB})
    assert r.one("Gateway")["spec"]["selector"] == {"app": "edge"}
    ef = grpc_web_filter(r)
    assert ef["metadata"]["namespace"] == "edge"
    assert {p["match"]["listener"]["portNumber"] for p in ef["spec"]["configPatches"]} == {9443}
    assert "edge.edge.svc:443" in r.one("Pod")["spec"]["containers"][0]["args"]


def test_test_address_follows_the_workload_namespace_and_cluster_domain(helm):
    r = helm.render({"gateway": {"workloadNamespace": "ingress"}, "clusterDomain": "corp.internal"})
    assert "istio-ingressgateway.ingress.svc.corp.internal:443" in r.one("Pod")["spec"]["containers"][0]["args"]


def test_plaintext_listeners_default_to_a_port_the_stock_gateway_service_exposes(helm):
    """80 is on both stock Services (80->8080 classic, 80->80 istio/gateway chart); 8080 is on neither."""
    web = helm.render({"tls": {"enabled": False}, "grpcWeb": WEB})
    assert [s["port"]["number"] for s in servers(web)] == [80]
    h2c = helm.render({"tls": {"enabled": False}, "h2c": {"enabled": True}})
    assert [s["port"]["number"] for s in servers(h2c)] == [80]


def test_custom_install_takes_the_service_ports_it_is_given(helm):
    r = helm.render({"gateway": {"install": "custom", "selector": {"app": "gw"}, "workloadNamespace": "gw",
                                 "servicePorts": {"443": 8443, "8080": 18080}},
                     "tests": {"gatewayAddress": "gw.gw.svc"}, "h2c": {"enabled": True, "port": 8080}})
    assert {s["port"]["number"]: s["port"]["protocol"] for s in servers(r)} == {443: "HTTPS", 8080: "HTTP2"}


def test_existing_gateway_renders_only_routes(helm):
    r = ci(helm, "existing-gateway-values.yaml")
    assert not r.has("Gateway") and not r.has("EnvoyFilter")
    assert r.one("VirtualService")["spec"]["gateways"] == ["istio-ingress/shared-gateway"]


def test_a_host_a_wildcard_covers_is_left_out_of_the_virtual_service_because_istio_refuses_both(helm, istio):
    """hosts [*.example.com, api.example.com]: the VirtualService names only the wildcard, and
    api.example.com is routed through it. Planted, the same render naming both is refused by
    Istio's webhook (validateVirtualService: "duplicate hosts in virtual service")."""
    r = helm.render({"hosts": ["*.example.com", "api.example.com"]})
    assert r.one("VirtualService")["spec"]["hosts"] == ["*.example.com"]
    both = copy.deepcopy(r.docs)
    (vs,) = [d for d in both if d["kind"] == "VirtualService"]
    vs["spec"]["hosts"] = ["*.example.com", "api.example.com"]
    call = [grpc("api", "/helloworld.Greeter/SayHello", "api.example.com")]
    chart, planted = istio.run([istio.case(r.stdout, fixtures=world_for(r.docs), calls=call),
                                istio.case(yaml.safe_dump_all(both), fixtures=world_for(both), calls=call)])
    assert chart.refused() == [] and reached(chart, "api") == {cl("grpc-service"): 100}
    (refused,) = planted.refused()
    assert "duplicate hosts in virtual service" in refused["message"], refused


# --- every generated values set ------------------------------------------------------------

@for_every_valid_values_set
def test_routes_bind_to_the_gateway_this_chart_renders_or_to_gateway_ref_for_every_host(case):
    gw = case.values["gateway"]
    # Every host is routed: named, or covered by a wildcard that is named; and no named host covers
    # another (Istio's webhook refuses overlapping VirtualService hosts: test_a_host_a_wildcard_covers_...;
    # Istio's own webhook also sees every render, so this says why, and which host went).
    named = case.vs["spec"]["hosts"]
    assert set(named) <= set(case.values["hosts"])
    covers = lambda w, h: w != h and w.startswith("*.") and h.endswith(w[1:])  # noqa: E731
    for h in case.values["hosts"]:
        assert h in named or any(covers(w, h) for w in named), h
    assert not [(a, b) for a in named for b in named if covers(a, b)]
    if gw["create"]:
        meta = case.render.one("Gateway")["metadata"]
        assert meta["namespace"] == gw.get("namespace", case.namespace)
        if gw.get("name"):
            assert meta["name"] == gw["name"]
        assert case.vs["spec"]["gateways"] == ["%s/%s" % (meta["namespace"], meta["name"])]
    else:
        assert not case.render.has("Gateway")
        assert case.vs["spec"]["gateways"] == [gw["ref"]]


@for_every_valid_values_set
def test_servers_are_exactly_the_listeners_asked_for_each_on_every_host(case):
    values = case.values
    if not values["gateway"]["create"]:
        return
    tls, h2c, web = values["tls"], values.get("h2c", {}), values.get("grpcWeb", {})
    expected = set()
    if tls["enabled"]:
        expected.add((tls["port"], "HTTPS"))
        if tls.get("httpsRedirect"):
            expected.add((tls.get("redirectPort", 80), "HTTP"))  # values.yaml's default
    if h2c.get("enabled"):
        expected.add((h2c["port"], "HTTP2"))
    if web.get("enabled") and not tls["enabled"]:
        expected.add((web["port"], "GRPC-WEB"))  # with TLS on, gRPC-Web rides the HTTPS server
    assert {(s["port"]["number"], s["port"]["protocol"]) for s in case.servers} == expected
    for protocol in {p for _, p in expected}:
        served = [h for s in case.servers if s["port"]["protocol"] == protocol for h in s["hosts"]]
        assert sorted(served) == sorted(values["hosts"]), "%s servers cover %s" % (protocol, served)


@for_every_valid_values_set
def test_server_port_names_are_unique_and_each_port_speaks_one_protocol(case):
    if not case.values["gateway"]["create"]:
        return
    names = [s["port"]["name"] for s in case.servers]
    assert len(names) == len(set(names)), names
    protocols = {}
    for s in case.servers:
        protocols.setdefault(s["port"]["number"], set()).add(s["port"]["protocol"])
    assert all(len(p) == 1 for p in protocols.values()), protocols


# --- strings from values: refused naming the key, or kept verbatim (support.injection) --------

STRING_KEYS = string_keys(
    Field("hosts", lambda s: {"hosts": [s, "grpc.example.com"], "tls": {"certManager": CERT_MANAGER, "credentialName": ""}},
          "zqxjk.example", "hosts.0"),
    Field("selector-key", lambda s: {"gateway": {"selector": {s: "v"}}, "grpcWeb": WEB}, "zqxjkkey", "gateway.selector"),
    Field("selector-value", lambda s: {"gateway": {"selector": {"app": s}}, "grpcWeb": WEB}, "zqxjkval",
          "gateway.selector.app"),
)


@pytest.mark.parametrize("field,payload", STRING_KEYS)
def test_strings_in_host_and_selector_keys_are_refused_naming_the_key_or_kept_verbatim(injected, field, payload):
    injected.check(field, payload)


# --- bad input -----------------------------------------------------------------------------

BAD_VALUES = [
    ("hosts-not-a-list", {"hosts": "grpc.example.com"}, [r"hosts"]),
    ("port-string", {"tls": {"port": "443"}}, [r"tls\.port"]),
    ("selector-value-number", {"gateway": {"selector": {"istio": 1}}}, [r"gateway\.selector\.istio"]),
    ("unknown-gateway-key", {"gateway": {"selectr": {"a": "b"}}}, [r"gateway", r"selectr"]),
    ("port-0", {"tls": {"port": 0}}, [r"tls\.port"]),
    ("port-65536", {"h2c": {"enabled": True, "port": 65536}}, [r"h2c\.port"]),
    ("hosts-empty", {"hosts": []}, [r"hosts"]),
    ("host-with-scheme", {"hosts": ["https://grpc.example.com"]}, [r"hosts\.0"]),
    ("host-with-port", {"hosts": ["grpc.example.com:443"]}, [r"hosts\.0"]),
    ("host-with-path", {"hosts": ["grpc.example.com/api"]}, [r"hosts\.0"]),
    ("host-upper-case", {"hosts": ["GRPC.example.com"]}, [r"hosts\.0"]),
    ("host-partial-wildcard", {"hosts": ["grpc*.example.com"]}, [r"hosts\.0"]),
    ("host-duplicate", {"hosts": ["a.example.com", "a.example.com"]}, [r"hosts"]),
    ("host-numeric-tld", {"hosts": ["grpc.example.123"]}, [r"hosts\.0"]),
    ("host-ip-address", {"hosts": ["10.0.0.1"]}, [r"hosts\.0"]),
    ("h2c-and-redirect-same-port", {"h2c": {"enabled": True, "port": 80}, "tls": {"httpsRedirect": True}},
     [r"tls\.redirectPort: port 80 \(→8080\) binds gateway pod port 8080, which h2c\.port \(port 80\)"]),
    ("https-redirect-tls-port-8443", {"tls": {"port": 8443, "httpsRedirect": True}},
     [r"tls\.httpsRedirect", r"8443", r"tls\.port: 443"]),
    ("https-redirect-from-port-8080", {"tls": {"redirectPort": 8080, "httpsRedirect": True}},
     [r"tls\.httpsRedirect", r"8080", r"tls\.redirectPort: 80"]),
    ("redirect-without-tls", {"tls": {"enabled": False, "httpsRedirect": True}, "h2c": {"enabled": True, "port": 443}},
     [r"tls\.httpsRedirect"]),
    ("h2c-on-tls-port", {"h2c": {"enabled": True, "port": 443}}, [r"h2c\.port", r"tls\.port"]),
    ("nothing-enabled", {"tls": {"enabled": False}}, [r"tls\.enabled|gateway"]),
    ("existing-gateway-without-ref", {"gateway": {"create": False}}, [r"gateway\.ref"]),
    ("gateway-ref-without-namespace", {"gateway": {"create": False, "ref": "shared-gateway"}}, [r"gateway\.ref"]),
    ("gateway-ref-three-parts", {"gateway": {"create": False, "ref": "a/b/c"}}, [r"gateway\.ref"]),
    ("gateway-name-with-dots", {"gateway": {"name": "edge.gateway"}}, [r"gateway\.name"]),
    ("selector-value-bad-label", {"gateway": {"selector": {"istio": "ingress gateway"}}}, [r"gateway\.selector\.istio"]),
    # The port model: ports the gateway Service exposes, judged on the pod ports servers bind.
    ("h2c-port-not-on-the-gateway-service", {"h2c": {"enabled": True, "port": 8080}},
     [r"h2c\.port: 8080 is not a port of the gateway Service", r"IST0162", r"80→8080, 443→8443"]),
    ("h2c-8080-beside-redirect-80", {"h2c": {"enabled": True, "port": 8080}, "tls": {"httpsRedirect": True}},
     [r"tls\.redirectPort: port 80 \(→8080\) binds gateway pod port 8080, which h2c\.port \(port 8080\) already binds"]),
    ("h2c-8443-beside-tls-443", {"h2c": {"enabled": True, "port": 8443}},
     [r"h2c\.port: port 8443 binds gateway pod port 8443, which tls\.port \(port 443\) already binds"]),
    ("grpc-web-8080-beside-h2c-80", {"tls": {"enabled": False}, "h2c": {"enabled": True, "port": 80},
                                     "grpcWeb": {**WEB, "port": 8080}},
     [r"grpcWeb\.port: 8080 is not a port", r"grpcWeb\.port: port 8080 binds gateway pod port 8080, which h2c\.port \(port 80\)"]),
    ("grpc-web-default-port-beside-h2c", {"tls": {"enabled": False}, "h2c": {"enabled": True}, "grpcWeb": WEB},
     [r"grpcWeb\.port: port 80 \(→8080\) binds gateway pod port 8080, which h2c\.port \(port 80\)"]),
    ("port-not-on-the-gateway-chart-service", {"gateway": {"install": "gateway-chart"}, "h2c": {"enabled": True, "port": 8443}},
     [r"h2c\.port: 8443 is not a port", r"istio-ingress Service of gateway\.install gateway-chart exposes 80→80, 443→443"]),
    ("custom-install-without-its-facts", {"gateway": {"install": "custom"}},
     [r"gateway\.selector", r"gateway\.workloadNamespace", r"gateway\.servicePorts", r"tests\.gatewayAddress"]),
    ("custom-install-port-not-listed", {"gateway": {"install": "custom", "selector": {"app": "gw"}, "workloadNamespace": "gw",
                                                    "servicePorts": {"8443": 8443}}, "tests": {"enabled": False}},
     [r"tls\.port: 443 is not a port", r"gateway\.servicePorts lists 8443→8443"]),
    ("install-unknown", {"gateway": {"install": "helm"}}, [r"gateway\.install"]),
    ("service-port-not-a-number", {"gateway": {"servicePorts": {"https": 8443}}}, [r"gateway\.servicePorts"]),
    ("service-target-port-out-of-range", {"gateway": {"servicePorts": {"443": 70000}}}, [r"gateway\.servicePorts"]),
]


@pytest.mark.parametrize("values,match", bad_values(BAD_VALUES))
def test_bad_values_are_refused_naming_the_key(helm, values, match):
    assert_refused(helm, values, match)


# --- bad edits of valid values -------------------------------------------------------------

def m_empty_hosts(v, rnd):
    v["hosts"] = []
    return [path_re("hosts")]


def m_bad_host(v, rnd):
    k = rnd.randrange(len(v["hosts"]))
    v["hosts"][k] = rnd.choice(["Grpc.example.com", "grpc.EXAMPLE.com", "https://grpc.example.com", "grpc.example.com:443",
                                "grpc_1.example.com", "grpc.example.com/", "*grpc.example.com", "localhost",
                                "grpc..example.com", " grpc.example.com", "grpc.example.com.", "a.*.example.com"])
    return [path_re("hosts", k)]


def m_h2c_port_clash(v, rnd):
    own_gateway(v)
    enable_tls(v)
    v["h2c"] = {"enabled": True, "port": v["tls"].get("port", 443)}
    return [path_re("h2c", "port")]


def m_redirect_port_clash(v, rnd):
    own_gateway(v)
    enable_tls(v)
    taken = {v["tls"].get("port", 443)} | ({v["h2c"].get("port", 80)} if v.get("h2c", {}).get("enabled") else set())
    v["tls"].update(httpsRedirect=True, redirectPort=rnd.choice(sorted(taken)))
    return [path_re("tls", "redirectPort")]


def m_redirect_to_another_port(v, rnd):
    own_gateway(v)
    enable_tls(v)
    if v.get("h2c", {}).get("enabled") and v["h2c"].get("port", 80) == 80:
        v["h2c"]["port"] = free_port(v)
    port = rnd.choice([8443, 9443, 18443])
    v["tls"].update(port=port, httpsRedirect=True, redirectPort=80)
    return [path_re("tls", "httpsRedirect"), str(port)]


def m_redirect_without_tls(v, rnd):
    own_gateway(v)
    v["tls"].update(enabled=False, httpsRedirect=False)
    v["h2c"] = {"enabled": False}
    v["tls"].update(httpsRedirect=True, redirectPort=free_port(v))
    v["h2c"] = {"enabled": True, "port": free_port(v)}
    v.pop("grpcWeb", None)
    return [path_re("tls", "httpsRedirect")]


def m_no_listener(v, rnd):
    v["gateway"] = {"create": False, "ref": "istio-system/shared"}
    v["tls"].update(enabled=False, httpsRedirect=False)
    v["h2c"] = {"enabled": False}
    v["grpcWeb"] = {"enabled": False}
    return [path_re("tls", "enabled")]


def m_no_gateway_ref(v, rnd):
    v["gateway"].update(create=False, ref="")
    return [path_re("gateway", "ref")]


def m_bad_gateway_ref(v, rnd):
    v["gateway"].update(create=False, ref=rnd.choice(["shared", "Istio/gw", "a/b/c", "/gw", "ns/"]))
    return [path_re("gateway", "ref")]


@pytest.mark.parametrize("mutation", edits(
    m_empty_hosts, m_bad_host, m_h2c_port_clash, m_redirect_port_clash,
    m_redirect_to_another_port, m_redirect_without_tls, m_no_listener, m_no_gateway_ref, m_bad_gateway_ref))
def test_bad_edits_of_valid_values_are_refused_naming_the_key(helm, mutation_bases, mutation):
    assert_edits_refused(helm, mutation, mutation_bases)


# --- what Istio serves on the plaintext listeners -------------------------------------------------

PLAINTEXT_ASKED = {
    "h2c/classic": ({"h2c": {"enabled": True}}, 80),
    "h2c/gateway-chart": ({"h2c": {"enabled": True}, "gateway": {"install": "gateway-chart"}}, 80),
    "grpc-web/classic": ({"tls": {"enabled": False}, "grpcWeb": WEB}, 80),
    "h2c/gateway-api": ({"h2c": {"enabled": True}, "api": "gateway-api"}, 80),
    "grpc-web/gateway-api": ({"tls": {"enabled": False}, "grpcWeb": WEB, "api": "gateway-api"}, 80),
}


def test_plaintext_listeners_answer_http2_with_prior_knowledge(helm, istio):
    """grpcurl -plaintext and gRPC clients without TLS send HTTP/2 at once (prior knowledge);
    the connection manager Istio builds for the h2c (HTTP2) and plaintext GRPC-WEB servers, and
    for the Gateway API's HTTP listeners, has the AUTO codec, which takes that as well as
    HTTP/1.1 (buildHTTPConnectionManager in pilot/pkg/networking/core/listener_builder.go).
    A gRPC call on the plaintext port reaches the backend over HTTP/2."""
    cases = [case_for(helm, istio, values, [grpc("call", "/helloworld.Greeter/SayHello", "grpc.example.com",
                                                  port=port, tls=False)])[1]
             for values, port in PLAINTEXT_ASKED.values()]
    for name, res in zip(PLAINTEXT_ASKED, istio.run(cases)):
        got = res.call("call")
        assert not got.get("error"), (name, got["error"])
        assert got["chain"]["tls"] is None and got["hcm"]["codec_type"] == "AUTO", (name, got["hcm"])
        assert [u["protocol"] for u in got["upstreams"]] == ["h2"], (name, got["upstreams"])

"""Every ci/ scenario (and the defaults and README's Argo CD example), on both stock gateway installs, asked of Istio's own
control-plane code through the harness in tests/istio: its webhook admits every object, its
analyzers have nothing to warn about, its xDS passes its own checks, and each call the scenario
promises reaches the intended cluster, over HTTP/2, with the timeout, retries and CORS promised.

The expectations are written from the values files, literally; nothing here computes them.
Where today's chart breaks a promise on an install (issue 10), the item is a strict xfail: it
turns into a failure the day the bug is fixed, so the mark has to go with the fix.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import yaml

from support.helm import ROOT
from support.istio_checks import NO_LISTENER, NO_ROUTE, REDIRECT, Expect, analysis_problems, broken_promises, cl
from support.scenarios import ci_files, load_ci
from support.istio import (INSTALLS, STOCK_CHARTS, Call, IstioHarness, for_install, grpc, grpc_web, istio_source,
                           istioctl_install, world_for)

INSTALL_NAMES = tuple(INSTALLS)  # classic, gateway-chart


@pytest.mark.parametrize("install", INSTALL_NAMES)
def test_each_stock_install_is_what_istio_installs(helm, install):
    """The installs every Istio-mode test runs on (support.istio.INSTALLS) are Istio's, from the
    istio.io/istio module the harness was built from: the classic gateway is what `istioctl
    install` applies with the default profile (Istio's operator code renders it in the harness),
    the gateway chart is manifests/charts/gateway rendered with the suite's Helm. Same Service
    (name, namespace, ports with their targetPorts: the classic gateway's pods bind 8080 and
    8443), selecting pods that carry every label the harness gives its pod."""
    if install == "classic":
        namespace, docs = "istio-system", istioctl_install()
    else:
        chart, release, namespace = STOCK_CHARTS[install]
        # helm.run, not helm.template: Istio's chart is read here, not checked as the chart's output is.
        proc = helm.run(["template", release, str(istio_source() / chart), "--namespace", namespace])
        assert proc.returncode == 0, proc.stderr
        docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    (svc,) = [d for d in docs if d["kind"] == "Service"]
    (dep,) = [d for d in docs if d["kind"] == "Deployment"]
    want = INSTALLS[install]
    assert (svc["metadata"]["name"], svc["metadata"].get("namespace", namespace)) == (want["name"], want["namespace"])
    assert [(p["name"], p["port"], p.get("targetPort", p["port"])) for p in svc["spec"]["ports"]] == \
        [(p["name"], p["port"], p["target_port"]) for p in want["ports"]]
    assert svc["spec"]["selector"] == want["labels"]
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    assert want["labels"].items() <= pod_labels.items()


@dataclass(frozen=True)
class Scenario:
    values: str | dict | None  # a ci/ name, the values themselves, or None for the defaults
    expects: tuple[Expect, ...]
    release: str = "grpc-ingress"
    namespace: str = "default"
    plain_ports: tuple[str, ...] = ()         # backends whose Service port Istio cannot recognise
    shared_gateway_hosts: tuple[str, ...] = ()
    analysis_xfail: dict = field(default_factory=dict)
    upstream: dict = field(default_factory=dict)  # cluster -> settings the DestinationRule promises


WEB_ORIGIN = "https://app.example.com"


def both(reason: str) -> dict:
    return {i: reason for i in INSTALL_NAMES}


SCENARIOS: dict[str, Scenario] = {
    "defaults": Scenario(None, (
        Expect(grpc("greet", "/helloworld.Greeter/SayHello", "grpc.example.com"), cluster=cl("grpc-service"),
               retries=2),
        Expect(grpc("health", "/grpc.health.v1.Health/Check", "grpc.example.com"), cluster=cl("grpc-service")),
    )),
    "tls": Scenario("tls", (
        Expect(grpc("greet", "/helloworld.Greeter/SayHello", "grpc.example.com"), cluster=cl("greeter"),
               timeout="10s", retries=2),
        Expect(grpc("look-alike", "/helloworld.GreeterX/SayHello", "grpc.example.com"), error=NO_ROUTE),
    )),
    "h2c": Scenario("h2c", (
        Expect(grpc("greet", "/helloworld.Greeter/SayHello", "grpc.example.com", port=80, tls=False),
               cluster=cl("greeter"), plaintext=True),
        Expect(grpc("look-alike", "/helloworld.GreeterX/SayHello", "grpc.example.com", port=80, tls=False),
               error=NO_ROUTE),
    )),
    "multi-route": Scenario("multi-route", (
        Expect(grpc("order-get", "/shop.v1.OrderService/Get", "api.example.com"), cluster=cl("orders"), timeout="5s",
               retries=3),
        Expect(grpc("cart", "/shop.v1.CartService/Add", "api.example.com"), cluster=cl("orders"), timeout="5s"),
        Expect(grpc("export", "/shop.v1.OrderService/Export", "api.example.com"),
               cluster=cl("exporter", ns="batch"), timeout="120s"),
        Expect(grpc("users", "/users.v1.UserService/Get", "api.example.com"), cluster=cl("users")),
        Expect(grpc("users-wildcard-host", "/users.v1.UserService/Get", "eu.grpc.example.com"), cluster=cl("users")),
        Expect(grpc("health", "/grpc.health.v1.Health/Check", "api.example.com"), cluster=cl("orders")),
        Expect(grpc("health-watch", "/grpc.health.v1.Health/Watch", "api.example.com"), cluster=cl("orders")),
        Expect(grpc("catch-all", "/other.v1.Other/Do", "api.example.com"), cluster=cl("legacy", 9000)),
        Expect(grpc("look-alike", "/shop.v1.OrderServiceX/Get", "api.example.com"), cluster=cl("legacy", 9000)),
        Expect(grpc("reflection", "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", "api.example.com"),
               cluster=cl("orders"), streaming=True),
        Expect(grpc("reflection-v1alpha", "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                    "api.example.com"), cluster=cl("orders"), streaming=True),
    )),
    "streaming": Scenario("streaming", (
        Expect(grpc("subscribe", "/chat.v1.Chat/Subscribe", "grpc.example.com"), cluster=cl("chat"),
               streaming=True, retries=1),
        Expect(grpc("connect", "/chat.v1.Chat/Connect", "grpc.example.com"), cluster=cl("chat"), streaming=True),
        Expect(grpc("send", "/chat.v1.Chat/Send", "grpc.example.com"), cluster=cl("chat"), timeout="3s", retries=2),
        Expect(grpc("h2c-subscribe", "/chat.v1.Chat/Subscribe", "grpc.example.com", port=80, tls=False),
               cluster=cl("chat"), streaming=True, plaintext=True),
    ),
        upstream={cl("chat"): {"idle_timeout": "7200s", "max_requests_per_connection": 1000,
                               "tcp_keepalive": {"keepaliveTime": 60, "keepaliveInterval": 15,
                                                 "keepaliveProbes": 4},
                               "outlier_detection": {"consecutiveGatewayFailure": 5,
                                                     "enforcingConsecutiveGatewayFailure": 100,
                                                     "consecutive5xx": 0, "enforcingConsecutive5xx": 0,
                                                     "enforcingSuccessRate": 0, "interval": "10s",
                                                     "baseEjectionTime": "30s"}}}),
    "grpc-web-tls": Scenario("grpc-web-tls", (
        Expect(grpc("greet", "/helloworld.Greeter/SayHello", "api.example.com"), cluster=cl("greeter"), timeout="15s"),
        Expect(grpc_web("web-call", "/helloworld.Greeter/SayHello", "api.example.com", WEB_ORIGIN),
               cluster=cl("greeter"), timeout="15s", grpc_web=True),
        Expect(grpc_web("web-preflight", "/helloworld.Greeter/SayHello", "api.example.com", WEB_ORIGIN,
                        preflight=True),
               cluster=cl("greeter"), timeout="15s", grpc_web=True),
        Expect(grpc_web("web-http1", "/helloworld.Greeter/SayHello", "api.example.com", WEB_ORIGIN, protocol="http"),
               cluster=cl("greeter"), timeout="15s", grpc_web=True),
        Expect(grpc_web("web-stream", "/helloworld.Greeter/StreamUpdates", "api.example.com", WEB_ORIGIN),
               cluster=cl("greeter"), streaming=True, retries=1, grpc_web=True),
    )),
    "grpc-web-plaintext": Scenario("grpc-web-plaintext", (
        Expect(grpc_web("web-call", "/helloworld.Greeter/SayHello", "grpc.example.com", "http://localhost:3000",
                        port=80, tls=False, protocol="http"),
               cluster=cl("greeter"), grpc_web=True, plaintext=True),
        Expect(grpc_web("web-preflight", "/helloworld.Greeter/SayHello", "grpc.example.com", "http://localhost:3000",
                        port=80, tls=False, protocol="http", preflight=True),
               cluster=cl("greeter"), grpc_web=True, plaintext=True),
    )),
    "backend-services": Scenario("backend-services", (
        Expect(grpc("greeter", "/helloworld.Greeter/SayHello", "grpc.example.com"), cluster=cl("greeter")),
        Expect(grpc("echo", "/echo.Echo/Echo", "grpc.example.com"), cluster=cl("echo", 8080)),
        Expect(grpc("legacy", "/legacy.v1.Legacy/Get", "grpc.example.com"), cluster=cl("legacy-grpc", 7000)),
    ), plain_ports=("legacy-grpc",), upstream={cl("legacy-grpc", 7000): {"protocol": "h2"}}),
    "mutual-tls": Scenario("mutual-tls", (
        Expect(grpc("greet", "/helloworld.Greeter/SayHello", "grpc.example.com"), cluster=cl("grpc-service"),
               certificate="kubernetes://grpc-mtls"),
    )),
    "existing-gateway": Scenario("existing-gateway", (
        Expect(grpc("payments", "/payments.v1.Payments/Pay", "payments.example.com"), cluster=cl("payments"),
               timeout="30s"),
        Expect(grpc("look-alike", "/payments.v1.PaymentsX/Pay", "payments.example.com"), error=NO_ROUTE),
    ), shared_gateway_hosts=("payments.example.com",)),
    "cert-manager": Scenario("cert-manager", (
        Expect(grpc("exact-host", "/helloworld.Greeter/SayHello", "grpc.example.com"), cluster=cl("grpc-service"),
               certificate="kubernetes://grpc-ingress-tls"),
        Expect(grpc("wildcard-host", "/helloworld.Greeter/SayHello", "eu.api.example.com"),
               cluster=cl("grpc-service"), certificate="kubernetes://grpc-ingress-tls"),
    )),
    "combined": Scenario("combined", (
        Expect(grpc("watch", "/shop.v1.OrderService/Watch", "shop.example.com"), streaming=True, retries=1,
               weighted={cl("orders", subset="stable"): 90, cl("orders", subset="canary"): 10}),
        Expect(grpc("get", "/shop.v1.OrderService/Get", "shop.example.com"), timeout="5s", retries=2,
               weighted={cl("orders", subset="stable"): 90, cl("orders", subset="canary"): 10},
               certificate="kubernetes://grpc-ingress-tls"),
        Expect(grpc("health", "/grpc.health.v1.Health/Check", "shop.example.com"), cluster=cl("orders")),
        Expect(grpc("look-alike", "/shop.v1.OrderServiceX/Get", "shop.example.com"), error=NO_ROUTE),
        Expect(grpc("h2c-watch", "/shop.v1.OrderService/Watch", "shop.example.com", port=80, tls=False),
               streaming=True, plaintext=True,
               weighted={cl("orders", subset="stable"): 90, cl("orders", subset="canary"): 10}),
        Expect(grpc_web("web-call", "/shop.v1.OrderService/Get", "shop.example.com", "https://shop.example.com"),
               timeout="5s", grpc_web=True,
               weighted={cl("orders", subset="stable"): 90, cl("orders", subset="canary"): 10}),
        Expect(grpc_web("web-preflight", "/shop.v1.OrderService/Get", "shop.example.com", "https://shop.example.com",
                        preflight=True), timeout="5s", grpc_web=True,
               weighted={cl("orders", subset="stable"): 90, cl("orders", subset="canary"): 10}),
    )),
    "canary": Scenario("canary", (
        Expect(grpc("greet", "/helloworld.Greeter/SayHello", "grpc.example.com"), timeout="10s",
               weighted={cl("greeter", subset="stable"): 90, cl("greeter", subset="canary"): 10}),
    )),
    "https-redirect": Scenario("https-redirect", (
        Expect(grpc("tls", "/helloworld.Greeter/SayHello", "grpc.example.com"), cluster=cl("grpc-service")),
        Expect(Call("redirect", "/", "grpc.example.com", port=80, tls="plaintext", protocol="http", method="GET"),
               error=REDIRECT, plaintext=True),
    )),
    "tls-hosts": Scenario("tls-hosts", (
        Expect(grpc("a", "/helloworld.Greeter/SayHello", "a.example.com"), cluster=cl("grpc-service"),
               certificate="kubernetes://a-example-tls"),
        Expect(grpc("b", "/helloworld.Greeter/SayHello", "b.example.com"), cluster=cl("grpc-service"),
               certificate="kubernetes://shared-tls"),
        Expect(grpc("c", "/helloworld.Greeter/SayHello", "c.example.com"), cluster=cl("grpc-service"),
               certificate="kubernetes://shared-tls"),
    )),
    # README's Argo CD example (examples/argocd-application.yaml), as Argo CD renders it.
    "argocd-example": Scenario(
        yaml.safe_load((ROOT / "examples/argocd-application.yaml").read_text())["spec"]["source"]["helm"]["valuesObject"],
        (
            Expect(grpc("pay", "/payments.v1.PaymentService/Charge", "payments.example.com"),
                   cluster=cl("payments-api", ns="payments"), timeout="10s"),
            Expect(grpc("refund", "/payments.v1.RefundService/Refund", "payments-eu.example.com"),
                   cluster=cl("payments-api", ns="payments"), timeout="10s"),
            Expect(grpc("watch", "/payments.v1.PaymentService/WatchPayments", "payments.example.com"),
                   cluster=cl("payments-events", ns="payments"), streaming=True),
            Expect(grpc("health", "/grpc.health.v1.Health/Check", "payments.example.com"),
                   cluster=cl("payments-api", ns="payments")),
            Expect(grpc("look-alike", "/payments.v1.PaymentServiceX/Charge", "payments.example.com"), error=NO_ROUTE),
        ), release="payments-grpc", namespace="payments",
        upstream={cl("payments-events", ns="payments"): {
            "idle_timeout": "7200s", "tcp_keepalive": {"keepaliveTime": 300, "keepaliveInterval": 60,
                                                      "keepaliveProbes": 3}}}),
}

CI_NAMES = {p.name.removesuffix("-values.yaml"): p for p in ci_files()}


def test_every_ci_scenario_is_asked_of_istio():
    assert set(CI_NAMES) <= set(SCENARIOS), f"ci/ scenarios with no Istio expectations: {set(CI_NAMES) - set(SCENARIOS)}"


# Another workload of the mesh that calls the same backends through its sidecar.
MESH_CLIENT = {"id": "mesh-client", "namespace": "shop", "labels": {"app": "client"}, "pod_ip": "10.2.0.1"}


@pytest.fixture(scope="module")
def answers(helm, istio: IstioHarness):
    """Every scenario on both installs (rendered with the chart's gateway.install for each),
    answered by one harness process."""
    cases, keys = [], []
    for name, sc in SCENARIOS.items():
        values = load_ci(CI_NAMES[sc.values]) if isinstance(sc.values, str) else sc.values
        for inst in INSTALL_NAMES:
            r = helm.render(for_install(values, inst), release=sc.release, namespace=sc.namespace)
            cases.append(istio.case(r.stdout, install=inst, namespace=sc.namespace,
                                    fixtures=world_for(r.docs, inst, plain_ports=sc.plain_ports,
                                                       shared_gateway_hosts=sc.shared_gateway_hosts),
                                    calls=[e.call for e in sc.expects],
                                    sidecars=[dict(MESH_CLIENT, clusters=sorted(sc.upstream))] if sc.upstream else []))
            keys.append((name, inst))
    return dict(zip(keys, istio.run(cases)))


def scenario_params():
    return [pytest.param(n, i, id=f"{n}/{i}", marks=[pytest.mark.xfail(strict=True, reason=SCENARIOS[n].analysis_xfail[i])]
                         if i in SCENARIOS[n].analysis_xfail else [])
            for n in SCENARIOS for i in INSTALL_NAMES]


def call_params():
    out = []
    for n, sc in SCENARIOS.items():
        for inst in INSTALL_NAMES:
            for e in sc.expects:
                marks = [pytest.mark.xfail(strict=True, reason=e.xfail[inst])] if inst in e.xfail else []
                out.append(pytest.param(n, inst, e, id=f"{n}/{inst}/{e.call.id}", marks=marks))
    return out


@pytest.mark.parametrize("name,install", [pytest.param(n, i, id=f"{n}/{i}") for n in SCENARIOS for i in INSTALL_NAMES])
def test_istio_webhook_admits_every_object(answers, name, install):
    res = answers[name, install]
    assert res.refused() == []
    assert {v["kind"] for v in res.validation} >= {"VirtualService"}, "the webhook saw no Istio object"


@pytest.mark.parametrize("name,install", [pytest.param(n, i, id=f"{n}/{i}") for n in SCENARIOS for i in INSTALL_NAMES])
def test_istio_xds_passes_istios_own_checks(answers, name, install):
    assert answers[name, install].xds_invalid == []


@pytest.mark.parametrize("name,install", scenario_params())
def test_istio_analyzers_find_nothing_to_warn_about(answers, name, install):
    assert analysis_problems(answers[name, install]) == []


@pytest.mark.parametrize("name,install,expect", call_params())
def test_call_does_what_the_scenario_promises(answers, name, install, expect: Expect):
    assert broken_promises(answers[name, install], expect) == []


@pytest.mark.parametrize("name,install", [pytest.param(n, i, id=f"{n}/{i}") for n, sc in SCENARIOS.items()
                                          if sc.upstream for i in INSTALL_NAMES])
def test_destination_rule_settings_reach_the_gateway_cluster(answers, name, install):
    res = answers[name, install]
    ups = {u["name"]: u for c in res.calls.values() for u in c["upstreams"]}
    for cluster, want in SCENARIOS[name].upstream.items():
        got = {k: ups[cluster][k] for k in want}
        assert got == want, cluster


@pytest.mark.parametrize("install", INSTALL_NAMES)
@pytest.mark.parametrize("name", [
    "streaming",
    "argocd-example",
    # A sidecar speaks the client's protocol to a port Istio cannot recognise (use_downstream_protocol),
    # so the chart's h2UpgradePolicy does not change it (cluster_builder.go setH2Options).
    "backend-services",
])
def test_destination_rule_changes_the_gateway_only(answers, name, install):
    """What the chart's DestinationRule sets for the gateway must not reach a mesh client's sidecar."""
    sidecar = answers[name, install].sidecar(MESH_CLIENT["id"])
    for cluster, want in SCENARIOS[name].upstream.items():
        assert sidecar[cluster]["found"], f"the mesh client has no cluster {cluster}"
        leaked = {k: v for k, v in want.items() if sidecar[cluster][k] == v}
        assert leaked == {}, f"{cluster}: the mesh client's sidecar got the gateway's settings"


# The service owner's own rule for a backend, in the service's namespace, visible mesh-wide.
OWNER_RULE = {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
              "metadata": {"name": "owner", "namespace": "payments"},
              "spec": {"host": "cart.payments.svc.cluster.local", "trafficPolicy": {
                  "loadBalancer": {"simple": "RANDOM"},
                  "connectionPool": {"http": {"idleTimeout": "300s", "maxRequestsPerConnection": 5}}}}}
CART = cl("cart", ns="payments")


@pytest.fixture(scope="module")
def owner_rule(helm, istio):
    """A route to cart.payments (name.ns, as Kubernetes DNS reads it) with the chart's settings,
    next to the service owner's own DestinationRule for that host; a mesh client's sidecar too."""
    values = {"trafficPolicy": {"loadBalancer": "LEAST_REQUEST", "maxRequestsPerConnection": 100},
              "routes": [{"name": "cart", "services": ["shop.v1.Cart"], "backend": {"host": "cart.payments", "port": 50051}}]}
    cases = []
    for install in INSTALL_NAMES:
        r = helm.render(for_install(values, install), namespace="shop")
        cases.append(istio.case(r.stdout, install=install, namespace="shop",
                                fixtures=world_for(r.docs, install) + "---\n" + yaml.safe_dump(OWNER_RULE),
                                calls=[grpc("cart", "/shop.v1.Cart/Add", "grpc.example.com")],
                                sidecars=[dict(MESH_CLIENT, clusters=[CART])]))
    return dict(zip(INSTALL_NAMES, istio.run(cases)))


@pytest.mark.parametrize("install", INSTALL_NAMES)
def test_a_name_dot_namespace_backend_reaches_that_service(owner_rule, install):
    (up,) = owner_rule[install].call("cart")["upstreams"]
    assert up["name"] == CART and up["found"], up


@pytest.mark.parametrize("install", INSTALL_NAMES)
def test_the_charts_rule_wins_over_the_owners_rule_for_the_gateway_only(owner_rule, install):
    res = owner_rule[install]
    (gateway,) = res.call("cart")["upstreams"]
    assert (gateway["lb_policy"], gateway["max_requests_per_connection"]) == ("LEAST_REQUEST", 100), gateway
    mesh = res.sidecar(MESH_CLIENT["id"])[CART]
    assert (mesh["lb_policy"], mesh["max_requests_per_connection"], mesh["idle_timeout"]) == ("RANDOM", 5, "300s"), \
        "the owner's rule still governs every other client"


SHARED_WEB = Expect(grpc_web("web", "/payments.v1.Payments/Pay", "payments.example.com", WEB_ORIGIN),
                    cluster=cl("payments"), timeout="30s", grpc_web=True)


@pytest.fixture(scope="module")
def shared_wildcard(helm, istio):
    """existing-gateway with the chart's grpc_web patch and no tuning but the install, on a
    platform Gateway listing *.example.com."""
    cases = []
    for install in INSTALL_NAMES:
        values = dict(load_ci(CI_NAMES["existing-gateway"]))
        values["grpcWeb"] = {"enabled": True, "cors": {"allowOrigins": [WEB_ORIGIN]}, "envoyFilter": {"enabled": True}}
        r = helm.render(for_install(values, install))
        cases.append(istio.case(r.stdout, install=install, calls=[SHARED_WEB.call],
                                fixtures=world_for(r.docs, install, shared_gateway_hosts=("*.example.com",))))
    return dict(zip(INSTALL_NAMES, istio.run(cases)))


@pytest.mark.parametrize("install", INSTALL_NAMES)
def test_grpc_web_lands_on_a_shared_wildcard_gateway(shared_wildcard, install):
    assert broken_promises(shared_wildcard[install], SHARED_WEB) == []


def test_mutual_tls_asks_for_a_client_certificate(answers):
    for inst in INSTALL_NAMES:
        tls = answers["mutual-tls", inst].call("greet")["chain"]["tls"]
        assert tls["require_client_certificate"] is True
        assert tls["validation_sds"] == "kubernetes://grpc-mtls-cacert"


def test_minimum_tls_version_reaches_the_listener(answers):
    for inst in INSTALL_NAMES:
        assert answers["mutual-tls", inst].call("greet")["chain"]["tls"]["min_version"] == "TLSv1_3"
        assert answers["tls", inst].call("greet")["chain"]["tls"]["min_version"] == "TLSv1_2"


@pytest.mark.parametrize("install", INSTALL_NAMES)
def test_grpc_web_sits_where_istio_puts_it(answers, install):
    """Istio's own GRPC-WEB server (grpc-web-plaintext) puts grpc_web ahead of the filters that must
    see translated gRPC; the TLS chain's patched filter order must agree on those filters."""
    istio_chain = [fc for l in answers["grpc-web-plaintext", install].listeners for fc in l["filter_chains"]
                   if "envoy.filters.http.grpc_web" in fc["http_filters"]]
    assert istio_chain, "Istio put grpc_web on no chain of the plaintext GRPC-WEB server"
    ours = answers["grpc-web-tls", install].call("web-call")["http_filters"]

    def order(filters):
        return [f for f in filters if f in set(istio_chain[0]["http_filters"]) & set(ours)]

    assert order(ours) == order(istio_chain[0]["http_filters"])
    assert ours.index("envoy.filters.http.grpc_web") < ours.index("envoy.filters.http.cors"), "CORS sees gRPC-Web"


# A platform team's EnvoyFilter that gives every chain of the gateway grpc_web (priority 0).
PLATFORM_GRPC_WEB = {
    "apiVersion": "networking.istio.io/v1alpha3", "kind": "EnvoyFilter",
    "metadata": {"name": "platform-grpc-web", "namespace": "istio-system"},
    "spec": {"workloadSelector": {"labels": {"istio": "ingressgateway"}}, "configPatches": [{
        "applyTo": "HTTP_FILTER",
        "match": {"context": "GATEWAY", "listener": {"filterChain": {"filter": {
            "name": "envoy.filters.network.http_connection_manager",
            "subFilter": {"name": "envoy.filters.http.router"}}}}},
        "patch": {"operation": "INSERT_BEFORE", "value": {
            "name": "envoy.filters.http.grpc_web",
            "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.grpc_web.v3.GrpcWeb"}}}}]},
}


@pytest.fixture(scope="module")
def double_insert(helm, istio):
    """Chains the chart's patch could reach twice: a shared server listing two of the chart's
    hosts (two snis, one chain), and a chain a platform EnvoyFilter already gave grpc_web."""
    shared = {"gateway": {"create": False, "ref": "istio-ingress/shared-gateway"},
              "hosts": ["a.example.com", "b.example.com"],
              "grpcWeb": {"enabled": True, "cors": {"allowOrigins": [WEB_ORIGIN]}, "envoyFilter": {"enabled": True}}}
    own = {"grpcWeb": {"enabled": True, "cors": {"allowOrigins": [WEB_ORIGIN]}}}
    calls = [grpc_web("a", "/helloworld.Greeter/SayHello", "a.example.com", WEB_ORIGIN),
             grpc_web("b", "/helloworld.Greeter/SayHello", "b.example.com", WEB_ORIGIN)]
    own_call = [grpc_web("own", "/helloworld.Greeter/SayHello", "grpc.example.com", WEB_ORIGIN)]
    rs, ro = helm.render(shared), helm.render(own)
    platform = yaml.safe_dump(PLATFORM_GRPC_WEB)
    return dict(zip(["shared", "platform"], istio.run([
        istio.case(rs.stdout, calls=calls, fixtures=world_for(rs.docs, shared_gateway_hosts=("a.example.com", "b.example.com"))),
        istio.case(ro.stdout, calls=own_call, fixtures=world_for(ro.docs) + "---\n" + platform),
    ])))


@pytest.mark.parametrize("case,calls", [("shared", ["a", "b"]), ("platform", ["own"])])
def test_grpc_web_is_on_each_chain_exactly_once(double_insert, case, calls):
    for call in calls:
        filters = double_insert[case].call(call)["http_filters"]
        assert filters.count("envoy.filters.http.grpc_web") == 1, filters
        assert filters.index("envoy.filters.http.grpc_web") < filters.index("envoy.filters.http.grpc_stats"), filters


@pytest.mark.parametrize("install", INSTALL_NAMES)
def test_streams_are_retried_only_when_the_call_never_reached_the_application(answers, install):
    """Envoy buffers a request body for retries and retries until response headers arrive, so a
    stream the backend answers UNAVAILABLE before its headers would be replayed, messages and all."""
    for name, call in [("streaming", "subscribe"), ("grpc-web-tls", "web-stream"), ("argocd-example", "watch")]:
        policy = answers[name, install].call(call)["retry_policy"]
        assert sorted(policy["retryOn"].split(",")) == ["connect-failure", "refused-stream"], (name, policy)

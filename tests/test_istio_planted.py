"""The Istio harness catches each kind of mistake the source review found (issue 9): a mistake is
planted in a correct rendered manifest set, and the same checks the scenario tests make
(broken_promises, analysis_problems in test_istio_scenarios.py) pass on the clean set and fail on
the planted one. A plant the harness could not see would leave both answers alike.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import pytest
import yaml

from support.scenarios import ci_files, grpc_web_filter, load_ci
from support.istio import IstioHarness, for_install, grpc, grpc_web, world_for
from support.istio_checks import Expect, analysis_problems, broken_promises, cl

CI = {p.name.removesuffix("-values.yaml"): p for p in ci_files()}
ORIGIN = "https://app.example.com"
WEB_TLS = {"hosts": ["api.example.com"], "grpcWeb": {"enabled": True, "cors": {"allowOrigins": [ORIGIN]}},
           "routes": [{"name": "greeter", "services": ["helloworld.Greeter"],
                       "backend": {"host": "greeter", "port": 50051}}]}


def of(docs, kind):
    (d,) = [d for d in docs if d["kind"] == kind]
    return d


def ef_listeners(docs):
    return [p["match"]["listener"] for p in grpc_web_filter(docs)["spec"]["configPatches"]]


def wrong_bind_port(docs):
    # The classic istio-ingressgateway's pod listens on 8443; 443 is only the Service port.
    for listener in ef_listeners(docs):
        listener["portNumber"] = 443


def exact_sni_on_wildcard(docs):
    # The server lists *.example.com; Istio compares a patch's sni with the chain's server names
    # as strings (envoyfilter/listener_patch.go filterChainMatch), so api.example.com matches none.
    for listener in ef_listeners(docs):
        listener["filterChain"]["sni"] = "api.example.com"


def envoyfilter_in_release_namespace(docs):
    # An EnvoyFilter applies to workloads of its own namespace (or all, from the root namespace).
    grpc_web_filter(docs)["metadata"]["namespace"] = "default"


def h2c_server_first_on_same_bind_port(docs):
    # Service port 8080 is not on the classic Service, so the server binds 8080 as written; the
    # GRPC-WEB server on 80 binds the Service's targetPort 8080 too: one listener, and on a
    # plaintext listener the first server's protocol wins (model/gateway.go addPlainTextServer).
    gw = of(docs, "Gateway")
    gw["spec"]["servers"].insert(0, {"hosts": ["grpc.example.com"],
                                     "port": {"name": "h2c", "number": 8080, "protocol": "HTTP2"}})


def destination_rule_short_host(docs):
    # A short host in the gateway's namespace: Istio resolves it against the rule's own namespace
    # (setDestinationRules: ResolveShortnameToFQDN), so it names a Service there, not the backend.
    for d in docs:
        if d["kind"] == "DestinationRule":
            d["spec"]["host"] = d["spec"]["host"].split(".")[0]


def destination_rule_in_the_release_namespace(docs):
    # Private to the release namespace: the gateway pods never read it.
    for d in docs:
        if d["kind"] == "DestinationRule":
            d["metadata"]["namespace"] = "default"


def prefix_without_slash(docs):
    for entry in of(docs, "VirtualService")["spec"]["http"]:
        for m in entry.get("match", []):
            if "prefix" in m.get("uri", {}):
                m["uri"]["prefix"] = m["uri"]["prefix"].rstrip("/")


def timeout_on_stream(docs):
    for entry in of(docs, "VirtualService")["spec"]["http"]:
        if entry["name"] == "chat-stream":
            entry["timeout"] = "30s"


def preflight_behind_content_type(docs):
    # A match on content-type: the browser's OPTIONS preflight carries none.
    for entry in of(docs, "VirtualService")["spec"]["http"]:
        for m in entry.get("match", []):
            m["headers"] = {"content-type": {"prefix": "application/grpc-web"}}


def backend_port_not_grpc(fixture_docs):
    # The backend's Service port named tcp-api, no appProtocol: Istio does not know it as gRPC.
    for d in fixture_docs:
        if d["kind"] == "Service" and d["metadata"]["name"] == "greeter":
            for p in d["spec"]["ports"]:
                p["name"] = "tcp-api"
                p.pop("appProtocol", None)


def nothing(docs):
    pass


def drop_priority(docs):
    # INSERT_BEFORE without a priority: IST0151 (analyzers/envoyfilter).
    grpc_web_filter(docs)["spec"].pop("priority")


def h2c_on_port_8081(docs):
    # The istio/gateway chart's Service has no 8081: IST0162 (analyzers/gateway IngressGatewayPortAnalyzer).
    of(docs, "Gateway")["spec"]["servers"][0]["port"]["number"] = 8081


@dataclass
class Plant:
    """A mistake: the values rendered and the install, the call whose promise it breaks, how it is
    planted (rendered docs, or the cluster's fixtures, edited in place), and what the scenario
    check says about it (a substring of broken_promises)."""
    values: dict
    install: str
    expect: Expect | None  # None: the analyzers must object (caught is then a message code)
    plant: Callable[[list], None]
    caught: str
    plain_ports: tuple[str, ...] = ()
    fixtures_plant: Callable[[list], None] | None = None
    prepare: Callable[[list], None] = nothing  # applied to clean and planted alike


PLANTS: dict[str, Plant] = {
    "envoyfilter-on-the-wrong-bind-port": Plant(
        WEB_TLS, "classic",
        Expect(grpc_web("web", "/helloworld.Greeter/SayHello", "api.example.com", ORIGIN), cluster=cl("greeter"),
               grpc_web=True),
        wrong_bind_port, "no grpc_web on the chain"),
    "exact-sni-patch-against-a-wildcard-server": Plant(
        {**WEB_TLS, "hosts": ["*.example.com"]}, "classic",
        Expect(grpc_web("web", "/helloworld.Greeter/SayHello", "api.example.com", ORIGIN), cluster=cl("greeter"),
               grpc_web=True),
        exact_sni_on_wildcard, "no grpc_web on the chain"),
    "two-servers-on-one-bind-port": Plant(
        {"tls": {"enabled": False}, "grpcWeb": {"enabled": True, "port": 80, "cors": {"allowOrigins": [ORIGIN]}},
         "routes": WEB_TLS["routes"]}, "classic",
        Expect(grpc_web("web", "/helloworld.Greeter/SayHello", "grpc.example.com", ORIGIN, port=80, tls=False,
                        protocol="http"), cluster=cl("greeter"), grpc_web=True, plaintext=True),
        h2c_server_first_on_same_bind_port, "no grpc_web on the chain"),
    "grpc-web-filter-that-does-not-land": Plant(
        WEB_TLS, "classic",
        Expect(grpc_web("web", "/helloworld.Greeter/SayHello", "api.example.com", ORIGIN), cluster=cl("greeter"),
               grpc_web=True),
        envoyfilter_in_release_namespace, "no grpc_web on the chain"),
    "destination-rule-the-gateway-does-not-read": Plant(
        load_ci(CI["canary"]), "classic",
        Expect(grpc("greet", "/helloworld.Greeter/SayHello", "grpc.example.com"), timeout="10s",
               weighted={cl("greeter", subset="stable"): 90, cl("greeter", subset="canary"): 10}),
        destination_rule_short_host, "the gateway has no cluster outbound|50051|stable|greeter"),
    "destination-rule-private-to-another-namespace": Plant(
        load_ci(CI["canary"]), "gateway-chart",
        Expect(grpc("greet", "/helloworld.Greeter/SayHello", "grpc.example.com"), timeout="10s",
               weighted={cl("greeter", subset="stable"): 90, cl("greeter", subset="canary"): 10}),
        destination_rule_in_the_release_namespace, "the gateway has no cluster outbound|50051|stable|greeter"),
    "h2-upgrade-rule-the-gateway-does-not-read": Plant(
        load_ci(CI["backend-services"]), "gateway-chart",
        Expect(grpc("legacy", "/legacy.v1.Legacy/Get", "grpc.example.com"), cluster=cl("legacy-grpc", 7000)),
        destination_rule_short_host, "the gateway speaks http/1.1 to outbound|7000||legacy-grpc",
        plain_ports=("legacy-grpc",)),
    "service-prefix-without-its-slash": Plant(
        load_ci(CI["multi-route"]), "gateway-chart",
        Expect(grpc("look-alike", "/shop.v1.OrderServiceX/Get", "api.example.com"), cluster=cl("legacy", 9000)),
        prefix_without_slash, "reached ['outbound|50051||orders.default.svc.cluster.local']"),
    "route-timeout-on-a-stream": Plant(
        load_ci(CI["streaming"]), "gateway-chart",
        Expect(grpc("subscribe", "/chat.v1.Chat/Subscribe", "grpc.example.com"), cluster=cl("chat"), streaming=True),
        timeout_on_stream, "a stream gets route timeout 30s"),
    "preflight-behind-a-content-type-match": Plant(
        load_ci(CI["grpc-web-tls"]), "classic",
        Expect(grpc_web("preflight", "/helloworld.Greeter/SayHello", "api.example.com", ORIGIN, preflight=True),
               cluster=cl("greeter"), timeout="15s", grpc_web=True),
        preflight_behind_content_type, "a route before the match needs headers"),
    "backend-port-istio-does-not-know-as-grpc": Plant(
        load_ci(CI["tls"]), "gateway-chart",
        Expect(grpc("greet", "/helloworld.Greeter/SayHello", "grpc.example.com"), cluster=cl("greeter"), timeout="10s"),
        nothing, "the gateway speaks http/1.1 to outbound|50051||greeter", fixtures_plant=backend_port_not_grpc),
    "relative-patch-without-priority": Plant(
        WEB_TLS, "classic", None, drop_priority, "IST0151"),
    "gateway-port-missing-from-the-service": Plant(
        {"tls": {"enabled": False}, "h2c": {"enabled": True, "port": 80}}, "gateway-chart", None,
        h2c_on_port_8081, "IST0162"),
}


def dump(docs) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False)


@pytest.fixture(scope="module")
def verdicts(helm, istio: IstioHarness):
    """(clean, planted) harness answers for every plant, from one harness process."""
    cases = []
    for name, p in PLANTS.items():
        r = helm.render(for_install(p.values, p.install))
        clean = copy.deepcopy(r.docs)
        p.prepare(clean)
        planted = copy.deepcopy(clean)
        p.plant(planted)
        fixtures = world_for(r.docs, p.install, plain_ports=p.plain_ports)
        planted_fixtures = fixtures
        if p.fixtures_plant:
            fdocs = list(yaml.safe_load_all(fixtures))
            p.fixtures_plant(fdocs)
            planted_fixtures = yaml.safe_dump_all(fdocs, sort_keys=True)
        calls = [p.expect.call] if p.expect else []
        cases.append(istio.case(dump(clean), install=p.install, fixtures=fixtures, calls=calls))
        cases.append(istio.case(dump(planted), install=p.install, fixtures=planted_fixtures, calls=calls))
    answers = istio.run(cases)
    return {name: (answers[2 * i], answers[2 * i + 1]) for i, name in enumerate(PLANTS)}


@pytest.mark.parametrize("name", list(PLANTS))
def test_harness_catches_the_planted_mistake(verdicts, name):
    clean, planted = verdicts[name]
    p = PLANTS[name]
    if p.expect is None:
        assert analysis_problems(clean) == [], "the clean manifests must draw no warning"
        assert p.caught in planted.codes() and analysis_problems(planted) != [], \
            f"the analyzers did not see the planted mistake: {planted.analysis}"
        return
    assert broken_promises(clean, p.expect) == [], "the clean manifests must keep the promise"
    caught = broken_promises(planted, p.expect)
    assert any(p.caught in c for c in caught), f"the harness did not see the planted mistake: {caught}"

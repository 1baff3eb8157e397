"""Kubernetes Gateway API objects through Istio's own Gateway API controller (the harness runs
pilot/pkg/config/kube/gateway inside the fake istiod and simulates the gateway Istio deploys for
the Gateway: a Router proxy labelled gateway.networking.k8s.io/gateway-name, behind the Service
`<name>-istio` that binds the listener ports). Hand-written objects shaped like what the chart's
`api: gateway-api` renders (issue 13), so each fact below is Istio's answer, not the chart's."""
from __future__ import annotations

import copy

import pytest

from support.gateway_api import GATEWAY_API, ISTIO_GATEWAY_NAME_MAX, istio_can_deploy
from support.istio import HarnessError, deployed, gateway_api_install, grpc, grpc_web, prefetch_deployments, world_for
from support.istio_checks import cl
from support.scenarios import connection_filters

NS = "grpc"
GW = "grpc-ingress"
HOST = "grpc.example.com"
ORIGIN = "https://app.example.com"
SAY_HELLO = "/helloworld.Greeter/SayHello"


def gateway(listeners=None, name=GW) -> dict:
    """A Gateway of class istio with one HTTPS listener for HOST (Terminate, Secret grpc-tls)."""
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"gatewayClassName": "istio", "listeners": listeners or [https_listener(HOST)]}}


def https_listener(host: str, secret: str = "grpc-tls", secret_ns: str | None = None, name: str | None = None) -> dict:
    ref = {"group": "", "kind": "Secret", "name": secret, **({"namespace": secret_ns} if secret_ns else {})}
    return {"name": name or "https-" + host.replace(".", "-").replace("*", "wildcard"), "port": 443,
            "protocol": "HTTPS", "hostname": host,
            "tls": {"mode": "Terminate", "certificateRefs": [ref]},
            "allowedRoutes": {"namespaces": {"from": "Same"},
                              "kinds": [{"group": "gateway.networking.k8s.io", "kind": "GRPCRoute"},
                                        {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}]}}


def plain_listener(name: str, port: int, host: str = HOST) -> dict:
    return {"name": name, "port": port, "protocol": "HTTP", "hostname": host,
            "allowedRoutes": {"namespaces": {"from": "Same"}}}


def backend(name="greeter", port=50051, weight=None) -> dict:
    return {"name": name, "port": port, **({"weight": weight} if weight is not None else {})}


def grpc_route(name: str, rules: list[dict], hostnames=(HOST,), section: str | None = None) -> dict:
    spec = {"parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": GW,
                            **({"sectionName": section} if section else {})}],
            "rules": rules}
    if hostnames:
        spec["hostnames"] = list(hostnames)
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GRPCRoute",
            "metadata": {"name": name, "namespace": NS}, "spec": spec}


def http_route(name: str, rules: list[dict], hostnames=(HOST,), section: str | None = None) -> dict:
    r = grpc_route(name, rules, hostnames, section)
    r["kind"] = "HTTPRoute"
    return r


def service_match(service: str, method: str | None = None) -> dict:
    return {"method": {"type": "Exact", "service": service, **({"method": method} if method else {})}}


def backend_service(name="greeter", port=50051, app_protocol: str | None = "grpc", port_name: str | None = None) -> dict:
    p = {"name": port_name or (f"grpc-{port}" if app_protocol else f"legacy-{port}"), "port": port,
         "targetPort": port, "protocol": "TCP", **({"appProtocol": app_protocol} if app_protocol else {})}
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NS},
            "spec": {"selector": {"app": name}, "ports": [p]}}


# Builders of the hand-written cases, (docs, calls), with their arguments: the module's first
# test asks Istio all of them in one harness process (_asked_together), and each test's ask()
# then reads its answer from the session's cache.
_ASKED: list[tuple] = []


def asked(build, *variants: tuple):
    """Registers build(*args) -> (docs, calls) for each args tuple given (none: build())."""
    for args in variants or [()]:
        _ASKED.append((build, args))
    return build


def _case(istio, docs: list[dict], calls) -> dict:
    """docs (the 'render') on the gateway Istio deploys for Gateway GW, as a harness case."""
    return istio.gateway_api_case(docs, namespace=NS, calls=calls)


def ask(istio, docs: list[dict], calls):
    """Istio's answer about docs (answered ahead with the registered cases when registered)."""
    return istio.run([_case(istio, docs, calls)])[0]


@pytest.fixture(scope="module", autouse=True)
def _asked_together(istio):
    built = [build(*args) for build, args in _ASKED]
    prefetch_deployments(docs for docs, _ in built)  # their Gateways' installs: one process
    istio.prefetch([_case(istio, *b) for b in built])


GREET = grpc("greet", SAY_HELLO, HOST)


# --- the gateway itself ------------------------------------------------------------------

def greeter_route(**kw) -> dict:
    return grpc_route("greeter", [{"matches": [service_match("helloworld.Greeter")], "backendRefs": [backend()]}], **kw)


@asked
def one_greeter_route():
    return [gateway(), greeter_route()], [GREET]


def test_the_deployed_gateway_binds_the_listener_port_and_istio_programs_it(istio):
    res = ask(istio, *one_greeter_route())
    assert res.not_accepted() == []
    assert res.conditions("Gateway", GW)["Programmed"]["status"] == "True"
    assert res.attached_routes(GW) == {"https-grpc-example-com": 1}
    got = res.call("greet")
    # The pods bind 443 themselves: no 443 -> 8443 translation as on the classic ingress gateway.
    assert (got["bind_port"], got["listener"]) == (443, "0.0.0.0_443")
    assert got["chain"]["server_names"] == [HOST]
    assert got["chain"]["tls"]["certificate_sds"] == [f"kubernetes-gateway://{NS}/grpc-tls"]
    assert "h2" in got["chain"]["tls"]["alpn"]
    assert res.analysis_at_least("Warning") == []


# Names a YAML reader takes for numbers (decimal, octal, hex, binary, floats), booleans and null,
# and look-alikes it reads as text.
GATEWAY_NAMES = ["123", "0123", "08", "1e3", "1e-3", "0x1f", "0b101", "0o17", "y", "n", "yes", "no", "on", "off", "true",
                 "false", "null", "nan", "e3", "1e", "0x", "x1", "1-2", "1x", "api-123", "on-call", "grpc-ingress"]


def renamed_gateways(helm, names) -> list[dict]:
    """The chart's Gateway for GATEWAY_API, once under each name (what Istio's controller is asked about)."""
    base = helm.render(GATEWAY_API).one("Gateway")
    gateways = []
    for name in names:
        gw = copy.deepcopy(base)
        gw["metadata"]["name"] = name
        gateways.append(gw)
    return gateways


def test_the_chart_refuses_exactly_the_gateway_names_istio_cannot_deploy(helm):
    """Istio's deployment controller (the harness's TestDeploy: DeploymentController rendering
    kube-gateway.yaml) writes the Gateway's name unquoted into the Service's and Deployment's
    ownerReferences and selectors, so a name YAML reads as a number or a boolean becomes one, and
    Kubernetes' own decoding refuses both objects; null decodes to an empty ownerReference name,
    which its validation refuses. A name that starts with a digit but reads as text makes a
    Service <name>-istio that Kubernetes' validation refuses (a Service name is a DNS-1035 label
    unless RelaxedServiceNameValidation is on), while the Deployment is taken. Those are the names
    Istio cannot deploy, and no object is refused for any other name. The chart refuses exactly
    those names (gateway.name), with the reason, whatever Helm reads them with, and renders the
    rest."""
    gateways = renamed_gateways(helm, GATEWAY_NAMES)
    cannot, why = set(), {}
    for name, applied in zip(GATEWAY_NAMES, deployed(gateways)):
        assert applied.warned == [], (name, applied.warned)
        if not applied.refused:
            continue
        cannot.add(name)
        got = {r["kind"]: r for r in applied.refused}
        if sorted(got) == ["Service"]:  # the Deployment is taken: only the Service's name is wrong
            (r,) = got.values()
            assert r["check"] == "validate" and "metadata.name" in r["error"] and "DNS-1035 label" in r["error"], (name, r)
            why[name] = "digit"
            continue
        assert sorted(got) == ["Deployment", "Service"], (name, applied.refused)
        checks = {r["check"] for r in got.values()}
        for r in got.values():
            if r["check"] == "decode":  # server-side apply's conversion names the selector too
                assert "json: cannot unmarshal" in r["error"] and "selector" in r["apply"], (name, r)
            else:
                assert "ownerReferences.name" in r["error"] and "must not be empty" in r["error"], (name, r)
        assert checks in ({"decode"}, {"validate"}), (name, checks)
        why[name] = "typed" if checks == {"decode"} else "empty"
    assert why.pop("null") == "empty"
    # gateway_api_install (the install the suite asks Istio about) refuses such a Gateway with Kubernetes' words.
    with pytest.raises(HarnessError, match=r"Kubernetes' own decoding of the Service 123-istio refuses it: json: cannot "
                                           r"unmarshal number into Go struct field OwnerReference\.metadata\.ownerReferences\.name"):
        gateway_api_install([gateways[GATEWAY_NAMES.index("123")]])
    refused = set()
    for name in GATEWAY_NAMES:
        rc, _, err, _, _ = helm.template({**GATEWAY_API, "gateway": {"name": name}})
        if rc != 0:
            reason = "starts with a digit" if why.get(name) == "digit" else "reads as the YAML "
            assert f'gateway.name: "{name}" {reason}' in err, err
            refused.add(name)
    assert refused == cannot
    # support.gateway_api.expressible renames such Gateways by this reading: it must be Istio's.
    assert {n for n in GATEWAY_NAMES if not istio_can_deploy(n)} == cannot
    assert {"123", "1e3", "0x1f", "yes", "n", "null"} <= cannot and {"nan", "e3", "x1", "api-123", "on-call"}.isdisjoint(cannot)
    assert {n for n, w in why.items() if w == "digit"} == {"0x", "1e", "1-2", "1x"}


# Istio names the gateway's Service and Deployment <gateway>-istio (GetDefaultName in
# pilot/pkg/config/kube/gatewaycommon/gateway_utils.go) and puts that name in the pods' label
# service.istio.io/canonical-name (kube-gateway.yaml); a Service name and a label value take at
# most 63 characters, so a Gateway name takes 57 (support.gateway_api.ISTIO_GATEWAY_NAME_MAX).
LONG_GATEWAY_NAMES = {57: "a" * 57, 58: "a" * 58, 63: "a" * 63}


def test_kubernetes_refuses_istio_s_service_and_deployment_for_a_gateway_name_over_57_characters(helm):
    """Kubernetes' own validation (the harness's kubernetesAnswer) refuses the Service Istio's
    deployment controller applies for a Gateway named with 58 or more characters (its name is
    over 63 characters) and the Deployment (its pods' canonical-name label is over 63 bytes),
    and takes both at 57."""
    answers = dict(zip(LONG_GATEWAY_NAMES, deployed(renamed_gateways(helm, LONG_GATEWAY_NAMES.values()))))
    assert answers[57].refused == [] and answers[57].warned == []
    assert ISTIO_GATEWAY_NAME_MAX == 57
    for length in (58, 63):
        got = {r["kind"]: r for r in answers[length].refused}
        assert sorted(got) == ["Deployment", "Service"] and {r["check"] for r in got.values()} == {"validate"}, got
        assert "metadata.name" in got["Service"]["error"] and "must be no more than 63 characters" in got["Service"]["error"]
        assert ("spec.template.metadata.labels" in got["Deployment"]["error"]
                and "must be no more than 63 bytes" in got["Deployment"]["error"]), got["Deployment"]


def test_a_gateway_name_too_long_for_istio_is_refused_when_given_and_fitted_when_taken_from_the_release(helm):
    """A gateway.name Kubernetes would refuse Istio's Service and Deployment for (58 characters)
    is refused, naming the key and the limit, and 57 renders as given. A name taken from the
    release (45 characters: a full name of 58) is fitted to 57 with a hash, as every name the
    chart makes is fitted to its limit: Istio's deployment controller deploys that Gateway,
    Kubernetes takes everything it applies, and every route attaches to it."""
    helm.render_fails({**GATEWAY_API, "gateway": {"name": LONG_GATEWAY_NAMES[58]}},
                      match=[r'gateway\.name: "a{58}" is 58 characters', r"a{58}-istio \(64 characters\)", "at most 57 characters"])
    given = helm.render({**GATEWAY_API, "gateway": {"name": LONG_GATEWAY_NAMES[57]}}).one("Gateway")
    assert given["metadata"]["name"] == LONG_GATEWAY_NAMES[57]
    render = helm.render(GATEWAY_API, release="r" * 45)
    gw = render.one("Gateway")
    name = gw["metadata"]["name"]
    assert len(name) == ISTIO_GATEWAY_NAME_MAX and name.startswith("r" * 45 + "-gr"), name
    (answer,) = deployed([gw])
    assert answer.refused == [] and answer.warned == [], answer.refused
    attached = {ref["name"] for kind in ("GRPCRoute", "HTTPRoute") for d in render.of_kind(kind) for ref in d["spec"]["parentRefs"]}
    assert attached == {name}


# --- GRPCRoute ---------------------------------------------------------------------------

BACKEND_PORTS = [
    ("grpc", None, "h2"),
    ("kubernetes.io/h2c", None, "h2"),
    (None, "grpc-api", "h2"),            # the port name prefix is enough for Istio
    (None, "api", "http/1.1"),           # istio/istio#46976: GRPCRoute alone does not make it HTTP/2
]


def greeter_behind(app_protocol, port_name):
    return [gateway(), greeter_route(), backend_service(app_protocol=app_protocol, port_name=port_name)], [GREET]


asked(greeter_behind, *[(a, p) for a, p, _ in BACKEND_PORTS])


@pytest.mark.parametrize("app_protocol, port_name, upstream", BACKEND_PORTS)
def test_grpcroute_speaks_http2_upstream_only_when_the_backend_port_says_grpc(istio, app_protocol, port_name, upstream):
    got = ask(istio, *greeter_behind(app_protocol, port_name)).call("greet")
    assert [u["name"] for u in got["upstreams"]] == [cl("greeter", ns=NS)]
    assert got["upstreams"][0]["protocol"] == upstream


@asked
def service_and_lookalikes():
    return [gateway(), greeter_route()], [GREET, grpc("lookalike", "/helloworld.GreeterAdmin/Drop", HOST),
                                          grpc("other", "/other.Service/Call", HOST)]


def test_grpcroute_service_match_is_the_service_not_a_prefix_of_it(istio):
    res = ask(istio, *service_and_lookalikes())
    assert res.call("greet")["upstreams"][0]["name"] == cl("greeter", ns=NS)
    assert res.call("lookalike")["error"] == "no route matched"
    assert res.call("other")["error"] == "no route matched"


@asked
def method_before_service():
    return [gateway(), grpc_route("greeter", [
        {"matches": [service_match("helloworld.Greeter", "SayHello")], "backendRefs": [backend()]},
        {"matches": [service_match("helloworld.Greeter")], "backendRefs": [backend("greeter-rest", 50052)]}])], \
        [GREET, grpc("bye", "/helloworld.Greeter/SayGoodbye", HOST)]


def test_grpcroute_method_match_reaches_only_that_method(istio):
    res = ask(istio, *method_before_service())
    assert res.call("greet")["upstreams"][0]["name"] == cl("greeter", ns=NS)
    assert res.call("bye")["upstreams"][0]["name"] == cl("greeter-rest", 50052, ns=NS)
    assert res.call("greet")["route_match"]["path"] == SAY_HELLO


@asked
def canary_split():
    return [gateway(), grpc_route("greeter", [{"matches": [service_match("helloworld.Greeter")],
                                               "backendRefs": [backend(weight=90), backend("greeter-canary", weight=10)]}])], [GREET]


def test_grpcroute_weighted_backends_split_by_weight(istio):
    got = ask(istio, *canary_split()).call("greet")
    assert {w["name"]: w["weight"] for w in got["weighted_clusters"]} == {
        cl("greeter", ns=NS): 90, cl("greeter-canary", ns=NS): 10}
    assert all(u["found"] and u["protocol"] == "h2" for u in got["upstreams"])


def test_grpcroute_carries_no_timeout_and_istio_default_retries(istio):
    """GRPCRoute has no timeouts, retry or CORS fields (standard channel, Gateway API v1.6): the
    route gets no timeout (good for streams) and Istio's default retry policy, the one a
    VirtualService route without `retries` gets (2 attempts on connect-failure, refused-stream,
    unavailable, cancelled, retriable-status-codes)."""
    got = ask(istio, *one_greeter_route()).call("greet")
    assert got["timeout"] == "0s"
    assert got["retry_policy"]["numRetries"] == 2
    assert got["retry_policy"]["retryOn"] == "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
    assert got["cors"] is None


@asked
def greeter_without_hostnames():
    return [gateway(), greeter_route(hostnames=())], [GREET]


def test_grpcroute_without_hostnames_takes_the_listener_hostname(istio):
    """A route without hostnames attaches to the listener and serves the listener's hostname
    (Gateway API: the intersection is the listener's); on a listener with no hostname it would
    serve every host. The chart always sets hostnames (istio/istio#58877); this pins down what
    Istio does when they are missing."""
    with_hosts = ask(istio, *one_greeter_route())
    without = ask(istio, *greeter_without_hostnames())
    assert with_hosts.call("greet")["upstreams"][0]["name"] == cl("greeter", ns=NS)
    assert without.call("greet")["upstreams"][0]["name"] == cl("greeter", ns=NS)
    assert without.call("greet")["virtual_host"] == with_hosts.call("greet")["virtual_host"]


def h2c_listener_without_hostname(hostnames):
    listener = {k: v for k, v in plain_listener("h2c", 8080).items() if k != "hostname"}
    return [gateway([listener]), greeter_route(hostnames=hostnames)], \
        [grpc("ours", SAY_HELLO, HOST, port=8080, tls=False),
         grpc("stranger", SAY_HELLO, "other.example.org", port=8080, tls=False)]


asked(h2c_listener_without_hostname, ((),), ((HOST,),))


def test_grpcroute_hostnames_are_what_limits_a_listener_without_hostname(istio):
    """On a listener with no hostname (the chart's h2c listener), a route without hostnames
    serves every :authority (virtual host "*"); with hostnames, only those."""
    open_, limited = (ask(istio, *h2c_listener_without_hostname(h)) for h in ((), (HOST,)))
    assert open_.call("stranger")["virtual_host"] == "*:8080"
    assert open_.call("stranger")["upstreams"][0]["name"] == cl("greeter", ns=NS)
    assert limited.call("ours")["upstreams"][0]["name"] == cl("greeter", ns=NS)
    assert limited.call("stranger")["error"] == "no virtual host matched"


@asked
def greeter_for_another_host():
    return [gateway(), greeter_route(hostnames=("other.example.org",))], [GREET]


def test_grpcroute_hostname_outside_the_listener_is_not_accepted(istio):
    res = ask(istio, *greeter_for_another_host())
    (parent,) = res.route_conditions("GRPCRoute", "greeter")
    assert parent["Accepted"]["status"] == "False", parent
    assert parent["Accepted"]["reason"] == "NoMatchingListenerHostname"
    assert res.attached_routes(GW) == {"https-grpc-example-com": 0}
    assert res.call("greet")["error"] == "no route matched"
    assert res.not_accepted()


# --- HTTPRoute: what GRPCRoute lacks ---------------------------------------------------

UNARY_RULES = {"timeout": {"timeouts": {"request": "5s"}},
               "retry": {"retry": {"attempts": 3, "codes": [503], "backoff": "100ms"}},
               "default": {}, "retries-off": {"retry": {"attempts": 0}}}


def unary_httproute(kind: str):
    """An HTTPRoute rule for SayHello with one of UNARY_RULES."""
    return [gateway(), http_route("greeter-unary", [{
        "matches": [{"path": {"type": "Exact", "value": SAY_HELLO}}], "backendRefs": [backend()],
        **UNARY_RULES[kind]}])], [GREET]


asked(unary_httproute, *[(k,) for k in UNARY_RULES])


def test_httproute_request_timeout_becomes_the_route_timeout(istio):
    got = ask(istio, *unary_httproute("timeout")).call("greet")
    assert got["timeout"] == "5s"
    assert got["upstreams"][0]["name"] == cl("greeter", ns=NS) and got["upstreams"][0]["protocol"] == "h2"


def test_httproute_retry_becomes_a_retry_policy(istio):
    """HTTPRoute `retry` is experimental-channel only (Gateway API v1.6.1 standard CRDs have no
    such field, so the API server prunes it there); where the experimental CRD keeps it, Istio
    1.30 converts it (pilot/pkg/config/kube/gateway/conversion.go convertHTTPRoute): attempts,
    retryOn = the connection errors plus each code (Envoy: retriable-status-codes), backoff."""
    got = ask(istio, *unary_httproute("retry")).call("greet")
    assert got["retry_policy"]["numRetries"] == 3
    assert got["retry_policy"]["retryOn"] == "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
    assert got["retry_policy"]["retriableStatusCodes"] == [503]
    assert got["retry_policy"]["retryBackOff"]["baseInterval"] == "0.100s"


def test_httproute_without_retry_gets_istio_default_retries_and_zero_attempts_turn_them_off(istio):
    r_default, r_off = (ask(istio, *unary_httproute(k)).call("greet") for k in ("default", "retries-off"))
    assert r_default["retry_policy"]["numRetries"] == 2
    assert r_off["retry_policy"] is None


@asked
def web_route_with_cors():
    cors = {"allowOrigins": [ORIGIN], "allowMethods": ["POST", "OPTIONS"],
            "allowHeaders": ["content-type", "x-grpc-web", "x-user-agent", "grpc-timeout"],
            "exposeHeaders": ["grpc-status", "grpc-message"], "maxAge": 86400}
    return [gateway(), http_route("greeter-web", [{
        "matches": [{"path": {"type": "PathPrefix", "value": "/helloworld.Greeter/"}}],
        "filters": [{"type": "CORS", "cors": cors}], "backendRefs": [backend()]}])], \
        [grpc_web("web", SAY_HELLO, HOST, ORIGIN), grpc_web("preflight", SAY_HELLO, HOST, ORIGIN, preflight=True)]


def test_httproute_cors_filter_gives_the_grpc_web_cors_policy(istio):
    res = ask(istio, *web_route_with_cors())
    for id in ("web", "preflight"):
        got = res.call(id)
        assert got["cors_from"] == "route"
        assert {"exact": ORIGIN} in got["cors"]["allowOriginStringMatch"]
        assert got["cors"]["allowMethods"] == "POST,OPTIONS"
        assert got["cors"]["exposeHeaders"] == "grpc-status,grpc-message"
        assert got["cors"]["maxAge"] == "86400"
        assert "envoy.filters.http.cors" in got["http_filters"]
    assert res.not_accepted() == []


# --- TLS: certificates and listeners -----------------------------------------------------

def certificate_in_certs(granted: bool):
    grant = {"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
             "metadata": {"name": "grpc-ingress-certs", "namespace": "certs"},
             "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": NS}],
                      "to": [{"group": "", "kind": "Secret", "name": "grpc-tls"}]}}
    return [gateway([https_listener(HOST, secret_ns="certs")]), greeter_route()] + ([grant] if granted else []), [GREET]


asked(certificate_in_certs, (False,), (True,))


def test_certificate_in_another_namespace_needs_a_reference_grant(istio):
    without = ask(istio, *certificate_in_certs(False))
    with_grant = ask(istio, *certificate_in_certs(True))

    refs = without.listener_conditions(GW, "https-grpc-example-com")
    assert (refs["ResolvedRefs"]["status"], refs["ResolvedRefs"]["reason"]) == ("False", "RefNotPermitted")
    assert refs["Programmed"]["status"] == "False"
    assert any("RefNotPermitted" in p for p in without.not_accepted())
    assert without.call("greet")["error"] == "no listener matched", "no chain without the grant"

    assert with_grant.not_accepted() == []
    got = with_grant.call("greet")
    assert got["chain"]["tls"]["certificate_sds"] == ["kubernetes-gateway://certs/grpc-tls"]
    assert got["upstreams"][0]["name"] == cl("greeter", ns=NS)


@asked
def two_https_listeners():
    listeners = [https_listener("grpc.example.com", "grpc-tls"), https_listener("api.example.com", "api-tls")]
    return [gateway(listeners), greeter_route(hostnames=("grpc.example.com", "api.example.com"))], \
        [GREET, grpc("api", SAY_HELLO, "api.example.com"), grpc("stranger", SAY_HELLO, "www.example.com")]


def test_one_https_listener_per_hostname_gives_one_chain_per_sni(istio):
    res = ask(istio, *two_https_listeners())
    chains = {tuple(c["server_names"]): c["tls"]["certificate_sds"] for c in res.listener(443)["filter_chains"]}
    assert chains == {("grpc.example.com",): [f"kubernetes-gateway://{NS}/grpc-tls"],
                      ("api.example.com",): [f"kubernetes-gateway://{NS}/api-tls"]}
    assert res.call("api")["chain"]["server_names"] == ["api.example.com"]
    assert res.call("api")["upstreams"][0]["name"] == cl("greeter", ns=NS)
    assert res.call("stranger")["error"] == "no filter chains matched", "a host no listener names has no chain"
    assert res.attached_routes(GW) == {"https-grpc-example-com": 1, "https-api-example-com": 1}


# --- plaintext: h2c and the redirect -----------------------------------------------------

@asked
def h2c_and_redirect():
    listeners = [https_listener(HOST), plain_listener("h2c", 8080), plain_listener("http-redirect", 80)]
    redirect = http_route("redirect", [{"filters": [{"type": "RequestRedirect", "requestRedirect": {
        "scheme": "https", "statusCode": 301}}]}], section="http-redirect")
    h2c = grpc_route("greeter-h2c", [{"matches": [service_match("helloworld.Greeter")],
                                      "backendRefs": [backend()]}], section="h2c")
    return [gateway(listeners), h2c, redirect], [grpc("h2c", SAY_HELLO, HOST, port=8080, tls=False),
                                                 grpc("to-https", SAY_HELLO, HOST, port=80, tls=False)]


def test_plaintext_http_listener_serves_h2c_and_a_redirect_route_answers_301(istio):
    res = ask(istio, *h2c_and_redirect())
    assert res.not_accepted() == []
    h = res.call("h2c")
    assert (h["listener"], h["chain"]["tls"]) == ("0.0.0.0_8080", None)
    assert h["upstreams"][0]["name"] == cl("greeter", ns=NS) and h["upstreams"][0]["protocol"] == "h2"
    r = res.call("to-https")
    assert r["redirect"]["schemeRedirect"] == "https"
    assert r["redirect"].get("responseCode") in (None, "MOVED_PERMANENTLY")
    assert r["upstreams"] == []


# --- gRPC-Web on HTTPS: the EnvoyFilter on the deployed gateway's pods ---------------------

def grpc_web_filter(port: int = 443, label: str = "gateway.networking.k8s.io/gateway-name", value: str = GW,
                    sni: str = HOST) -> dict:
    return {"apiVersion": "networking.istio.io/v1alpha3", "kind": "EnvoyFilter",
            "metadata": {"name": "grpc-ingress-grpc-web", "namespace": NS},
            "spec": {"workloadSelector": {"labels": {label: value}}, "priority": 10, "configPatches": [{
                "applyTo": "HTTP_FILTER",
                "match": {"context": "GATEWAY", "listener": {
                    "portNumber": port, "filterChain": {"sni": sni, "filter": {
                        "name": "envoy.filters.network.http_connection_manager",
                        "subFilter": {"name": "envoy.filters.http.grpc_stats"}}}}},
                "patch": {"operation": "INSERT_BEFORE", "value": {
                    "name": "envoy.filters.http.grpc_web", "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.http.grpc_web.v3.GrpcWeb"}}}}]}}


def web_route_behind(filter_kw: dict):
    cors = {"allowOrigins": [ORIGIN], "allowMethods": ["POST", "OPTIONS"],
            "allowHeaders": ["content-type", "x-grpc-web"]}
    return [gateway(), grpc_web_filter(**filter_kw), http_route("greeter-web", [{
        "matches": [{"path": {"type": "PathPrefix", "value": "/helloworld.Greeter/"}}],
        "filters": [{"type": "CORS", "cors": cors}], "backendRefs": [backend()]}])], [grpc_web("web", SAY_HELLO, HOST, ORIGIN)]


FILTER_VARIANTS = [
    pytest.param({}, True, id="as the chart renders it"),
    pytest.param({"port": 8443}, False, id="on a bind port the gateway does not have (8443)"),
    pytest.param({"label": "istio", "value": "ingressgateway"}, False, id="selecting the classic istio=ingressgateway pods"),
]
asked(web_route_behind, *[(v.values[0],) for v in FILTER_VARIANTS])


@pytest.mark.parametrize("filter_kw, lands", FILTER_VARIANTS)
def test_grpc_web_envoyfilter_lands_before_grpc_stats_on_the_deployed_gateway(istio, filter_kw, lands):
    res = ask(istio, *web_route_behind(filter_kw))
    filters = res.call("web")["http_filters"]
    if lands:
        assert filters.index("envoy.filters.http.grpc_web") == filters.index("envoy.filters.http.grpc_stats") - 1, filters
    else:
        assert "envoy.filters.http.grpc_web" not in filters
    assert not res.refused()


# --- the chart's two outputs, compared through Istio ------------------------------------------
# Every scenario of test_istio_scenarios.py, rendered with the default api (on the classic
# istio-ingressgateway) and with api: gateway-api (on the gateway Istio deploys for the rendered
# Gateway): the scenario's calls must behave the same. Scenarios whose values the Gateway API
# cannot express are compared on the nearest values both express (support/gateway_api.py
# variant), in both modes.

from support.gateway_api import GATEWAY_API, variant  # noqa: E402
from support.istio import INSTALLS, for_install  # noqa: E402
from support.both_apis import DIFFERENCES, ISTIO_DEFAULT_RETRIES, behaviour, differences  # noqa: E402
from support.istio_checks import analysis_problems  # noqa: E402
from test_istio_scenarios import CI_NAMES, SCENARIOS  # noqa: E402

# The platform team's Gateway that existing-gateway attaches its route to (gatewayApi.parentRefs
# istio-ingress/shared-gateway), as the Istio mode's fixtures give it a shared Istio Gateway.
SHARED_GATEWAY = {
    "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
    "metadata": {"name": "shared-gateway", "namespace": "istio-ingress"},
    "spec": {"gatewayClassName": "istio", "listeners": [{
        "name": "https", "port": 443, "protocol": "HTTPS", "hostname": "payments.example.com",
        "tls": {"mode": "Terminate", "certificateRefs": [{"name": "shared-gateway-tls"}]},
        "allowedRoutes": {"namespaces": {"from": "All"}}}]}}


def scenario_values(name: str):
    sc = SCENARIOS[name]
    return variant(CI_NAMES[sc.values].name) if isinstance(sc.values, str) else sc.values


@pytest.fixture(scope="module")
def both_apis(helm, istio):
    """{scenario: (Istio-mode answer, Gateway-API-mode answer)}, one harness process."""
    cases, names = [], []
    gapis = {name: helm.render({**(scenario_values(name) or {}), **GATEWAY_API}, release=sc.release, namespace=sc.namespace)
             for name, sc in SCENARIOS.items()}
    platforms = {name: [SHARED_GATEWAY] if sc.shared_gateway_hosts else [] for name, sc in SCENARIOS.items()}
    prefetch_deployments(gapis[n].docs + platforms[n] for n in SCENARIOS)  # their installs: one process
    for name, sc in SCENARIOS.items():
        values = scenario_values(name)
        calls = [e.call for e in sc.expects]
        classic = helm.render(for_install(values, "classic"), release=sc.release, namespace=sc.namespace)
        cases.append(istio.case(classic.stdout, install="classic", namespace=sc.namespace, calls=calls,
                                fixtures=world_for(classic.docs, "classic", plain_ports=sc.plain_ports,
                                                   shared_gateway_hosts=sc.shared_gateway_hosts)))
        gapi = gapis[name]
        cases.append(istio.gateway_api_case(gapi.docs, gapi.stdout, platform=platforms[name],
                                            plain_ports=sc.plain_ports, namespace=sc.namespace, calls=calls))
        names.append(name)
    answers = istio.run(cases)
    return {n: (answers[2 * i], answers[2 * i + 1]) for i, n in enumerate(names)}


COMPARED_CALLS = [pytest.param(n, e.call.id, id=f"{n}/{e.call.id}") for n, sc in SCENARIOS.items() for e in sc.expects]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_gateway_api_render_is_accepted_and_quiet(both_apis, name):
    """Istio's controller accepts and programs every Gateway, listener and route parent of the
    gateway-api render, its webhook admits the Istio objects, its analyzers warn about nothing."""
    _, gapi = both_apis[name]
    assert gapi.not_accepted() == []
    assert gapi.refused() == []
    assert analysis_problems(gapi) == []
    assert gapi.xds_invalid == []


@pytest.mark.parametrize("name,call", COMPARED_CALLS)
def test_call_behaves_the_same_with_either_api(both_apis, name, call):
    """Same cluster, HTTP/2, timeout, CORS, gRPC-Web, TLS and redirect; only the documented
    differences, each exactly as documented."""
    classic, gapi = both_apis[name]
    diff = differences(behaviour(classic, call), behaviour(gapi, call))
    undocumented = {k: v for k, v in diff.items() if k not in DIFFERENCES or v[1] != DIFFERENCES[k][0]}
    assert undocumented == {}, "(istio value, gateway-api value) per aspect"


@pytest.mark.parametrize("aspect", list(DIFFERENCES))
def test_documented_difference_still_exists(both_apis, aspect):
    found = [(n, e.call.id) for n, sc in SCENARIOS.items() for e in sc.expects
             if aspect in differences(behaviour(both_apis[n][0], e.call.id), behaviour(both_apis[n][1], e.call.id))]
    assert found, f"no call differs in {aspect} any more: drop it from DIFFERENCES"


def test_a_planted_difference_in_the_gateway_api_render_is_caught(helm, istio, both_apis):
    """The comparison can fail: the tls scenario's gateway-api render with the route's timeout
    changed (10s -> 11s) and its backend port changed (50051 -> 50052) differs in exactly those;
    with the client-connection EnvoyFilter aimed at 8443 (the classic pods' port, not the 443
    the deployed Gateway API pods bind) the call's connection manager loses the chart's HTTP/2
    keepalive and request timeout."""
    sc = SCENARIOS["tls"]
    gapi = helm.render({**scenario_values("tls"), **GATEWAY_API}, release=sc.release, namespace=sc.namespace)
    docs = copy.deepcopy(gapi.docs)
    (route,) = [d for d in docs if d["kind"] in ("GRPCRoute", "HTTPRoute")]
    rule = route["spec"]["rules"][0]
    assert rule["timeouts"]["request"] == "10s"
    rule["timeouts"]["request"] = "11s"
    rule["backendRefs"][0]["port"] = 50052
    moved = copy.deepcopy(gapi.docs)
    (conn,) = connection_filters(moved)
    for patch in conn["spec"]["configPatches"]:
        assert patch["match"]["listener"]["portNumber"] == 443
        patch["match"]["listener"]["portNumber"] = 8443
    planted, wrong_port = istio.run([istio.gateway_api_case(d, namespace=sc.namespace, calls=[e.call for e in sc.expects])
                                     for d in (docs, moved)])
    diff = differences(behaviour(both_apis["tls"][0], "greet"), behaviour(planted, "greet"))
    assert {k for k in diff if k not in DIFFERENCES} == {"timeout", "upstreams"}
    assert diff["timeout"] == ("10s", "11s")
    diff = differences(behaviour(both_apis["tls"][0], "greet"), behaviour(wrong_port, "greet"))
    assert {k for k in diff if k not in DIFFERENCES} == {"hcm.http2_protocol_options", "hcm.request_timeout"}, diff
    assert diff["hcm.http2_protocol_options"] == ({"connectionKeepalive": {"interval": "60s", "timeout": "20s"}}, None)


# --- retries: the chart's policy per route through the retries EnvoyFilter ----------------------

RETRY_VALUES = {
    "hosts": [HOST],
    "retries": {"unary": {"attempts": 3, "perTryTimeout": "1500ms", "retryOn": "unavailable,503"}},
    "routes": [
        {"name": "greet", "methods": ["helloworld.Greeter/SayHello"], "backend": {"host": "greeter", "port": 50051}},
        {"name": "chat", "services": ["chat.Chat"], "streaming": True, "backend": {"host": "chat", "port": 50051}},
        {"name": "pay", "services": ["pay.Pay"], "timeout": "5s", "backend": {"host": "pay", "port": 50051},
         "retries": {"attempts": 4, "retryOn": "connect-failure,refused-stream,cancelled"}},
    ],
}
RETRY_CALLS = [grpc("greet", SAY_HELLO, HOST), grpc("chat", "/chat.Chat/Talk", HOST), grpc("pay", "/pay.Pay/Charge", HOST)]


def _retries_filter(docs: list[dict]) -> dict:
    (ef,) = [d for d in docs if d["kind"] == "EnvoyFilter" and d["metadata"]["name"].endswith("-retries")]
    return ef


def _zero_the_stream_s_retries(docs: list[dict]) -> list[dict]:
    """The retries EnvoyFilter's MERGE for the streaming policy (attempts 1) with num_retries 0."""
    docs = copy.deepcopy(docs)
    zeroed = 0
    for patch in _retries_filter(docs)["spec"]["configPatches"]:
        policy = patch["patch"]["value"]["route"]["retry_policy"]
        if policy.get("num_retries") == 1:
            policy["num_retries"] = 0
            zeroed += 1
    assert zeroed == 1, _retries_filter(docs)["spec"]["configPatches"]
    return docs


@pytest.fixture(scope="module")
def retries(helm, istio):
    """RETRY_VALUES asked of Istio in one harness process: {"istio": the Istio mode's answer,
    "render": the gateway-api render, and its answers as rendered ("gateway-api"), without the
    retries EnvoyFilter ("dropped") and with the stream's num_retries zeroed ("zeroed")}."""
    classic = helm.render(for_install(RETRY_VALUES, "classic"), namespace=NS)
    r = helm.render({**RETRY_VALUES, **GATEWAY_API}, namespace=NS)
    dropped = [d for d in r.docs if d is not _retries_filter(r.docs)]
    assert len(dropped) == len(r.docs) - 1
    variants = {"gateway-api": r.docs, "dropped": dropped, "zeroed": _zero_the_stream_s_retries(r.docs)}
    cases = [istio.case(classic.stdout, install="classic", namespace=NS, calls=RETRY_CALLS,
                        fixtures=world_for(classic.docs, "classic"))]
    for docs in variants.values():
        cases.append(_case(istio, docs, RETRY_CALLS))
    answers = istio.run(cases)
    return {"istio": answers[0], "render": r, **dict(zip(variants, answers[1:]))}


def test_custom_retries_reach_istios_route_config_as_in_the_istio_mode(retries):
    """Chart-wide and route retries in gateway-api mode: each route Istio builds from the chart's
    GRPCRoute/HTTPRoute rules carries the very retry policy the Istio mode's VirtualService gets
    (ConvertPolicy), matched by the rule's name, which Istio gives the Envoy route."""
    want, r, got = retries["istio"], retries["render"], retries["gateway-api"]
    assert got.refused() == [] and analysis_problems(got) == [] and got.xds_invalid == []
    rules = {rule["name"] for d in r.docs if d["kind"] in ("GRPCRoute", "HTTPRoute") for rule in d["spec"]["rules"]}
    for call in ("greet", "chat", "pay"):
        assert got.call(call)["route"] in rules, got.call(call)["route"]
        assert behaviour(got, call)["retries"] == behaviour(want, call)["retries"], call
    assert behaviour(got, "greet")["retries"] == {
        "numRetries": 3, "retryOn": "unavailable,retriable-status-codes", "retriableStatusCodes": [503],
        "perTryTimeout": "1.500s", "retryBackOff": None}
    assert behaviour(got, "chat")["retries"] == {
        "numRetries": 1, "retryOn": "connect-failure,refused-stream", "retriableStatusCodes": None,
        "perTryTimeout": None, "retryBackOff": None}
    assert behaviour(got, "pay")["retries"]["numRetries"] == 4


def test_without_the_retries_envoyfilter_a_stream_gets_istios_default_policy(retries):
    """Planted: the same render with the retries EnvoyFilter dropped. The stream then gets Istio's
    default policy, which retries unavailable and cancelled and can replay it: the filter is what
    keeps streams to connect-failure,refused-stream."""
    got = retries["dropped"]
    assert behaviour(got, "chat")["retries"] == ISTIO_DEFAULT_RETRIES
    assert behaviour(got, "greet")["retries"] == ISTIO_DEFAULT_RETRIES


def kinds_by_age(older: str):
    """A GRPCRoute catch-all and an HTTPRoute method rule on one hostname, the older first."""
    catch_all = grpc_route("catch-all", [{"backendRefs": [backend("fallback")]}])
    method = http_route("method", [{"matches": [{"path": {"type": "Exact", "value": SAY_HELLO}}],
                                    "backendRefs": [backend("greeter")]}])
    early, late = "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"
    catch_all["metadata"]["creationTimestamp"] = early if older == "grpcroute" else late
    method["metadata"]["creationTimestamp"] = late if older == "grpcroute" else early
    return [gateway(), catch_all, method, backend_service("greeter"), backend_service("fallback")], \
        [grpc("hello", SAY_HELLO, HOST), grpc("other", "/helloworld.Greeter/Other", HOST)]


asked(kinds_by_age, ("grpcroute",), ("httproute",))


@pytest.mark.parametrize("older", ["grpcroute", "httproute"])
def test_grpcroute_and_httproute_on_one_hostname_merge_and_order_by_match_not_creation(istio, older):
    """Istio 1.30 merges a hostname's GRPCRoute and HTTPRoute rules into one VirtualService and
    sorts them by match (istio/istio#59222: controller.go httpAndGrpcVS, mergeHTTPRoutes and
    sortHTTPRoutes in route_collections.go): an HTTPRoute method rule wins over a GRPCRoute
    catch-all, whichever is older, and both serve. The chart mixes kinds on 1.30 (and on 1.24
    and 1.25, which merged them too), and on 1.26 to 1.29 keeps a release's routes one kind
    (_gatewayapi.tpl: one-kind)."""
    res = ask(istio, *kinds_by_age(older))
    assert res.not_accepted() == []
    assert [u["name"] for u in res.call("hello")["upstreams"]] == [cl("greeter", ns=NS)]
    assert [u["name"] for u in res.call("other")["upstreams"]] == [cl("fallback", ns=NS)]
    # The premise, asked of Istio rather than assumed of the fake cluster: the controller saw the
    # creation times as written. mergeHTTPRoutes sorts the routes oldest first
    # (sortRoutesByCreationTime: time, then namespace/name), takes the oldest as the base (its
    # creation time) and lists each route's parent after it. Were the times lost, the tie would
    # put catch-all (first by name) first in both orders.
    merged = [g for g in res.gateway_api["generated"] if g["kind"] == "VirtualService"]
    assert len(merged) == 1, merged
    first, second = ("GRPCRoute/catch-all", "HTTPRoute/method") if older == "grpcroute" else \
        ("HTTPRoute/method", "GRPCRoute/catch-all")
    assert merged[0]["annotations"]["internal.istio.io/parents"] == f"{first}.{NS},{second}.{NS}"
    assert merged[0]["creationTimestamp"] == "2026-01-01T00:00:00Z"


def test_a_merge_of_zero_retries_leaves_istios_default_policy(retries):
    """Why attempts: 0 is refused with api: gateway-api: planted, the chart's retries EnvoyFilter
    with num_retries 0 on the stream's route. Istio's MERGE (Merge in pkg/proto/merge/merge.go)
    skips zero values, so the route keeps the default policy's 2 attempts and its retry_on,
    which replays streams, instead of none."""
    got = retries["zeroed"]
    assert behaviour(got, "chat")["retries"]["numRetries"] == ISTIO_DEFAULT_RETRIES["numRetries"] == 2
    assert behaviour(got, "chat")["retries"]["retryOn"] == "connect-failure,refused-stream", \
        "the retry_on the MERGE wrote stays: only the zero is skipped"
    assert behaviour(got, "pay")["retries"]["numRetries"] == 4, "the other routes keep theirs"

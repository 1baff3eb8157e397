"""What a gateway call must do, checked against the Istio harness's answer: shared by the
scenario tests (test_istio_scenarios.py) and the planted-mistake tests (test_istio_planted.py)."""
from __future__ import annotations

from dataclasses import dataclass, field

from support.istio import Call, IstioHarness


def cl(host: str, port: int = 50051, subset: str = "", ns: str = "default") -> str:
    """Istio's outbound cluster name for a Service port (and subset)."""
    return f"outbound|{port}|{subset}|{host}.{ns}.svc.cluster.local"


NO_ROUTE = "no route matched"
NO_LISTENER = "no listener matched"
REDIRECT = "tls required, sending 301"


@dataclass(frozen=True)
class Expect:
    """What one call must do. cluster / weighted: where it goes (over HTTP/2); error: the
    simulation's verdict instead; timeout: the route timeout ("none" for streams); grpc_web: the
    chain has grpc_web and the route CORS; plaintext: the chain terminates no TLS; xfail: install
    name -> known-bug reason."""
    call: Call
    cluster: str = ""
    weighted: dict = field(default_factory=dict)
    error: str = ""
    timeout: str | None = None
    streaming: bool = False
    retries: int | None = None
    grpc_web: bool = False
    plaintext: bool = False
    certificate: str = ""
    xfail: dict = field(default_factory=dict)


# Istio's webhook warns about every EnvoyFilter (pkg/config/validation: "EnvoyFilter exposes
# internal implementation details ..."), and the analyzers repeat it as IST0133. An EnvoyFilter is
# the only way to get grpc_web on HTTPS servers (README), so that one message, word for word, is
# accepted; any other IST0133 is not.
ENVOYFILTER_WARNING = ("EnvoyFilter exposes internal implementation details that may change at any time. "
                       "Prefer other APIs if possible, and exercise extreme caution, especially around upgrades.")


def accepted(msg: dict) -> bool:
    return (msg["code"] == "IST0133" and msg["resource"].startswith("EnvoyFilter ")
            and msg["message"] == "Schema validation warning: " + ENVOYFILTER_WARNING)


def broken_promises(res, expect: Expect) -> list[str]:
    """Every way the call breaks what its Expect promises ([] when it keeps them all). The
    planted-mistake tests (test_istio_planted.py) run the same check on broken manifests."""
    got = res.call(expect.call.id)
    where = f"{expect.call.id} ({expect.call.path} on {expect.call.authority}:{expect.call.port})"
    out = []

    def check(ok, msg):
        if not ok:
            out.append(f"{where}: {msg}")

    if expect.error:
        check(got.get("error", "") == expect.error, f"expected {expect.error!r}, got {got.get('error')!r} "
                                                    f"(route {got.get('route')}, upstreams {got['upstreams']})")
    else:
        if got.get("error"):
            return [f"{where}: did not reach a route: {got['error']} "
                    f"(listeners: {[l['name'] for l in res.listeners]})"]
        check(got["path_only"], "a route before the match needs headers; the path-only answer may be wrong")
        if expect.cluster:
            check([u["name"] for u in got["upstreams"]] == [expect.cluster],
                  f"reached {[u['name'] for u in got['upstreams']]}, not {expect.cluster}")
        if expect.weighted:
            check({w["name"]: w["weight"] for w in got["weighted_clusters"]} == expect.weighted,
                  f"split {got['weighted_clusters']}, not {expect.weighted}")
        for u in got["upstreams"]:
            check(u["found"], f"the gateway has no cluster {u['name']} (Envoy answers 503 NC)")
            check(not u["found"] or u["protocol"] == "h2", f"the gateway speaks {u.get('protocol')} to {u['name']}, not HTTP/2")
        if expect.streaming:
            # A route timeout ends every stream; Envoy reads 0s as none.
            check(got["timeout"] in (None, "0s"), f"a stream gets route timeout {got['timeout']}")
            check(got.get("max_stream_duration") in (None, {}), f"a stream gets {got.get('max_stream_duration')}")
            check(got["hcm"]["stream_idle_timeout"] in (None, "0s"),
                  f"streams idle out after {got['hcm']['stream_idle_timeout']}")
        else:
            check(got["timeout"] == (expect.timeout or "0s"), f"route timeout {got['timeout']}, not {expect.timeout}")
        if expect.retries is not None:
            check((got["retry_policy"] or {}).get("numRetries") == expect.retries,
                  f"retries {got['retry_policy']}, not {expect.retries}")
    if expect.plaintext:
        check(got["chain"] is not None and got["chain"]["tls"] is None, "not on a plaintext chain")
        check(got["listener"] == f"0.0.0.0_{got['bind_port']}", f"listener {got['listener']}")
    elif expect.call.tls == "tls" and not expect.error:
        check("h2" in got["chain"]["tls"]["alpn"], "the TLS chain does not offer h2 by ALPN")
    if expect.certificate:
        check(got["chain"]["tls"]["certificate_sds"] == [expect.certificate],
              f"certificate {got['chain']['tls']['certificate_sds']}, not {expect.certificate}")
    if expect.grpc_web:
        filters = got["http_filters"]
        check("envoy.filters.http.grpc_web" in filters, f"no grpc_web on the chain: {filters}")
        check("envoy.filters.http.grpc_web" not in filters
              or filters.index("envoy.filters.http.grpc_web") < filters.index("envoy.filters.http.router"),
              f"grpc_web after the router: {filters}")
        check("envoy.filters.http.cors" in filters, f"no CORS filter: {filters}")
        cors = got["cors"] or {}
        check(cors.get("allowMethods") == "POST,OPTIONS", f"no gRPC-Web CORS on the route: {cors}")
        origin = dict(expect.call.headers)["origin"]
        check({"exact": origin} in cors.get("allowOriginStringMatch", []), f"origin {origin} not allowed: {cors}")
    return out


def analysis_problems(res) -> list[str]:
    """Analyzer messages of level Warning or Error, but the one every EnvoyFilter draws."""
    return [m["text"] for m in res.analysis_at_least("Warning") if not accepted(m)]


def ask_paths(helm, istio: IstioHarness, cases: dict[str, tuple[dict, dict[str, str]]]) -> dict:
    """{name: (values, {call id: path})} -> {name: Result}: each values set rendered, and each
    path called as gRPC on the values' first host through the listener that serves routes (HTTPS
    on tls.port by default), on the world the values presume (support.istio_promises.Plan: the
    gateway install they name), all in one harness process. Read the answers with
    reached(result, id)."""
    from support.istio_promises import Plan  # it imports this module

    batch = []
    for values, paths in cases.values():
        plan = Plan(values, "grpc-ingress", "default")
        render = helm.render(values)
        batch.append(plan.case(render, calls=[plan.call(id, path) for id, path in paths.items()]))
    return dict(zip(cases, istio.run(batch)))


def reached(res, id: str) -> dict[str, int] | None:
    """Where a call went, as {cluster: percent of the calls} (a lone cluster takes 100), or None
    when no route matched (Istio answers 404). Fails when the simulation's path-only answer could
    be wrong or the call went wrong otherwise."""
    got = res.call(id)
    if got.get("error") == NO_ROUTE:
        return None
    assert not got.get("error"), f"{id}: {got['error']}"
    assert got["path_only"], f"{id}: a route before the match needs headers; the path-only answer may be wrong"
    return shares(got)


def shares(got: dict) -> dict[str, int]:
    """Where a routed call's answer (res.call(id)) sends it, as {cluster: percent of the calls}:
    the weighted clusters that get any, or 100 for each upstream."""
    if got["weighted_clusters"]:
        return {w["name"]: w["weight"] for w in got["weighted_clusters"] if w["weight"]}
    return {u["name"]: 100 for u in got["upstreams"]}


def case_for(helm, istio: IstioHarness, values: dict, calls, release: str = "grpc-ingress", namespace: str = "default"):
    """(render, harness case) for values on the gateway they presume: with api: gateway-api the
    gateway Istio deploys for the render's Gateway (support.istio.gateway_api_install), else the
    stock install gateway.install names (support.istio_promises.Plan). Answer many with istio.run."""
    from support.istio_promises import Plan  # it imports this module

    render = helm.render(values, release=release, namespace=namespace)
    if values.get("api") == "gateway-api":
        return render, istio.gateway_api_case(render.docs, render.stdout, namespace=namespace, calls=list(calls))
    return render, Plan(values, release, namespace).case(render, calls=list(calls))

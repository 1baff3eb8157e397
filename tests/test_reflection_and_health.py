"""Reflection and health pass-through: once routes are per service, nothing routes gRPC server
reflection (grpcurl list/describe) or the health service; reflection.* and health.* route each
to a backend the user names. (What the helm test Pod and NOTES call: test_install_checks.)"""
from __future__ import annotations

import copy

import pytest
import yaml

from support.bad_input import assert_refused, bad_values
from support.istio import for_install, grpc, world_for
from support.istio_checks import NO_ROUTE, Expect, analysis_problems, ask_paths, broken_promises, cl, reached
from support.mutations import assert_edits_refused, edits, fresh_service, new_route, path_re

REFLECTION_V1 = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
REFLECTION_V1ALPHA = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
HEALTH_CHECK = "/grpc.health.v1.Health/Check"
HEALTH_WATCH = "/grpc.health.v1.Health/Watch"

PER_SERVICE = {"hosts": ["api.example.com"],
               "routes": [{"name": "orders", "services": ["shop.v1.OrderService"], "timeout": "5s",
                           "backend": {"host": "orders", "port": 50051}},
                          {"name": "legacy", "prefix": "/", "backend": {"host": "legacy", "port": 9000}}]}
BOTH = {**PER_SERVICE, "reflection": {"enabled": True, "backend": {"host": "orders", "port": 50051}},
        "health": {"enabled": True, "backend": {"host": "orders-health", "port": 8081}}}


def test_reflection_is_off_by_default(default_render):
    names = [e["name"] for e in default_render.one("VirtualService")["spec"]["http"]]
    assert "grpc-reflection" not in names and "grpc-health" not in names


@pytest.fixture(scope="module")
def both(helm, istio):
    """BOTH's paths, through Istio's simulation of the gateway (support.istio_checks.ask_paths)."""
    return ask_paths(helm, istio, {"both": (BOTH, {
        "reflection-v1": REFLECTION_V1, "reflection-v1alpha": REFLECTION_V1ALPHA, "health-check": HEALTH_CHECK,
        "health-watch": HEALTH_WATCH, "look-alike": "/grpc.reflection.v1.ServerReflectionX/Info",
        "orders": "/shop.v1.OrderService/Get"})})["both"]


def test_reflection_and_health_reach_their_backends_before_any_raw_or_catch_all_route(both):
    for id in ("reflection-v1", "reflection-v1alpha"):
        assert reached(both, id) == {cl("orders"): 100}, id
    for id in ("health-check", "health-watch"):
        assert reached(both, id) == {cl("orders-health", 8081): 100}, id
    assert reached(both, "look-alike") == {cl("legacy", 9000): 100}, "service prefixes keep their slash"
    assert reached(both, "orders") == {cl("orders"): 100}


def test_reflection_and_health_routes_are_streams(both):
    """ServerReflectionInfo is a bidi stream and Health/Watch a server stream: no route timeout,
    and the streaming retry policy (only calls that never reached the application: Envoy would
    replay a buffered stream the backend answers before its headers)."""
    for id in ("reflection-v1", "health-watch"):
        got = both.call(id)
        assert got["timeout"] in (None, "0s") and not got.get("max_stream_duration"), id
        assert got["retry_policy"]["numRetries"] == 1, id
        assert got["retry_policy"]["retryOn"] == "connect-failure,refused-stream", id


def test_pass_through_backends_get_the_chart_wide_and_streaming_policies(helm):
    r = helm.render({**BOTH, "trafficPolicy": {"connectTimeout": "2s"}, "streaming": {"idleTimeout": "2h"}})
    dr = {d["spec"]["host"]: d["spec"]["trafficPolicy"] for d in r.of_kind("DestinationRule")}
    assert dr["orders-health.default.svc.cluster.local"]["connectionPool"] == {"http": {"idleTimeout": "2h"}, "tcp": {"connectTimeout": "2s"}}


# --- bad input --------------------------------------------------------------------------------

BAD_VALUES = [
    ("reflection-without-backend", {"reflection": {"enabled": True}}, [r"reflection\.backend\.host", r"reflection\.enabled"]),
    ("health-without-backend", {"health": {"enabled": True, "backend": {"port": 8081}}}, [r"health\.backend\.host"]),
    ("health-backend-host-with-scheme", {"health": {"enabled": True, "backend": {"host": "http://health", "port": 1}}},
     [r"health\.backend\.host"]),
    ("reflection-backend-port-0", {"reflection": {"enabled": True, "backend": {"host": "r", "port": 0}}},
     [r"reflection\.backend\.port"]),
    ("health-service-also-in-a-route", {**BOTH, "routes": PER_SERVICE["routes"] + [
        {"name": "own-health", "services": ["grpc.health.v1.Health"], "backend": {"host": "h", "port": 1}}]},
     [r"routes\.2\.services", r"grpc\.health\.v1\.Health", r"health\.enabled"]),
    ("reflection-method-also-in-a-route", {**BOTH, "routes": PER_SERVICE["routes"] + [
        {"name": "own-reflection", "methods": ["grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"],
         "backend": {"host": "h", "port": 1}}]},
     [r"routes\.2\.methods", r"reflection\.enabled"]),
    ("route-named-like-the-health-route", {**BOTH, "routes": [{"name": "grpc-health", "backend": {"host": "h", "port": 1}}]},
     [r"routes\.0\.name", r"grpc-health"]),
    ("unknown-key", {"reflection": {"enabled": True, "backend": {"host": "r", "port": 1}, "services": ["x.Y"]}},
     [r"reflection", r"services"]),
]


@pytest.mark.parametrize("values,match", bad_values(BAD_VALUES))
def test_bad_values_are_refused_naming_the_key(helm, values, match):
    assert_refused(helm, values, match)


def m_health_service_claimed_twice(v, rnd):
    v["health"] = {"enabled": True, "backend": {"host": "health-host", "port": 50051}}
    j = new_route(v, services=[fresh_service(v, "hc"), "grpc.health.v1.Health"], backend={"host": "h", "port": 1})
    return [path_re("routes", j, "services"), "health.enabled"]


def m_reflection_without_backend(v, rnd):
    v["reflection"] = {"enabled": True, "backend": {"host": ""}}
    return [path_re("reflection", "backend", "host")]


@pytest.mark.parametrize("mutation", edits(m_health_service_claimed_twice, m_reflection_without_backend))
def test_bad_edits_of_valid_values_are_refused_naming_the_key(helm, mutation_bases, mutation):
    assert_edits_refused(helm, mutation, mutation_bases)


# --- what Istio makes of it ---------------------------------------------------------------------

INSTALLS = ("classic", "gateway-chart")
NO_CATCH_ALL = {**BOTH, "routes": PER_SERVICE["routes"][:1]}
EXPECTS = (
    Expect(grpc("reflection-v1", REFLECTION_V1, "api.example.com"), cluster=cl("orders"), streaming=True, retries=1),
    Expect(grpc("reflection-v1alpha", REFLECTION_V1ALPHA, "api.example.com"), cluster=cl("orders"), streaming=True),
    Expect(grpc("health-check", HEALTH_CHECK, "api.example.com"), cluster=cl("orders-health", 8081), streaming=True),
    Expect(grpc("health-watch", HEALTH_WATCH, "api.example.com"), cluster=cl("orders-health", 8081), streaming=True),
    Expect(grpc("orders", "/shop.v1.OrderService/Get", "api.example.com"), cluster=cl("orders"), timeout="5s"),
)


def without_reflection_route(docs):
    docs = copy.deepcopy(docs)
    vs = next(d for d in docs if d["kind"] == "VirtualService")
    vs["spec"]["http"] = [e for e in vs["spec"]["http"] if e["name"] != "grpc-reflection"]
    return docs


@pytest.fixture(scope="module")
def verdicts(helm, istio):
    calls = [e.call for e in EXPECTS]
    cases = []
    for install in INSTALLS:
        r = helm.render(for_install(NO_CATCH_ALL, install))
        fixtures = world_for(r.docs, install)
        cases.append(istio.case(r.stdout, install=install, fixtures=fixtures, calls=calls))
        cases.append(istio.case(yaml.safe_dump_all(without_reflection_route(r.docs)), install=install,
                                fixtures=fixtures, calls=calls))
    answers = istio.run(cases)
    return {install: (answers[2 * i], answers[2 * i + 1]) for i, install in enumerate(INSTALLS)}


@pytest.mark.parametrize("install", INSTALLS)
def test_istio_routes_reflection_and_health_to_their_backends(verdicts, install):
    res, _ = verdicts[install]
    assert res.refused() == [] and res.xds_invalid == [] and analysis_problems(res) == []
    for expect in EXPECTS:
        assert broken_promises(res, expect) == []


@pytest.mark.parametrize("install", INSTALLS)
def test_a_missing_reflection_route_is_caught(verdicts, install):
    """grpcurl list through per-service routes (istio/istio#49373): with the reflection route
    gone, reflection calls get no route, which the same check reports."""
    _, planted = verdicts[install]
    for expect in EXPECTS[:2]:
        caught = broken_promises(planted, expect)
        assert any(NO_ROUTE in c for c in caught), caught
    assert broken_promises(planted, EXPECTS[2]) == [], "the health route is untouched"

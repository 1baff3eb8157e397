"""Backends: the Services the chart can create (known to Istio as gRPC) and the DestinationRules
(traffic policy, subsets) for the hosts the routes send to."""
from __future__ import annotations

import pytest

from support.bad_input import bad_values
from support.scenarios import ci
from support.summary import STATS
from support.values import B, routes
import copy
import json
import random

from hypothesis import given, note, settings
from hypothesis import strategies as st

from support.mutations import BASE, assert_refused, fresh_service, new_route, path_re
from support.mutations import quiet_helm  # noqa: F401 (a fixture)
from support.strategies import COMMON_SETTINGS, MUTATIONS_PER_KIND, valid_cases


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

def test_no_destination_rule_unless_asked(default_render):
    assert not default_render.has("DestinationRule")

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
]


@pytest.mark.parametrize("values,match", bad_values(BAD_VALUES))
def test_bad_values_fail_and_name_the_key(helm, values, match):
    STATS["bad_input_cases"] += 1
    helm.render_fails(values, match=match)


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


MUTATIONS = {fn.__name__[2:]: fn for fn in [
    m_undefined_subset, m_traffic_policy_conflict, m_subset_labels_differ, m_duplicate_backend_service,
]}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_each_mutation_of_the_base_values_is_refused(helm, name):
    values = copy.deepcopy(BASE)
    patterns = MUTATIONS[name](values, random.Random(name))
    STATS["bad_input_cases"] += 1
    assert_refused(helm, values, patterns, "base", "apps")


@pytest.mark.parametrize("name", sorted(MUTATIONS))
@settings(max_examples=max(1, MUTATIONS_PER_KIND), **COMMON_SETTINGS)
@given(case=valid_cases(max_routes=4), rnd=st.randoms(use_true_random=False))
def test_mutations_of_valid_values_are_refused_naming_the_key(quiet_helm, name, case, rnd):
    """Each mutation on a few random valid values sets (parametrized rather than drawn, so
    every mutation runs: hypothesis draws the first items of a sampled_from far more often)."""
    values, release, namespace = copy.deepcopy(case)
    patterns = MUTATIONS[name](values, rnd)
    note("mutation %s -> %s\n%s" % (name, patterns, json.dumps(values, indent=1)))
    STATS["hypothesis_examples"] += 1
    STATS["bad_input_cases"] += 1
    assert_refused(quiet_helm.helm, values, patterns, release, namespace)

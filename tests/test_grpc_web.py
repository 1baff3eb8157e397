"""gRPC-Web: the grpc_web EnvoyFilter on HTTPS listeners, the plaintext GRPC-WEB server, and the
CORS policy on the route the browser's preflight reaches."""
from __future__ import annotations

import pytest

from support.bad_input import bad_values
from support.helm import get
from support.routing import route_for
from support.scenarios import SCENARIOS, ci, load_ci, servers
from support.summary import STATS
import copy
import json
import random

from hypothesis import given, note, settings
from hypothesis import strategies as st

from support.mutations import BASE, assert_refused, free_port, own_gateway, path_re
from support.mutations import quiet_helm  # noqa: F401 (a fixture)
from support.strategies import COMMON_SETTINGS, MUTATIONS_PER_KIND, valid_cases


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

def test_existing_gateway_with_grpc_web_renders_envoy_filter_only_when_asked(helm):
    values = load_ci(SCENARIOS["existing-gateway-values.yaml"])
    values["grpcWeb"] = {"enabled": True, "cors": {"allowOrigins": ["https://a.example.com"]}}
    assert not helm.render(values).has("EnvoyFilter")
    values["grpcWeb"]["envoyFilter"] = {"enabled": True}
    assert helm.render(values).has("EnvoyFilter")


# --- bad input -----------------------------------------------------------------------------

BAD_VALUES = [
    ("unknown-cors-key", {"grpcWeb": {"cors": {"allowOrigin": ["https://a.example.com"]}}}, [r"grpcWeb\.cors", r"allowOrigin"]),
    ("grpc-web-no-origins", {"grpcWeb": {"enabled": True}}, [r"grpcWeb\.cors\.allowOrigins"]),
    ("grpc-web-star-no-opt-in", {"grpcWeb": {"enabled": True, "cors": {"allowOrigins": ["*"]}}},
     [r"grpcWeb\.cors\.allowOrigins\.0", r"allowAnyOrigin"]),
    ("grpc-web-origin-with-path", {"grpcWeb": {"enabled": True, "cors": {"allowOrigins": ["https://a.example.com/app"]}}},
     [r"grpcWeb\.cors\.allowOrigins\.0"]),
    ("grpc-web-header-with-space", {"grpcWeb": {"cors": {"allowHeaders": ["x bad"]}}}, [r"grpcWeb\.cors\.allowHeaders\.0"]),
    ("cors-header-with-dot", {"grpcWeb": {"cors": {"allowHeaders": ["x.trace"]}}}, [r"grpcWeb\.cors\.allowHeaders\.0"]),
    ("cors-max-age-sub-second", {"grpcWeb": {"cors": {"maxAge": "1500ms"}}}, [r"grpcWeb\.cors\.maxAge"]),
    ("grpc-web-port-clash", {"tls": {"enabled": False}, "h2c": {"enabled": True, "port": 8080},
                             "grpcWeb": {"enabled": True, "port": 8080, "cors": {"allowOrigins": ["https://a.example.com"]}}},
     [r"grpcWeb\.port", r"h2c\.port"]),
    ("envoy-filter-enabled-typo", {"grpcWeb": {"envoyFilter": {"enabled": "yes"}}}, [r"grpcWeb\.envoyFilter\.enabled"]),
]


@pytest.mark.parametrize("values,match", bad_values(BAD_VALUES))
def test_bad_values_fail_and_name_the_key(helm, values, match):
    STATS["bad_input_cases"] += 1
    helm.render_fails(values, match=match)


# --- bad edits of valid values -------------------------------------------------------------

def m_grpc_web_port_clash(v, rnd):
    own_gateway(v)
    v["tls"]["enabled"] = False
    v["tls"].pop("httpsRedirect", None)
    v["h2c"] = {"enabled": True, "port": 18997}
    web = v.setdefault("grpcWeb", {"cors": {"allowOrigins": ["https://app.example.com"]}})
    web.update(enabled=True, port=18997)
    return [path_re("grpcWeb", "port")]

def m_no_origins(v, rnd):
    web = v.setdefault("grpcWeb", {})
    web["enabled"] = True
    web.setdefault("cors", {})["allowOrigins"] = []
    if not v["tls"].get("enabled", True):
        web["port"] = free_port(v)
    return [path_re("grpcWeb", "cors", "allowOrigins")]

def m_star_origin_without_opt_in(v, rnd):
    web = v.setdefault("grpcWeb", {})
    web["enabled"] = True
    web["cors"] = {"allowOrigins": ["https://app.example.com", "*"], "allowAnyOrigin": False}
    if not v["tls"].get("enabled", True):
        web["port"] = free_port(v)
    return [path_re("grpcWeb", "cors", "allowOrigins", 1)]


MUTATIONS = {fn.__name__[2:]: fn for fn in [
    m_grpc_web_port_clash, m_no_origins, m_star_origin_without_opt_in,
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

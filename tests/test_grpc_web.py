"""gRPC-Web: the grpc_web EnvoyFilter on HTTPS listeners, the plaintext GRPC-WEB server, and the
CORS policy on the route the browser's preflight reaches."""
from __future__ import annotations

import pytest

from support.bad_input import assert_refused, bad_values
from support.helm import get
from support.injection import Field, string_keys
from support.istio import grpc_web
from support.istio_promises import Plan
from support.mutations import assert_edits_refused, edits, enable_tls, free_port, own_gateway, path_re
from support.properties import for_every_valid_values_set, for_every_valid_values_set_in_istio
from support.scenarios import SCENARIOS, ci, grpc_web_filter, grpc_web_filters, load_ci, servers
from support.values import WEB


GRPC_WEB_HEADERS = ["content-type", "x-grpc-web", "x-user-agent", "grpc-timeout"]

GRPC_EXPOSED = ["grpc-status", "grpc-message", "grpc-status-details-bin"]


def test_grpc_web_over_tls_uses_an_envoy_filter_on_the_tls_listener(helm):
    r = ci(helm, "grpc-web-tls-values.yaml")
    ef = grpc_web_filter(r)
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
    snis = [get(p, "match.listener.filterChain.sni") for p in grpc_web_filter(r)["spec"]["configPatches"]]
    server_hosts = [s["hosts"] for s in servers(r)]
    assert len(snis) == len(server_hosts) == 2, "one patch per HTTPS server: two patches on one chain insert the filter twice"
    assert all(any(sni in hosts for hosts in server_hosts) for sni in snis)


def test_envoy_filter_port_zero_means_the_https_servers_own_port(helm):
    """For gateways that bind the Service port itself (the istio/gateway chart, Gateway API)."""
    r = helm.render({"tls": {"port": 9443}, "gateway": {"workloadNamespace": "gw"},
                     "grpcWeb": {"enabled": True, "envoyFilter": {"listenerPort": 0},
                                 "cors": {"allowOrigins": ["https://a.example.com"]}}})
    ef = grpc_web_filter(r)
    assert ef["spec"]["configPatches"][0]["match"]["listener"]["portNumber"] == 9443
    assert ef["metadata"]["namespace"] == "gw", "by default beside the gateway pods, where Istio applies it"


def test_envoy_filter_can_live_in_istios_root_namespace(helm):
    """From the root namespace an EnvoyFilter applies to the gateway pods of every namespace."""
    r = helm.render({"gateway": {"workloadNamespace": "gw"},
                     "grpcWeb": {**WEB, "envoyFilter": {"namespace": "istio-system"}}})
    assert grpc_web_filter(r)["metadata"]["namespace"] == "istio-system"


def test_grpc_web_cors_is_on_the_route_the_preflight_reaches(helm, istio):
    """Asked of Istio: the browser's call and its preflight (OPTIONS, no gRPC-Web content-type)
    reach the same route, by path alone, and that route answers CORS as the values say."""
    values = load_ci(SCENARIOS["grpc-web-tls-values.yaml"])
    plan = Plan(values, "grpc-ingress", "default")
    path, host, origin = "/helloworld.Greeter/SayHello", values["hosts"][0], "https://app.example.com"
    calls = [grpc_web("call", path, host, origin, port=plan.ports["tls"]),
             grpc_web("preflight", path, host, origin, port=plan.ports["tls"], preflight=True)]
    res = istio.run([plan.case(helm.render(values), calls=calls)])[0]
    call, preflight = res.call("call"), res.call("preflight")
    assert call["route"] and preflight["route"] == call["route"], "the preflight must reach the route that serves the call"
    assert call["path_only"] and preflight["path_only"], "a header match before it would hide the route from the preflight"
    assert "envoy.filters.http.cors" in call["http_filters"]
    cors = preflight["cors"]
    assert cors["allowOriginStringMatch"] == [{"exact": "https://app.example.com"}, {"prefix": "https://preview-"}]
    assert cors["allowMethods"] == "POST,OPTIONS"
    assert cors["allowHeaders"] == ",".join(GRPC_WEB_HEADERS + ["authorization"])
    assert cors["exposeHeaders"] == ",".join(GRPC_EXPOSED + ["x-request-id"])
    assert cors["maxAge"] == "3600" and cors["allowCredentials"] is True


def test_grpc_web_plaintext_is_a_grpc_web_server_without_envoy_filter(helm):
    r = ci(helm, "grpc-web-plaintext-values.yaml")
    (srv,) = servers(r)
    assert srv["port"] == {"number": 8080, "name": "grpc-web", "protocol": "GRPC-WEB"}
    assert "tls" not in srv
    assert not grpc_web_filters(r), "Istio adds the grpc_web filter itself on GRPC-WEB servers"


def test_grpc_web_envoy_filter_opt_out(helm):
    values = load_ci(SCENARIOS["grpc-web-tls-values.yaml"])
    values["grpcWeb"]["envoyFilter"] = {"enabled": False}
    assert not grpc_web_filters(helm.render(values))


def test_any_origin_with_explicit_opt_in(helm):
    r = helm.render({"grpcWeb": {"enabled": True, "cors": {"allowOrigins": ["*"], "allowAnyOrigin": True}}})
    assert r.one("VirtualService")["spec"]["http"][0]["corsPolicy"]["allowOrigins"] == [{"exact": "*"}]


def test_existing_gateway_with_grpc_web_renders_envoy_filter_only_when_asked(helm):
    values = load_ci(SCENARIOS["existing-gateway-values.yaml"])
    values["grpcWeb"] = {"enabled": True, "cors": {"allowOrigins": ["https://a.example.com"]}}
    assert not grpc_web_filters(helm.render(values))
    values["grpcWeb"]["envoyFilter"] = {"enabled": True}
    assert grpc_web_filters(helm.render(values))


# --- every generated values set ------------------------------------------------------------

@for_every_valid_values_set_in_istio
def test_every_route_answers_cors_exactly_when_grpc_web_is_on(case):
    """Asked of Istio: every route a call reaches carries CORS (POST, OPTIONS and each origin the
    values allow) when gRPC-Web is on, and none when it is off."""
    assert case.unkept("cors") == []


@for_every_valid_values_set_in_istio
def test_grpc_web_calls_reach_a_chain_with_the_grpc_web_filter(case):
    """Asked of Istio: a call on a plaintext GRPC-WEB server, and on an HTTPS server when the
    chart's EnvoyFilter is on where the gateway reads it, goes through grpc_web, once, before
    the router (support.istio_promises.Plan._grpc_web_on_tls says when it must)."""
    assert case.unkept("grpc_web") == []


@for_every_valid_values_set
def test_https_listeners_get_the_grpc_web_filter_when_grpc_web_needs_it(case):
    values = case.values
    web, tls = values.get("grpcWeb", {}), values["tls"]
    ef = web.get("envoyFilter", {})
    mode = str(ef.get("enabled", "auto")).lower()
    has = bool(grpc_web_filters(case.render))
    if not (web.get("enabled") and tls["enabled"]):
        assert not has, "only HTTPS listeners need it: Istio adds grpc_web itself on GRPC-WEB servers"
        return
    if mode in ("true", "false"):
        assert has == (mode == "true"), "envoyFilter.enabled: %s" % mode
    else:
        assert has == values["gateway"]["create"], "auto: the filter comes with a Gateway this chart owns"
    if not has:
        return
    patches = grpc_web_filter(case.render)["spec"]["configPatches"]
    ports = {p["match"]["listener"]["portNumber"] for p in patches}
    asked = ef.get("listenerPort")
    # listenerPort is the port the gateway pod binds; 0 means the HTTPS server's own port (the
    # istio/gateway chart binds it as is); unset, the classic istio-ingressgateway's 8443 (443->8443).
    assert ports == {asked if asked else tls["port"] if asked == 0 else 8443}
    snis = [p["match"]["listener"]["filterChain"]["sni"] for p in patches]
    if values["gateway"]["create"]:
        # One patch per HTTPS server (Istio builds one filter chain per server): two on one chain
        # would insert the filter twice, a server without one would answer gRPC-Web with 415.
        https = [s["hosts"] for s in case.servers if s["port"]["protocol"] == "HTTPS"]
        assert sorted(next(i for i, hosts in enumerate(https) if sni in hosts) for sni in snis) == list(range(len(https)))
    else:
        assert sorted(snis) == sorted(values["hosts"]), "a Gateway owned elsewhere: one patch per host"


# --- strings from values: refused naming the key, or kept verbatim (support.injection) --------

STRING_KEYS = string_keys(
    Field("allow-header", lambda s: {"grpcWeb": {**WEB, "cors": {**WEB["cors"], "allowHeaders": [s]}}}, "zqxjk-hdr",
          "grpcWeb.cors.allowHeaders.0"),
    Field("expose-header", lambda s: {"grpcWeb": {**WEB, "cors": {**WEB["cors"], "exposeHeaders": [s]}}}, "zqxjk-hdr",
          "grpcWeb.cors.exposeHeaders.0"),
    # a loose syntax, refused only for what YAML or Envoy cannot carry
    Field("origin-exact", lambda s: {"grpcWeb": {**WEB, "cors": {"allowOrigins": [{"exact": s}]}}}, "zqxjkval",
          "grpcWeb.cors.allowOrigins.0", loose=True),
)


@pytest.mark.parametrize("field,payload", STRING_KEYS)
def test_strings_in_cors_keys_are_refused_naming_the_key_or_kept_verbatim(injected, field, payload):
    injected.check(field, payload)


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
    ("cors-credentials-any-origin", {"grpcWeb": {"enabled": True, "cors": {"allowOrigins": ["*"], "allowAnyOrigin": True,
                                                                          "allowCredentials": True}}},
     [r"grpcWeb\.cors\.allowCredentials", r"allowAnyOrigin", r"every web site"]),
    ("envoy-filter-namespace-elsewhere", {"grpcWeb": {**WEB, "envoyFilter": {"namespace": "apps"}}},
     [r"grpcWeb\.envoyFilter\.namespace", r"apps", r"gateway\.workloadNamespace"]),
    ("cors-origin-regex-not-re2", {"grpcWeb": {**WEB, "cors": {"allowOrigins": [{"regex": "https://(app"}]}}},
     [r"grpcWeb\.cors\.allowOrigins\.0\.regex", r"https://\(app", r"RE2"]),
    ("cors-origin-regex-over-1024", {"grpcWeb": {**WEB, "cors": {"allowOrigins": [{"regex": "https://" + "a" * 1020}]}}},
     [r"grpcWeb\.cors\.allowOrigins\.0\.regex", r"1028 characters"]),
    ("cors-max-age-beyond-go-duration", {"grpcWeb": {**WEB, "cors": {**WEB["cors"], "maxAge": "2562048h"}}},
     [r"grpcWeb\.cors\.maxAge", "2562048h"]),
]


@pytest.mark.parametrize("values,match", bad_values(BAD_VALUES))
def test_bad_values_are_refused_naming_the_key(helm, values, match):
    assert_refused(helm, values, match)


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


def m_credentials_for_any_origin(v, rnd):
    web = v.setdefault("grpcWeb", {})
    web["enabled"] = True
    web["cors"] = {"allowOrigins": ["*"], "allowAnyOrigin": True, "allowCredentials": True}
    if not v["tls"].get("enabled", True):
        web["port"] = free_port(v)
    return [path_re("grpcWeb", "cors", "allowCredentials")]


def m_envoy_filter_where_istio_ignores_it(v, rnd):
    own_gateway(v)
    enable_tls(v)
    web = v.setdefault("grpcWeb", {})
    web.update(enabled=True, envoyFilter={"enabled": rnd.choice([True, "auto"]), "namespace": "elsewhere"})
    web.setdefault("cors", {}).setdefault("allowOrigins", ["https://app.example.com"])
    web["cors"]["allowAnyOrigin"] = "*" in web["cors"]["allowOrigins"]
    return [path_re("grpcWeb", "envoyFilter", "namespace"), "elsewhere"]


@pytest.mark.parametrize("mutation", edits(
    m_grpc_web_port_clash, m_no_origins, m_star_origin_without_opt_in, m_credentials_for_any_origin,
    m_envoy_filter_where_istio_ignores_it))
def test_bad_edits_of_valid_values_are_refused_naming_the_key(helm, mutation_bases, mutation):
    assert_edits_refused(helm, mutation, mutation_bases)

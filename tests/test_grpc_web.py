"""gRPC-Web: the grpc_web EnvoyFilter on HTTPS listeners, the plaintext GRPC-WEB server, and the
CORS policy on the route the browser's preflight reaches."""
from __future__ import annotations

import re

import pytest

from support.bad_input import assert_refused, bad_values
from support.helm import get
from support.injection import Field, string_keys
from support.istio import grpc_web
from support.istio_checks import case_for
from support.istio_promises import Plan
from support.mutations import assert_edits_refused, edits, enable_tls, free_port, own_gateway, path_re
from support.properties import for_every_valid_values_set, for_every_valid_values_set_in_istio
from support.scenarios import SCENARIOS, ci, grpc_web_filter, grpc_web_filters, load_ci, servers
from support.strategies import STOCK_SERVICE_PORTS
from support.values import WEB


GRPC_WEB_HEADERS = ["content-type", "x-grpc-web", "x-user-agent", "grpc-timeout"]

GRPC_EXPOSED = ["grpc-status", "grpc-message", "grpc-status-details-bin"]


def inserts(ef):
    """The grpc_web INSERT patches of the chart's EnvoyFilter, each checked to follow a REMOVE of
    grpc_web on the same chain (so a chain two patches reach still ends with one filter)."""
    patches = ef["spec"]["configPatches"]
    out = []
    for i, p in enumerate(patches):
        if p["patch"]["operation"] == "REMOVE":
            continue
        before = patches[i - 1]
        assert before["patch"]["operation"] == "REMOVE" and before["match"]["listener"]["filterChain"]["sni"] == \
            p["match"]["listener"]["filterChain"]["sni"], "every insert follows a REMOVE on its chain"
        assert get(before, "match.listener.filterChain.filter.subFilter.name") == "envoy.filters.http.grpc_web"
        out.append(p)
    return out


def test_grpc_web_over_tls_uses_an_envoy_filter_on_the_tls_listener(helm):
    r = ci(helm, "grpc-web-tls-values.yaml")
    ef = grpc_web_filter(r)
    assert ef["metadata"]["namespace"] == "istio-system"
    assert ef["spec"]["workloadSelector"] == {"labels": {"istio": "ingressgateway"}}
    (patch,) = inserts(ef)
    assert patch["applyTo"] == "HTTP_FILTER"
    assert patch["match"]["context"] == "GATEWAY"
    assert patch["match"]["listener"]["portNumber"] == 8443, "the classic gateway binds 443's targetPort 8443"
    assert get(patch, "match.listener.filterChain.sni") == "api.example.com", "scoped to this chart's server only"
    assert patch["patch"]["value"]["name"] == "envoy.filters.http.grpc_web"
    assert [s["port"]["protocol"] for s in servers(r)] == ["HTTPS"], "no extra plaintext server when TLS carries gRPC-Web"


def test_grpc_web_goes_where_istio_puts_it_with_a_priority(helm):
    """Istio puts grpc_web right before grpc_stats on its own GRPC-WEB servers (ahead of fault,
    CORS and telemetry); a relative patch without a priority draws IST0151."""
    ef = grpc_web_filter(ci(helm, "grpc-web-tls-values.yaml"))
    (patch,) = inserts(ef)
    assert patch["patch"]["operation"] == "INSERT_BEFORE"
    assert get(patch, "match.listener.filterChain.filter.subFilter.name") == "envoy.filters.http.grpc_stats"
    assert ef["spec"]["priority"] == 10


def test_envoy_filter_has_one_patch_per_tls_server(helm):
    r = helm.render({"hosts": ["a.example.com", "b.example.com", "*.c.example.com"],
                     "tls": {"hosts": [{"hosts": ["b.example.com"], "credentialName": "b-tls"}]},
                     "grpcWeb": {"enabled": True, "cors": {"allowOrigins": ["https://a.example.com"]}}})
    snis = [get(p, "match.listener.filterChain.sni") for p in inserts(grpc_web_filter(r))]
    server_hosts = [s["hosts"] for s in servers(r)]
    assert len(snis) == len(server_hosts) == 2, "one patch per HTTPS server: two patches on one chain insert the filter twice"
    assert all(any(sni in hosts for hosts in server_hosts) for sni in snis)


def test_envoy_filter_names_each_chain_by_a_host_of_its_server_as_written(helm):
    """Istio's chain for a TLS server carries all the server's hosts as server names
    (GetSNIHostsForServer) and compares a patch's sni with them as plain strings: a wildcard is
    matched only by itself, so the patch names it literally. (Hosts the wildcard covers, such as
    zeta.example.com, would make Istio's webhook refuse the VirtualService: test_istio_properties,
    wildcard-host-covering-another.)"""
    r = helm.render({"hosts": ["*.example.com", "zeta.example.org", "alpha.example.org"], "grpcWeb": WEB})
    assert [get(p, "match.listener.filterChain.sni") for p in inserts(grpc_web_filter(r))] == ["*.example.com"]


@pytest.mark.parametrize("gateway,port", [
    ({}, 8443),
    ({"install": "istioctl"}, 8443),
    ({"install": "gateway-chart"}, 443),
    ({"install": "gateway-chart", "servicePorts": {"443": 9443}}, 9443),
    ({"install": "custom", "selector": {"app": "gw"}, "workloadNamespace": "gw", "servicePorts": {"443": 10443}}, 10443),
])
def test_envoy_filter_matches_the_https_servers_bind_port_on_each_install(helm, gateway, port):
    r = helm.render({"gateway": gateway, "grpcWeb": WEB, "tests": {"gatewayAddress": "gw.gw.svc"}})
    assert {p["match"]["listener"]["portNumber"] for p in grpc_web_filter(r)["spec"]["configPatches"]} == {port}


def test_deprecated_listener_port_is_still_used_for_a_shared_gateway(helm):
    values = load_ci(SCENARIOS["existing-gateway-values.yaml"])
    values["grpcWeb"] = {**WEB, "envoyFilter": {"enabled": True, "listenerPort": 9443}}
    ef = grpc_web_filter(helm.render(values))
    assert {p["match"]["listener"]["portNumber"] for p in ef["spec"]["configPatches"]} == {9443}


ANY_ORIGIN = {"grpcWeb": {"enabled": True, "cors": {"allowAnyOrigin": True, "allowOrigins": ["*"]}}}


def test_allow_any_origin_lets_every_origin_through_in_both_apis(helm, istio):
    """allowAnyOrigin with "*", asked of Istio. The Istio mode writes the exact origin "*", which
    Envoy's CORS filter takes as every origin (CorsFilter::isOriginAllowed in Envoy's
    source/extensions/filters/http/cors/cors_filter.cc first asks whether a matcher matches "*";
    read there, since no Envoy runs here). With api: gateway-api Istio turns "*" into a regex for any
    scheme://host[:port] (createCorsFilter in pilot/pkg/config/kube/gateway/conversion.go); the
    regex is RE2 and simple enough for Python's re to read the same."""
    origins = ["https://app.example.com", "http://localhost:3000", "https://x.example.net:8443"]
    calls = [grpc_web(f"preflight-{i}", "/helloworld.Greeter/SayHello", "grpc.example.com", o, preflight=True)
             for i, o in enumerate(origins)]
    answers = istio.run([case_for(helm, istio, values, calls)[1] for values in (ANY_ORIGIN, {**ANY_ORIGIN, "api": "gateway-api"})])
    istio_mode, gateway_api = ([res.call(f"preflight-{i}")["cors"] for i in range(len(origins))] for res in answers)
    assert all(c["allowOriginStringMatch"] == [{"exact": "*"}] for c in istio_mode), istio_mode[0]
    for origin, cors in zip(origins, gateway_api):
        (match,) = cors["allowOriginStringMatch"]
        assert re.fullmatch(match["safeRegex"]["regex"], origin), (origin, match)
        assert not re.fullmatch(match["safeRegex"]["regex"], origin + "/path"), "an origin has no path"
    assert istio_mode[0]["allowMethods"] == gateway_api[0]["allowMethods"] == "POST,OPTIONS"


def test_shared_gateway_patch_reaches_hosts_and_the_wildcards_that_cover_them(helm):
    """A platform Gateway may list api.example.com or *.example.com; the chart cannot see which."""
    values = {"gateway": {"create": False, "ref": "istio-ingress/shared"}, "hosts": ["api.eu.example.com"],
              "grpcWeb": {**WEB, "envoyFilter": {"enabled": True}}}
    snis = [get(p, "match.listener.filterChain.sni") for p in inserts(grpc_web_filter(helm.render(values)))]
    assert snis == ["api.eu.example.com", "*.eu.example.com", "*.example.com"], "never *.com"
    values["grpcWeb"]["envoyFilter"]["serverNames"] = ["*.example.com"]
    snis = [get(p, "match.listener.filterChain.sni") for p in inserts(grpc_web_filter(helm.render(values)))]
    assert snis == ["*.example.com"]


def test_envoy_filter_namespace_may_name_the_installs_gateway_namespace(helm):
    """The istio/gateway chart's pods run in istio-ingress: an EnvoyFilter there applies to them."""
    r = helm.render({"gateway": {"install": "gateway-chart"}, "grpcWeb": {**WEB, "envoyFilter": {"namespace": "istio-ingress"}}})
    assert grpc_web_filter(r)["metadata"]["namespace"] == "istio-ingress"


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
    assert srv["port"] == {"number": 80, "name": "grpc-web", "protocol": "GRPC-WEB"}
    assert "tls" not in srv
    assert not grpc_web_filters(r), "Istio adds the grpc_web filter itself on GRPC-WEB servers"


def test_grpc_web_envoy_filter_opt_out(helm):
    values = load_ci(SCENARIOS["grpc-web-tls-values.yaml"])
    values["grpcWeb"]["envoyFilter"] = {"enabled": False}
    assert not grpc_web_filters(helm.render(values))


def test_any_origin_with_explicit_opt_in(helm):
    r = helm.render({"grpcWeb": {"enabled": True, "cors": {"allowOrigins": ["*"], "allowAnyOrigin": True}}})
    assert r.one("VirtualService")["spec"]["http"][0]["corsPolicy"]["allowOrigins"] == [{"exact": "*"}]


def test_a_match_open_to_every_origin_is_taken_with_the_explicit_opt_in(helm):
    r = helm.render({"grpcWeb": {"enabled": True, "cors": {"allowOrigins": [{"regex": ".*"}], "allowAnyOrigin": True}}})
    assert r.one("VirtualService")["spec"]["http"][0]["corsPolicy"]["allowOrigins"] == [{"regex": ".*"}]


def test_origin_matches_scoped_to_one_domain_need_no_opt_in(helm):
    origins = [{"regex": "https://[a-z0-9-]+\\.example\\.com"}, {"prefix": "https://preview-"}, {"exact": "https://a.example.com"}]
    r = helm.render({"grpcWeb": {"enabled": True, "cors": {"allowOrigins": origins}}})
    assert r.one("VirtualService")["spec"]["http"][0]["corsPolicy"]["allowOrigins"] == origins


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
    ef_values = web.get("envoyFilter", {})
    mode = str(ef_values.get("enabled", "auto")).lower()
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
    ef = grpc_web_filter(case.render)
    patches = inserts(ef)
    ports = {p["match"]["listener"]["portNumber"] for p in ef["spec"]["configPatches"]}
    asked = ef_values.get("listenerPort")
    # The pod port the HTTPS server binds: the gateway Service's targetPort for tls.port.
    gw = values["gateway"]
    service_ports = ({int(k): t for k, t in gw["servicePorts"].items()} if gw.get("servicePorts")
                     else STOCK_SERVICE_PORTS[gw.get("install", "istioctl")])
    assert ports == {asked or service_ports.get(tls.get("port", 443), tls.get("port", 443))}
    assert ef["spec"]["priority"] == ef_values.get("priority", 10)
    snis = [p["match"]["listener"]["filterChain"]["sni"] for p in patches]
    if gw["create"]:
        # One patch per HTTPS server (Istio builds one filter chain per server): a server without
        # one would answer gRPC-Web with 415.
        https = [s["hosts"] for s in case.servers if s["port"]["protocol"] == "HTTPS"]
        assert sorted(next(i for i, hosts in enumerate(https) if sni in hosts) for sni in snis) == list(range(len(https)))
    elif ef_values.get("serverNames"):
        assert snis == ef_values["serverNames"]
    else:
        # Each host, and wildcards covering a host (at least *.<two labels>).
        assert set(values["hosts"]) <= set(snis)
        for sni in set(snis) - set(values["hosts"]):
            assert sni.startswith("*.") and sni.count(".") >= 2, sni
            assert any(h.endswith(sni[1:]) for h in values["hosts"]), sni


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
    ("listener-port-against-the-port-model", {"gateway": {"install": "gateway-chart"},
                                              "grpcWeb": {**WEB, "envoyFilter": {"listenerPort": 8443}}},
     [r"grpcWeb\.envoyFilter\.listenerPort: 8443, but the HTTPS server on tls\.port 443 binds gateway pod port 443"]),
    ("server-names-on-an-own-gateway", {"grpcWeb": {**WEB, "envoyFilter": {"serverNames": ["*.example.com"]}}},
     [r"grpcWeb\.envoyFilter\.serverNames: is only for a shared gateway"]),
    # Matches that let every origin in (Envoy allows all as soon as a match accepts "*").
    *[("origin-open-to-all-" + name, {"grpcWeb": {"enabled": True, "cors": {"allowOrigins": ["https://app.example.com", match]}}},
       [r"grpcWeb\.cors\.allowOrigins\.1: ", r"allowAnyOrigin: true"])
      for name, match in [("exact-star", {"exact": "*"}), ("empty-prefix", {"prefix": ""}), ("dot-star", {"regex": ".*"}),
                          ("dot-plus", {"regex": ".+"}), ("anchored-dot-star", {"regex": "^.*$"}),
                          ("group-dot-star", {"regex": "(.*)"}), ("escaped-star", {"regex": "\\*"}),
                          ("any-https-regex", {"regex": "https://.*"}), ("any-scheme-regex", {"regex": "[a-z]+://.+"}),
                          ("https-prefix", {"prefix": "https://"}), ("scheme-letter-prefix", {"prefix": "h"})]],
    ("envoy-filter-priority-zero", {"grpcWeb": {"envoyFilter": {"priority": 0}}}, [r"grpcWeb\.envoyFilter\.priority"]),
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
    v["h2c"] = {"enabled": False}
    port = free_port(v)
    v["h2c"] = {"enabled": True, "port": port}
    web = v.setdefault("grpcWeb", {"cors": {"allowOrigins": ["https://app.example.com"]}})
    web.update(enabled=True, port=port)
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

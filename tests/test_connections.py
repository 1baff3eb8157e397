"""Client connections (downstream: client <-> gateway): the EnvoyFilter that sets stream and
request timeouts, connection lifetime and drain, HTTP/2 keepalive, stream limits and windows on
this chart's own filter chains, and the buffer limit on its listeners; what Istio's control
plane makes of it (the harness in tests/istio), including under Istio 1.31's EDGE profile."""
from __future__ import annotations

import copy

import pytest
import yaml

from support.bad_input import assert_refused, bad_values
from support.helm import get
from support.istio import INSTALLS as GATEWAYS, _B64_CERT, _B64_KEY, for_install, grpc, world_for
from support.istio_checks import Expect, analysis_problems, broken_promises, cl
from support.mutations import assert_edits_refused, edits, own_gateway, path_re
from support.properties import for_every_valid_values_set
from support.scenarios import connection_filter, connection_filters, servers
from support.strategies import duration_ms
from support.values import route

HCM = "envoy.filters.network.http_connection_manager"
EDGE = "defaultConfig:\n  connectionSettings:\n    profile: EDGE\n"


def patches(ef, apply_to):
    return [p for p in ef["spec"]["configPatches"] if p["applyTo"] == apply_to]


def hcm_value(patch):
    return patch["patch"]["value"]["typed_config"]


def seconds(proto_duration: str) -> float:
    """Envoy's JSON duration ("3600s", "0.250s") in seconds."""
    assert proto_duration.endswith("s") and "h" not in proto_duration, proto_duration
    return float(proto_duration[:-1])


# --- what the chart renders -------------------------------------------------------------------

def test_defaults_keep_streams_open_and_send_keepalives_on_this_charts_chain(default_render):
    """No values: quiet and long streams are never cut by the gateway (stream idle and request
    timeouts off: Istio 1.31's EDGE profile would set both to 5 minutes), and the gateway PINGs
    clients every 60s so idle-dropping load balancers in front keep quiet streams."""
    ef = connection_filter(default_render)
    assert ef["metadata"]["namespace"] == "istio-system", "where the gateway pods run"
    assert ef["spec"]["workloadSelector"] == {"labels": {"istio": "ingressgateway"}}
    assert ef["spec"]["priority"] > 0, "after EnvoyFilters of the default priority, so ours wins"
    (patch,) = patches(ef, "NETWORK_FILTER")
    match = patch["match"]
    assert match["context"] == "GATEWAY"
    assert match["listener"]["portNumber"] == 8443, "the classic gateway pod's TLS port"
    assert match["listener"]["filterChain"] == {"sni": "grpc.example.com", "filter": {"name": HCM}}
    assert patch["patch"]["operation"] == "MERGE"
    value = hcm_value(patch)
    assert value["@type"] == "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
    assert value["stream_idle_timeout"] == "0s" and value["request_timeout"] == "0s"
    assert value["http2_protocol_options"] == {"connection_keepalive": {"interval": "60s", "timeout": "20s"}}
    assert "common_http_protocol_options" not in value and "drain_timeout" not in value, "no lifetime unless asked"
    assert patches(ef, "LISTENER") == [], "the listener-wide buffer limit only when asked"


ALL = {"h2c": {"enabled": True, "port": 80},
       "downstream": {"streamIdleTimeout": "1h30m", "requestTimeout": "250ms", "maxConnectionDuration": "2h",
                      "drainTimeout": "45s", "http2": {"keepalive": {"interval": "30s", "timeout": "5s"},
                                                       "maxConcurrentStreams": 500, "initialStreamWindowSize": 1048576,
                                                       "initialConnectionWindowSize": 4194304},
                      "perConnectionBufferLimitBytes": 65536}}


def test_every_setting_reaches_the_connection_manager_as_envoy_reads_it(helm):
    ef = connection_filter(helm.render(ALL))
    values = [hcm_value(p) for p in patches(ef, "NETWORK_FILTER")]
    assert len(values) == 2 and values[0] == values[1], "the HTTPS chain and the h2c port alike"
    assert values[0] == {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stream_idle_timeout": "5400s", "request_timeout": "0.250s", "drain_timeout": "45s",
        "common_http_protocol_options": {"max_connection_duration": "7200s"},
        "http2_protocol_options": {"connection_keepalive": {"interval": "30s", "timeout": "5s"},
                                   "max_concurrent_streams": 500, "initial_stream_window_size": 1048576,
                                   "initial_connection_window_size": 4194304}}
    listener = patches(ef, "LISTENER")
    assert sorted(p["match"]["listener"]["portNumber"] for p in listener) == [8080, 8443]
    assert all(p["patch"] == {"operation": "MERGE", "value": {"per_connection_buffer_limit_bytes": 65536}}
               for p in listener)


def test_one_patch_per_https_server_and_one_per_plaintext_port(helm):
    r = helm.render({"hosts": ["a.example.com", "b.example.com", "*.c.example.com"],
                     "tls": {"hosts": [{"hosts": ["b.example.com"], "credentialName": "b-tls"}]},
                     "h2c": {"enabled": True, "port": 80}})
    net = patches(connection_filter(r), "NETWORK_FILTER")
    https = [s["hosts"] for s in servers(r) if s["port"]["protocol"] == "HTTPS"]
    snis = [get(p, "match.listener.filterChain.sni", None) for p in net]
    assert len(https) == 2 and len([s for s in snis if s]) == 2, "one patch per HTTPS server (one chain each)"
    assert sorted(next(i for i, hosts in enumerate(https) if sni in hosts) for sni in snis if sni) == [0, 1]
    (plain,) = [p for p in net if "sni" not in p["match"]["listener"]["filterChain"]]
    assert plain["match"]["listener"]["portNumber"] == 8080, "Service port 80 is the classic pod's 8080"


def test_gateways_that_bind_the_service_port_get_patches_on_that_port(helm):
    """The istio/gateway chart's pods bind 443 and 80 themselves."""
    r = helm.render({"gateway": {"install": "gateway-chart"}, "h2c": {"enabled": True, "port": 80},
                     "downstream": {"perConnectionBufferLimitBytes": 32768}})
    ef = connection_filter(r)
    assert sorted(p["match"]["listener"]["portNumber"] for p in patches(ef, "NETWORK_FILTER")) == [80, 443]
    assert sorted(p["match"]["listener"]["portNumber"] for p in patches(ef, "LISTENER")) == [80, 443]


def test_the_redirect_server_carries_no_streams_and_gets_no_patch(helm):
    ef = connection_filter(helm.render({"tls": {"httpsRedirect": True}}))
    assert [p["match"]["listener"]["portNumber"] for p in patches(ef, "NETWORK_FILTER")] == [8443]


def test_a_shared_gateway_keeps_its_owners_settings_unless_asked(helm):
    values = {"gateway": {"create": False, "ref": "istio-ingress/shared"}, "hosts": ["a.example.com", "b.example.com"]}
    assert connection_filters(helm.render(values)) == [], "auto: only on a Gateway this chart owns"
    values["downstream"] = {"envoyFilter": {"enabled": True}}
    net = patches(connection_filter(helm.render(values)), "NETWORK_FILTER")
    # The chains the gRPC-Web patch names: each host, and the wildcard that may cover both.
    assert sorted(p["match"]["listener"]["filterChain"]["sni"] for p in net) == ["*.example.com", "a.example.com", "b.example.com"]


def test_empty_settings_leave_istios_values_and_render_no_filter(helm):
    r = helm.render({"downstream": {"streamIdleTimeout": "", "requestTimeout": "", "http2": {"keepalive": {"interval": ""}}}})
    assert connection_filters(r) == []
    assert connection_filters(helm.render({"downstream": {"envoyFilter": {"enabled": False}}})) == []


# --- every generated values set ---------------------------------------------------------------

@for_every_valid_values_set
def test_connection_settings_land_only_on_this_charts_stream_servers_as_asked(case):
    values, render = case.values, case.render
    down = values.get("downstream", {})
    mode = str(down.get("envoyFilter", {}).get("enabled", "auto")).lower()
    wanted = mode == "true" or (mode == "auto" and values["gateway"]["create"])
    found = connection_filters(render)
    if not wanted:
        assert found == [], "envoyFilter.enabled: %s" % mode
        return
    if not found:  # every setting left to Istio
        keepalive = down.get("http2", {}).get("keepalive", {"interval": "60s"})
        assert down.get("streamIdleTimeout", "0s") == "" and down.get("requestTimeout", "0s") == ""
        assert keepalive.get("interval", "60s") == "" and not down.get("maxConnectionDuration")
        return
    (ef,) = found
    net = patches(ef, "NETWORK_FILTER")
    tls_on = values["tls"]["enabled"]
    https_hosts = [s["hosts"] for s in case.servers if s["port"]["protocol"] == "HTTPS"] if values["gateway"]["create"] else []
    snis = [p["match"]["listener"]["filterChain"].get("sni") for p in net]
    if values["gateway"]["create"] and tls_on:
        # One patch per HTTPS server: the chain Istio builds for it, matched by one of its hosts.
        assert sorted(next(i for i, hosts in enumerate(https_hosts) if sni in hosts) for sni in snis if sni) \
            == list(range(len(https_hosts)))
    elif tls_on:
        # The owner's server may list a host or a wildcard covering it: each host, and only
        # wildcards that cover one of them (never a bare *.tld).
        named = {s for s in snis if s}
        assert set(values["hosts"]) <= named
        for sni in named - set(values["hosts"]):
            assert sni.startswith("*.") and sni.count(".") >= 2, sni
            assert any(h.endswith(sni[1:]) for h in values["hosts"]), sni
    plaintext = [s for s in (case.servers if values["gateway"]["create"] else [])
                 if s["port"]["protocol"] in ("HTTP2", "GRPC-WEB")]
    if values["gateway"]["create"]:
        assert len([s for s in snis if not s]) == len(plaintext), "one patch per plaintext stream server's port"
    for p in net:
        hcm = hcm_value(p)
        for key, field in (("streamIdleTimeout", "stream_idle_timeout"), ("requestTimeout", "request_timeout"),
                           ("drainTimeout", "drain_timeout")):
            asked = down.get(key, "0s" if key != "drainTimeout" else "")
            if asked:
                assert seconds(hcm[field]) * 1000 == duration_ms(asked), (field, hcm[field], asked)
            else:
                assert field not in hcm, field
        h2 = down.get("http2", {})
        keepalive = {"interval": "60s", "timeout": "20s", **h2.get("keepalive", {})}
        got = hcm.get("http2_protocol_options", {})
        if keepalive["interval"]:
            ka = got["connection_keepalive"]
            assert seconds(ka["interval"]) * 1000 == duration_ms(keepalive["interval"])
            assert seconds(ka["timeout"]) <= seconds(ka["interval"])
        else:
            assert "connection_keepalive" not in got
        for key, field in (("maxConcurrentStreams", "max_concurrent_streams"),
                           ("initialStreamWindowSize", "initial_stream_window_size"),
                           ("initialConnectionWindowSize", "initial_connection_window_size")):
            assert got.get(field, 0) == h2.get(key, 0), field
    limit = down.get("perConnectionBufferLimitBytes", 0)
    for p in patches(ef, "LISTENER"):
        assert p["patch"]["value"] == {"per_connection_buffer_limit_bytes": limit}
    assert bool(patches(ef, "LISTENER")) == bool(limit and net)


# --- bad input --------------------------------------------------------------------------------

def down(**kw):
    return {"downstream": kw}


def h2(**kw):
    return {"downstream": {"http2": kw}}


BAD_VALUES = [
    ("keepalive-timeout-above-interval", h2(keepalive={"interval": "10s", "timeout": "30s"}),
     [r"downstream\.http2\.keepalive\.timeout", r"30s", r"10s"]),
    ("keepalive-without-timeout", h2(keepalive={"interval": "10s", "timeout": ""}),
     [r"downstream\.http2\.keepalive\.timeout", r"Envoy needs a timeout"]),
    ("drain-above-connection-lifetime", down(maxConnectionDuration="1m", drainTimeout="90s"),
     [r"downstream\.drainTimeout", r"90s", r"downstream\.maxConnectionDuration", r"1m"]),
    ("max-streams-above-envoy-range", h2(maxConcurrentStreams=2147483648), [r"downstream\.http2\.maxConcurrentStreams"]),
    ("max-streams-negative", h2(maxConcurrentStreams=-1), [r"downstream\.http2\.maxConcurrentStreams"]),
    ("stream-window-below-http2-minimum", h2(initialStreamWindowSize=65534),
     [r"downstream\.http2\.initialStreamWindowSize", r"65534", r"65535"]),
    ("stream-window-above-envoy-range", h2(initialStreamWindowSize=2147483648), [r"downstream\.http2\.initialStreamWindowSize"]),
    ("connection-window-below-http2-minimum", h2(initialConnectionWindowSize=1024),
     [r"downstream\.http2\.initialConnectionWindowSize", r"1024", r"65535"]),
    ("buffer-limit-above-uint32", down(perConnectionBufferLimitBytes=4294967296), [r"downstream\.perConnectionBufferLimitBytes"]),
    ("buffer-limit-negative", down(perConnectionBufferLimitBytes=-1), [r"downstream\.perConnectionBufferLimitBytes"]),
    ("stream-idle-timeout-no-unit", down(streamIdleTimeout="300"), [r"downstream\.streamIdleTimeout"]),
    ("request-timeout-below-a-millisecond", down(requestTimeout="1.5ms"),
     [r"downstream\.requestTimeout: 1\.5ms has a part below a millisecond", r"1ms or 2ms"]),
    ("stream-idle-timeout-negative", down(streamIdleTimeout="-1s"), [r"downstream\.streamIdleTimeout: -1s is negative"]),
    ("max-connection-duration-0s", down(maxConnectionDuration="0s"), [r"downstream\.maxConnectionDuration"]),
    ("keepalive-interval-0s", h2(keepalive={"interval": "0s", "timeout": "0s"}), [r"downstream\.http2\.keepalive\.interval"]),
    ("envoyfilter-enabled-yes", down(envoyFilter={"enabled": "yes"}), [r"downstream\.envoyFilter\.enabled"]),
    ("priority-not-a-number", down(envoyFilter={"priority": "high"}), [r"downstream\.envoyFilter\.priority"]),
    ("unknown-downstream-key", down(idleTimeout="1h"), [r"downstream", r"idleTimeout"]),
    ("stream-idle-timeout-beyond-go-duration", down(streamIdleTimeout="3000000h"),
     [r"downstream\.streamIdleTimeout", r"3000000h", r"2562047h"]),
    ("keepalive-interval-beyond-go-duration", h2(keepalive={"interval": "9223372036855ms", "timeout": "1s"}),
     [r"downstream\.http2\.keepalive\.interval", r"9223372036855ms"]),
    ("every-problem-at-once", {"downstream": {"maxConnectionDuration": "1m", "drainTimeout": "2m",
                                              "http2": {"keepalive": {"interval": "1s", "timeout": "2s"},
                                                        "initialStreamWindowSize": 1}}},
     [r"3 problems", r"downstream\.drainTimeout", r"downstream\.http2\.keepalive\.timeout",
      r"downstream\.http2\.initialStreamWindowSize"]),
]


@pytest.mark.parametrize("values,match", bad_values(BAD_VALUES))
def test_bad_values_are_refused_naming_the_key(helm, values, match):
    assert_refused(helm, values, match)


# --- bad edits of valid values ----------------------------------------------------------------

def m_keepalive_timeout_above_interval(v, rnd):
    v.setdefault("downstream", {}).setdefault("http2", {})["keepalive"] = {"interval": "15s", "timeout": rnd.choice(["16s", "1m", "15001ms"])}
    return [path_re("downstream", "http2", "keepalive", "timeout")]


def m_drain_above_lifetime(v, rnd):
    v["downstream"] = {**v.get("downstream", {}), "maxConnectionDuration": "10m", "drainTimeout": rnd.choice(["11m", "1h", "600001ms"])}
    return [path_re("downstream", "drainTimeout")]


def m_window_outside_envoy_range(v, rnd):
    key = rnd.choice(["initialStreamWindowSize", "initialConnectionWindowSize"])
    v.setdefault("downstream", {}).setdefault("http2", {})[key] = rnd.choice([1, 65534, 2147483648])
    return [path_re("downstream", "http2", key)]


@pytest.mark.parametrize("mutation", edits(m_keepalive_timeout_above_interval, m_drain_above_lifetime,
                                           m_window_outside_envoy_range))
def test_bad_edits_of_valid_values_are_refused_naming_the_key(helm, mutation_bases, mutation):
    assert_edits_refused(helm, mutation, mutation_bases)


# --- what Istio makes of it (tests/istio; ISTIO=1.30 or 1.31) -------------------------------------

INSTALLS = ("classic", "gateway-chart")
# The pod ports each install binds for Service ports 443 and 80 (the chart renders with the
# matching gateway.install: support.istio.for_install).
BIND = {"classic": {443: 8443, 80: 8080}, "gateway-chart": {443: 443, 80: 80}}

STREAMS = {"h2c": {"enabled": True, "port": 80},
           "routes": [{"name": "watch", "methods": ["chat.v1.Chat/Subscribe"], "streaming": True,
                       "backend": {"host": "chat", "port": 50051}},
                      {"name": "chat", "services": ["chat.v1.Chat"], "timeout": "3s",
                       "backend": {"host": "chat", "port": 50051}}]}
SUBSCRIBE = Expect(grpc("subscribe", "/chat.v1.Chat/Subscribe", "grpc.example.com"), cluster=cl("chat"), streaming=True)
SUBSCRIBE_H2C = Expect(grpc("subscribe-h2c", "/chat.v1.Chat/Subscribe", "grpc.example.com", port=80, tls=False),
                       cluster=cl("chat"), streaming=True, plaintext=True)


def other_team(install):
    """Another team's HTTPS server on the same gateway pods and port: a filter chain of its own
    on the chart's listener, which the chart must leave alone."""
    inst = GATEWAYS[install]
    return yaml.safe_dump_all([
        {"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": {"name": "other-team", "namespace": inst["namespace"]},
         "spec": {"selector": dict(inst["labels"]), "servers": [{"port": {"number": 443, "name": "https", "protocol": "HTTPS"},
                                                                 "hosts": ["other.example.com"],
                                                                 "tls": {"mode": "SIMPLE", "credentialName": "other-tls"}}]}},
        {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls", "metadata": {"name": "other-tls", "namespace": inst["namespace"]},
         "data": {"tls.crt": _B64_CERT, "tls.key": _B64_KEY}}])


def platform_five_minute_idle():
    """A platform team's EnvoyFilter of the default priority that gives every gateway connection
    manager a 5-minute stream idle and request timeout: what Istio 1.31's EDGE profile does, on
    any Istio version."""
    return {"apiVersion": "networking.istio.io/v1alpha3", "kind": "EnvoyFilter",
            "metadata": {"name": "platform-edge-timeouts", "namespace": "istio-system"},
            "spec": {"configPatches": [{"applyTo": "NETWORK_FILTER",
                                        "match": {"context": "GATEWAY", "listener": {"filterChain": {"filter": {"name": HCM}}}},
                                        "patch": {"operation": "MERGE", "value": {"typed_config": {
                                            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                                            "stream_idle_timeout": "300s", "request_timeout": "300s"}}}}]}}


def without_connection_filter(docs):
    """The documents without the chart's client connection EnvoyFilter."""
    chart = [ef for ef in connection_filters(docs) if "helm.sh/chart" in ef["metadata"].get("labels", {})]
    assert len(chart) == 1
    return [d for d in docs if d is not chart[0]]


def dump(docs):
    return yaml.safe_dump_all(docs, sort_keys=False)


def chain(res, install, port, host=None):
    """The HCM settings of the filter chain on the pod's listener for Service port `port`: the
    chain serving `host` (TLS), or the port's one plaintext chain."""
    listener = res.listener(BIND[install][port])
    assert listener, f"no listener on {BIND[install][port]}: {[l['name'] for l in res.listeners]}"
    found = [fc for fc in listener["filter_chains"] if (host in fc["server_names"] if host else not fc["server_names"])]
    assert len(found) == 1, (host, [fc["server_names"] for fc in listener["filter_chains"]])
    return found[0]["hcm"]


@pytest.fixture(scope="module")
def verdicts(helm, istio):
    """The harness's answers, from one harness process: name -> install -> Result."""
    cases = {}

    def add(name, install, manifests, docs, calls=(), fixtures_extra="", mesh_config=""):
        fixtures = world_for(docs, install) + ("---\n" + fixtures_extra if fixtures_extra else "")
        cases[(name, install)] = istio.case(manifests, install=install, fixtures=fixtures, calls=list(calls),
                                            mesh_config=mesh_config)

    for install in INSTALLS:
        r = helm.render(for_install({**STREAMS, **ALL}, install))
        add("every-setting", install, r.stdout, r.docs, fixtures_extra=other_team(install))
        # A 5-minute stream idle timeout from elsewhere: the chart's patch must win on its chains.
        for label, values in (("install", for_install(STREAMS, install)),):
            r = helm.render(values)
            docs = r.docs + [platform_five_minute_idle()]
            add(f"platform-idle/{label}", install, dump(docs), r.docs, [SUBSCRIBE.call, SUBSCRIBE_H2C.call])
            add(f"platform-idle/{label}/planted", install, dump(without_connection_filter(docs)), r.docs,
                [SUBSCRIBE.call, SUBSCRIBE_H2C.call])
            if istio.release == "1.31":
                add(f"edge/{label}", install, r.stdout, r.docs, [SUBSCRIBE.call, SUBSCRIBE_H2C.call],
                    fixtures_extra=other_team(install), mesh_config=EDGE)
                add(f"edge/{label}/planted", install, dump(without_connection_filter(r.docs)), r.docs,
                    [SUBSCRIBE.call, SUBSCRIBE_H2C.call], mesh_config=EDGE)
    keys = list(cases)
    answers = istio.run([cases[k] for k in keys])
    out = {}
    for (name, install), res in zip(keys, answers):
        out.setdefault(name, {})[install] = res
    return out


@pytest.mark.parametrize("install", INSTALLS)
def test_istio_puts_every_setting_on_this_charts_chains_and_no_other(verdicts, install):
    res = verdicts["every-setting"][install]
    assert res.refused() == [] and res.xds_invalid == []
    assert analysis_problems(res) == []
    want = {"stream_idle_timeout": "5400s", "request_timeout": "0.250s", "drain_timeout": "45s",
            "max_connection_duration": "7200s"}
    want_h2 = {"connectionKeepalive": {"interval": "30s", "timeout": "5s"}, "maxConcurrentStreams": 500,
               "initialStreamWindowSize": 1048576, "initialConnectionWindowSize": 4194304}
    for hcm in (chain(res, install, 443, "grpc.example.com"), chain(res, install, 80)):
        assert {k: hcm[k] for k in want} == want
        assert hcm["http2_protocol_options"] == want_h2
    other = chain(res, install, 443, "other.example.com")
    assert other["stream_idle_timeout"] == "0s", "Istio's own value (listener_builder.go) on another team's chain"
    assert other["request_timeout"] is None and other["drain_timeout"] is None and other["max_connection_duration"] is None
    assert "http2_protocol_options" not in other
    # The buffer limit is a listener field: every server on the chart's ports gets it.
    for port in (443, 80):
        assert res.listener(BIND[install][port])["per_connection_buffer_limit_bytes"] == 65536


def _platform_or_edge_cases():
    for kind in ("platform-idle", "edge"):
        for label in ("install",):
            for install in INSTALLS:
                yield pytest.param(kind, label, install, id=f"{kind}-{label}-{install}")


@pytest.mark.istio_release
@pytest.mark.parametrize("kind,label,install", list(_platform_or_edge_cases()))
def test_a_five_minute_stream_idle_timeout_is_caught_and_the_chart_keeps_streams_open(istio, verdicts, kind, label, install):
    """Quiet streams live on this chart's chains, on TLS and h2c, with a 5-minute stream idle and
    request timeout set elsewhere (Istio 1.31's EDGE profile, or a platform EnvoyFilter of the
    default priority); without the chart's patch the same check sees the 300s."""
    if kind == "edge" and istio.release != "1.31":
        pytest.skip("the EDGE connection profile is new in Istio 1.31: scripts/test asks it under ISTIO=1.31")
    clean, planted = verdicts[f"{kind}/{label}"][install], verdicts[f"{kind}/{label}/planted"][install]
    for expect in (SUBSCRIBE, SUBSCRIBE_H2C):
        assert broken_promises(clean, expect) == []
        assert clean.call(expect.call.id)["hcm"]["request_timeout"] in (None, "0s")
        caught = broken_promises(planted, expect)
        assert any("streams idle out after 300s" in c for c in caught), caught
    if kind == "edge":
        assert chain(clean, install, 443, "other.example.com")["stream_idle_timeout"] == "300s", \
            "EDGE still applies to chains that are not the chart's"

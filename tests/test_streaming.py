"""Streaming, timeouts and retries: streams carry no route timeout, retries stay safe to repeat,
and streaming backends get keepalives and an idle timeout."""
from __future__ import annotations

import re

import pytest

from support.bad_input import assert_refused, bad_values
from support.istio_checks import ask_paths, cl, reached
from support.mutations import assert_edits_refused, edits, path_re
from support.properties import for_every_valid_values_set_in_istio
from support.scenarios import ci, load_ci
from support.values import route


# Conditions under which a call can be sent again whatever it does: Envoy never sent it
# (connect-failure, refused-stream, reset-before-request), or the server answered UNAVAILABLE,
# which gRPC defines as transient and safe to retry. Not 5xx, reset, cancelled, deadline-exceeded
# or internal: the backend may have acted on the call.
SAFE_TO_REPEAT = {"connect-failure", "refused-stream", "reset-before-request", "unavailable"}


def assert_safe_retries(retries):
    assert retries["attempts"] >= 1, retries
    assert set(retries["retryOn"].split(",")) <= SAFE_TO_REPEAT, retries


def test_default_unary_retries_are_safe_to_repeat(default_render):
    (entry,) = default_render.one("VirtualService")["spec"]["http"]
    assert_safe_retries(entry["retries"])
    assert "timeout" not in entry, "Istio sets no route timeout by default; neither do we"


# Retry conditions under which a stream never reached the application: Envoy buffers the request
# body for retries and retries until response headers arrive, so a client or bidi stream the
# backend answers (UNAVAILABLE, a reset) before its headers would be replayed, messages included.
NEVER_REACHED = {"connect-failure", "refused-stream"}


def test_streaming_routes_retry_only_calls_that_never_reached_the_application(helm):
    r = helm.render({"routes": [{"name": "s", "methods": ["chat.v1.Chat/Subscribe"], "streaming": True,
                                 "backend": {"host": "chat", "port": 50051}}]})
    (entry,) = r.one("VirtualService")["spec"]["http"]
    assert entry["retries"] == {"attempts": 1, "retryOn": "connect-failure,refused-stream"}


def _streaming_retry_policies():
    """(where, retryOn) of every streaming retry policy values.yaml, examples/, ci/ and README's
    YAML blocks write."""
    import yaml
    from support.helm import ROOT
    out = []

    def visit(where, values):
        if not isinstance(values, dict):
            return
        on = ((values.get("retries") or {}).get("streaming") or {}).get("retryOn")
        if on:
            out.append((where + ": retries.streaming", on))
        for i, r in enumerate(values.get("routes") or []):
            if isinstance(r, dict) and r.get("streaming") and (r.get("retries") or {}).get("retryOn"):
                out.append((f"{where}: routes[{i}]", r["retries"]["retryOn"]))

    visit("values.yaml", yaml.safe_load((ROOT / "values.yaml").read_text()))
    for path in sorted((ROOT / "ci").glob("*.yaml")):
        visit(path.name, yaml.safe_load(path.read_text()))
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            visit(path.name, (((doc or {}).get("spec") or {}).get("source") or {}).get("helm", {}).get("valuesObject"))
    for i, block in enumerate(re.findall(r"```yaml\n(.*?)```", (ROOT / "README.md").read_text(), re.S)):
        try:
            visit(f"README.md yaml block {i}", yaml.safe_load(block))
        except yaml.YAMLError:
            pass
    return out


def test_streaming_retry_policies_everywhere_keep_to_calls_that_never_reached_the_application():
    policies = _streaming_retry_policies()
    assert any(where.startswith("values.yaml") for where, _ in policies)
    assert any(where.startswith("README.md") for where, _ in policies), "README shows a streaming retry policy"
    for where, on in policies:
        tokens = set(on.split(","))
        assert NEVER_REACHED <= tokens and not tokens & {"unavailable", "reset", "5xx", "gateway-error"}, (where, on)


def test_streaming_routes_carry_no_timeout_and_unary_ones_keep_theirs(helm, istio):
    """Asked of Istio: the streaming route's Envoy route has no timeout, the unary one 3s; the
    stream still retries, only calls that never reached the application (Envoy buffers the request
    body: a stream can be replayed if the backend answers before headers)."""
    res = ask_paths(helm, istio, {"streaming": (load_ci("streaming-values.yaml"), {
        "stream": "/chat.v1.Chat/Subscribe", "unary": "/chat.v1.Chat/Send"})})["streaming"]
    stream, unary = res.call("stream"), res.call("unary")
    assert reached(res, "stream") == reached(res, "unary") == {cl("chat"): 100}
    assert stream["timeout"] in (None, "0s") and not stream.get("max_stream_duration")
    assert unary["timeout"] == "3s"
    assert stream["retry_policy"]["numRetries"] >= 1
    assert set(stream["retry_policy"]["retryOn"].split(",")) <= NEVER_REACHED, stream["retry_policy"]


def test_streaming_backend_gets_keepalive_idle_timeout_and_rebalancing(helm):
    dr = ci(helm, "streaming-values.yaml").one("DestinationRule")
    assert dr["spec"]["host"] == "chat.default.svc.cluster.local"
    pool = dr["spec"]["trafficPolicy"]["connectionPool"]
    assert pool["http"]["idleTimeout"] == "2h"
    assert pool["http"]["maxRequestsPerConnection"] == 1000
    assert pool["tcp"]["tcpKeepalive"] == {"time": "60s", "interval": "15s", "probes": 4}
    assert "h2UpgradePolicy" not in pool["http"], "omit what the user did not ask for"


def test_retries_can_be_turned_off(helm):
    (entry,) = helm.render({"routes": [{"name": "a", "backend": {"host": "a", "port": 1},
                                        "retries": {"attempts": 0}}]}).one("VirtualService")["spec"]["http"]
    assert entry["retries"] == {"attempts": 0}


def test_chart_wide_retries_can_be_turned_off(helm):
    (entry,) = helm.render({"retries": {"unary": {"attempts": 0}}}).one("VirtualService")["spec"]["http"]
    assert entry["retries"] == {"attempts": 0}


# Go's longest duration in each unit, and one unit more.
DURATION_EDGES = [("2562047h", "2562048h"), ("153722867m", "153722868m"), ("9223372036s", "9223372037s"),
                  ("9223372036854ms", "9223372036855ms"), ("2562047h47m16s", "2562047h47m17s")]


@pytest.mark.parametrize("longest,beyond", DURATION_EDGES, ids=[e[0] for e in DURATION_EDGES])
def test_durations_up_to_gos_longest_render_and_istio_refuses_one_unit_more(helm, istio, longest, beyond):
    """The bound is Go's (time.ParseDuration), which istiod's webhook decodes with: the longest
    duration renders and Istio accepts it; one unit more is what the chart refuses, and what
    Istio would have refused."""
    values = {"streaming": {"idleTimeout": longest, "tcpKeepalive": {"time": longest, "interval": longest}},
              "routes": [{"name": "r", "backend": {"host": "a", "port": 1}, "timeout": longest,
                          "retries": {"attempts": 1, "perTryTimeout": longest}},
                         {"name": "s", "services": ["a.S"], "streaming": True, "backend": {"host": "a", "port": 1}}]}
    r = helm.render(values)
    vs = r.one("VirtualService")["spec"]["http"]
    assert {e.get("timeout") for e in vs} == {longest, None}
    planted = r.stdout.replace(longest, beyond)
    accepted, refused = istio.run([istio.case(r.stdout, analyze=False, simulate=False),
                                   istio.case(planted, analyze=False, simulate=False)])
    assert accepted.refused() == [], accepted.refused()
    assert {v["kind"] for v in refused.refused()} == {"VirtualService", "DestinationRule"}
    assert all("invalid duration" in v["message"] for v in refused.refused()), refused.refused()
    values["routes"][0]["timeout"] = beyond
    helm.render_fails(values, match=[r"routes\.0\.timeout", re.escape(beyond)])


# --- every generated values set ------------------------------------------------------------
# Istio's answer for the route each path reaches (support.istio_promises: the timeout and retries
# each route's values ask for, with the chart-wide retries for its kind when it sets none).

@for_every_valid_values_set_in_istio
def test_streams_never_carry_a_route_timeout_and_unary_routes_keep_theirs(case):
    """A streaming route's Envoy route has no timeout and no max stream duration, its connection
    manager no stream idle timeout; a unary route has the timeout its values give, or none."""
    assert case.unkept("timeouts") == []


@for_every_valid_values_set_in_istio
def test_routes_retry_as_asked_and_attempts_zero_turns_retries_off(case):
    """A route's own retries, else the chart-wide ones for its kind (unary or streaming), reach
    Envoy's route: its attempts, per-try timeout and retry conditions; attempts: 0 means no retry
    policy at all (Istio's default would retry twice)."""
    assert case.unkept("retries") == []


# --- bad input -----------------------------------------------------------------------------

BAD_VALUES = [
    ("streaming-string", route(streaming="true"), [r"routes\.0\.streaming"]),
    ("unknown-retries-key", route(retries={"attempts": 2, "retry_on": "unavailable"}), [r"routes\.0\.retries", r"retry_on"]),
    ("timeout-0s", route(timeout="0s"), [r"routes\.0\.timeout"]),
    ("timeout-negative", route(timeout="-1s"), [r"routes\.0\.timeout"]),
    ("timeout-sub-ms", route(timeout="1.5ms"), [r"routes\.0\.timeout"]),
    ("timeout-no-unit", route(timeout="10"), [r"routes\.0\.timeout"]),
    ("timeout-number", route(timeout=10), [r"routes\.0\.timeout"]),
    ("per-try-timeout-0", route(retries={"attempts": 2, "perTryTimeout": "0ms"}), [r"routes\.0\.retries\.perTryTimeout"]),
    ("idle-timeout-0", {"streaming": {"idleTimeout": "0h"}}, [r"streaming\.idleTimeout"]),
    ("streaming-with-timeout", route(streaming=True, timeout="30s"), [r"routes\.0\.timeout", r"streaming"]),
    ("retry-on-spaces", route(retries={"attempts": 2, "retryOn": "unavailable, cancelled"}), [r"routes\.0\.retries\.retryOn"]),
    ("retry-on-unknown", route(retries={"attempts": 2, "retryOn": "unavailable,sometimes"}), [r"routes\.0\.retries\.retryOn"]),
    ("retry-on-unknown-status-code", route(retries={"attempts": 1, "retryOn": "299"}), [r"routes\.0\.retries\.retryOn"]),
    ("attempts-0-with-per-try", route(retries={"attempts": 0, "perTryTimeout": "1s"}), [r"routes\.0\.retries", r"attempts: 0"]),
    ("attempts-0-with-retry-on", route(retries={"attempts": 0, "retryOn": "unavailable"}), [r"routes\.0\.retries"]),
    ("attempts-missing", route(retries={"retryOn": "unavailable"}), [r"routes\.0\.retries", r"attempts"]),
    ("default-retries-bad", {"retries": {"unary": {"attempts": 2, "retryOn": "5XX"}}}, [r"retries\.unary\.retryOn"]),
    # Go's longest duration is 2562047h47m16.854775807s (math.MaxInt64 ns)
    ("timeout-beyond-go-duration", route(timeout="3000000h"), [r"routes\.0\.timeout", "3000000h", "2562047h"]),
    ("timeout-ms-beyond-go-duration", route(timeout="99999999999999999999ms"), [r"routes\.0\.timeout", "99999999999999999999ms"]),
    ("timeout-one-ms-beyond-go-duration", route(timeout="9223372036855ms"), [r"routes\.0\.timeout", "9223372036855ms"]),
    ("per-try-timeout-beyond-go-duration", route(retries={"attempts": 1, "perTryTimeout": "2562048h"}),
     [r"routes\.0\.retries\.perTryTimeout", "2562048h"]),
    ("default-per-try-timeout-beyond-go-duration", {"retries": {"streaming": {"attempts": 1, "perTryTimeout": "153722868m"}}},
     [r"retries\.streaming\.perTryTimeout", "153722868m"]),
    ("idle-timeout-beyond-go-duration", {"streaming": {"idleTimeout": "9223372037s"}}, [r"streaming\.idleTimeout", "9223372037s"]),
    ("keepalive-interval-beyond-go-duration", {"streaming": {"tcpKeepalive": {"interval": "2562047h48m"}}},
     [r"streaming\.tcpKeepalive\.interval", "2562047h48m"]),
]


@pytest.mark.parametrize("values,match", bad_values(BAD_VALUES))
def test_bad_values_are_refused_naming_the_key(helm, values, match):
    assert_refused(helm, values, match)


# --- bad edits of valid values -------------------------------------------------------------

def m_zero_timeout(v, rnd):
    i = rnd.randrange(len(v["routes"]))
    v["routes"][i]["timeout"] = rnd.choice(["0s", "0ms", "0m", "0h", "00s", "0h0m0s"])
    return [path_re("routes", i, "timeout")]


def m_timeout_on_stream(v, rnd):
    i = rnd.randrange(len(v["routes"]))
    v["routes"][i].update(streaming=True, timeout=rnd.choice(["5s", "30s", "1h"]))
    return [path_re("routes", i, "timeout"), "streaming"]


def m_retry_on_space(v, rnd):
    bad = rnd.choice(["connect-failure, unavailable", "5xx ,reset", " unavailable", "unavailable,,reset", ""])
    if rnd.random() < 0.7:
        i = rnd.randrange(len(v["routes"]))
        v["routes"][i]["retries"] = {"attempts": 2, "retryOn": bad}
        return [path_re("routes", i, "retries", "retryOn")]
    kind = rnd.choice(["unary", "streaming"])
    v.setdefault("retries", {})[kind] = {"attempts": 2, "retryOn": bad}
    return [path_re("retries", kind, "retryOn")]


def m_attempts_zero_with_options(v, rnd):
    i = rnd.randrange(len(v["routes"]))
    v["routes"][i]["retries"] = rnd.choice([{"attempts": 0, "retryOn": "unavailable"}, {"attempts": 0, "perTryTimeout": "1s"}])
    return [path_re("routes", i, "retries")]


def m_attempts_out_of_range(v, rnd):
    i = rnd.randrange(len(v["routes"]))
    v["routes"][i]["retries"] = {"attempts": rnd.choice([11, -1, 100])}
    return [path_re("routes", i, "retries", "attempts")]


def m_bad_duration(v, rnd):
    bad = rnd.choice(["5 s", "1.5us", "5", "s", "-5s", "1d", "5S", "1h 30m", "PT5S", "5sec", "0.5ms", "0s"])
    i = rnd.randrange(len(v["routes"]))
    where = rnd.choice([("routes", i, "timeout"), ("routes", i, "retries", "perTryTimeout"),
                        ("routes", i, "trafficPolicy", "connectTimeout"), ("trafficPolicy", "idleTimeout"),
                        ("streaming", "idleTimeout"), ("grpcWeb", "cors", "maxAge")])
    node = v
    for p in where[:-1]:
        if p == "retries" and "retries" not in node:
            node["retries"] = {"attempts": 1}
        node = node.setdefault(p, {}) if isinstance(p, str) else node[p]
    node[where[-1]] = bad
    return [path_re(*where)]


@pytest.mark.parametrize("mutation", edits(
    m_zero_timeout, m_timeout_on_stream, m_retry_on_space, m_attempts_zero_with_options,
    m_attempts_out_of_range, m_bad_duration))
def test_bad_edits_of_valid_values_are_refused_naming_the_key(helm, mutation_bases, mutation):
    assert_edits_refused(helm, mutation, mutation_bases)


# --- durations as Istio reads them ---------------------------------------------------------

# Istio's verdict on each duration (time.ParseDuration, then >= 1ms to the millisecond; CORS
# maxAge also to the second), written out here and checked against Istio's webhook below.
ROUTE_TIMEOUTS = {
    "1.5s": True, "500ms": True, "1h30m": True, ".5s": True, "5.s": True, "1s1h": True, "+2s": True,
    "2000000us": True, "1.5h": True, "0.001s": True, "90s": True,
    "1500us": False, "1.0005s": False, "0.5ms": False, "100us": False, "0.0001s": False, "1µs1ms": False,
    "0": False, "0s": False, "0.0s": False, "-1s": False, "1e3s": False, "1 s": False, "10": False, "1d": False,
}
MAX_AGES = {"1.5m": True, "2s": True, "24h": True, "1500ms": False, "0.5s": False, "1.0001h": False}


@pytest.fixture(scope="module")
def webhook_on_durations(helm, istio):
    """Istio's webhook on a VirtualService whose route timeout (and CORS maxAge) is each value."""
    import copy
    import yaml
    base = helm.render({"grpcWeb": {"enabled": True, "cors": {"allowOrigins": ["https://app.example.com"], "maxAge": "1h"}},
                        "routes": [{"name": "r", "services": ["a.S"], "backend": {"host": "a", "port": 1}, "timeout": "1s"}]})
    cases, keys = [], []
    for field, table in (("timeout", ROUTE_TIMEOUTS), ("maxAge", MAX_AGES)):
        for value in table:
            docs = [copy.deepcopy(d) for d in base.docs if d["kind"] == "VirtualService"]
            entry = docs[0]["spec"]["http"][0]
            if field == "timeout":
                entry["timeout"] = value
            else:
                entry["corsPolicy"] = {**entry["corsPolicy"], "maxAge": value}
            cases.append(istio.case(yaml.safe_dump_all(docs), analyze=False, simulate=False))
            keys.append((field, value))
    return {k: not r.refused() for k, r in zip(keys, istio.run(cases))}


@pytest.mark.parametrize("value", list(ROUTE_TIMEOUTS))
def test_route_timeouts_are_taken_exactly_when_istio_takes_them(helm, webhook_on_durations, value):
    assert webhook_on_durations["timeout", value] == ROUTE_TIMEOUTS[value], "Istio's webhook disagrees with the table"
    for values in ({"routes": [{"name": "r", "services": ["a.S"], "backend": {"host": "a", "port": 1}, "timeout": value}]},
                   {"routes": [{"name": "r", "backend": {"host": "a", "port": 1}, "trafficPolicy": {"idleTimeout": value}}]},
                   {"retries": {"unary": {"attempts": 1, "perTryTimeout": value}}}):
        rc, _, err, _, _ = helm.template(values)
        assert (rc == 0) == ROUTE_TIMEOUTS[value], err


@pytest.mark.parametrize("value", list(MAX_AGES))
def test_cors_max_age_is_taken_exactly_when_istio_takes_it(helm, webhook_on_durations, value):
    assert webhook_on_durations["maxAge", value] == MAX_AGES[value], "Istio's webhook disagrees with the table"
    rc, _, err, _, _ = helm.template({"grpcWeb": {"enabled": True, "cors": {"allowOrigins": ["https://app.example.com"],
                                                                           "maxAge": value}}})
    assert (rc == 0) == MAX_AGES[value], err


def test_duration_refusals_say_why_and_how_to_fix(helm):
    def fails(timeout):
        return helm.render_fails({"routes": [{"name": "r", "services": ["a.S"], "backend": {"host": "a", "port": 1},
                                              "timeout": timeout}]})
    assert "round it to 1ms or 2ms" in fails("1500us")
    assert "under 1ms" in fails("0.5ms") and "use 1ms or more" in fails("0s")
    assert "round it to whole seconds (90s)" in helm.render_fails(
        {"grpcWeb": {"enabled": True, "cors": {"allowOrigins": ["https://app.example.com"], "maxAge": "90.5s"}}})


def test_cert_manager_durations_take_fractions(helm):
    r = helm.render({"tls": {"credentialName": "", "certManager": {"enabled": True, "issuerRef": {"name": "ca"},
                                                                   "duration": "1.5h", "renewBefore": "30.5m"}}})
    assert r.one("Certificate")["spec"]["duration"] == "1.5h"
    helm.render_fails({"tls": {"credentialName": "", "certManager": {"enabled": True, "issuerRef": {"name": "ca"},
                                                                     "duration": "0.5h"}}},
                      match=[r"tls\.certManager\.duration: 0\.5h is shorter than cert-manager's minimum of 1h"])

"""Routing: which backend a gRPC call reaches. Services, single methods, raw prefixes and
regexes, their order (more specific first), conflicts between routes, weighted canaries."""
from __future__ import annotations

import pytest

from support.bad_input import assert_refused, bad_values
from support.injection import Field, string_keys
from support.istio_checks import ask_paths, cl, reached
from support.mutations import assert_edits_refused, edits, fresh_service, key_re, new_route, path_re
from support.properties import for_every_valid_values_set, for_every_valid_values_set_in_istio
from support.scenarios import ci, load_ci
from support.values import B, route, routes


def _one(name, host, **match):
    return {"name": name, **match, "backend": {"host": host, "port": 1}}


# Each routing example, answered by Istio's simulation of the gateway (one harness process):
# values, and the paths to call on the first host.
ROUTING = {
    "multi-route": (load_ci("multi-route-values.yaml"), {
        "create": "/shop.v1.OrderService/Create", "cart": "/shop.v1.CartService/Add",
        "export": "/shop.v1.OrderService/Export", "users": "/users.v1.UserService/Get",
        "watch": "/grpc.health.v1.Health/Watch", "other": "/other.Thing/Do"}),
    "service-prefix": (routes(_one("greeter", "greeter", services=["a.Greeter"])), {
        "call": "/a.Greeter/SayHello", "look-alike": "/a.GreeterX/SayHello"}),
    "method-exact": (routes(_one("one", "one", methods=["a.S/Get"])), {
        "call": "/a.S/Get", "longer": "/a.S/GetAll"}),
    "precedence": (routes(_one("all", "fallback"), _one("raw", "raw", prefix="/legacy/"),
                          _one("svc", "svc", services=["a.S"]), _one("meth", "meth", methods=["a.S/M"])), {
        "method": "/a.S/M", "service": "/a.S/N", "raw": "/legacy/x", "other": "/b.S/M"}),
    "regex": (routes(_one("reflection", "reflect", regex="/grpc\\.reflection\\.v1(alpha)?\\.ServerReflection/.*")), {
        "v1alpha": "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        "v1": "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "v2": "/grpc.reflection.v2.ServerReflection/X"}),
    "canary": (load_ci("canary-values.yaml"), {"call": "/helloworld.Greeter/SayHello"}),
    "raw-beside-services": (routes(_one("svc", "svc", services=["a.v1.A"]), _one("longer", "v2", prefix="/legacy/v2/"),
                                   _one("shorter", "v1", prefix="/legacy/"), _one("optional", "opt", regex="/a\\.v1\\.Ax?/.*"),
                                   _one("neighbour", "nb", prefix="/a.v1.A"), _one("all", "all")), {
        "longer": "/legacy/v2/Call", "shorter": "/legacy/v1/Call", "neighbour": "/a.v1.AB/Call",
        "optional": "/a.v1.Ax/Call", "svc": "/a.v1.A/Call"}),
}


@pytest.fixture(scope="module")
def routed(helm, istio):
    return ask_paths(helm, istio, ROUTING)


def test_services_methods_and_catch_all_reach_the_right_backend(routed):
    res = routed["multi-route"]
    assert reached(res, "create") == reached(res, "cart") == {cl("orders"): 100}
    assert reached(res, "export") == {cl("exporter", ns="batch"): 100}, \
        "a single method routed elsewhere must win over its service's prefix"
    assert reached(res, "users") == {cl("users"): 100}
    assert reached(res, "watch") == {cl("orders"): 100}
    assert reached(res, "other") == {cl("legacy", 9000): 100}, "unknown services reach the catch-all"


def test_service_prefix_keeps_its_trailing_slash(routed):
    assert reached(routed["service-prefix"], "call") == {cl("greeter", 1): 100}
    assert reached(routed["service-prefix"], "look-alike") is None, "/a.Greeter/ must not catch /a.GreeterX/"


def test_method_match_is_exact(routed):
    assert reached(routed["method-exact"], "call") == {cl("one", 1): 100}
    assert reached(routed["method-exact"], "longer") is None


def test_more_specific_matches_come_first_whatever_the_user_order(routed):
    res = routed["precedence"]
    assert {id: reached(res, id) for id in ("method", "service", "raw", "other")} == {
        "method": {cl("meth", 1): 100}, "service": {cl("svc", 1): 100},
        "raw": {cl("raw", 1): 100}, "other": {cl("fallback", 1): 100}}


def test_raw_regex_escape_hatch(routed):
    assert reached(routed["regex"], "v1alpha") == reached(routed["regex"], "v1") == {cl("reflect", 1): 100}
    assert reached(routed["regex"], "v2") is None


def test_raw_matches_that_can_match_render_beside_services_and_other_raw_routes(routed):
    """Near misses of the shadowing rules: a prefix without the service's slash, a longer
    prefix listed before the shorter one, a regex whose literal start differs."""
    res = routed["raw-beside-services"]
    assert {id: reached(res, id) for id in ("longer", "shorter", "neighbour", "optional", "svc")} == {
        "longer": {cl("v2", 1): 100}, "shorter": {cl("v1", 1): 100}, "neighbour": {cl("nb", 1): 100},
        "optional": {cl("opt", 1): 100}, "svc": {cl("svc", 1): 100}}


# RE2 the chart must pass through, and 1,024 characters: Istio's webhook accepts them all.
RE2_EDGES = {
    "non-capturing-and-classes": "/pkg\\.v[0-9]+\\.(?:Users|Groups)/[A-Z][A-Za-z]*",
    "flags-and-escapes": "/(?i)pkg\\.svc/\\w+",
    "quoted-text": "/\\Qpkg.Quoted\\E/.*",
    "named-group-and-repeat": "/(?P<svc>pkg\\.S){1,3}/.*",
    "1024-characters": "/" + "x" * 1020 + "/.*",
}


def test_re2_features_and_1024_characters_render_and_istio_accepts_them(helm, istio):
    r = helm.render({"routes": [{"name": "r%d" % i, "regex": rx, "backend": {"host": "a", "port": 1}}
                                for i, rx in enumerate(RE2_EDGES.values())]})
    matches = [m["uri"]["regex"] for e in r.one("VirtualService")["spec"]["http"] for m in e["match"]]
    assert matches == list(RE2_EDGES.values())
    assert istio.ask(r.stdout, analyze=False, simulate=False).refused() == []


# Regexes Istio's webhook refuses (validateStringRegexp: Go's regexp, at most 1,024 characters).
BAD_REGEXES = {
    "unclosed-group": "/a\\.S/(",
    "lookahead": "/a/(?=x).*",
    "backreference": "/(a)\\1",
    "possessive": "/a/.*+",
    "1025-characters": "/" + "x" * 1021 + "/.*",
    "1101-characters": "/" + "x" * 1100,
}


@pytest.mark.parametrize("regex", BAD_REGEXES.values(), ids=BAD_REGEXES.keys())
def test_regexes_istio_refuses_are_refused_naming_the_route(helm, istio, regex):
    placeholder = "/placeholder/.*"
    good = helm.render({"routes": [{"name": "r", "regex": placeholder, "backend": {"host": "a", "port": 1}}]})
    planted = good.stdout.replace("regex: " + placeholder, "regex: '%s'" % regex)
    assert planted != good.stdout
    (refused,) = istio.ask(planted, analyze=False, simulate=False).refused()
    assert refused["kind"] == "VirtualService", "Istio's own webhook refuses it"
    err = helm.render_fails({"routes": [{"name": "r", "regex": regex, "backend": {"host": "a", "port": 1}}]},
                            match=[r"routes\.0\.regex", "RE2|1024"])
    assert regex[:60] in err


def test_canary_splits_by_weight_and_defines_the_subsets(helm, routed):
    assert reached(routed["canary"], "call") == {cl("greeter", subset="stable"): 90, cl("greeter", subset="canary"): 10}
    dr = ci(helm, "canary-values.yaml").one("DestinationRule")
    assert {s["name"]: s["labels"] for s in dr["spec"]["subsets"]} == {"stable": {"version": "v1"}, "canary": {"version": "v2"}}


# --- every generated values set ------------------------------------------------------------
# Istio's own routing answers (support.istio_promises reads the expected route of every path from
# the values: a method beats its service, a service beats raw prefixes and regexes, the
# catch-all takes the rest; a backend takes every call, backends split them by weight).


@for_every_valid_values_set
def test_each_route_becomes_one_http_entry(case):
    assert sorted(e["name"] for e in case.entries) == sorted(r["name"] for r in case.routes)


@for_every_valid_values_set_in_istio
def test_every_service_method_and_raw_match_reaches_its_routes_backends_in_its_proportions(case):
    """Each path a route names (/pkg.Svc/Probe for a service, /pkg.Svc/M1 for a method, a path
    under a raw prefix or regex) reaches that route's clusters with their weights, over HTTP/2, in
    Istio's simulation of the gateway; and so do the paths no route names (below)."""
    assert case.unkept("routing") == []


@for_every_valid_values_set_in_istio
def test_unknown_services_and_near_miss_names_reach_their_own_service_or_the_catch_all(case):
    """A service's longer or shorter neighbour (pkg1.Svc1Admin / pkg1.Svc1) and a method's longer
    neighbour (pkg1.Svc1/M1x) go where their own service goes, an unknown service to the
    catch-all, or nowhere (404) without one: the calls support.istio_promises.look_alikes makes."""
    plan = case.plan()
    assert not plan.main_kind() or any(p.call.path == "/zz.Unknown/Call" for p in plan.promises), \
        "the look-alike calls are made"
    assert case.unkept("look_alikes") == []


# --- strings from values: refused naming the key, or kept verbatim (support.injection) --------

def _route(**kw):
    return {"routes": [{"name": "r", "services": ["pkg.Svc"], "backend": {"host": "svc", "port": 50051}, **kw}]}


STRING_KEYS = string_keys(
    Field("route-name", lambda s: _route(name=s), "zqxjk-route", "routes.0.name"),
    Field("backend-host", lambda s: _route(backend={"host": s, "port": 50051}), "zqxjk-backend", "routes.0.backend.host"),
    # a loose syntax, refused only for what YAML or Envoy cannot carry
    Field("route-regex", lambda s: {"routes": [{"name": "r", "regex": s, "backend": {"host": "svc", "port": 1}}]},
          "/zqxjkval", "routes.0.regex", loose=True),
)


@pytest.mark.parametrize("field,payload", STRING_KEYS)
def test_strings_in_route_keys_are_refused_naming_the_key_or_kept_verbatim(injected, field, payload):
    injected.check(field, payload)


# --- bad input -----------------------------------------------------------------------------

BAD_VALUES = [
    ("routes-object", {"routes": {"name": "r"}}, [r"routes"]),
    ("unknown-route-key", route(timeOut="5s"), [r"routes\.0", r"timeOut"]),
    ("unknown-backend-key", routes({"name": "r", "backend": {**B, "namespace": "x"}}), [r"routes\.0\.backend", r"namespace"]),
    ("backend-port-0", routes({"name": "r", "backend": {"host": "a", "port": 0}}), [r"routes\.0\.backend\.port"]),
    ("route-names-duplicate", routes({"name": "r", "services": ["a.S"], "backend": B},
                                     {"name": "r", "services": ["b.S"], "backend": B}), [r"routes\.1\.name", r"unique"]),
    ("route-name-not-dns-label", routes({"name": "My_Route", "backend": B}), [r"routes\.0\.name"]),
    ("route-name-missing", routes({"backend": B}), [r"routes\.0", r"name"]),
    ("service-with-slash", route(services=["a.Greeter/"]), [r"routes\.0\.services\.0"]),
    ("method-without-method", route(methods=["a.Greeter"]), [r"routes\.0\.methods\.0"]),
    ("service-claimed-twice", routes({"name": "a", "services": ["a.S"], "backend": B},
                                     {"name": "b", "services": ["a.S"], "backend": B}), [r"routes\.1\.services", r"a\.S"]),
    ("method-claimed-twice", routes({"name": "a", "methods": ["a.S/M"], "backend": B},
                                    {"name": "b", "methods": ["a.S/M"], "backend": B}), [r"routes\.1\.methods"]),
    ("method-shadowed-in-mixed-route", routes({"name": "a", "services": ["a.S"], "backend": B},
                                              {"name": "b", "services": ["b.S"], "methods": ["a.S/M"], "backend": B}),
     [r"routes\.1\.methods", r"a\.S/M"]),
    ("two-catch-alls", routes({"name": "a", "backend": B}, {"name": "b", "backend": B}), [r"routes\.1", r"catch"]),
    ("raw-and-services", route(services=["a.S"], prefix="/x/"), [r"routes\.0", r"prefix/regex"]),
    ("prefix-without-slash", route(prefix="a.S/"), [r"routes\.0\.prefix"]),
    ("backend-and-backends", routes({"name": "r", "backend": B, "backends": [{**B, "weight": 100}]}),
     [r"routes\.0", r"backend"]),
    ("no-backend", routes({"name": "r"}), [r"routes\.0\.backend"]),
    ("weights-all-zero", routes({"name": "r", "backends": [{**B, "weight": 0}, {"host": "b", "port": 1, "weight": 0}]}),
     [r"routes\.0\.backends", r"add up to 0"]),
    ("weights-not-100", routes({"name": "r", "backends": [{**B, "weight": 50}, {"host": "b", "port": 1, "weight": 20}]}),
     [r"routes\.0\.backends", r"100"]),
    ("weight-over-100", routes({"name": "r", "backends": [{**B, "weight": 101}]}), [r"routes\.0\.backends\.0\.weight"]),
    ("routes-empty", {"routes": []}, [r"routes"]),
    # raw matches another route hides, or that hide the catch-all
    ("raw-prefix-behind-service", routes({"name": "svc", "services": ["a.v1.A"], "backend": B},
                                         {"name": "raw", "prefix": "/a.v1.A/Special", "backend": B}),
     [r"routes\.1\.prefix", r"/a\.v1\.A/Special", r"never matches", r'"svc"', r"methods: \[a\.v1\.A/"]),
    ("raw-regex-behind-service", routes({"name": "svc", "services": ["a.v1.A"], "backend": B},
                                        {"name": "raw", "regex": "/a\\.v1\\.A/Re.*", "backend": B}),
     [r"routes\.1\.regex", r"never matches", r'"svc"']),
    ("raw-prefix-equal-to-service-prefix", routes({"name": "raw", "prefix": "/a.v1.A/", "backend": B},
                                                  {"name": "svc", "services": ["a.v1.A"], "backend": B}),
     [r"routes\.0\.prefix", r'"svc"']),
    ("raw-prefix-slash-beside-catch-all", routes({"name": "raw", "prefix": "/", "backend": B}, {"name": "all", "backend": B}),
     [r"routes\.0\.prefix", r"every call", r'catch-all route "all"']),
    ("raw-regex-everything-beside-catch-all", routes({"name": "all", "backend": B}, {"name": "raw", "regex": "/.*", "backend": B}),
     [r"routes\.1\.regex", r'catch-all route "all"']),
    ("raw-prefix-behind-shorter-prefix", routes({"name": "old", "prefix": "/legacy/", "backend": B},
                                                {"name": "new", "prefix": "/legacy/v2/", "backend": B}),
     [r"routes\.1\.prefix", r'route "old"', r"list this route before it"]),
    ("raw-regex-behind-prefix", routes({"name": "old", "prefix": "/legacy/", "backend": B},
                                       {"name": "new", "regex": "/legacy/v[0-9]+/.*", "backend": B}),
     [r"routes\.1\.regex", r'route "old"']),
    ("raw-regex-twice", routes({"name": "a", "regex": "/x/.*", "backend": B}, {"name": "b", "regex": "/x/.*", "backend": B}),
     [r"routes\.1\.regex", r'route "a"']),
    ("literal-regex-behind-method", routes({"name": "m", "methods": ["b.v1.B/Get"], "backend": B},
                                           {"name": "raw", "regex": "/b\\.v1\\.B/Get", "backend": B}),
     [r"routes\.1\.regex", r'route "m"', r"by method"]),
    # regexes Istio's webhook cannot compile or takes as too long
    ("regex-unclosed-group", route(regex="/a\\.S/("), [r"routes\.0\.regex", r"/a\\\.S/\(", r"RE2"]),
    ("regex-lookahead", route(regex="/a/(?=x).*"), [r"routes\.0\.regex", r"RE2"]),
    ("regex-1101-characters", route(regex="/" + "x" * 1100), [r"routes\.0\.regex", r"1101 characters", r"1024"]),
]


@pytest.mark.parametrize("values,match", bad_values(BAD_VALUES))
def test_bad_values_are_refused_naming_the_key(helm, values, match):
    assert_refused(helm, values, match)


# --- bad edits of valid values -------------------------------------------------------------

def m_duplicate_route_name(v, rnd):
    if len(v["routes"]) < 2:
        new_route(v, services=[fresh_service(v, "dup")])
    j = rnd.randrange(1, len(v["routes"]))
    i = rnd.randrange(j)
    v["routes"][j]["name"] = v["routes"][i]["name"]
    return [path_re("routes", j, "name")]


def m_service_without_package(v, rnd):
    i = rnd.randrange(len(v["routes"]))
    services = v["routes"][i].setdefault("services", [])
    services.append(rnd.choice(["Greeter", "greeter", "Greeter/", ".Greeter", "pkg..Greeter", "1pkg.Greeter", "pkg.Greeter/Say"]))
    return [path_re("routes", i, "services", len(services) - 1)]


def m_bad_method(v, rnd):
    i = rnd.randrange(len(v["routes"]))
    methods = v["routes"][i].setdefault("methods", [])
    methods.append(rnd.choice(["pkg.Greeter", "pkg.Greeter/", "pkg.Greeter/Say/Hi", "pkg.Greeter/Say-Hi", "//pkg.Greeter/Say"]))
    return [path_re("routes", i, "methods", len(methods) - 1)]


def m_weights_not_100(v, rnd):
    i = rnd.randrange(len(v["routes"]))
    r = v["routes"][i]
    r.pop("backend", None)
    weights = rnd.choice([(50, 40), (100, 100), (0, 0), (99, 0), (30, 30, 30)])
    r["backends"] = [{"host": "weights-%d" % k, "port": 50051, "weight": w} for k, w in enumerate(weights)]
    return [path_re("routes", i, "backends"), "100"]


def m_weight_out_of_range(v, rnd):
    i = rnd.randrange(len(v["routes"]))
    r = v["routes"][i]
    if "backend" in r:
        r["backends"] = [r.pop("backend")]
    j = rnd.randrange(len(r["backends"]))
    r["backends"][j]["weight"] = rnd.choice([101, -1, 1000])
    return [path_re("routes", i, "backends", j, "weight")]


def m_backend_and_backends(v, rnd):
    i = rnd.randrange(len(v["routes"]))
    r = v["routes"][i]
    if "backend" in r:
        r["backends"] = [dict(r["backend"])]
    else:
        r["backend"] = {k: val for k, val in r["backends"][0].items() if k != "weight"}
    return [path_re("routes", i)]


def m_no_destination(v, rnd):
    i = rnd.randrange(len(v["routes"]))
    v["routes"][i].pop("backend", None)
    v["routes"][i].pop("backends", None)
    return [path_re("routes", i, "backend")]


def m_second_catch_all(v, rnd):
    if not any(not (r.get("services") or r.get("methods") or r.get("prefix") or r.get("regex")) for r in v["routes"]):
        new_route(v)
    j = new_route(v)
    return [path_re("routes", j), "catch"]


def m_service_claimed_twice(v, rnd):
    services = [s for r in v["routes"] for s in r.get("services", [])]
    if not services:
        new_route(v, services=[fresh_service(v, "claim")])
        services = v["routes"][-1]["services"]
    j = new_route(v, services=[rnd.choice(services)])
    return [path_re("routes", j, "services")]


def m_method_of_served_service_in_mixed_route(v, rnd):
    owner = fresh_service(v, "owner")
    new_route(v, services=[owner])
    j = new_route(v, services=[fresh_service(v, "mixed")], methods=[owner + "/Call"])
    return [path_re("routes", j, "methods")]


def m_raw_match_with_services(v, rnd):
    raw = rnd.choice([{"prefix": "/raw/"}, {"regex": "/raw/.*"}])
    j = new_route(v, services=[fresh_service(v, "raw")], **raw)
    return [path_re("routes", j)]


def m_bad_raw_match(v, rnd):
    field, bad = rnd.choice([("prefix", "legacy/"), ("prefix", "/a b"), ("regex", "")])
    j = new_route(v, **{field: bad})
    return [path_re("routes", j, field)]


def m_bad_route_name(v, rnd):
    i = rnd.randrange(len(v["routes"]))
    v["routes"][i]["name"] = rnd.choice(["Bad", "a_b", "-a", "a-", "a" * 64, "a.b", "", "a b"])
    return [path_re("routes", i, "name")]


def m_missing_required(v, rnd):
    i = rnd.randrange(len(v["routes"]))
    r = v["routes"][i]
    if rnd.random() < 0.5:
        del r["name"]
        return [path_re("routes", i), key_re("name")]
    target = r.get("backend") or r["backends"][0]
    field = rnd.choice(["host", "port"])
    del target[field]
    where = ("routes", i, "backend") if "backend" in r else ("routes", i, "backends", 0)
    return [path_re(*where), key_re(field)]


@pytest.mark.parametrize("mutation", edits(
    m_duplicate_route_name, m_service_without_package, m_bad_method, m_weights_not_100,
    m_weight_out_of_range, m_backend_and_backends, m_no_destination, m_second_catch_all,
    m_service_claimed_twice, m_method_of_served_service_in_mixed_route, m_raw_match_with_services, m_bad_raw_match,
    m_bad_route_name, m_missing_required))
def test_bad_edits_of_valid_values_are_refused_naming_the_key(helm, mutation_bases, mutation):
    assert_edits_refused(helm, mutation, mutation_bases)

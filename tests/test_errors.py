"""Errors that say the fix (issue 11): what a new user plausibly writes either works (a leading
/ on a method, a service without a package) or is refused with one message per mistake that
names the key, shows the bad value and says what to write, the same on Helm 3 and Helm 4; and
every mistake of one values file is reported in one run."""
from __future__ import annotations

import re

import pytest
import yaml

from support.bad_input import assert_refused, bad_values
from support.helm import ROOT, get

MULTI = ROOT / "tests" / "bad-values" / "first-hour-mistakes.yaml"

# (id, values, regexes): each regex names the key, the value as written, or the fix.
BAD_VALUES = [
    ("host-with-port", {"hosts": ["grpc.example.com:443"]},
     [r"hosts\.0", r'"grpc\.example\.com:443"', r"port", r"write grpc\.example\.com(?m:$)"]),
    ("host-with-scheme", {"hosts": ["https://grpc.example.com/"]},
     [r"hosts\.0", r'"https://grpc\.example\.com/"', r"scheme", r"write grpc\.example\.com(?m:$)"]),
    ("host-upper-case", {"hosts": ["GRPC.example.com"]}, [r"hosts\.0", r'"GRPC\.example\.com"', r"write grpc\.example\.com(?m:$)"]),
    ("host-ip-address", {"hosts": ["10.0.0.1"]}, [r"hosts\.0", r'"10\.0\.0\.1"', r"not a host name", r"IP address"]),
    ("tls-host-with-port", {"hosts": ["a.example.com"], "tls": {"hosts": [{"hosts": ["a.example.com:8443"], "credentialName": "a"}]}},
     [r"tls\.hosts\.0\.hosts\.0", r'"a\.example\.com:8443"', r"write a\.example\.com"]),
    ("origin-trailing-slash", {"grpcWeb": {"enabled": True, "cors": {"allowOrigins": ["https://app.example.com/"]}}},
     [r"grpcWeb\.cors\.allowOrigins\.0", r'"https://app\.example\.com/"', r"ends in /", r"write https://app\.example\.com(?m:$)"]),
    ("origin-with-path", {"grpcWeb": {"enabled": True, "cors": {"allowOrigins": ["https://app.example.com/login"]}}},
     [r"grpcWeb\.cors\.allowOrigins\.0", r"has a path", r"write https://app\.example\.com(?m:$)"]),
    ("origin-without-scheme", {"grpcWeb": {"enabled": True, "cors": {"allowOrigins": ["app.example.com"]}}},
     [r"grpcWeb\.cors\.allowOrigins\.0", r'"app\.example\.com"', r"no scheme", r"write https://app\.example\.com(?m:$)"]),
    ("origin-match-object-unknown-key", {"grpcWeb": {"enabled": True, "cors": {"allowOrigins": [{"suffix": ".example.com"}]}}},
     [r"grpcWeb\.cors\.allowOrigins\.0", r"suffix"]),
    ("route-timeout-without-unit", {"routes": [{"name": "a", "timeout": 10, "backend": {"host": "a", "port": 1}}]},
     [r"routes\.0\.timeout: 10 has no unit", r'write "10s"']),
    ("route-timeout-fraction-without-unit", {"routes": [{"name": "a", "timeout": 2.5, "backend": {"host": "a", "port": 1}}]},
     [r"routes\.0\.timeout: 2\.5 has no unit", r'write "2\.5s"']),
    ("per-try-timeout-without-unit", {"retries": {"unary": {"attempts": 1, "perTryTimeout": 3}}},
     [r"retries\.unary\.perTryTimeout: 3 has no unit", r'"3s"']),
    ("idle-timeout-without-unit", {"trafficPolicy": {"idleTimeout": 300}}, [r"trafficPolicy\.idleTimeout: 300 has no unit", r'"300s"']),
    ("stream-idle-timeout-without-unit", {"downstream": {"streamIdleTimeout": 60}},
     [r"downstream\.streamIdleTimeout: 60 has no unit", r'"60s"']),
]

# What Helm 3's schema check printed for a bad origin before the chart checked origins itself.
SCHEMA_DUMPS = [r"Must validate at least one schema", r"'anyOf' failed", r"does not match pattern"]


@pytest.mark.parametrize("values,match", bad_values(BAD_VALUES))
def test_plausible_mistakes_are_refused_naming_key_value_and_fix(helm, values, match):
    err = assert_refused(helm, values, match)
    for dump in SCHEMA_DUMPS:
        assert not re.search(dump, err), f"a schema dump instead of the chart's message:\n{err}"


def test_every_mistake_of_one_values_file_is_reported_in_one_run(helm):
    values = yaml.safe_load(MULTI.read_text())
    err = helm.render_fails(values)
    m = re.search(r"(\d+) problems in the values", err)
    assert m, err
    numbered = re.findall(r"^\d+\. (\S+?):", err, re.M)
    expected = ["hosts[0]", "routes[0].timeout", "routes[2].services", "grpcWeb.cors.allowOrigins[0]",
                "tls.certManager.issuerRef.name"]
    assert sorted(numbered) == sorted(expected), err
    assert int(m.group(1)) == len(expected)


def test_a_leading_slash_on_a_method_is_the_method(helm):
    """grpcurl, logs and the HTTP/2 path write /pkg.Service/Method; both spellings route alike."""
    route = lambda m: {"routes": [{"name": "say", "methods": [m], "backend": {"host": "greeter", "port": 50051}},
                                  {"name": "rest", "backend": {"host": "rest", "port": 50051}}]}
    slashed = helm.render(route("/helloworld.Greeter/SayHello")).one("VirtualService")
    plain = helm.render(route("helloworld.Greeter/SayHello")).one("VirtualService")
    assert slashed["spec"] == plain["spec"]
    assert get(plain, "spec.http.0.match.0.uri.exact") == "/helloworld.Greeter/SayHello"


def test_a_service_without_a_package_routes(helm):
    """gRPC allows a service with no package (`service Greeter {}` with no `package` line): its
    path is /Greeter/Method."""
    vs = helm.render({"routes": [{"name": "greeter", "services": ["Greeter"], "backend": {"host": "greeter", "port": 50051}},
                                 {"name": "m", "methods": ["/Echo/Ping"], "backend": {"host": "echo", "port": 50051}}]}).one("VirtualService")
    uris = [m["uri"] for h in vs["spec"]["http"] for m in h.get("match", [])]
    assert {"prefix": "/Greeter/"} in uris and {"exact": "/Echo/Ping"} in uris, uris

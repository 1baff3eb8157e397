"""The helm test Pod's probes, read back from a render as the calls they make, so that Istio's
own simulation of the gateway can say where each one goes (tests/test_install_checks.py).

    for probe in probes(render):
        probe.call            # a support.istio.Call: the Service port dialled, authority, TLS, path
        probe.route           # the route the chart says answers it (its grpc-ingress-check header)

A grpcurl container is read from its arguments (-authority, -plaintext, the address and the
method); a curl (gRPC-Web) container from its script (--connect-to and the URL).
Nothing here knows how the chart chooses a route: only what the Pod will send.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from support.istio import Call

# The check text every probe carries (templates/_passthrough.tpl): "listener L (...), host H,
# route R to BACKENDS, call PATH".
_CHECK = re.compile(r", route (?P<route>\S+) to (?P<backends>.+), call (?P<path>/\S+)$")
_CONNECT_TO = re.compile(r"--connect-to '(?P<host>[^':]+):(?P<port>\d+):(?P<address>[^':]+):(?P<service_port>\d+)'")
_URL = re.compile(r"'(?P<scheme>https?)://(?P<host>[^/':]+)(?::(?P<port>\d+))?(?P<path>/[^']*)'")


@dataclass(frozen=True)
class Probe:
    container: str
    call: Call
    route: str
    backends: str
    check: str


def probes(render) -> list[Probe]:
    """Every probe of the render's helm test Pod ([] without one)."""
    out = []
    for pod in render.of_kind("Pod"):
        for c in pod["spec"]["containers"]:
            out.append(_grpcurl(c) if "grpcurl" in c["image"] else _curl(c))
    return out


def _parse_check(check: str) -> re.Match:
    m = _CHECK.search(check)
    assert m, f"a probe's check text names no route and call: {check!r}"
    return m


def _grpcurl(c: dict) -> Probe:
    args = c["args"]
    check = args[args.index("-H") + 1].split(": ", 1)[1]
    m = _parse_check(check)
    address, method = args[-2], args[-1]
    # grpcurl's list verb calls server reflection (v1; v1alpha only when v1 is unimplemented).
    path = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo" if method == "list" else "/" + method
    assert path == m["path"], (method, check)
    # A client certificate (MUTUAL, -cert) is checked in the handshake, after the filter chain is
    # chosen: to Istio's simulation it is TLS ("mtls" there is Istio's own mesh mTLS).
    tls = "plaintext" if "-plaintext" in args else "tls"
    call = Call(f"probe-{c['name']}", path, args[args.index("-authority") + 1],
                port=int(address.rsplit(":", 1)[1]), tls=tls, headers=(("content-type", "application/grpc"),))
    return Probe(c["name"], call, m["route"], m["backends"], check)


def _curl(c: dict) -> Probe:
    script = c["args"][0]
    check = next(e["value"] for e in c["env"] if e["name"] == "CHECK")
    m = _parse_check(check)
    connect, url = _CONNECT_TO.search(script), _URL.search(script)
    assert connect and url, f"a gRPC-Web probe without --connect-to or URL: {script}"
    assert url["path"] == m["path"], (url["path"], check)
    # curl writes the URL's port into Host only when it is not the scheme's default (asked of
    # curl: test_install_checks.test_curl_sends_the_authority_the_probe_reader_gives_istio).
    default = {"https": "443", "http": "80"}[url["scheme"]]
    authority = url["host"] if url["port"] in (None, default) else f"{url['host']}:{url['port']}"
    tls = "plaintext" if url["scheme"] == "http" else "tls"
    call = Call(f"probe-{c['name']}", url["path"], authority, port=int(connect["service_port"]), tls=tls,
                protocol="http", headers=(("content-type", "application/grpc-web+proto"), ("x-grpc-web", "1")))
    return Probe(c["name"], call, m["route"], m["backends"], check)

"""api: gateway-api for the ci/ scenarios.

gateway_api_values(name) gives the values of ci/<name> with api: gateway-api. Four scenarios
use values the Gateway API cannot express on Istio (the chart refuses them, never drops them);
REFUSED lists, for each, the keys its error must name and the nearest values that both APIs
express (VARIANTS), which gateway_api_values uses instead. Those variants render in both modes,
so the two modes can be compared on them (tests/test_gateway_api.py; the Istio harness tests).

Reading a render: gateway(r), listeners(r), routes(r) (GRPCRoutes and HTTPRoutes),
route_named(r, name), reference_grants(r).
"""
from __future__ import annotations

import copy
import re

from support.scenarios import SCENARIOS, load_ci
from support.validators.cel import go_duration
from support.values import coalesce

GATEWAY_API = {"api": "gateway-api"}

# ci file -> (regexes its gateway-api refusal must contain, edits that make it expressible)
REFUSED = {
    "canary-values.yaml": (
        [r"routes\.0\.backends\.0\.subset: stable", r"routes\.0\.backends\.1\.subset: canary", r"names a Service, not a DestinationRule subset"],
        # A Service per version instead of DestinationRule subsets.
        {"routes": [{"name": "greeter", "services": ["helloworld.Greeter"], "timeout": "10s", "backends": [
            {"host": "greeter-v1", "port": 50051, "weight": 90},
            {"host": "greeter-v2", "port": 50051, "weight": 10}]}],
         "backendServices": [
            {"name": "greeter-v1", "selector": {"app": "greeter", "version": "v1"}, "port": 50051},
            {"name": "greeter-v2", "selector": {"app": "greeter", "version": "v2"}, "port": 50051}]},
    ),
    "combined-values.yaml": (
        [r"routes\.0\.backends\.0\.subset: stable", r"routes\.1\.backends\.1\.subset: canary",
         r"names a Service, not a DestinationRule subset"],
        # A Service per version instead of DestinationRule subsets, for the stream and its service.
        {"routes": [{"name": "orders-watch", "methods": ["shop.v1.OrderService/Watch"], "streaming": True,
                     "backends": [{"host": "orders-v1", "port": 50051, "weight": 90},
                                  {"host": "orders-v2", "port": 50051, "weight": 10}]},
                    {"name": "orders", "services": ["shop.v1.OrderService"], "timeout": "5s",
                     "backends": [{"host": "orders-v1", "port": 50051, "weight": 90},
                                  {"host": "orders-v2", "port": 50051, "weight": 10}]}],
         "backendServices": [
            {"name": "orders-v1", "selector": {"app": "orders", "version": "v1"}, "port": 50051},
            {"name": "orders-v2", "selector": {"app": "orders", "version": "v2"}, "port": 50051}]},
    ),
    "grpc-web-tls-values.yaml": (
        [r"grpcWeb\.cors\.allowOrigins\.1: \{\"prefix\":\"https://preview-\"\}", r"exact scheme://host"],
        {"grpcWeb": {"cors": {"allowOrigins": ["https://app.example.com", "https://preview-app.example.com"]}}},
    ),
    "mutual-tls-values.yaml": (
        [r"tls\.minProtocolVersion: TLSV1_3", r"tls\.subjectAltNames: "],
        {"tls": {"minProtocolVersion": "TLSV1_2", "subjectAltNames": []}},
    ),
}


def variant(name: str) -> dict:
    """ci/<name>'s values, made expressible in both APIs when REFUSED lists it (api unset)."""
    values = copy.deepcopy(load_ci(SCENARIOS[name]))
    if name not in REFUSED:
        return values
    return coalesce(values, REFUSED[name][1])


def gateway_api_values(name: str) -> dict:
    """The values a ci/ scenario renders with under api: gateway-api."""
    return {**variant(name), **GATEWAY_API}


def gateway(render):
    return render.one("Gateway")


def listeners(render):
    return gateway(render)["spec"]["listeners"]


def routes(render):
    return render.of_kind("GRPCRoute") + render.of_kind("HTTPRoute")


def route_named(render, name):
    """The GRPCRoute or HTTPRoute of the chart route `name`: the object <fullname>-<name> (the
    rule's name is namespaced for the retries EnvoyFilter, so it does not say). The fullname
    prefix is the same on every route, so the shortest name ending in -<name> is that one."""
    found = sorted((r for r in routes(render) if r["metadata"]["name"].endswith(f"-{name}")),
                   key=lambda r: len(r["metadata"]["name"]))
    assert found, f"no route for {name}: {[r['metadata']['name'] for r in routes(render)]}"
    return found[0]


def reference_grants(render):
    return render.of_kind("ReferenceGrant")


_ORIGIN = r"^(\*|https?://[a-zA-Z0-9.-]+(:[0-9]{1,5})?)$"


# How sigs.k8s.io/yaml's reader (goyaml.v2's resolve) takes a plain scalar of DNS-label characters
# that is not text: a YAML 1.1 boolean or null word, an integer strconv.ParseInt(s, 0, 64) reads
# (0x, 0o, 0b and leading-0 octal included), or a float by its pattern. A transform's guard only:
# test_istio_gateway_api checks it against Istio's deployment controller name by name.
_YAML_WORDS = {"y", "yes", "n", "no", "on", "off", "true", "false", "null"}
_YAML_INT = re.compile(r"(0x[0-9a-f]+|0o[0-7]+|0b[01]+|0[0-7]*|[1-9][0-9]*)")
_YAML_FLOAT = re.compile(r"(\.[0-9]+|[0-9]+(\.[0-9]*)?)(e[-+]?[0-9]+)?")


# Istio's gateway Service is <Gateway>-istio and its pods carry that name as a label
# (pilot/pkg/config/kube/gatewaycommon: GetDefaultName; kube-gateway.yaml): both take at most 63
# characters, so a Gateway Istio deploys takes 57 (test_istio_gateway_api.py asks Kubernetes;
# the chart refuses a longer gateway.name and fits a longer full name).
ISTIO_GATEWAY_NAME_MAX = 63 - len("-istio")


def yaml_reads_as_text(name: str) -> bool:
    return not (name in _YAML_WORDS or _YAML_INT.fullmatch(name) or _YAML_FLOAT.fullmatch(name))


def _istio_takes_the_shape(name: str) -> bool:
    """YAML reads the name as text and it starts with a letter (the Service <name>-istio is a
    DNS-1035 label): what the chart checks of any Gateway name, given or taken from the release."""
    return yaml_reads_as_text(name) and not name[:1].isdigit()


def istio_can_deploy(name: str) -> bool:
    """Whether Istio's deployment controller makes a Service and a Deployment Kubernetes takes
    for a Gateway (class istio) of this name: its shape (_istio_takes_the_shape) and at most
    ISTIO_GATEWAY_NAME_MAX characters. test_istio_gateway_api.py holds this to Kubernetes' answers."""
    return _istio_takes_the_shape(name) and len(name) <= ISTIO_GATEWAY_NAME_MAX


def expressible(values: dict, release: str = "") -> dict:
    """values (as the chart means them, no nulls) with what the Gateway API cannot say on Istio
    taken out or brought to its nearest expressible form: DestinationRule subsets, retries
    turned off, TLS versions and SANs, prefix/regex CORS origins, mid-segment raw prefixes,
    the Istio-mode gateway pod knobs, plaintext gRPC-Web's EnvoyFilter turned off, a Gateway
    name Istio cannot deploy, and an istio.version below 1.26 (CORS, Hostname backends). An input
    transform for properties; what the chart prints is checked on the render."""
    import re
    v = copy.deepcopy(values)
    version = int(str(v.get("istio", {}).get("version", "1.30")).split(".")[1])
    if version < 26:
        v.setdefault("istio", {})["version"] = "1.26"
        version = 26
    for key in ("selector", "workloadNamespace", "servicePorts"):
        v.get("gateway", {}).pop(key, None)
    # A Gateway Istio deploys needs a name YAML reads as text and that starts with a letter (the
    # chart refuses others with api: gateway-api): the given gateway.name, else the full name
    # (fullnameOverride, else the release, with "-<chart name>" after it unless it is the chart's
    # name: grpc-ingress.fullname), gets a "gw-" in front when it is not. A given gateway.name
    # also needs at most ISTIO_GATEWAY_NAME_MAX characters (the chart refuses a longer one, and
    # fits a full name to that itself): it is cut to that.
    gw = v.get("gateway", {})
    if gw.get("create", True):
        chart_name = v.get("nameOverride") or "grpc-ingress"
        given = gw.get("name")
        name = (given or v.get("fullnameOverride")
                or (release if release == chart_name else f"{release}-{chart_name}" if release else ""))
        fitted = name
        if name and not _istio_takes_the_shape(name):
            fitted = ("gw-" + name)[:ISTIO_GATEWAY_NAME_MAX].rstrip("-")
        elif given and len(given) > ISTIO_GATEWAY_NAME_MAX:
            fitted = given[:ISTIO_GATEWAY_NAME_MAX].rstrip("-")
        if fitted != name:
            v.setdefault("gateway", gw)["name"] = fitted
    tls = v.get("tls", {})
    for key in ("minProtocolVersion", "maxProtocolVersion", "subjectAltNames"):
        tls.pop(key, None)
    if version < 29:
        tls.pop("cipherSuites", None)
    # Retries reach Istio through an EnvoyFilter MERGE, which cannot turn them off: attempts 0
    # (or none given) is refused, so such a policy is dropped (the chart's defaults apply).
    for kind, policy in list(v.get("retries", {}).items()):
        if not policy.get("attempts"):
            del v["retries"][kind]
    for route in v.get("routes", []):
        if "retries" in route and not route["retries"].get("attempts"):
            route.pop("retries")
        if route.get("timeout") and go_duration(route["timeout"]) > 99999 * 3600 * 10**9:
            route["timeout"] = "99999h"  # a Gateway API duration's longest hours
        if route.get("prefix") and route["prefix"] != "/" and not route["prefix"].endswith("/"):
            route["prefix"] += "/"
        for backend in ([route["backend"]] if route.get("backend") else route.get("backends", [])):
            backend.pop("subset", None)
            backend.pop("subsetLabels", None)
    # Plaintext gRPC-Web gets grpc_web from Istio only on a GRPC-WEB server, which the Gateway
    # API has not: there the chart's EnvoyFilter is what serves browsers (NOTES warn when off).
    web = v.get("grpcWeb", {})
    if web.get("enabled") and not tls.get("enabled", True) and str(web.get("envoyFilter", {}).get("enabled")).lower() == "false":
        web["envoyFilter"]["enabled"] = "auto"
    cors = v.get("grpcWeb", {}).get("cors", {})
    if "allowOrigins" in cors:
        kept = [o if isinstance(o, str) else o.get("exact") for o in cors["allowOrigins"]]
        kept = [o for o in kept if isinstance(o, str) and re.match(_ORIGIN, o)]
        if "*" in kept and len(kept) > 1:
            kept = ["*"]
        cors["allowOrigins"] = kept or ["https://app.example.com"]
    if cors.get("maxAge") and not 10**9 <= go_duration(cors["maxAge"]) <= (2**31 - 1) * 10**9:
        cors["maxAge"] = "24h"  # whole seconds in an int32
    return v

"""What one call does, in terms both APIs can be held to: the Istio mode's answer and the
Gateway API mode's answer for the same values compared field by field (tests/test_istio_gateway_api.py
for the ci scenarios, tests/test_gateway_api.py for every generated values set).

    differences(behaviour(istio_mode, "greet"), behaviour(gateway_api, "greet"))  # {} when alike
"""
from __future__ import annotations

from support.istio_checks import REDIRECT


def _default_port(scheme: str) -> int:
    return {"https": 443, "http": 80}[scheme]


def behaviour(res, call_id: str) -> dict:
    """What a client and the backend see of one call, flat, in terms both APIs can be held to:
    where it goes and how (cluster, HTTP/2), the route's timeout, retries and CORS (each CORS
    field apart), gRPC-Web translation, the TLS the client meets, the connection manager of its
    filter chain (the chart's client-connection EnvoyFilter patches it: on the deployed Gateway
    API pods it must match the listener port they bind), or the redirect it gets."""
    got = res.call(call_id)
    if got.get("error") == REDIRECT:   # Istio: the server's httpsRedirect (virtual host require_tls)
        return {"redirect": {"scheme": "https", "code": 301, "port": 443}}
    if got.get("redirect"):            # Gateway API: a RequestRedirect route
        rd = got["redirect"]
        scheme = rd.get("schemeRedirect") or ("https" if rd.get("httpsRedirect") else "")
        return {"redirect": {"scheme": scheme, "code": {"MOVED_PERMANENTLY": 301, "FOUND": 302}.get(
            rd.get("responseCode", "MOVED_PERMANENTLY")), "port": rd.get("portRedirect") or _default_port(scheme)}}
    filters = got["http_filters"]
    web = None
    if "envoy.filters.http.grpc_web" in filters:
        web = "before grpc_stats" if filters.index("envoy.filters.http.grpc_web") < filters.index(
            "envoy.filters.http.grpc_stats") else "after grpc_stats"
    tls = (got.get("chain") or {}).get("tls")
    rp = got["retry_policy"]
    weights = {w["name"]: w["weight"] for w in got["weighted_clusters"] if w["weight"]}
    out = {
        "error": got.get("error", ""),
        "upstreams": sorted((u["name"], u["found"], u.get("protocol")) for u in got["upstreams"]),
        # One cluster taking every call is a split of one: the same as routing to it.
        "weights": weights if len(weights) > 1 else {},
        "timeout": got["timeout"] or "0s",
        "max_stream_duration": got.get("max_stream_duration"),
        "retries": None if rp is None else {k: rp.get(k) for k in (
            "numRetries", "retryOn", "retriableStatusCodes", "perTryTimeout", "retryBackOff")},
        "grpc_web": web,
        "tls": tls is not None,
    }
    out.update({f"hcm.{k}": v for k, v in (got.get("hcm") or {}).items()})
    if got["cors"] is not None:
        cors = dict(got["cors"])
        cors.setdefault("allowCredentials", False)   # unset is Envoy's false
        out.update({f"cors.{k}": v for k, v in cors.items()})
    else:
        out["cors"] = None
    if tls is not None:
        # TLS_AUTO: tls_params without a minimum (cipher suites alone), Envoy's default as when unset.
        out.update({"tls.alpn": tls["alpn"], "tls.min_version": tls.get("min_version") if tls.get("min_version") != "TLS_AUTO" else None,
                    "tls.client_certificate": tls["require_client_certificate"],
                    # kubernetes://NAME (Istio Gateway), kubernetes-gateway://NS/NAME: the Secret's name.
                    "tls.certificates": [c.rsplit("/", 1)[-1] for c in tls["certificate_sds"]]})
    return out


# Istio's retry policy for a route that sets none (pilot/pkg/networking/core/route/retry
# DefaultPolicy: 2 attempts on connect-failure,refused-stream,unavailable,cancelled,
# retriable-status-codes): what every Gateway API route gets on the standard channel, which has
# no retry field (HTTPRoute retry is experimental; GRPCRoute has none), unless the chart's
# retries EnvoyFilter (gatewayapi-retries.yaml) merges its own policy in.
ISTIO_DEFAULT_RETRIES = {"numRetries": 2, "retryOn": "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes",
                         "retriableStatusCodes": None, "perTryTimeout": None, "retryBackOff": None}

# Where the gateway-api render behaves differently from the default one today, as these tests
# found it (issue 13). aspect -> (the gateway-api value, why). A call may differ in these aspects
# only, and only that way; test_documented_difference_still_exists fails the day one goes away.
DIFFERENCES = {
    "tls.min_version": (None,
                        "the Istio Gateway sets minProtocolVersion TLSV1_2; the Gateway API listener sets none "
                        "(Envoy's server default applies)"),
    "cors.forwardNotMatchingPreflights": (False,
                                          "Istio converts an HTTPRoute CORS filter with unmatchedPreflights IGNORE "
                                          "(conversion.go createCorsFilter): Envoy answers a preflight from an origin "
                                          "it does not allow itself, where the VirtualService forwards it to the backend"),
}


def differences(a: dict, b: dict) -> dict:
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


# The same meaning written two ways, where no ci scenario shows it (so not in DIFFERENCES, whose
# every entry some scenario must show): allowAnyOrigin's "*" is the exact origin "*" in the
# Istio mode, which Envoy's CORS filter takes as every origin (CorsFilter::isOriginAllowed in
# envoyproxy/envoy source/extensions/filters/http/cors/cors_filter.cc allows any origin when a
# matcher matches the string "*"; Envoy is not run here, so that step is read, not asked), and a regex for every
# scheme://host[:port] once Istio converts the Gateway API's "*" (createCorsFilter in
# pilot/pkg/config/kube/gateway/conversion.go); test_grpc_web asks both of Istio.
ANY_ORIGIN_REGEX = "^[a-zA-Z][a-zA-Z0-9+.-]*://[^/\\s?#]+$"
EQUIVALENT = {"cors.allowOriginStringMatch": ([{"exact": "*"}], [{"safeRegex": {"regex": ANY_ORIGIN_REGEX}}])}


def undocumented(diff: dict) -> dict:
    """The differences (aspect -> (Istio mode, Gateway API)) neither DIFFERENCES nor EQUIVALENT explains."""
    return {k: v for k, v in diff.items()
            if not (k in DIFFERENCES and v[1] == DIFFERENCES[k][0]) and EQUIVALENT.get(k) != v}

"""Bad values, table-driven: each must fail `helm template` with an error that names the
offending key (paths normalised across Helm 3, Helm 4 and template messages), and never
render anything."""
from __future__ import annotations

import pytest

from support.summary import STATS

B = {"host": "grpc-service", "port": 50051}  # a valid backend


def route(**kw):
    return {"routes": [{"name": "r", "backend": B, **kw}]}


def routes(*rs):
    return {"routes": list(rs)}


PEM_CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

# (id, values, regexes the normalised error must contain)
CASES = [
    # wrong types
    ("hosts-not-a-list", {"hosts": "grpc.example.com"}, [r"hosts"]),
    ("tls-enabled-string", {"tls": {"enabled": "yes"}}, [r"tls\.enabled"]),
    ("port-string", {"tls": {"port": "443"}}, [r"tls\.port"]),
    ("streaming-string", route(streaming="true"), [r"routes\.0\.streaming"]),
    ("routes-object", {"routes": {"name": "r"}}, [r"routes"]),
    ("selector-value-number", {"gateway": {"selector": {"istio": 1}}}, [r"gateway\.selector\.istio"]),
    # unknown keys at every level
    ("unknown-root-key", {"hostz": ["a.example.com"]}, [r"hostz"]),
    ("unknown-gateway-key", {"gateway": {"selectr": {"a": "b"}}}, [r"gateway", r"selectr"]),
    ("unknown-tls-key", {"tls": {"credentialname": "x"}}, [r"tls", r"credentialname"]),
    ("unknown-secret-key", {"tls": {"secret": {"crt": "x"}}}, [r"tls\.secret", r"crt"]),
    ("unknown-route-key", route(timeOut="5s"), [r"routes\.0", r"timeOut"]),
    ("unknown-backend-key", routes({"name": "r", "backend": {**B, "namespace": "x"}}), [r"routes\.0\.backend", r"namespace"]),
    ("unknown-retries-key", route(retries={"attempts": 2, "retry_on": "unavailable"}), [r"routes\.0\.retries", r"retry_on"]),
    ("unknown-cors-key", {"grpcWeb": {"cors": {"allowOrigin": ["https://a.example.com"]}}}, [r"grpcWeb\.cors", r"allowOrigin"]),
    # ports
    ("port-0", {"tls": {"port": 0}}, [r"tls\.port"]),
    ("port-65536", {"h2c": {"enabled": True, "port": 65536}}, [r"h2c\.port"]),
    ("backend-port-0", routes({"name": "r", "backend": {"host": "a", "port": 0}}), [r"routes\.0\.backend\.port"]),
    ("service-port-65536", {"backendServices": [{"name": "a", "selector": {"app": "a"}, "port": 65536}]},
     [r"backendServices\.0\.port"]),
    # durations
    ("timeout-0s", route(timeout="0s"), [r"routes\.0\.timeout"]),
    ("timeout-negative", route(timeout="-1s"), [r"routes\.0\.timeout"]),
    ("timeout-sub-ms", route(timeout="1.5ms"), [r"routes\.0\.timeout"]),
    ("timeout-no-unit", route(timeout="10"), [r"routes\.0\.timeout"]),
    ("timeout-number", route(timeout=10), [r"routes\.0\.timeout"]),
    ("per-try-timeout-0", route(retries={"attempts": 2, "perTryTimeout": "0ms"}), [r"routes\.0\.retries\.perTryTimeout"]),
    ("idle-timeout-0", {"streaming": {"idleTimeout": "0h"}}, [r"streaming\.idleTimeout"]),
    ("streaming-with-timeout", route(streaming=True, timeout="30s"), [r"routes\.0\.timeout", r"streaming"]),
    # retries
    ("retry-on-spaces", route(retries={"attempts": 2, "retryOn": "unavailable, cancelled"}), [r"routes\.0\.retries\.retryOn"]),
    ("retry-on-unknown", route(retries={"attempts": 2, "retryOn": "unavailable,sometimes"}), [r"routes\.0\.retries\.retryOn"]),
    ("attempts-0-with-per-try", route(retries={"attempts": 0, "perTryTimeout": "1s"}), [r"routes\.0\.retries", r"attempts: 0"]),
    ("attempts-0-with-retry-on", route(retries={"attempts": 0, "retryOn": "unavailable"}), [r"routes\.0\.retries"]),
    ("attempts-missing", route(retries={"retryOn": "unavailable"}), [r"routes\.0\.retries", r"attempts"]),
    ("default-retries-bad", {"retries": {"unary": {"attempts": 2, "retryOn": "5XX"}}}, [r"retries\.unary\.retryOn"]),
    # hosts
    ("hosts-empty", {"hosts": []}, [r"hosts"]),
    ("host-with-scheme", {"hosts": ["https://grpc.example.com"]}, [r"hosts\.0"]),
    ("host-with-port", {"hosts": ["grpc.example.com:443"]}, [r"hosts\.0"]),
    ("host-with-path", {"hosts": ["grpc.example.com/api"]}, [r"hosts\.0"]),
    ("host-upper-case", {"hosts": ["GRPC.example.com"]}, [r"hosts\.0"]),
    ("host-partial-wildcard", {"hosts": ["grpc*.example.com"]}, [r"hosts\.0"]),
    ("host-duplicate", {"hosts": ["a.example.com", "a.example.com"]}, [r"hosts"]),
    # routes
    ("route-names-duplicate", routes({"name": "r", "services": ["a.S"], "backend": B},
                                     {"name": "r", "services": ["b.S"], "backend": B}), [r"routes\.1\.name", r"unique"]),
    ("route-name-not-dns-label", routes({"name": "My_Route", "backend": B}), [r"routes\.0\.name"]),
    ("route-name-missing", routes({"backend": B}), [r"routes\.0", r"name"]),
    ("service-without-package", route(services=["Greeter"]), [r"routes\.0\.services\.0"]),
    ("service-with-slash", route(services=["a.Greeter/"]), [r"routes\.0\.services\.0"]),
    ("method-without-method", route(methods=["a.Greeter"]), [r"routes\.0\.methods\.0"]),
    ("method-with-leading-slash", route(methods=["/a.Greeter/SayHello"]), [r"routes\.0\.methods\.0"]),
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
    ("undefined-subset", routes({"name": "r", "backends": [{**B, "subset": "v2", "weight": 100}]}),
     [r"routes\.0\.backends", r"subsetLabels"]),
    ("routes-empty", {"routes": []}, [r"routes"]),
    ("traffic-policy-conflict", routes(
        {"name": "a", "services": ["a.S"], "backend": B, "trafficPolicy": {"maxRequestsPerConnection": 10}},
        {"name": "b", "services": ["b.S"], "backend": B, "trafficPolicy": {"maxRequestsPerConnection": 20}}),
     [r"routes\.1\.trafficPolicy\.maxRequestsPerConnection"]),
    ("load-balancer-unknown", {"trafficPolicy": {"loadBalancer": "FASTEST"}}, [r"trafficPolicy\.loadBalancer"]),
    # gRPC-Web
    ("grpc-web-no-origins", {"grpcWeb": {"enabled": True}}, [r"grpcWeb\.cors\.allowOrigins"]),
    ("grpc-web-star-no-opt-in", {"grpcWeb": {"enabled": True, "cors": {"allowOrigins": ["*"]}}},
     [r"grpcWeb\.cors\.allowOrigins\.0", r"allowAnyOrigin"]),
    ("grpc-web-origin-with-path", {"grpcWeb": {"enabled": True, "cors": {"allowOrigins": ["https://a.example.com/app"]}}},
     [r"grpcWeb\.cors\.allowOrigins\.0"]),
    ("grpc-web-header-with-space", {"grpcWeb": {"cors": {"allowHeaders": ["x bad"]}}}, [r"grpcWeb\.cors\.allowHeaders\.0"]),
    ("grpc-web-port-clash", {"tls": {"enabled": False}, "h2c": {"enabled": True, "port": 8080},
                             "grpcWeb": {"enabled": True, "port": 8080, "cors": {"allowOrigins": ["https://a.example.com"]}}},
     [r"grpcWeb\.port", r"h2c\.port"]),
    ("envoy-filter-enabled-typo", {"grpcWeb": {"envoyFilter": {"enabled": "yes"}}}, [r"grpcWeb\.envoyFilter\.enabled"]),
    # TLS
    ("tls-no-certificate-source", {"tls": {"credentialName": ""}}, [r"tls\.credentialName", r"certificate source"]),
    ("mutual-without-ca", {"tls": {"mode": "MUTUAL"}}, [r"tls\.mode", r"caCert|externalCA"]),
    ("optional-mutual-without-ca", {"tls": {"mode": "OPTIONAL_MUTUAL"}}, [r"tls\.mode"]),
    ("tls-mode-passthrough", {"tls": {"mode": "PASSTHROUGH"}}, [r"tls\.mode"]),
    ("tls-min-version-1-0", {"tls": {"minProtocolVersion": "TLSV1_0"}}, [r"tls\.minProtocolVersion"]),
    ("h2c-and-redirect-same-port", {"h2c": {"enabled": True, "port": 80}, "tls": {"httpsRedirect": True}},
     [r"tls\.httpsRedirect", r"h2c"]),
    ("redirect-without-tls", {"tls": {"enabled": False, "httpsRedirect": True}, "h2c": {"enabled": True, "port": 8080}},
     [r"tls\.httpsRedirect"]),
    ("h2c-on-tls-port", {"h2c": {"enabled": True, "port": 443}}, [r"h2c\.port", r"tls\.port"]),
    ("nothing-enabled", {"tls": {"enabled": False}}, [r"tls\.enabled|gateway"]),
    ("secret-create-empty-key", {"tls": {"secret": {"create": True, "cert": PEM_CERT, "key": ""}}}, [r"tls\.secret\.key"]),
    ("secret-create-empty-cert", {"tls": {"secret": {"create": True, "cert": "", "key": PEM_CERT}}}, [r"tls\.secret\.cert"]),
    ("secret-not-pem", {"tls": {"secret": {"create": True, "cert": "hello", "key": "world"}}}, [r"tls\.secret\.cert"]),
    ("ca-cert-without-create", {"tls": {"secret": {"caCert": PEM_CERT}}}, [r"tls\.secret\.caCert"]),
    ("cert-manager-without-issuer", {"tls": {"certManager": {"enabled": True}}}, [r"tls\.certManager\.issuerRef\.name"]),
    ("cert-manager-and-secret", {"tls": {"certManager": {"enabled": True, "issuerRef": {"name": "i"}},
                                         "secret": {"create": True, "cert": PEM_CERT, "key": PEM_CERT}}},
     [r"tls\.certManager\.enabled"]),
    ("cert-manager-duration-under-1h", {"tls": {"certManager": {"enabled": True, "issuerRef": {"name": "i"}, "duration": "30m"}}},
     [r"tls\.certManager\.duration", r"1h"]),
    ("cert-manager-renew-before-too-short", {"tls": {"certManager": {"enabled": True, "issuerRef": {"name": "i"}, "renewBefore": "1m"}}},
     [r"tls\.certManager\.renewBefore", r"5m"]),
    ("cert-manager-renew-not-before-expiry", {"tls": {"certManager": {"enabled": True, "issuerRef": {"name": "i"},
                                                                      "duration": "24h", "renewBefore": "1440m"}}},
     [r"tls\.certManager\.renewBefore", r"duration"]),
    ("cors-max-age-sub-second", {"grpcWeb": {"cors": {"maxAge": "1500ms"}}}, [r"grpcWeb\.cors\.maxAge"]),
    ("cert-manager-issuer-kind", {"tls": {"certManager": {"issuerRef": {"kind": "Issuers"}}}}, [r"tls\.certManager\.issuerRef\.kind"]),
    ("tls-hosts-not-in-hosts", {"tls": {"hosts": [{"hosts": ["other.example.com"], "credentialName": "o"}]}},
     [r"tls\.hosts\.0\.hosts", r"other\.example\.com"]),
    ("credential-name-upper", {"tls": {"credentialName": "My-Secret"}}, [r"tls\.credentialName"]),
    # gateway
    ("existing-gateway-without-ref", {"gateway": {"create": False}}, [r"gateway\.ref"]),
    ("gateway-ref-without-namespace", {"gateway": {"create": False, "ref": "shared-gateway"}}, [r"gateway\.ref"]),
    ("gateway-ref-three-parts", {"gateway": {"create": False, "ref": "a/b/c"}}, [r"gateway\.ref"]),
    ("gateway-name-with-dots", {"gateway": {"name": "edge.gateway"}}, [r"gateway\.name"]),
    ("selector-value-bad-label", {"gateway": {"selector": {"istio": "ingress gateway"}}}, [r"gateway\.selector\.istio"]),
    # names and labels
    ("fullname-override-64", {"fullnameOverride": "a" * 64}, [r"fullnameOverride"]),
    ("fullname-override-dots", {"fullnameOverride": "my.release"}, [r"fullnameOverride"]),
    ("common-label-value-too-long", {"commonLabels": {"team": "x" * 64}}, [r"commonLabels\.team"]),
    ("common-label-key-bad", {"commonLabels": {"bad key": "x"}}, [r"commonLabels"]),
    # backend Services
    ("backend-service-port-name-not-grpc", {"backendServices": [{"name": "a", "selector": {"app": "a"}, "port": 1, "portName": "http"}]},
     [r"backendServices\.0\.portName"]),
    ("backend-service-app-protocol-http", {"backendServices": [{"name": "a", "selector": {"app": "a"}, "port": 1, "appProtocol": "http"}]},
     [r"backendServices\.0\.appProtocol"]),
    ("backend-service-protocol-key", {"backendServices": [{"name": "a", "selector": {"app": "a"}, "port": 1, "protocol": "grpc"}]},
     [r"backendServices\.0", r"protocol"]),
    ("backend-service-name-digit", {"backendServices": [{"name": "1svc", "selector": {"app": "a"}, "port": 1}]},
     [r"backendServices\.0\.name"]),
    ("backend-service-duplicate", {"backendServices": [{"name": "a", "selector": {"app": "a"}, "port": 1},
                                                       {"name": "a", "selector": {"app": "b"}, "port": 2}]},
     [r"backendServices\.1\.name"]),
    ("backend-service-no-selector", {"backendServices": [{"name": "a", "port": 1}]}, [r"backendServices\.0", r"selector"]),
    ("cors-header-with-dot", {"grpcWeb": {"cors": {"allowHeaders": ["x.trace"]}}}, [r"grpcWeb\.cors\.allowHeaders\.0"]),
    ("retry-on-unknown-status-code", route(retries={"attempts": 1, "retryOn": "299"}), [r"routes\.0\.retries\.retryOn"]),
    ("tls-min-above-max", {"tls": {"minProtocolVersion": "TLSV1_3", "maxProtocolVersion": "TLSV1_2"}}, [r"tls\.maxProtocolVersion"]),
    ("cert-manager-shared-secret", {"hosts": ["a.example.com", "b.example.com"],
                                    "tls": {"credentialName": "same", "hosts": [{"hosts": ["a.example.com"], "credentialName": "same"}],
                                            "certManager": {"enabled": True, "issuerRef": {"name": "ca"}}}},
     [r"tls\.hosts\.0\.credentialName", r"same"]),
    ("host-numeric-tld", {"hosts": ["grpc.example.123"]}, [r"hosts\.0"]),
    ("host-ip-address", {"hosts": ["10.0.0.1"]}, [r"hosts\.0"]),
    ("target-port-name-numeric", {"backendServices": [{"name": "a", "selector": {"app": "a"}, "port": 1, "targetPort": "8080"}]},
     [r"backendServices\.0\.targetPort"]),
    ("target-port-name-double-hyphen", {"backendServices": [{"name": "a", "selector": {"app": "a"}, "port": 1, "targetPort": "a--b"}]},
     [r"backendServices\.0\.targetPort"]),
    # tests
    ("test-requests-above-limits", {"tests": {"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}},
     [r"tests\.resources\.requests\.cpu"]),
    ("test-image-digest-bad", {"tests": {"image": {"digest": "sha256:xyz"}}}, [r"tests\.image\.digest"]),
]


def test_table_is_large_and_ids_unique():
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))
    assert len(CASES) >= 40


@pytest.mark.parametrize("values,match", [pytest.param(v, m, id=i) for i, v, m in CASES])
def test_bad_values_fail_and_name_the_key(helm, values, match):
    STATS["bad_input_cases"] += 1
    helm.render_fails(values, match=match)

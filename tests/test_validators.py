"""Tests of the manifest validator itself (tests/support/validators): hand-written documents, no helm.

Every rule has a valid document that passes (VALID, all checked together) and a planted
defect that fails with the expected message (BAD). The istio.io documents go through Istio's own
validating webhook (the harness), so their BAD rows expect Istio's words where no CRD schema or
CEL rule catches the defect first.
"""
import copy
import importlib.machinery
import importlib.util
import json
import pathlib
import threading
import time

import kubernetes_validate
import pytest

from support.validators import ManifestValidator, cel, rules
from support.validators.core import CoreValidator
from support.validators.crd import CRD_DIR

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def validator():
    v = ManifestValidator()
    yield v
    v.close()


# --- documents that must pass -------------------------------------------------------------

VALID = {
    "Service": {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "grpc-backend", "namespace": "apps", "labels": {"app.kubernetes.io/name": "grpc-ingress"},
                     "annotations": {"example.com/owner": "team-a"}},
        "spec": {"selector": {"app": "grpc-backend"}, "ports": [
            {"name": "grpc", "port": 50051, "targetPort": "grpc", "protocol": "TCP", "appProtocol": "grpc"},
            {"name": "h2c", "port": 8080, "targetPort": 8080, "appProtocol": "kubernetes.io/h2c"}]},
    },
    "Secret": {
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": "grpc-ingress-tls", "namespace": "istio-system"},
        "data": {"tls.crt": "LS0tLS1CRUdJTg==", "tls.key": "LS0tLS1CRUdJTg=="},
    },
    "ConfigMap": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a.conf": "x"}},
    "Pod": {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "grpc-ingress-test", "annotations": {"helm.sh/hook": "test"}},
        "spec": {"restartPolicy": "Never", "containers": [{
            "name": "grpcurl", "image": "docker.io/fullstorydev/grpcurl:v1.9.3", "imagePullPolicy": "IfNotPresent",
            "args": ["-insecure", "gw:443", "grpc.health.v1.Health/Check"],
            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}}}]},
    },
    "Gateway": {
        "apiVersion": "networking.istio.io/v1", "kind": "Gateway",
        "metadata": {"name": "grpc-ingress", "namespace": "apps"},
        "spec": {"selector": {"istio": "ingressgateway"}, "servers": [
            {"port": {"number": 443, "name": "https", "protocol": "HTTPS"}, "hosts": ["grpc.example.com"],
             "tls": {"mode": "SIMPLE", "credentialName": "grpc-ingress-tls", "minProtocolVersion": "TLSV1_2"}},
            {"port": {"number": 443, "name": "https-api", "protocol": "HTTPS"}, "hosts": ["api.example.com"],
             "tls": {"mode": "MUTUAL", "credentialName": "api-tls"}},
            {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["grpc.example.com"],
             "tls": {"httpsRedirect": True}},
            {"port": {"number": 80, "name": "h2c", "protocol": "HTTP2"}, "hosts": ["h2c.example.com", "*.example.org", "istio-system/*"]},
            {"port": {"number": 8080, "name": "grpc-web", "protocol": "GRPC-WEB"}, "hosts": ["./web.example.com"]}]},
    },
    "VirtualService": {
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": {"name": "grpc-ingress", "namespace": "apps"},
        "spec": {"hosts": ["grpc.example.com"], "gateways": ["apps/grpc-ingress"], "http": [
            {"name": "echo", "match": [{"uri": {"prefix": "/echo.v1.Echo/"}}, {"uri": {"regex": "^/echo\\.v1\\.Echo/(Say|Ping)$"}}],
             "timeout": "30s", "retries": {"attempts": 2, "perTryTimeout": "10s", "retryOn": "connect-failure,refused-stream,unavailable,503"},
             "corsPolicy": {"allowOrigins": [{"exact": "https://app.example.com"}], "allowMethods": ["POST", "OPTIONS"],
                            "allowHeaders": ["content-type", "x-grpc-web", "grpc-timeout"], "maxAge": "24h"},
             "route": [{"destination": {"host": "echo.apps.svc.cluster.local", "port": {"number": 50051}, "subset": "stable"}, "weight": 90},
                       {"destination": {"host": "echo.apps.svc.cluster.local", "port": {"number": 50051}, "subset": "canary"}, "weight": 10}]},
            {"name": "stream", "match": [{"uri": {"prefix": "/stream.v1.Stream/"}}],
             "retries": {"attempts": 0},
             "route": [{"destination": {"host": "stream", "port": {"number": 50051}}}]}]},
    },
    "DestinationRule": {
        "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
        "metadata": {"name": "echo", "namespace": "apps"},
        "spec": {"host": "echo.apps.svc.cluster.local",
                 "trafficPolicy": {"loadBalancer": {"simple": "LEAST_REQUEST"},
                                   "connectionPool": {"http": {"h2UpgradePolicy": "UPGRADE", "idleTimeout": "1h", "maxRequestsPerConnection": 0},
                                                      "tcp": {"tcpKeepalive": {"time": "30s", "interval": "10s", "probes": 3}}}},
                 "subsets": [{"name": "stable", "labels": {"version": "v1"}}, {"name": "canary", "labels": {"version": "v2"}}]},
    },
    "EnvoyFilter": {
        "apiVersion": "networking.istio.io/v1alpha3", "kind": "EnvoyFilter",
        "metadata": {"name": "grpc-ingress-grpc-web", "namespace": "istio-system"},
        "spec": {"workloadSelector": {"labels": {"istio": "ingressgateway"}}, "configPatches": [{
            "applyTo": "HTTP_FILTER",
            "match": {"context": "GATEWAY", "listener": {"portNumber": 8443, "filterChain": {"filter": {
                "name": "envoy.filters.network.http_connection_manager", "subFilter": {"name": "envoy.filters.http.router"}}}}},
            "patch": {"operation": "INSERT_BEFORE", "value": {
                "name": "envoy.filters.http.grpc_web",
                "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.grpc_web.v3.GrpcWeb"}}}}]},
    },
    "Certificate": {
        "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "metadata": {"name": "grpc-ingress", "namespace": "istio-system"},
        "spec": {"secretName": "grpc-ingress-tls", "dnsNames": ["grpc.example.com"],
                 "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer", "group": "cert-manager.io"},
                 "duration": "2160h", "renewBefore": "360h",
                 "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"}},
    },
    "K8sGateway": {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": "grpc-ingress", "namespace": "apps"},
        "spec": {"gatewayClassName": "istio", "listeners": [
            {"name": "https", "port": 443, "protocol": "HTTPS", "hostname": "grpc.example.com",
             "tls": {"mode": "Terminate", "certificateRefs": [{"name": "grpc-ingress-tls"}]}},
            {"name": "http", "port": 80, "protocol": "HTTP"}]},
    },
    "GRPCRoute": {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "GRPCRoute",
        "metadata": {"name": "echo", "namespace": "apps"},
        "spec": {"parentRefs": [{"name": "grpc-ingress", "sectionName": "https"}, {"name": "grpc-ingress", "sectionName": "http"}],
                 "hostnames": ["grpc.example.com"],
                 "rules": [{"matches": [{"method": {"service": "echo.v1.Echo", "method": "Say"}}],
                            "backendRefs": [{"name": "echo", "port": 50051}]}]},
    },
    "HTTPRoute": {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "web", "namespace": "apps"},
        "spec": {"parentRefs": [{"name": "grpc-ingress"}],
                 "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/echo.v1.Echo/"}}],
                            "filters": [{"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [{"name": "x-a", "value": "b"}]}}],
                            "timeouts": {"request": "30s", "backendRequest": "10s"},
                            "backendRefs": [{"name": "echo", "port": 50051}]}]},
    },
    "ReferenceGrant": {
        "apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
        "metadata": {"name": "allow-gateway", "namespace": "istio-system"},
        "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "apps"}],
                 "to": [{"group": "", "kind": "Secret"}]},
    },
}


def test_valid_documents_pass(validator):
    assert validator.validate(list(copy.deepcopy(VALID).values())) == []


# --- planted defects ------------------------------------------------------------------------

def _set(path, value):
    """A mutation setting doc[path] (dotted, list indexes as numbers) to value; None deletes."""
    def mutate(doc):
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        target = doc
        for p in parents:
            target = target[p]
        if value is None:
            del target[last]
        else:
            target[last] = value
    return mutate


# (case id, VALID key, mutation, expected message fragment)
BAD = [
    # Kubernetes core, kubernetes_validate strict + apiserver rules
    ("service-protocol-grpc", "Service", _set("spec.ports.0.protocol", "grpc"), "Unsupported value 'grpc'"),
    ("service-duplicate-port-name", "Service", _set("spec.ports.1.name", "grpc"), "duplicate port name 'grpc'"),
    ("service-duplicate-port", "Service", _set("spec.ports.1.port", 50051), "duplicate port 50051/TCP"),
    ("service-port-name-not-dns-label", "Service", _set("spec.ports.0.name", "grpc_web"), "must be a DNS-1123 label"),
    ("service-port-name-missing", "Service", _set("spec.ports.1.name", None), "required when a Service has more than one port"),
    ("service-port-range", "Service", _set("spec.ports.0.port", 70000), "must be between 1 and 65535"),
    ("service-target-port-name", "Service", _set("spec.ports.0.targetPort", "grpc-backend-port"), "IANA_SVC_NAME"),
    ("service-app-protocol", "Service", _set("spec.ports.0.appProtocol", "grpc/web/x"), "at most one '/'"),
    ("service-name-dns1035", "Service", _set("metadata.name", "1grpc"), "DNS-1035 label"),
    ("service-name-dots", "Service", _set("metadata.name", "grpc.backend"), "DNS-1035 label"),
    ("service-unknown-field", "Service", _set("spec.portz", []), "'portz' was unexpected"),
    ("service-selector-value", "Service", _set("spec.selector", {"app": "a b"}), "label value 'a b'"),
    ("label-value-too-long", "Service", _set("metadata.labels", {"app": "x" * 64}), "at most 63 characters"),
    ("label-key-prefix", "Service", _set("metadata.labels", {"Example.com/app": "x"}), "prefix must be a DNS-1123 subdomain"),
    ("label-key-name", "Service", _set("metadata.labels", {"app!": "x"}), "name part must be 1-63 characters"),
    ("annotation-key", "Service", _set("metadata.annotations", {"a/b/c": "x"}), "at most one '/'"),
    ("namespace-syntax", "Service", _set("metadata.namespace", "Apps"), "metadata.namespace: must be a DNS-1123 label"),
    ("name-over-63", "ConfigMap", _set("metadata.name", "a" * 64), "chart policy is at most 63"),
    ("name-subdomain", "ConfigMap", _set("metadata.name", "Settings"), "must be a DNS-1123 subdomain"),
    ("name-missing", "ConfigMap", _set("metadata.name", None), "metadata.name: required"),
    ("configmap-key", "ConfigMap", _set("data", {"a/b": "x"}), "key must consist of alphanumerics"),
    ("secret-tls-key-missing", "Secret", _set("data", {"tls.crt": "eA=="}), "data[tls.key]: required"),
    ("secret-not-base64", "Secret", _set("data.tls\\.crt", None), None),  # placeholder, replaced below
    ("pod-unknown-field", "Pod", _set("spec.containers.0.imagePullPolicyy", "Always"), "'imagePullPolicyy' was unexpected"),
    ("pod-unknown-field-1.25", "Pod", _set("spec.containers.0.imagePullPolicyy", "Always"), "Kubernetes 1.25.0, 1.37.0"),
    ("pod-request-over-limit", "Pod", _set("spec.containers.0.resources.requests.memory", "128Mi"), "must be less than or equal to memory limit"),
    ("pod-quantity-syntax", "Pod", _set("spec.containers.0.resources.limits.memory", "64MB"), "Kubernetes quantity syntax"),
    ("pod-pull-policy", "Pod", _set("spec.containers.0.imagePullPolicy", "Sometimes"), "Unsupported value 'Sometimes'"),
    ("pod-container-name", "Pod", _set("spec.containers.0.name", "grpcURL"), "must be a DNS-1123 label"),
    # Istio Gateway
    ("istio-gateway-unknown-field-under-tls", "Gateway", _set("spec.servers.0.tls.alpn", ["h2"]), 'spec.servers[0].tls.alpn: unknown field "alpn"'),
    ("istio-gateway-tls-mode-enum", "Gateway", _set("spec.servers.0.tls.mode", "STRICT"), "must be equal to one of the allowed values"),
    ("istio-gateway-credential-exclusive", "Gateway", _set("spec.servers.0.tls.credentialNames", ["a", "b"]), "only one of credentialName or credentialNames can be set"),
    ("istio-gateway-name-dots", "Gateway", _set("metadata.name", "grpc.ingress"), 'invalid gateway name: "grpc.ingress"'),
    ("istio-gateway-duplicate-port-name", "Gateway", _set("spec.servers.1.port.name", "https"), "port names in servers must be unique: duplicate name https"),
    ("istio-gateway-http-with-tls", "Gateway", _set("spec.servers.2.tls", {"mode": "SIMPLE", "credentialName": "x"}), "server cannot have TLS settings for plain text HTTP ports"),
    ("istio-gateway-grpc-with-tls", "Gateway", _set("spec.servers.4.tls", {"credentialName": "x"}), "server cannot have TLS settings for plain text HTTP ports"),
    ("istio-gateway-tcp-with-tls", "Gateway", _set("spec.servers.4.port.protocol", "TCP"), None),  # replaced below
    ("istio-gateway-https-without-tls", "Gateway", _set("spec.servers.0.tls", None), "server must have TLS settings for HTTPS/TLS protocols"),
    ("istio-gateway-https-without-mode", "Gateway", _set("spec.servers.0.tls.mode", None), "tls.mode: required on an HTTPS server"),
    ("istio-gateway-simple-without-credential", "Gateway", _set("spec.servers.0.tls.credentialName", None), "SIMPLE TLS requires a server certificate"),
    ("istio-gateway-protocol", "Gateway", _set("spec.servers.3.port.protocol", "GRPCS"), 'invalid protocol "GRPCS"'),
    ("istio-gateway-port-range", "Gateway", _set("spec.servers.3.port.number", 0), "must be in the range 1..65535"),
    ("istio-gateway-no-hosts", "Gateway", _set("spec.servers.3.hosts", []), "server config must contain at least one host"),
    ("istio-gateway-bad-host", "Gateway", _set("spec.servers.3.hosts", ["grpc_example.com"]), 'domain name "grpc_example.com" invalid'),
    ("istio-gateway-numeric-tld", "Gateway", _set("spec.servers.3.hosts", ["grpc.example.123"]), 'top level domain "123" cannot be all-numeric'),
    ("istio-gateway-plain-and-tls-same-port", "Gateway", _set("spec.servers.3.port.number", 443), "mixes TLS servers [0, 1] with plaintext servers [3]"),
    ("istio-gateway-tcp-and-http-same-port", "Gateway", _set("spec.servers.3.port.protocol", "TCP"), "cannot merge"),
    ("istio-gateway-tls-host-twice-on-port", "Gateway", _set("spec.servers.1.hosts", ["grpc.example.com"]), "is already served on port 443 by server 0"),
    ("istio-gateway-min-above-max", "Gateway", _set("spec.servers.0.tls.maxProtocolVersion", "TLSV1_1"), "minProtocolVersion TLSV1_2 is above maxProtocolVersion TLSV1_1"),
    ("istio-gateway-server-port-required", "Gateway", _set("spec.servers.3.port.name", None), "port name must be set"),
    # Istio VirtualService
    ("vs-timeout-0s", "VirtualService", _set("spec.http.0.timeout", "0s"), "spec.http[0].timeout: must be a valid duration greater than 1ms"),
    ("vs-timeout-unparsable", "VirtualService", _set("spec.http.0.timeout", "10 s"), "CEL rule failed to evaluate: invalid duration '10 s'"),
    ("vs-timeout-beyond-go-duration", "VirtualService", _set("spec.http.0.timeout", "2562048h"), "CEL rule failed to evaluate: invalid duration '2562048h'"),
    ("vs-per-try-timeout-0", "VirtualService", _set("spec.http.0.retries.perTryTimeout", "0ms"), "retries.perTryTimeout: must be a valid duration greater than 1ms"),
    ("vs-per-try-timeout-precision", "VirtualService", _set("spec.http.0.retries.perTryTimeout", "1500us"), "only durations to ms precision"),
    ("vs-cors-max-age-0", "VirtualService", _set("spec.http.0.corsPolicy.maxAge", "0s"), "corsPolicy.maxAge: must be a valid duration greater than 1ms"),
    ("vs-cors-max-age-precision", "VirtualService", _set("spec.http.0.corsPolicy.maxAge", "1500ms"), "accurate only to seconds precision"),
    ("vs-retry-on-space", "VirtualService", _set("spec.http.0.retries.retryOn", "connect-failure, unavailable"), '" unavailable" is not a valid retryOn policy'),
    ("vs-retry-on-unknown", "VirtualService", _set("spec.http.0.retries.retryOn", "timeout"), '"timeout" is not a valid retryOn policy'),
    ("vs-retry-on-status-unknown", "VirtualService", _set("spec.http.0.retries.retryOn", "599"), '"599" is not a valid retryOn policy'),
    ("vs-retry-attempts-0-with-fields", "VirtualService", _set("spec.http.1.retries", {"attempts": 0, "retryOn": "unavailable"}),
     "http retry policy configured when attempts are set to 0 (disabled)"),
    ("vs-weights-missing", "VirtualService", _set("spec.http.0.route.1.weight", None), "weight: required when a route has more than one destination"),
    ("vs-weights-all-zero", "VirtualService", lambda d: [r.pop("weight") for r in d["spec"]["http"][0]["route"]], "total destination weight = 0"),
    ("vs-unknown-field", "VirtualService", _set("spec.http.0.timeouts", "30s"), 'spec.http[0].timeouts: unknown field "timeouts"'),
    ("vs-regex-lookahead", "VirtualService", _set("spec.http.0.match.1.uri.regex", "^/echo(?!x)"), "invalid or unsupported Perl syntax: `(?!`"),
    ("vs-regex-invalid", "VirtualService", _set("spec.http.0.match.1.uri.regex", "^/echo("), "error parsing regexp: missing closing )"),
    ("vs-gateway-ref", "VirtualService", _set("spec.gateways", ["apps/grpc.ingress"]), 'invalid value for gateway name: "grpc.ingress"'),
    ("vs-route-and-redirect", "VirtualService", _set("spec.http.1.redirect", {"uri": "/x"}), "HTTP route cannot contain both route and redirect"),
    ("vs-destination-port", "VirtualService", _set("spec.http.1.route.0.destination.port.number", 0), "port number 0 must be in the range 1..65535"),
    ("vs-cors-method", "VirtualService", _set("spec.http.0.corsPolicy.allowMethods", ["post"]), '"post" is not a supported HTTP method'),
    ("vs-cors-header", "VirtualService", _set("spec.http.0.corsPolicy.allowHeaders", ["content type"]), "is not a valid header name"),
    ("vs-no-hosts", "VirtualService", _set("spec.hosts", None), "spec.hosts: required"),
    # Istio DestinationRule
    ("dr-idle-timeout-0s", "DestinationRule", _set("spec.trafficPolicy.connectionPool.http.idleTimeout", "0s"), "connectionPool.http.idleTimeout: must be a valid duration greater than 1ms"),
    ("dr-keepalive-interval", "DestinationRule", _set("spec.trafficPolicy.connectionPool.tcp.tcpKeepalive.interval", "5"), "tcpKeepalive.interval: must be a valid duration greater than 1ms"),
    ("dr-tcp-idle-timeout", "DestinationRule", _set("spec.trafficPolicy.connectionPool.tcp.idleTimeout", "1 h"), 'bad Duration: time: unknown unit " h" in duration "1 h"'),
    ("dr-duplicate-subset", "DestinationRule", _set("spec.subsets.1.name", "stable"), "duplicate subset names: stable"),
    ("dr-empty-traffic-policy", "DestinationRule", _set("spec.trafficPolicy", {}), "traffic policy must have at least one field"),
    ("dr-empty-connection-pool", "DestinationRule", _set("spec.trafficPolicy.connectionPool", {}), "connection pool must have at least one field"),
    ("dr-use-client-protocol-with-upgrade", "DestinationRule", _set("spec.trafficPolicy.connectionPool.http.useClientProtocol", True),
     "use client protocol must not be true when H2UpgradePolicy is UPGRADE"),
    ("dr-load-balancer-oneof", "DestinationRule", _set("spec.trafficPolicy.loadBalancer.consistentHash", {"useSourceIp": True}), "(CRD schema, oneOf)"),
    ("dr-negative-count", "DestinationRule", _set("spec.trafficPolicy.connectionPool.http.maxRequestsPerConnection", -1), "must be non-negative"),
    ("dr-workload-selector-wildcard", "DestinationRule", _set("spec.workloadSelector", {"matchLabels": {"app": "*"}}), "wildcard not allowed in label value match"),
    # Istio EnvoyFilter
    ("envoyfilter-context-enum", "EnvoyFilter", _set("spec.configPatches.0.match.context", "INGRESS"), "must be equal to one of the allowed values"),
    ("envoyfilter-selector-and-targetrefs", "EnvoyFilter", _set("spec.targetRefs", [{"kind": "Gateway", "name": "x", "group": "gateway.networking.k8s.io"}]),
     "only one of targetRefs or workloadSelector can be set"),
    ("envoyfilter-waypoint-context", "EnvoyFilter", _set("spec.configPatches.0.match.waypoint", {"portNumber": 8080}), "only support waypointMatch when context is WAYPOINT"),
    ("envoyfilter-missing-value", "EnvoyFilter", _set("spec.configPatches.0.patch.value", None), "missing patch value for non-remove operation"),
    ("envoyfilter-subfilter-needs-hcm", "EnvoyFilter", _set("spec.configPatches.0.match.listener.filterChain.filter.name", "envoy.filters.network.tcp_proxy"),
     "subfilter match requires filter match with envoy.filters.network.http_connection_manager"),
    ("envoyfilter-no-typed-config", "EnvoyFilter", _set("spec.configPatches.0.patch.value", {"name": "envoy.filters.http.grpc_web"}), "using deprecated types by name without typed_config"),
    ("envoyfilter-unknown-field", "EnvoyFilter", _set("spec.configPatches.0.match.listener.port", 8443), 'unknown field "port"'),
    ("envoyfilter-wrong-match-class", "EnvoyFilter", _set("spec.configPatches.0.match", {"context": "GATEWAY", "cluster": {"service": "x"}}), "applyTo for listener class objects cannot have non listener match"),
    ("envoyfilter-waypoint-port", "EnvoyFilter",
     _set("spec.configPatches.0.match", {"context": "WAYPOINT", "waypoint": {"portNumber": 70000}}), "port must be between 1-65535"),
    ("envoyfilter-selector-syntax", "EnvoyFilter", _set("spec.workloadSelector.labels", {"istio": "ingress gateway"}), "label value 'ingress gateway'"),
    ("istio-gateway-selector-syntax", "Gateway", _set("spec.selector", {"istio/": "ingressgateway"}), "spec.selector[istio/]"),
    ("envoyfilter-wildcard-selector", "EnvoyFilter", _set("spec.workloadSelector.labels", {"istio": "*"}), "wildcard is not supported in selector"),
    # cert-manager Certificate
    ("certificate-unknown-field", "Certificate", _set("spec.dnsName", "grpc.example.com"), 'spec.dnsName: unknown field "dnsName"'),
    ("certificate-duration-days", "Certificate", _set("spec.duration", "90d"), "spec.duration: invalid duration '90d'"),
    ("certificate-renew-before-duration", "Certificate", _set("spec.renewBefore", "2160h"), "certificate duration must be greater than renewBefore"),
    ("certificate-duration-short", "Certificate", _set("spec.duration", "30m"), "certificate duration must be greater than 1h0m0s"),
    ("certificate-ecdsa-size", "Certificate", _set("spec.privateKey.size", 2048), 'supported values: "256", "384", "521"'),
    ("certificate-no-san", "Certificate", _set("spec.dnsNames", None), "at least one of commonName, dnsNames"),
    ("certificate-issuer-kind", "Certificate", _set("spec.issuerRef.kind", "Issuers"), "must be one of Issuer or ClusterIssuer"),
    ("certificate-algorithm-enum", "Certificate", _set("spec.privateKey.algorithm", "ecdsa"), "must be equal to one of the allowed values"),
    # Gateway API
    ("k8s-gateway-listener-names", "K8sGateway", _set("spec.listeners.1.name", "https"), "Listener name must be unique within the Gateway"),
    ("k8s-gateway-http-with-tls", "K8sGateway", _set("spec.listeners.1.tls", {"mode": "Terminate", "certificateRefs": [{"name": "x"}]}),
     "tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']"),
    ("k8s-gateway-terminate-needs-cert", "K8sGateway", _set("spec.listeners.0.tls.certificateRefs", None), "certificateRefs or options must be specified when mode is Terminate"),
    ("k8s-gateway-unknown-field", "K8sGateway", _set("spec.listeners.0.alpn", "h2"), 'unknown field "alpn"'),
    ("grpcroute-service-syntax", "GRPCRoute", _set("spec.rules.0.matches.0.method.service", "echo/v1"), "service must only contain valid characters"),
    ("grpcroute-type-without-target", "GRPCRoute", _set("spec.rules.0.matches.0.method", {"type": "Exact"}), "One or both of 'service' or 'method' must be specified"),
    ("grpcroute-backend-port", "GRPCRoute", _set("spec.rules.0.backendRefs.0.port", None), "Must have port for Service reference"),
    ("grpcroute-parent-section", "GRPCRoute", _set("spec.parentRefs.1.sectionName", None), "sectionName must be specified when parentRefs includes 2 or more references to the same parent"),
    ("grpcroute-parent-duplicate", "GRPCRoute", _set("spec.parentRefs.1.sectionName", "https"), "sectionName must be unique"),
    ("httproute-relative-path", "HTTPRoute", _set("spec.rules.0.matches.0.path.value", "echo"), "value must be an absolute path and start with '/'"),
    ("httproute-filter-type-mismatch", "HTTPRoute", _set("spec.rules.0.filters.0.type", "ResponseHeaderModifier"),
     "filter.requestHeaderModifier must be nil if the filter.type is not RequestHeaderModifier"),
    ("httproute-backend-timeout", "HTTPRoute", _set("spec.rules.0.timeouts.backendRequest", "60s"), "backendRequest timeout cannot be longer than request timeout"),
    ("referencegrant-unknown-field", "ReferenceGrant", _set("spec.to.0.name2", "x"), 'unknown field "name2"'),
    ("referencegrant-empty-from", "ReferenceGrant", _set("spec.from", []), "must NOT have less than 1 item"),
]

# Two cases need a different value than _set gives them.
BAD = [c for c in BAD if c[3] is not None] + [
    ("secret-not-base64", "Secret", lambda d: d["data"].update({"tls.crt": "not base64!"}), "data[tls.crt]: value is not valid base64"),
    ("istio-gateway-tcp-with-tls", "Gateway",
     lambda d: d["spec"]["servers"][4].update({"port": {"number": 9000, "name": "tcp", "protocol": "TCP"}, "tls": {"httpsRedirect": True}}),
     "server cannot have TLS settings for non HTTPS/TLS ports"),
]


@pytest.mark.parametrize("key, mutate, expected", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_planted_defect_fails(validator, key, mutate, expected):
    doc = copy.deepcopy(VALID[key])
    mutate(doc)
    errors = validator.validate([doc])
    assert any(expected in e for e in errors), "expected %r in:\n%s" % (expected, "\n".join(errors))
    name = (doc.get("metadata") or {}).get("name")
    assert all(("%s/%s" % (doc["kind"], name)) in e for e in errors if name)


def test_a_field_only_a_newer_istio_serves_passes_and_a_bad_value_of_it_fails(validator):
    """DestinationRule http2KeepAlive is in Istio 1.31's CRD only (the chart refuses it below
    istio.version 1.31): valid when the 1.31 schema accepts it, refused with 1.31's reason otherwise."""
    doc = copy.deepcopy(VALID["DestinationRule"])
    http = doc["spec"]["trafficPolicy"]["connectionPool"]["http"]
    http["http2KeepAlive"] = {"interval": "30s", "timeout": "10s"}
    assert validator.validate([doc]) == []
    http["http2KeepAlive"]["interval"] = "0s"
    errors = validator.validate([doc])
    assert any("http2KeepAlive.interval: must be a valid duration greater than 1ms" in e and "istio-1.31" in e
               for e in errors), errors
    http["http2KeepAlive"] = {"interval": "30s", "timeout": "10s", "jitter": "1s"}
    assert any('unknown field "jitter"' in e for e in validator.validate([doc]))


def test_errors_name_kind_name_and_path(validator):
    doc = copy.deepcopy(VALID["Service"])
    doc["spec"]["ports"][0]["protocol"] = "grpc"
    assert validator.validate([doc]) == [
        'v1 Service/grpc-backend: spec.ports[0].protocol: Unsupported value \'grpc\': supported values: "SCTP", "TCP", "UDP"']


# --- kinds without a validator, documents that are not documents ------------------------------

@pytest.mark.parametrize("doc, expected", [
    ({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}, "no validator for example.com/v1 Widget"),
    ({"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry", "metadata": {"name": "s"}}, "no validator for networking.istio.io/v1 ServiceEntry"),
    ({"apiVersion": "networking.istio.io/v1beta1", "kind": "Gateway", "metadata": {"name": "g"}}, "no validator for networking.istio.io/v1beta1 Gateway"),
    ({"apiVersion": "apps/v1", "kind": "Deploymnt", "metadata": {"name": "d"}}, "no validator for apps/v1 Deploymnt"),
    ({"kind": "Service", "metadata": {"name": "s"}}, "apiVersion and kind are required"),
    ("just a string", "not a mapping"),
])
def test_unknown_kinds_and_malformed_documents_fail(validator, doc, expected):
    errors = validator.validate([doc])
    assert any(expected in e for e in errors), errors


def test_duplicate_objects_in_one_render_fail(validator):
    errors = validator.validate([copy.deepcopy(VALID["ConfigMap"]), copy.deepcopy(VALID["ConfigMap"])])
    assert errors == ["v1 ConfigMap/settings: same group, kind, namespace and name as document 0; the install would fail"]


def test_malformed_values_are_errors_not_crashes(validator):
    doc = copy.deepcopy(VALID["VirtualService"])
    doc["spec"]["http"][0]["retries"]["attempts"] = "two"
    doc["spec"]["http"].append("everything")
    errors = validator.validate([doc])
    assert any("could not check this document" in e for e in errors)
    assert any("is not of type 'integer'" in e for e in errors)


def test_null_values_are_pruned_like_the_api_server_does(validator):
    doc = copy.deepcopy(VALID["Certificate"])
    doc["spec"]["renewBefore"] = None
    doc["spec"]["subject"] = None
    assert validator.validate([doc]) == []


# --- the pieces -------------------------------------------------------------------------------

@pytest.mark.parametrize("text, nanos", [
    ("0", 0), ("1ms", 10**6), ("1.5s", 1500 * 10**6), ("1h30m", 5400 * 10**9), ("-2m", -120 * 10**9),
    ("300us", 300000), ("2h45m0.5s", (2 * 3600 + 45 * 60) * 10**9 + 5 * 10**8)])
def test_go_duration(text, nanos):
    assert cel.go_duration(text) == nanos


@pytest.mark.parametrize("text", ["", "1", "1d", "10 s", "1.5", "s", "1hh", 5])
def test_go_duration_rejects(text):
    with pytest.raises(ValueError):
        cel.go_duration(text)


def _cel_rules(schema, found):
    if isinstance(schema, dict):
        found.update(r["rule"] for r in schema.get("x-kubernetes-validations", ()))
        for key, value in schema.items():
            if key == "properties":
                for sub in value.values():
                    _cel_rules(sub, found)
            elif isinstance(value, (dict, list)):
                _cel_rules(value, found)
    elif isinstance(schema, list):
        for sub in schema:
            _cel_rules(sub, found)
    return found


def test_every_cel_rule_is_known():
    """A CEL rule a re-vendored CRD brings must be implemented in cel.py or listed as not enforced."""
    found = set()
    for path in CRD_DIR.glob("*.json"):
        _cel_rules(json.loads(path.read_text())["openAPIV3Schema"], found)
    unknown = sorted(r for r in found if cel.predicate(r) is None and r not in cel.NOT_ENFORCED)
    assert found and unknown == []
    assert set(cel.NOT_ENFORCED) <= found, "stale NOT_ENFORCED entries"


def test_vendored_schemas_are_exactly_the_wanted_kinds():
    loader = importlib.machinery.SourceFileLoader("vendor_crds", str(ROOT / "scripts" / "vendor-crds"))
    spec = importlib.util.spec_from_loader("vendor_crds", loader)
    vendor = importlib.util.module_from_spec(spec)
    loader.exec_module(vendor)
    files = {p.name for p in CRD_DIR.glob("*.json")}
    assert {f for f in files if "@" not in f} == {"%s_%s_%s.json" % key for key in vendor.WANTED}
    newer = {f.split("@")[0] + ".json" for f in files if "@" in f}
    assert newer <= {"%s_%s_%s.json" % key for key in vendor.NEWER}, "a newer release only for the kinds in NEWER"
    for path in CRD_DIR.glob("*.json"):
        data = json.loads(path.read_text())
        assert '"description"' not in json.dumps(data["openAPIV3Schema"]), path.name
    assert vendor.strip({"description": "d", "properties": {"description": {"type": "string", "description": "d"}}}) == \
        {"properties": {"description": {"type": "string"}}}


def test_every_rule_has_a_docstring_citing_its_source():
    for _, fn in rules.RULES:
        assert fn.__doc__ and len(fn.__doc__) > 60, fn.__name__


PARITY_DOCS = [
    VALID["Pod"], VALID["Service"],
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i", "bogus": 1}]}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"port": "eighty"}]}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"selector": {}, "template": {}, "replica": 1}},
]


@pytest.mark.parametrize("doc", PARITY_DOCS, ids=lambda d: "%s-%s" % (d["kind"], d["metadata"]["name"]))
@pytest.mark.parametrize("version", ["1.25.0", "1.37.0"])
def test_cached_core_validation_agrees_with_kubernetes_validate(doc, version):
    try:
        kubernetes_validate.validate(doc, version, strict=True)
        expected = None
    except kubernetes_validate.ValidationError as e:
        expected = e.message
    errors = CoreValidator((version,)).validate(doc)
    if expected is None:
        assert errors == []
    else:
        assert any(expected in e for e in errors), (expected, errors)


def test_one_node_process_serves_the_session(validator):
    validator.validate([copy.deepcopy(VALID["Gateway"])])
    pid = validator._node._proc.pid
    validator.validate([copy.deepcopy(VALID["Certificate"]), copy.deepcopy(VALID["VirtualService"])])
    assert validator._node._proc.pid == pid


def test_node_side_maps_kinds_to_models_and_refuses_unknown_ones(validator):
    results = validator._node.validate([
        {"apiVersion": "example.com/v1", "kind": "Widget"},
        {"apiVersion": "../../etc/v1", "kind": "Passwd"},
        copy.deepcopy(VALID["GRPCRoute"])])
    assert results == [["no validator for example.com/v1 Widget"], ["no validator for ../../etc/v1 Passwd"], []]


def test_close_then_validate_starts_a_new_process():
    v = ManifestValidator()
    assert v.validate([copy.deepcopy(VALID["EnvoyFilter"])]) == []
    v.close()
    assert v.validate([copy.deepcopy(VALID["EnvoyFilter"])]) == []
    v.close()


def test_results_are_cached_by_content(validator):
    bad = copy.deepcopy(VALID["Service"])
    bad["spec"]["ports"][0]["protocol"] = "grpc"
    first = validator.validate([bad])
    hits = validator.cache_hits
    assert validator.validate([copy.deepcopy(bad)]) == first and validator.cache_hits == hits + 1
    good = copy.deepcopy(VALID["Service"])
    assert validator.validate([good]) == [] and validator.validate([good, good])[0].endswith("the install would fail")


def test_threads_share_one_validator_quickly(capfd):
    """2000 distinct chart-like documents (no cache hits) from 8 threads: no error, all
    counted, and fast, since the suite validates every render."""
    v = ManifestValidator()
    renders = []
    for i in range(2000 // len(VALID) + 1):
        render = copy.deepcopy(list(VALID.values()))
        for doc in render:
            doc["metadata"]["name"] += "-%d" % i
        renders.append(render)
    results = []

    def work(chunk):
        for docs in chunk:
            results.append(v.validate(docs))

    started = time.perf_counter()
    threads = [threading.Thread(target=work, args=(renders[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    v.close()
    assert all(r == [] for r in results) and len(results) == len(renders)
    assert v.documents_validated == sum(len(r) for r in renders) >= 2000 and v.cache_hits == 0
    assert elapsed < 10, "%.1fs for %d documents" % (elapsed, v.documents_validated)
    assert capfd.readouterr().out == ""  # the module prints nothing

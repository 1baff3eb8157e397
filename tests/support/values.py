"""Small valid building blocks for values in tests: a backend, one-route values, PEM stand-ins
(the chart checks only the PEM header; the certificate is a real one), a gRPC-Web section, a cert-manager section."""
from __future__ import annotations


B = {"host": "grpc-service", "port": 50051}  # a valid backend


def route(**kw):
    return {"routes": [{"name": "r", "backend": B, **kw}]}


def routes(*rs):
    return {"routes": list(rs)}


# A real self-signed certificate for grpc.example.com, valid 2000 to 9999: Istio's analyzers parse
# the certificate of a Secret a Gateway reads (IST0161 otherwise). Its key is not kept anywhere.
PEM_CERT = (
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBdTCCARygAwIBAgIBATAKBggqhkjOPQQDAjAbMRkwFwYDVQQDDBBncnBjLmV4\n"
    "YW1wbGUuY29tMCAXDTAwMDEwMTAwMDAwMFoYDzk5OTkxMjMxMjM1OTU5WjAbMRkw\n"
    "FwYDVQQDDBBncnBjLmV4YW1wbGUuY29tMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcD\n"
    "QgAEx7bUzpM5cDAMWJzg5b8q+gucoYct/7oIINvq+rwGmlum9M6bnRVYePDFUrEt\n"
    "F2HgyxQvqY6qnSbq/lQ15Hc2uqNPME0wGwYDVR0RBBQwEoIQZ3JwYy5leGFtcGxl\n"
    "LmNvbTAPBgNVHRMBAf8EBTADAQH/MB0GA1UdDgQWBBRGB+B/udrVsg7T5udY41tK\n"
    "PXOukDAKBggqhkjOPQQDAgNHADBEAiAs14a7sw26Ie4CF2laD00Csw9nO8OVEjgQ\n"
    "7BR4s3hpGwIgLXwSkwKdGAGVenxCpl9M8YnE9/3+yqMVYgFfcSK/7oM=\n"
    "-----END CERTIFICATE-----\n"
)
PEM_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEdummy\n-----END PRIVATE KEY-----\n"
PEM_CA = "-----BEGIN CERTIFICATE-----\nMIICAdummy\n-----END CERTIFICATE-----\n"
WEB = {"enabled": True, "cors": {"allowOrigins": ["https://app.example.com"]}}

CERT_MANAGER = {"enabled": True, "issuerRef": {"name": "ca"}}

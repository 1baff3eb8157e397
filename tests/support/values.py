"""Small valid building blocks for values in tests: a backend, one-route values, PEM stand-ins
(the chart checks only the PEM header), a gRPC-Web section, a cert-manager section."""
from __future__ import annotations


B = {"host": "grpc-service", "port": 50051}  # a valid backend


def route(**kw):
    return {"routes": [{"name": "r", "backend": B, **kw}]}


def routes(*rs):
    return {"routes": list(rs)}


PEM_CERT = "-----BEGIN CERTIFICATE-----\nMIIBdummy\n-----END CERTIFICATE-----\n"
PEM_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEdummy\n-----END PRIVATE KEY-----\n"
PEM_CA = "-----BEGIN CERTIFICATE-----\nMIICAdummy\n-----END CERTIFICATE-----\n"
WEB = {"enabled": True, "cors": {"allowOrigins": ["https://app.example.com"]}}

CERT_MANAGER = {"enabled": True, "issuerRef": {"name": "ca"}}

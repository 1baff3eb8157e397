"""Small valid building blocks for values in tests: a backend, one-route values, PEM stand-ins
(the chart checks only the PEM header; the certificate is a real one), a gRPC-Web section, a cert-manager section."""
from __future__ import annotations

import copy


B = {"host": "grpc-service", "port": 50051}  # a valid backend


def route(**kw):
    return {"routes": [{"name": "r", "backend": B, **kw}]}


def routes(*rs):
    return {"routes": list(rs)}


# A real self-signed certificate for grpc.example.com (EC P-256, valid 2000 to 9999) and its
# key, made for these tests and used nowhere else: Istio's analyzers parse the certificate of a
# Secret a Gateway reads (IST0161 otherwise), and Istio's Gateway API controller parses both of a
# listener's Secret, leaving the listener unprogrammed when either is no PEM ("Bad TLS
# configuration"). PEM_CA is a second self-signed certificate, a client CA.
PEM_CERT = (
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBczCCARmgAwIBAgIBATAKBggqhkjOPQQDAjAbMRkwFwYDVQQDDBBncnBjLmV4\n"
    "YW1wbGUuY29tMCAXDTAwMDEwMTAwMDAwMFoYDzk5OTkxMjMxMjM1OTU5WjAbMRkw\n"
    "FwYDVQQDDBBncnBjLmV4YW1wbGUuY29tMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcD\n"
    "QgAEN2Sye7gRrdS9gBh+5okRmFuOFN+av2Vq9KIBJ3RFAPh0O2EZ3G1tKS0+T5kF\n"
    "KDLX9VdatKitRb73S3ZEm0Jr/6NMMEowGwYDVR0RBBQwEoIQZ3JwYy5leGFtcGxl\n"
    "LmNvbTAMBgNVHRMBAf8EAjAAMB0GA1UdDgQWBBQHqm68k2psbmTl9GKzbNrWcqNy\n"
    "nDAKBggqhkjOPQQDAgNIADBFAiEA/o2Ltkpr4nYNmxtJT+NuNBuBCGlbDlqSeicX\n"
    "Yw8AE3oCIDqM0pUkLe6vlVed6yindkOohfW9tPm878/lGReMu7hl\n"
    "-----END CERTIFICATE-----\n"
)
PEM_KEY = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg2M6KS3YxRiw+Y8Lv\n"
    "O4F1thbLzxrmajp+i3j+B7MNYvGhRANCAAQ3ZLJ7uBGt1L2AGH7miRGYW44U35q/\n"
    "ZWr0ogEndEUA+HQ7YRncbW0pLT5PmQUoMtf1V1q0qK1FvvdLdkSbQmv/\n"
    "-----END PRIVATE KEY-----\n"
)
PEM_CA = (
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBYjCCAQegAwIBAgIBAjAKBggqhkjOPQQDAjAfMR0wGwYDVQQDDBRncnBjLWlu\n"
    "Z3Jlc3MgdGVzdCBDQTAgFw0wMDAxMDEwMDAwMDBaGA85OTk5MTIzMTIzNTk1OVow\n"
    "HzEdMBsGA1UEAwwUZ3JwYy1pbmdyZXNzIHRlc3QgQ0EwWTATBgcqhkjOPQIBBggq\n"
    "hkjOPQMBBwNCAAT5IcHooCXLbF2qeNUErg/+3HiAMGarW59I2niyx1h8Hc66Ze6a\n"
    "YEUVvk+KfSNqlRIjfrlQAfvyOny991/7w9D2ozIwMDAPBgNVHRMBAf8EBTADAQH/\n"
    "MB0GA1UdDgQWBBR3qUOns4AsvpIWJv20wA7dQBBAdDAKBggqhkjOPQQDAgNJADBG\n"
    "AiEAjoVf7JMqrzM6GyGU9vvMK0ZFQHPeXseX95YMLDmR/ugCIQCR6344oS6Oj/Vw\n"
    "XYWa/VuvcZNQM1zsx8TUFSVdf72hbw==\n"
    "-----END CERTIFICATE-----\n"
)
WEB = {"enabled": True, "cors": {"allowOrigins": ["https://app.example.com"]}}

CERT_MANAGER = {"enabled": True, "issuerRef": {"name": "ca"}}


def coalesce(base: dict, over: dict) -> dict:
    """Helm's coalescing of user values over the chart's, into base (returned): maps merge key by
    key, anything else (lists included) replaces, null deletes."""
    for k, v in over.items():
        if v is None:
            base.pop(k, None)
        elif isinstance(v, dict) and isinstance(base.get(k), dict):
            coalesce(base[k], v)
        else:
            base[k] = copy.deepcopy(v)
    return base

"""TLS and certificates: HTTPS servers and their modes (SIMPLE, MUTUAL), one certificate per
tls.hosts entry, the Secrets the chart creates and cert-manager Certificates, all in the
namespace of the gateway pods."""
from __future__ import annotations

import base64

import pytest

from support.bad_input import bad_values
from support.scenarios import SCENARIOS, ci, load_ci, server_by_name, servers
from support.summary import STATS
from support.values import PEM_CA, PEM_CERT, PEM_KEY
import copy
import json
import random

from hypothesis import given, note, settings
from hypothesis import strategies as st

from support.mutations import BASE, assert_refused, enable_tls, own_gateway, keep_client_ca, path_re
from support.mutations import quiet_helm  # noqa: F401 (a fixture)
from support.strategies import COMMON_SETTINGS, MUTATIONS_PER_KIND, valid_cases


@pytest.mark.parametrize("mode", ["SIMPLE", "MUTUAL", "OPTIONAL_MUTUAL"])
def test_tls_modes(helm, mode):
    r = helm.render({"tls": {"mode": mode, "externalCA": True}})
    srv = server_by_name(r, "https")
    assert srv["port"]["protocol"] == "HTTPS"
    assert srv["tls"]["mode"] == mode

def test_tls_scenario_sets_credential_and_protocol_versions(helm):
    srv = server_by_name(ci(helm, "tls-values.yaml"), "https")
    assert srv["tls"]["credentialName"] == "grpc-example-tls"
    assert srv["tls"]["minProtocolVersion"] == "TLSV1_2"

def test_mutual_tls_renders_server_and_ca_secrets_in_the_gateway_pod_namespace(helm):
    r = ci(helm, "mutual-tls-values.yaml")
    values = load_ci(SCENARIOS["mutual-tls-values.yaml"])
    srv = server_by_name(r, "https")
    assert srv["tls"]["mode"] == "MUTUAL"
    assert srv["tls"]["subjectAltNames"] == ["spiffe://example.com/client"]
    tls = r.one("Secret", "grpc-mtls")
    assert tls["type"] == "kubernetes.io/tls"
    assert tls["metadata"]["namespace"] == "istio-system"
    assert base64.b64decode(tls["data"]["tls.crt"]).decode() == values["tls"]["secret"]["cert"]
    assert base64.b64decode(tls["data"]["tls.key"]).decode() == values["tls"]["secret"]["key"]
    ca = r.one("Secret", "grpc-mtls-cacert")
    assert ca["metadata"]["namespace"] == "istio-system"
    assert base64.b64decode(ca["data"]["ca.crt"]).decode() == values["tls"]["secret"]["caCert"]
    assert not r.has("Pod"), "the helm test Pod has no client certificate for MUTUAL unless tests.clientSecret is set"

def test_secret_follows_workload_namespace_not_gateway_namespace(helm):
    values = load_ci(SCENARIOS["mutual-tls-values.yaml"])
    values["gateway"] = {"namespace": "apps", "workloadNamespace": "ingress-pods"}
    r = helm.render(values)
    assert r.one("Gateway")["metadata"]["namespace"] == "apps"
    assert {s["metadata"]["namespace"] for s in r.of_kind("Secret")} == {"ingress-pods"}
    assert r.one("VirtualService")["spec"]["gateways"] == ["apps/grpc-ingress"]

def test_tls_hosts_get_a_server_and_certificate_each(helm):
    r = ci(helm, "tls-hosts-values.yaml")
    a = server_by_name(r, "https-1")
    rest = server_by_name(r, "https")
    assert a["hosts"] == ["a.example.com"] and a["tls"]["credentialName"] == "a-example-tls"
    assert rest["hosts"] == ["b.example.com", "c.example.com"] and rest["tls"]["credentialName"] == "shared-tls"
    assert r.one("VirtualService")["spec"]["hosts"] == ["a.example.com", "b.example.com", "c.example.com"]
    names = [s["port"]["name"] for s in servers(r)]
    assert len(names) == len(set(names))

def test_tls_hosts_with_cert_manager_issue_one_certificate_per_server(helm):
    values = load_ci(SCENARIOS["tls-hosts-values.yaml"])
    values["tls"]["certManager"] = {"enabled": True, "issuerRef": {"name": "ca", "kind": "Issuer"}}
    certs = {c["spec"]["secretName"]: c["spec"]["dnsNames"] for c in helm.render(values).of_kind("Certificate")}
    assert certs == {"a-example-tls": ["a.example.com"], "shared-tls": ["b.example.com", "c.example.com"]}

def test_cert_manager_certificate_matches_the_gateway_secret(helm):
    r = ci(helm, "cert-manager-values.yaml")
    cert = r.one("Certificate")
    srv = server_by_name(r, "https")
    assert cert["metadata"]["namespace"] == "istio-system"
    assert cert["spec"]["secretName"] == srv["tls"]["credentialName"] == "grpc-ingress-tls"
    assert cert["spec"]["dnsNames"] == ["grpc.example.com", "*.api.example.com"]
    assert cert["spec"]["issuerRef"] == {"name": "letsencrypt-prod", "kind": "ClusterIssuer", "group": "cert-manager.io"}
    assert cert["spec"]["duration"] == "2160h" and cert["spec"]["renewBefore"] == "360h"

def test_cert_manager_with_a_namespaced_issuer(helm):
    cert = helm.render({"tls": {"certManager": {"enabled": True, "issuerRef": {"name": "internal-ca", "kind": "Issuer"}}},
                        "gateway": {"workloadNamespace": "edge"}}).one("Certificate")
    assert cert["metadata"]["namespace"] == "edge", "an Issuer must sit next to the Certificate"
    assert cert["spec"]["issuerRef"]["kind"] == "Issuer"


# --- bad input -----------------------------------------------------------------------------

BAD_VALUES = [
    ("tls-enabled-string", {"tls": {"enabled": "yes"}}, [r"tls\.enabled"]),
    ("unknown-tls-key", {"tls": {"credentialname": "x"}}, [r"tls", r"credentialname"]),
    ("unknown-secret-key", {"tls": {"secret": {"crt": "x"}}}, [r"tls\.secret", r"crt"]),
    ("tls-no-certificate-source", {"tls": {"credentialName": ""}}, [r"tls\.credentialName", r"certificate source"]),
    ("mutual-without-ca", {"tls": {"mode": "MUTUAL"}}, [r"tls\.mode", r"caCert|externalCA"]),
    ("optional-mutual-without-ca", {"tls": {"mode": "OPTIONAL_MUTUAL"}}, [r"tls\.mode"]),
    ("tls-mode-passthrough", {"tls": {"mode": "PASSTHROUGH"}}, [r"tls\.mode"]),
    ("tls-min-version-1-0", {"tls": {"minProtocolVersion": "TLSV1_0"}}, [r"tls\.minProtocolVersion"]),
    ("tls-min-above-max", {"tls": {"minProtocolVersion": "TLSV1_3", "maxProtocolVersion": "TLSV1_2"}}, [r"tls\.maxProtocolVersion"]),
    ("credential-name-upper", {"tls": {"credentialName": "My-Secret"}}, [r"tls\.credentialName"]),
    ("tls-hosts-not-in-hosts", {"tls": {"hosts": [{"hosts": ["other.example.com"], "credentialName": "o"}]}},
     [r"tls\.hosts\.0\.hosts", r"other\.example\.com"]),
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
    ("cert-manager-issuer-kind", {"tls": {"certManager": {"issuerRef": {"kind": "Issuers"}}}}, [r"tls\.certManager\.issuerRef\.kind"]),
    ("cert-manager-shared-secret", {"hosts": ["a.example.com", "b.example.com"],
                                    "tls": {"credentialName": "same", "hosts": [{"hosts": ["a.example.com"], "credentialName": "same"}],
                                            "certManager": {"enabled": True, "issuerRef": {"name": "ca"}}}},
     [r"tls\.hosts\.0\.credentialName", r"same"]),
]


@pytest.mark.parametrize("values,match", bad_values(BAD_VALUES))
def test_bad_values_fail_and_name_the_key(helm, values, match):
    STATS["bad_input_cases"] += 1
    helm.render_fails(values, match=match)


# --- bad edits of valid values -------------------------------------------------------------

def m_mutual_without_ca(v, rnd):
    own_gateway(v)
    enable_tls(v)
    v["tls"].update(mode=rnd.choice(["MUTUAL", "OPTIONAL_MUTUAL"]), externalCA=False)
    v["tls"].get("secret", {}).pop("caCert", None)
    return [path_re("tls", "mode")]

def m_ca_without_secret(v, rnd):
    tls = v["tls"]
    tls["secret"] = {"create": False, "caCert": PEM_CA}
    tls["credentialName"] = "mutation-tls"
    return [path_re("tls", "secret", "caCert")]

def m_secret_without_key(v, rnd):
    tls = v["tls"]
    tls.pop("certManager", None)
    field = rnd.choice(["cert", "key"])
    tls["secret"] = {"create": True, "cert": PEM_CERT, "key": PEM_KEY}
    tls["secret"][field] = ""
    keep_client_ca(v)
    return [path_re("tls", "secret", field)]

def m_cert_manager_without_issuer(v, rnd):
    tls = v["tls"]
    tls["secret"] = {"create": False}
    tls["credentialName"] = "mutation-tls"
    keep_client_ca(v)
    tls["certManager"] = {"enabled": True, "issuerRef": {"name": ""}}
    return [path_re("tls", "certManager", "issuerRef", "name")]

def m_two_certificate_sources(v, rnd):
    tls = v["tls"]
    tls["secret"] = {"create": True, "cert": PEM_CERT, "key": PEM_KEY}
    tls["certManager"] = {"enabled": True, "issuerRef": {"name": "ca"}}
    keep_client_ca(v)
    return [path_re("tls", "certManager", "enabled")]

def m_tls_host_not_in_hosts(v, rnd):
    entries = v["tls"].setdefault("hosts", [])
    entries.append({"hosts": ["not-listed.example.org"], "credentialName": "not-listed"})
    return [path_re("tls", "hosts", len(entries) - 1, "hosts"), "not-listed.example.org"]


MUTATIONS = {fn.__name__[2:]: fn for fn in [
    m_mutual_without_ca, m_ca_without_secret, m_secret_without_key, m_cert_manager_without_issuer, m_two_certificate_sources, m_tls_host_not_in_hosts,
]}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_each_mutation_of_the_base_values_is_refused(helm, name):
    values = copy.deepcopy(BASE)
    patterns = MUTATIONS[name](values, random.Random(name))
    STATS["bad_input_cases"] += 1
    assert_refused(helm, values, patterns, "base", "apps")


@pytest.mark.parametrize("name", sorted(MUTATIONS))
@settings(max_examples=max(1, MUTATIONS_PER_KIND), **COMMON_SETTINGS)
@given(case=valid_cases(max_routes=4), rnd=st.randoms(use_true_random=False))
def test_mutations_of_valid_values_are_refused_naming_the_key(quiet_helm, name, case, rnd):
    """Each mutation on a few random valid values sets (parametrized rather than drawn, so
    every mutation runs: hypothesis draws the first items of a sampled_from far more often)."""
    values, release, namespace = copy.deepcopy(case)
    patterns = MUTATIONS[name](values, rnd)
    note("mutation %s -> %s\n%s" % (name, patterns, json.dumps(values, indent=1)))
    STATS["hypothesis_examples"] += 1
    STATS["bad_input_cases"] += 1
    assert_refused(quiet_helm.helm, values, patterns, release, namespace)

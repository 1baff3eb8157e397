"""TLS and certificates: HTTPS servers and their modes (SIMPLE, MUTUAL), one certificate per
tls.hosts entry, the Secrets the chart creates and cert-manager Certificates, all in the
namespace of the gateway pods."""
from __future__ import annotations

import base64

import pytest
import yaml

from support.helm import ROOT
from support.bad_input import assert_refused, bad_values
from support.injection import Field, string_keys
from support.istio import grpc
from support.istio_checks import case_for
from support.mutations import assert_edits_refused, edits, enable_tls, keep_client_ca, own_gateway, path_re
from support.properties import for_every_valid_values_set
from support.scenarios import SCENARIOS, ci, load_ci, server_by_name, servers
from support.values import CERT_MANAGER, PEM_CA, PEM_CERT, PEM_KEY


@pytest.mark.parametrize("mode", ["SIMPLE", "MUTUAL", "OPTIONAL_MUTUAL"])
def test_tls_modes(helm, mode):
    r = helm.render({"tls": {"mode": mode, "externalCA": True}})
    srv = server_by_name(r, "https")
    assert srv["port"]["protocol"] == "HTTPS"
    assert srv["tls"]["mode"] == mode


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


@pytest.mark.parametrize("key,expected", [
    ({"algorithm": "RSA"}, {"algorithm": "RSA", "size": 2048}),
    ({"algorithm": "ECDSA"}, {"algorithm": "ECDSA", "size": 256}),
    ({"algorithm": "Ed25519"}, {"algorithm": "Ed25519"}),
    ({"algorithm": "RSA", "size": 8192}, {"algorithm": "RSA", "size": 8192}),
    ({"algorithm": "ECDSA", "size": 521}, {"algorithm": "ECDSA", "size": 521}),
], ids=["rsa", "ecdsa", "ed25519", "rsa-8192", "ecdsa-521"])
def test_a_key_algorithm_without_a_size_gets_that_algorithms_default(helm, key, expected):
    """cert-manager's defaults (RSA 2048, ECDSA 256), never a size meant for another algorithm."""
    cert = helm.render({"tls": {"certManager": {**CERT_MANAGER, "privateKey": key}}}).one("Certificate")
    assert cert["spec"]["privateKey"] == {**expected, "rotationPolicy": "Always"}


def test_every_https_server_of_a_mutual_gateway_gets_the_client_ca(helm):
    """Istio's gateway reads the client CA of each server from <its credentialName>-cacert:
    tls.hosts servers need one as much as the default server, whatever their certificate's
    source (a secret the chart writes, cert-manager, or an existing secret)."""
    base = {"hosts": ["a.example.com", "b.example.com", "c.example.com"],
            "tls": {"mode": "MUTUAL", "hosts": [{"hosts": ["a.example.com"], "credentialName": "a-tls"},
                                                {"hosts": ["b.example.com"], "credentialName": "b-tls"}],
                    "secret": {"caCert": PEM_CA}}}
    for source in ({"secret": {"create": True, "cert": PEM_CERT, "key": PEM_KEY, "caCert": PEM_CA}, "credentialName": ""},
                   {"certManager": CERT_MANAGER, "credentialName": ""}, {}):
        values = {**base, "tls": {**base["tls"], **source}}
        r = helm.render(values)
        credentials = {s["tls"]["credentialName"] for s in servers(r)}
        assert len(credentials) == 3
        cas = {d["metadata"]["name"]: d for d in r.of_kind("Secret") if d["type"] == "Opaque"}
        assert set(cas) == {c + "-cacert" for c in credentials}, source
        for ca in cas.values():
            assert base64.b64decode(ca["data"]["ca.crt"]).decode() == PEM_CA
            assert ca["metadata"]["namespace"] == "istio-system"


def test_cert_manager_with_a_namespaced_issuer(helm):
    cert = helm.render({"tls": {"certManager": {"enabled": True, "issuerRef": {"name": "internal-ca", "kind": "Issuer"}}},
                        "gateway": {"workloadNamespace": "edge"}}).one("Certificate")
    assert cert["metadata"]["namespace"] == "edge", "an Issuer must sit next to the Certificate"
    assert cert["spec"]["issuerRef"]["kind"] == "Issuer"


# --- every generated values set ------------------------------------------------------------

DEFAULT_CREDENTIAL = yaml.safe_load((ROOT / "values.yaml").read_text())["tls"]["credentialName"]


@for_every_valid_values_set
def test_each_host_gets_the_certificate_of_its_tls_hosts_entry_or_the_default_and_the_tls_settings(case):
    values, tls = case.values, case.values["tls"]
    if not (tls["enabled"] and values["gateway"]["create"]):
        return
    https = [s for s in case.servers if s["port"]["protocol"] == "HTTPS"]
    own = {h: e["credentialName"] for e in tls.get("hosts", []) for h in e["hosts"]}
    created = {d["metadata"]["name"] for d in case.render.of_kind("Secret") if d.get("type") == "kubernetes.io/tls"}
    created |= {c["spec"]["secretName"] for c in case.render.of_kind("Certificate")}
    for host in values["hosts"]:
        (server,) = [s for s in https if host in s["hosts"]]
        secret = server["tls"]["credentialName"]
        if host in own:
            assert secret == own[host], host
        elif tls.get("credentialName", DEFAULT_CREDENTIAL):  # unset: values.yaml's default, as Helm merges it
            assert secret == tls.get("credentialName", DEFAULT_CREDENTIAL), host
        elif tls.get("secret", {}).get("create") or tls.get("certManager", {}).get("enabled"):
            assert secret in created, "%s: the derived secret %s is one this chart creates (%s)" % (host, secret, created)
        else:  # an existing secret under the per-release default name <fullname>-tls
            assert (secret.endswith("-tls") or len(secret) == 56) and secret not in created, (host, secret)
        # Every HTTPS server applies the chart-wide TLS settings, its own certificate aside.
        got = server["tls"]
        assert (got["mode"], got["minProtocolVersion"]) == (tls["mode"], tls["minProtocolVersion"]), got
        assert got.get("maxProtocolVersion", "") == tls.get("maxProtocolVersion", ""), got
        assert got.get("cipherSuites") == tls.get("cipherSuites"), got
        assert got.get("subjectAltNames") == tls.get("subjectAltNames"), got


# --- strings from values: refused naming the key, or kept verbatim (support.injection) --------

STRING_KEYS = string_keys(
    # Empty has a documented meaning for credentialName: the chart's own <fullname>-tls.
    Field("credential-name", lambda s: {"tls": {"credentialName": s, "secret": {"create": True, "cert": PEM_CERT, "key": PEM_KEY}}},
          "zqxjk-tls", "tls.credentialName", meaningful=("",)),
    Field("issuer-name", lambda s: {"tls": {"certManager": {**CERT_MANAGER, "issuerRef": {"name": s}}}}, "zqxjk-issuer",
          "tls.certManager.issuerRef.name"),
    # a loose syntax, refused only for what YAML or Envoy cannot carry
    Field("subject-alt-name", lambda s: {"tls": {"mode": "MUTUAL", "externalCA": True, "subjectAltNames": [s]}},
          "zqxjkval", "tls.subjectAltNames.0", loose=True),
)


@pytest.mark.parametrize("field,payload", STRING_KEYS)
def test_strings_in_tls_keys_are_refused_naming_the_key_or_kept_verbatim(injected, field, payload):
    injected.check(field, payload)


def test_each_release_gets_its_own_certificate_secret_by_default(helm):
    """With tls.credentialName empty (the default) the secret is <fullname>-tls: two releases
    (or two aliased instances) issuing certificates never write one secret."""
    cm = {"tls": {"certManager": {"enabled": True, "issuerRef": {"name": "ca"}}}}
    names = {}
    for release in ("shop", "admin"):
        r = helm.render(cm, release=release)
        cert = r.one("Certificate")
        assert cert["spec"]["secretName"] == server_by_name(r, "https")["tls"]["credentialName"]
        names[release] = cert["spec"]["secretName"]
    assert names == {"shop": "shop-grpc-ingress-tls", "admin": "admin-grpc-ingress-tls"}
    # a secret that already exists: the gateway reads it by the default name too, or by the one given
    assert server_by_name(helm.render(None, release="shop"), "https")["tls"]["credentialName"] == "shop-grpc-ingress-tls"
    assert server_by_name(helm.render({"tls": {"credentialName": "mine"}}, release="shop"), "https")["tls"]["credentialName"] == "mine"


# --- bad input -----------------------------------------------------------------------------

BAD_VALUES = [
    ("tls-enabled-string", {"tls": {"enabled": "yes"}}, [r"tls\.enabled"]),
    ("unknown-tls-key", {"tls": {"credentialname": "x"}}, [r"tls", r"credentialname"]),
    ("unknown-secret-key", {"tls": {"secret": {"crt": "x"}}}, [r"tls\.secret", r"crt"]),
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
    ("ca-cert-with-simple-mode", {"tls": {"secret": {"caCert": PEM_CA}}}, [r"tls\.secret\.caCert", r"SIMPLE", r"MUTUAL"]),
    ("ca-cert-and-external-ca", {"tls": {"mode": "MUTUAL", "externalCA": True, "secret": {"caCert": PEM_CA}}},
     [r"tls\.externalCA", r"caCert"]),
    ("subject-alt-names-with-simple-mode", {"tls": {"subjectAltNames": ["spiffe://example.com/client"]}},
     [r"tls\.subjectAltNames", r"spiffe://example\.com/client", r"SIMPLE", r"MUTUAL"]),
    # PEM the gateway could not load
    ("pem-cert-and-key-swapped", {"tls": {"secret": {"create": True, "cert": PEM_KEY, "key": PEM_CERT}}},
     [r"tls\.secret\.cert", r"tls\.secret\.key", r"swapped"]),
    ("pem-cert-without-end", {"tls": {"secret": {"create": True, "cert": PEM_CERT.replace("-----END CERTIFICATE-----\n", ""),
                                                 "key": PEM_KEY}}},
     [r"tls\.secret\.cert", r"-----END CERTIFICATE-----", r"cut short"]),
    ("pem-key-without-end", {"tls": {"secret": {"create": True, "cert": PEM_CERT, "key": PEM_KEY.split("-----END")[0]}}},
     [r"tls\.secret\.key", r"-----END PRIVATE KEY-----"]),
    ("pem-key-encrypted", {"tls": {"secret": {"create": True, "cert": PEM_CERT,
                                              "key": PEM_KEY.replace("PRIVATE KEY", "ENCRYPTED PRIVATE KEY")}}},
     [r"tls\.secret\.key", r"encrypted", r"passphrase"]),
    ("pem-ca-cert-is-a-key", {"tls": {"mode": "MUTUAL", "secret": {"create": True, "cert": PEM_CERT, "key": PEM_KEY, "caCert": PEM_KEY}}},
     [r"tls\.secret\.caCert", r"private key"]),
    ("cert-and-key-without-create", {"tls": {"secret": {"cert": PEM_CERT, "key": PEM_KEY}}},
     [r"tls\.secret\.cert", r"tls\.secret\.key", r"tls\.secret\.create: true", r"grpc-ingress-tls"]),
    ("key-with-cert-manager", {"tls": {"certManager": CERT_MANAGER, "secret": {"key": PEM_KEY}}},
     [r"tls\.secret\.key", r"tls\.secret\.create is false"]),
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
    ("cert-manager-duration-beyond-go-duration", {"tls": {"certManager": {**CERT_MANAGER, "duration": "3000000h"}}},
     [r"tls\.certManager\.duration", "3000000h", "2562047h"]),
    ("cert-manager-renew-before-beyond-go-duration", {"tls": {"certManager": {**CERT_MANAGER, "renewBefore": "99999999999999999999m"}}},
     [r"tls\.certManager\.renewBefore", "99999999999999999999m"]),
    # cert-manager's webhook: RSA 2048 to 8192, ECDSA 256/384/521, Ed25519 has no size
    ("cert-manager-rsa-256", {"tls": {"certManager": {**CERT_MANAGER, "privateKey": {"algorithm": "RSA", "size": 256}}}},
     [r"tls\.certManager\.privateKey\.size", "256", "2048"]),
    ("cert-manager-ecdsa-2048", {"tls": {"certManager": {**CERT_MANAGER, "privateKey": {"algorithm": "ECDSA", "size": 2048}}}},
     [r"tls\.certManager\.privateKey\.size", "2048", "256, 384 or 521"]),
    ("cert-manager-ed25519-with-size", {"tls": {"certManager": {**CERT_MANAGER, "privateKey": {"algorithm": "Ed25519", "size": 384}}}},
     [r"tls\.certManager\.privateKey\.size", "384", "Ed25519"]),
    ("cert-manager-rsa-above-8192", {"tls": {"certManager": {**CERT_MANAGER, "privateKey": {"algorithm": "RSA", "size": 8193}}}},
     [r"tls\.certManager\.privateKey\.size"]),
    ("cert-manager-issuer-kind", {"tls": {"certManager": {"issuerRef": {"kind": "Issuers"}}}}, [r"tls\.certManager\.issuerRef\.kind"]),
    ("cert-manager-shared-secret", {"hosts": ["a.example.com", "b.example.com"],
                                    "tls": {"credentialName": "same", "hosts": [{"hosts": ["a.example.com"], "credentialName": "same"}],
                                            "certManager": {"enabled": True, "issuerRef": {"name": "ca"}}}},
     [r"tls\.hosts\.0\.credentialName", r"same"]),
]


@pytest.mark.parametrize("values,match", bad_values(BAD_VALUES))
def test_bad_values_are_refused_naming_the_key(helm, values, match):
    assert_refused(helm, values, match)


# --- bad edits of valid values -------------------------------------------------------------

def m_mutual_without_ca(v, rnd):
    own_gateway(v)
    enable_tls(v)
    v["tls"].update(mode=rnd.choice(["MUTUAL", "OPTIONAL_MUTUAL"]), externalCA=False)
    v["tls"].get("secret", {}).pop("caCert", None)
    return [path_re("tls", "mode")]


def m_ca_cert_with_simple_mode(v, rnd):
    own_gateway(v)
    enable_tls(v)
    tls = v["tls"]
    tls.update(mode="SIMPLE", externalCA=False)
    tls.pop("subjectAltNames", None)
    tls.setdefault("secret", {})["caCert"] = PEM_CA
    return [path_re("tls", "secret", "caCert"), "SIMPLE"]


def m_pem_swapped_or_cut(v, rnd):
    tls = v["tls"]
    tls.pop("certManager", None)
    cert, key = rnd.choice([(PEM_KEY, PEM_CERT), (PEM_CERT.split("-----END")[0], PEM_KEY), (PEM_CERT, PEM_KEY.split("-----END")[0])])
    tls["secret"] = {"create": True, "cert": cert, "key": key}
    keep_client_ca(v)
    return [path_re("tls", "secret", "cert" if cert != PEM_CERT else "key")]


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


def m_tls_max_below_min(v, rnd):
    own_gateway(v)
    enable_tls(v)
    v["tls"].update(minProtocolVersion="TLSV1_3", maxProtocolVersion="TLSV1_2")
    return [path_re("tls", "maxProtocolVersion")]


@pytest.mark.parametrize("mutation", edits(
    m_mutual_without_ca, m_ca_cert_with_simple_mode, m_pem_swapped_or_cut, m_secret_without_key, m_cert_manager_without_issuer,
    m_two_certificate_sources, m_tls_host_not_in_hosts, m_tls_max_below_min))
def test_bad_edits_of_valid_values_are_refused_naming_the_key(helm, mutation_bases, mutation):
    assert_edits_refused(helm, mutation, mutation_bases)


# --- what Istio makes of the TLS settings --------------------------------------------------------

CIPHERS = ["ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES128-GCM-SHA256"]
TLS_ASKED = {
    "istio": {"tls": {"cipherSuites": CIPHERS, "minProtocolVersion": "TLSV1_3", "maxProtocolVersion": "TLSV1_3"}},
    "istio-defaults": {},
    "gateway-api": {"api": "gateway-api", "tls": {"cipherSuites": CIPHERS}},
    "gateway-api-defaults": {"api": "gateway-api"},
}


@pytest.fixture(scope="module")
def tls_chains(helm, istio):
    """{name: the TLS settings of the filter chain a gRPC call on grpc.example.com:443 meets}."""
    cases = [case_for(helm, istio, v, [grpc("call", "/helloworld.Greeter/SayHello", "grpc.example.com")])[1]
             for v in TLS_ASKED.values()]
    out = {}
    for name, res in zip(TLS_ASKED, istio.run(cases)):
        got = res.call("call")
        assert not got.get("error"), (name, got["error"])
        out[name] = got["chain"]["tls"]
    return out


def test_cipher_suites_and_tls_versions_reach_the_https_chain(tls_chains):
    """tls.cipherSuites and the TLS versions become the chain's tls_params (Istio's gateway TLS
    context: buildGatewayListenerTLSContext in pilot/pkg/networking/core/gateway.go)."""
    got = tls_chains["istio"]
    assert got["cipher_suites"] == CIPHERS
    assert (got["min_version"], got["max_version"]) == ("TLSv1_3", "TLSv1_3")
    defaults = tls_chains["istio-defaults"]
    assert defaults["cipher_suites"] == [], "no cipherSuites: Envoy's defaults"
    assert defaults["min_version"] == "TLSv1_2" and "max_version" not in defaults
    assert got["alpn"][0] == defaults["alpn"][0] == "h2", "gRPC needs h2 offered first"


def test_gateway_api_listeners_take_cipher_suites_from_the_listener_option_and_write_no_minimum(tls_chains):
    """With api: gateway-api the chart writes tls.cipherSuites as the listener option
    gateway.istio.io/tls-cipher-suites, which Istio (1.29+, buildTLS in pilot/pkg/config/kube/
    gateway/conversion.go) puts on the chain. No minimum version is written (TLS_AUTO), so
    Envoy's own default minimum, TLS 1.2 for servers (TlsParameters in Envoy's tls/v3/common.proto),
    applies: the reason the chart refuses any other tls.minProtocolVersion there."""
    assert tls_chains["gateway-api"]["cipher_suites"] == CIPHERS
    assert tls_chains["gateway-api"]["min_version"] == "TLS_AUTO", "tls_params without a minimum"
    assert tls_chains["gateway-api-defaults"]["cipher_suites"] == []
    for name in ("gateway-api", "gateway-api-defaults"):
        assert tls_chains[name].get("min_version") in (None, "TLS_AUTO") and "max_version" not in tls_chains[name]
        assert tls_chains[name]["alpn"][0] == "h2"

"""API-server and admission-webhook rules that no schema carries, but Istio's.

Each rule is a small function `rule(doc) -> [error, ...]` (errors as "field.path: message"),
registered for the kinds it applies to, with a docstring naming where the real rule lives:
Kubernetes apiserver validation (k8s.io/kubernetes pkg/apis/core/validation, apimachinery),
cert-manager's webhook (cert-manager internal/apis/certmanager/validation), or Istio/Envoy
runtime behaviour that silently drops config (documented as such). A few are the chart's own
policy; their docstrings say "Chart policy". Istio's validating webhook is not copied here:
istio_webhook.py asks Istio's own (pkg/webhooks/validation/server).
"""
import base64
import binascii
import re

from .cel import go_duration

# --- registry --------------------------------------------------------------------------

RULES = []  # (kinds, function); kinds: set of (group, kind), None for every document


def rule(*kinds):
    """Register a rule for (group, kind) pairs; no argument: for every document."""
    def register(fn):
        RULES.append((set(kinds) or None, fn))
        return fn
    return register


def group_of(api_version):
    return api_version.rpartition("/")[0]


def check(doc):
    key = (group_of(doc["apiVersion"]), doc["kind"])
    errors = []
    for kinds, fn in RULES:
        if kinds is None or key in kinds:
            try:
                errors.extend(fn(doc))
            except (AttributeError, KeyError, TypeError, ValueError) as e:
                # A malformed document (the schema checks report why): fail it, never crash.
                errors.append("rule %s could not check this document: %s: %s" % (fn.__name__, type(e).__name__, e))
    return errors


CORE = ""
ISTIO = "networking.istio.io"
CERT_MANAGER = "cert-manager.io"

# --- name syntax (k8s.io/apimachinery/pkg/util/validation) --------------------------------

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?\Z")
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]\Z")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?\Z")
_IANA_SVC_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?\Z")


def dns1123_label(value):
    """IsDNS1123Label: lowercase alphanumerics and '-', alphanumeric at both ends, <= 63."""
    if not isinstance(value, str) or len(value) > 63 or not _DNS1123_LABEL.match(value):
        return ["must be a DNS-1123 label (lowercase a-z, 0-9, '-', alphanumeric at both ends, "
                "at most 63 characters), got %r" % (value,)]
    return []


def dns1123_subdomain(value):
    """IsDNS1123Subdomain: dot-separated DNS-1123 labels, <= 253."""
    if not isinstance(value, str) or len(value) > 253 or not _DNS1123_SUBDOMAIN.match(value):
        return ["must be a DNS-1123 subdomain (lowercase a-z, 0-9, '-' and '.', at most 253 characters), got %r" % (value,)]
    return []


def qualified_name(value):
    """IsQualifiedName: label/annotation key syntax, [DNS-1123 subdomain prefix '/'] name (<= 63)."""
    if not isinstance(value, str):
        return ["must be a string, got %r" % (value,)]
    prefix, _, name = value.rpartition("/")
    errors = []
    if "/" in value:
        if value.count("/") > 1:
            return ["%r: a qualified name has at most one '/'" % value]
        errors += ["prefix " + m for m in dns1123_subdomain(prefix)]
    if not name or len(name) > 63 or not _QUALIFIED_NAME.match(name):
        errors.append("%r: name part must be 1-63 characters of [A-Za-z0-9-_.], alphanumeric at both ends" % value)
    return errors


def label_value(value):
    """IsValidLabelValue: empty, or <= 63 of [A-Za-z0-9-_.] with alphanumerics at both ends."""
    if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
        return ["label value %r must be at most 63 characters of [A-Za-z0-9-_.], alphanumeric at both ends" % (value,)]
    return []


def _label_map(labels, path):
    """ValidateLabels: keys are qualified names, values label values."""
    errors = []
    for key, value in (labels or {}).items():
        errors += ["%s[%s]: %s" % (path, key, m) for m in qualified_name(key) + label_value(value)]
    return errors


def _port_number(value):
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535


# --- every document -----------------------------------------------------------------------

@rule()
def metadata_name(doc):
    """ValidateObjectMeta: a name is required and, for most kinds, a DNS-1123 subdomain
    (apimachinery NameIsDNSSubdomain). Services need a DNS-1035 label (ValidateServiceName =
    NameIsDNS1035Label, pkg/apis/core/validation; only the alpha RelaxedServiceNameValidation
    gate of 1.34 relaxes it, and we support 1.25) and Namespaces a DNS-1123 label (an Istio
    Gateway's DNS-1123 label is Istio's webhook's to check). Chart policy: every name <= 63
    characters, so names also fit in a label value."""
    name = (doc.get("metadata") or {}).get("name")
    if not name:
        return ["metadata.name: required"]
    kind, group = doc["kind"], group_of(doc["apiVersion"])
    if group == CORE and kind == "Service":
        errors = [] if len(name) <= 63 and _DNS1035_LABEL.match(name) else [
            "must be a DNS-1035 label (start with a lowercase letter; a-z, 0-9, '-'; at most 63 characters), got %r" % name]
    elif group == CORE and kind == "Namespace":
        errors = dns1123_label(name)
    else:
        errors = dns1123_subdomain(name)
    if not errors and len(name) > 63:
        errors = ["%r is %d characters; chart policy is at most 63 for every name" % (name, len(name))]
    return ["metadata.name: " + e for e in errors]


@rule()
def metadata_namespace(doc):
    """ValidateObjectMeta (ValidateNamespaceName): a namespace, when set, is a DNS-1123 label."""
    ns = (doc.get("metadata") or {}).get("namespace")
    return [] if ns is None else ["metadata.namespace: " + e for e in dns1123_label(ns)]


@rule()
def metadata_labels_and_annotations(doc):
    """apimachinery ValidateLabels (qualified-name keys, label values <= 63, syntax
    (([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?) and ValidateAnnotations (qualified-name
    keys, all annotations together at most 256 KiB)."""
    meta = doc.get("metadata") or {}
    errors = _label_map(meta.get("labels"), "metadata.labels")
    annotations = meta.get("annotations") or {}
    for key in annotations:
        errors += ["metadata.annotations[%s]: %s" % (key, m) for m in qualified_name(str(key).lower())]
    size = sum(len(str(k)) + len(str(v)) for k, v in annotations.items())
    if size > 256 * 1024:
        errors.append("metadata.annotations: total size %d must be at most 262144 bytes" % size)
    return errors


# --- core kinds -------------------------------------------------------------------------------

@rule((CORE, "Service"))
def service_ports(doc):
    """pkg/apis/core/validation ValidateService / validateServicePort: port names are DNS-1123
    labels, required when there is more than one port, unique; protocol is TCP, UDP or SCTP;
    port 1-65535; targetPort 1-65535 or an IANA_SVC_NAME; (port, protocol) unique; appProtocol
    a qualified name; selector keys/values label syntax."""
    spec = doc.get("spec") or {}
    ports = spec.get("ports") or []
    errors = _label_map(spec.get("selector"), "spec.selector")
    names, numbers = set(), set()
    for i, p in enumerate(ports):
        at = "spec.ports[%d]" % i
        name = p.get("name")
        if name is None or name == "":
            if len(ports) > 1:
                errors.append(at + ".name: required when a Service has more than one port")
        else:
            errors += ["%s.name: %s" % (at, m) for m in dns1123_label(name)]
            if name in names:
                errors.append("%s.name: duplicate port name %r" % (at, name))
            names.add(name)
        protocol = p.get("protocol", "TCP")
        if protocol not in ("TCP", "UDP", "SCTP"):
            errors.append("%s.protocol: Unsupported value %r: supported values: \"SCTP\", \"TCP\", \"UDP\"" % (at, protocol))
        if not _port_number(p.get("port")):
            errors.append("%s.port: must be between 1 and 65535, inclusive, got %r" % (at, p.get("port")))
        if (p.get("port"), protocol) in numbers:
            errors.append("%s: duplicate port %s/%s" % (at, p.get("port"), protocol))
        numbers.add((p.get("port"), protocol))
        target = p.get("targetPort")
        if target is not None:
            if isinstance(target, str):
                errors += ["%s.targetPort: %s" % (at, m) for m in iana_svc_name(target)]
            elif not _port_number(target):
                errors.append("%s.targetPort: must be between 1 and 65535, inclusive, got %r" % (at, target))
        if p.get("appProtocol") is not None:
            errors += ["%s.appProtocol: %s" % (at, m) for m in qualified_name(p["appProtocol"])]
    return errors


def iana_svc_name(value):
    """IsValidPortName: at most 15 of [a-z0-9-], a letter somewhere, no '--', no '-' at the ends."""
    if (not isinstance(value, str) or len(value) > 15 or not _IANA_SVC_NAME.match(value) or "--" in value
            or not re.search("[a-z]", value)):
        return ["%r must be an IANA_SVC_NAME (at most 15 characters of a-z, 0-9, '-', with a letter, "
                "no '--' or '-' at the ends)" % value]
    return []


_QUANTITY = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?\Z")
_SUFFIX = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60, "n": 1e-9, "u": 1e-6,
           "m": 1e-3, "": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}


def _quantity(value):
    """resource.ParseQuantity, as a float, None if invalid."""
    text = str(value)
    m = _QUANTITY.match(text)
    if not m:
        return None
    suffix = m.group(3) or ""
    if len(suffix) > 1 and suffix[0] in "eE":  # decimal exponent, 1e3
        return float(text)
    return float(text[: len(text) - len(suffix)]) * _SUFFIX[suffix]


@rule((CORE, "Pod"))
def pod_containers(doc):
    """pkg/apis/core/validation ValidatePodSpec: container names are unique DNS-1123 labels,
    an image is set, imagePullPolicy is Always/IfNotPresent/Never, restartPolicy
    Always/OnFailure/Never, resource quantities parse (resource.ParseQuantity) and every
    request is at most its limit; container port names are IANA_SVC_NAMEs."""
    spec = doc.get("spec") or {}
    errors = []
    if spec.get("restartPolicy", "Always") not in ("Always", "OnFailure", "Never"):
        errors.append("spec.restartPolicy: Unsupported value %r" % spec["restartPolicy"])
    seen = set()
    for field in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(field) or []):
            at = "spec.%s[%d]" % (field, i)
            errors += ["%s.name: %s" % (at, m) for m in dns1123_label(c.get("name"))]
            if c.get("name") in seen:
                errors.append("%s.name: duplicate container name %r" % (at, c.get("name")))
            seen.add(c.get("name"))
            if not c.get("image"):
                errors.append(at + ".image: required")
            if c.get("imagePullPolicy", "IfNotPresent") not in ("Always", "IfNotPresent", "Never"):
                errors.append("%s.imagePullPolicy: Unsupported value %r" % (at, c["imagePullPolicy"]))
            resources = c.get("resources") or {}
            parsed = {}
            for kind in ("requests", "limits"):
                for res, q in (resources.get(kind) or {}).items():
                    parsed[kind, res] = _quantity(q)
                    if parsed[kind, res] is None:
                        errors.append("%s.resources.%s.%s: quantity %r does not match the Kubernetes quantity syntax" % (at, kind, res, q))
            for (kind, res), value in parsed.items():
                limit = parsed.get(("limits", res))
                if kind == "requests" and value is not None and limit is not None and value > limit:
                    errors.append("%s.resources.requests.%s: must be less than or equal to %s limit" % (at, res, res))
            for j, port in enumerate(c.get("ports") or []):
                if port.get("name"):
                    errors += ["%s.ports[%d].name: %s" % (at, j, m) for m in iana_svc_name(port["name"])]
    return errors


_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+\Z")


@rule((CORE, "Secret"), (CORE, "ConfigMap"))
def data_keys_and_values(doc):
    """pkg/apis/core/validation ValidateSecret / ValidateConfigMap: keys are [-._a-zA-Z0-9]+
    (IsConfigMapKey, <= 253, not "." or ".."); Secret data values are base64; a
    kubernetes.io/tls Secret has tls.crt and tls.key; a ConfigMap key is not in both data and
    binaryData."""
    errors = []
    data = doc.get("data") or {}
    for field in ("data", "stringData", "binaryData"):
        for key in doc.get(field) or {}:
            if len(key) > 253 or key in (".", "..") or not _CONFIG_KEY.match(key):
                errors.append("%s[%s]: key must consist of alphanumerics, '-', '_' or '.'" % (field, key))
    if doc["kind"] == "Secret":
        for key, value in data.items():
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError, TypeError):
                errors.append("data[%s]: value is not valid base64" % key)
        if doc.get("type") == "kubernetes.io/tls":
            keys = set(data) | set(doc.get("stringData") or {})
            errors += ["data[%s]: required for a kubernetes.io/tls Secret" % k for k in ("tls.crt", "tls.key") if k not in keys]
    else:
        errors += ["binaryData[%s]: duplicate of data[%s]" % (k, k) for k in set(data) & set(doc.get("binaryData") or {})]
    return errors


# --- Istio: the chart's own policies ---------------------------------------------------------
# What Istio's validating webhook refuses or warns about is asked of Istio itself
# (istio_webhook.py runs pkg/webhooks/validation/server on every istio.io object). What stays
# here is what the webhook does not check: the chart's stricter policies, and config istiod
# admits but then drops or Envoy refuses at runtime.

HTTP_PROTOCOLS = {"HTTP", "HTTP2", "GRPC", "GRPC-WEB", "HTTP_PROXY"}  # protocol.Instance.IsHTTP()


def _protocol(server):
    return str((server.get("port") or {}).get("protocol", "")).upper()  # protocol.Parse ignores case


_TLS_VERSIONS = ["TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3"]


@rule((ISTIO, "Gateway"))
def istio_gateway_server_policy(doc):
    """Chart policy, stricter than istiod's validateServer: an HTTP-family server's tls may hold
    httpsRedirect only (istiod tolerates other keys while mode stays PASSTHROUGH), and an HTTPS
    server names its mode (omitted, it is PASSTHROUGH, which does not terminate TLS). Envoy
    refuses a listener whose minimum TLS version is above its maximum; istiod's
    validateTLSOptions does not check it, so the webhook admits it."""
    errors = []
    for i, s in enumerate((doc.get("spec") or {}).get("servers") or []):
        at = "spec.servers[%d]" % i
        tls = s.get("tls")
        if _protocol(s) == "HTTPS" and tls is not None and "mode" not in tls:
            errors.append(at + ".tls.mode: required on an HTTPS server (chart policy: omitted means PASSTHROUGH)")
        if _protocol(s) in HTTP_PROTOCOLS and tls is not None and set(tls) - {"httpsRedirect"}:
            errors.append("%s.tls: server cannot have TLS settings for plain text HTTP ports (only httpsRedirect), got %s"
                          % (at, sorted(tls)))
        low, high = (tls or {}).get("minProtocolVersion"), (tls or {}).get("maxProtocolVersion")
        if low in _TLS_VERSIONS and high in _TLS_VERSIONS and _TLS_VERSIONS.index(low) > _TLS_VERSIONS.index(high):
            errors.append("%s.tls: minProtocolVersion %s is above maxProtocolVersion %s" % (at, low, high))
    return errors


@rule((ISTIO, "Gateway"))
def istio_gateway_port_conflicts(doc):
    """pilot/pkg/model/gateway.go mergeGateways: servers sharing a port number (and bind)
    must merge, else istiod logs "skipping server ... conflict" and silently drops one (no
    webhook error, so this is the only place it fails loudly). Plaintext servers merge only
    if all are HTTP-family (canMergeProtocols); TLS servers (tls set, protocol not
    HTTP-family) never share a port with plaintext ones, and on one port they must not
    repeat a host (Envoy would get two identical SNI filter-chain matches)."""
    errors = []
    by_port = {}
    for i, s in enumerate((doc.get("spec") or {}).get("servers") or []):
        key = ((s.get("port") or {}).get("number"), s.get("bind", ""))
        by_port.setdefault(key, []).append((i, s))
    for (number, _), servers in by_port.items():
        if len(servers) < 2:
            continue
        # IsTLSServer: tls set on a protocol that is not HTTP-family (an httpsRedirect server is plaintext)
        tls_servers = [(i, s) for i, s in servers if s.get("tls") is not None and _protocol(s) not in HTTP_PROTOCOLS]
        plain = [(i, s) for i, s in servers if not (s.get("tls") is not None and _protocol(s) not in HTTP_PROTOCOLS)]
        first = servers[0][0]
        if tls_servers and plain:
            errors.append("spec.servers: port %s mixes TLS servers %s with plaintext servers %s; istiod drops the later ones"
                          % (number, [i for i, _ in tls_servers], [i for i, _ in plain]))
        elif plain and not all(_protocol(s) in HTTP_PROTOCOLS for _, s in plain):
            errors.append("spec.servers[%d..]: servers on port %s have protocols %s that cannot merge; istiod drops all but "
                          "server %d" % (first, number, [_protocol(s) for _, s in plain], first))
        seen = {}
        for i, s in tls_servers:
            for h in s.get("hosts") or []:
                if h in seen:
                    errors.append("spec.servers[%d].hosts: %r is already served on port %s by server %d; istiod skips "
                                  "this server" % (i, h, number, seen[h]))
                seen.setdefault(h, i)
    return errors


@rule((ISTIO, "VirtualService"))
def istio_route_policy(doc):
    """Chart policy, stricter than istiod's ValidateVirtualService: hosts are set (istiod admits a
    VirtualService without hosts as a delegate; this chart renders none), and with more than one
    destination every destination states its weight (istiod reads an omitted weight as 0: no
    traffic)."""
    spec = doc.get("spec") or {}
    errors = [] if spec.get("hosts") else ["spec.hosts: required (this chart renders no delegate VirtualServices)"]
    for i, http in enumerate(spec.get("http") or []):
        routes = http.get("route") or []
        for k, dest in enumerate(routes):
            if len(routes) > 1 and "weight" not in dest:
                errors.append("spec.http[%d].route[%d].weight: required when a route has more than one destination "
                              "(chart policy)" % (i, k))
    return errors


@rule((ISTIO, "Gateway"), (ISTIO, "EnvoyFilter"), (ISTIO, "DestinationRule"))
def istio_selectors(doc):
    """Workload selectors use label syntax: istiod validates subset and sourceLabels with
    labels.Instance.Validate (Kubernetes label rules), and pods carry only labels that passed
    apimachinery ValidateLabels, so a selector outside that syntax can never match (chart
    policy for Gateway spec.selector and EnvoyFilter workloadSelector, which istiod leaves
    unchecked)."""
    spec = doc.get("spec") or {}
    selectors = {
        "Gateway": ("spec.selector", spec.get("selector")),
        "EnvoyFilter": ("spec.workloadSelector.labels", (spec.get("workloadSelector") or {}).get("labels")),
        "DestinationRule": ("spec.workloadSelector.matchLabels", (spec.get("workloadSelector") or {}).get("matchLabels")),
    }
    path, labels = selectors[doc["kind"]]
    return _label_map(labels, path)


# --- cert-manager ------------------------------------------------------------------------------

@rule((CERT_MANAGER, "Certificate"))
def cert_manager_certificate(doc):
    """cert-manager webhook ValidateCertificateSpec: secretName a DNS-1123 subdomain;
    issuerRef.name set and kind Issuer/ClusterIssuer for the cert-manager.io group; at least
    one of commonName (<= 64), dnsNames, uris, emailAddresses, ipAddresses, otherNames;
    privateKey.size 2048-8192 for RSA, 256/384/521 for ECDSA; duration (default 2160h) >= 1h;
    renewBefore >= 5m and < duration, not with renewBeforePercentage. Durations are Go
    durations (time.ParseDuration): "90d" is invalid."""
    spec = doc.get("spec") or {}
    errors = ["spec.secretName: %s" % m for m in dns1123_subdomain(spec.get("secretName"))]
    issuer = spec.get("issuerRef") or {}
    if not issuer.get("name"):
        errors.append("spec.issuerRef.name: must be specified")
    if issuer.get("group", "") in ("", CERT_MANAGER) and issuer.get("kind", "") not in ("", "Issuer", "ClusterIssuer"):
        errors.append("spec.issuerRef.kind: must be one of Issuer or ClusterIssuer")
    if not any(spec.get(k) for k in ("commonName", "dnsNames", "uris", "emailAddresses", "ipAddresses", "otherNames", "literalSubject")):
        errors.append("spec: at least one of commonName, dnsNames, emailSANs, ipAddresses, otherNames, or uriSANs must be set")
    if len(spec.get("commonName") or "") > 64:
        errors.append("spec.commonName: must have at most 64 characters")
    key = spec.get("privateKey") or {}
    size, algorithm = key.get("size") or 0, key.get("algorithm", "RSA")
    if algorithm == "RSA" and size and not 2048 <= size <= 8192:
        errors.append("spec.privateKey.size: must be between 2048 and 8192 for rsa keyAlgorithm")
    if algorithm == "ECDSA" and size and size not in (256, 384, 521):
        errors.append('spec.privateKey.size: Unsupported value: %d: supported values: "256", "384", "521"' % size)
    durations = {}
    for field in ("duration", "renewBefore"):
        if field in spec:
            try:
                durations[field] = go_duration(spec[field])
            except ValueError as e:
                errors.append("spec.%s: %s" % (field, e))
    hour = 3600 * 10**9
    duration = durations.get("duration", 2160 * hour)
    if duration < hour:
        errors.append("spec.duration: certificate duration must be greater than 1h0m0s")
    if "renewBefore" in durations:
        if "renewBeforePercentage" in spec:
            errors.append("spec.renewBefore: renewBefore and renewBeforePercentage are mutually exclusive")
        if durations["renewBefore"] < 5 * 60 * 10**9:
            errors.append("spec.renewBefore: certificate renewBefore must be greater than 5m0s")
        if durations["renewBefore"] >= duration:
            errors.append("spec.renewBefore: certificate duration must be greater than renewBefore")
    return errors

"""API-server and admission-webhook rules that no schema carries.

Each rule is a small function `rule(doc) -> [error, ...]` (errors as "field.path: message"),
registered for the kinds it applies to, with a docstring naming where the real rule lives:
Kubernetes apiserver validation (k8s.io/kubernetes pkg/apis/core/validation, apimachinery),
istiod's validating webhook (istio/istio pkg/config/validation), cert-manager's webhook
(cert-manager internal/apis/certmanager/validation), or Istio/Envoy runtime behaviour that
silently drops config (documented as such). A few are the chart's own policy; their
docstrings say "Chart policy".
"""
import base64
import binascii
import ipaddress
import re

from .cel import MILLISECOND, go_duration

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
    gate of 1.34 relaxes it, and we support 1.25), Namespaces a DNS-1123 label, and an Istio
    Gateway a DNS-1123 label too (istiod ValidateGateway: "invalid gateway name", because
    gateways are referenced as <namespace>/<name>). Chart policy: every name <= 63 characters,
    so names also fit in a label value."""
    name = (doc.get("metadata") or {}).get("name")
    if not name:
        return ["metadata.name: required"]
    kind, group = doc["kind"], group_of(doc["apiVersion"])
    if group == CORE and kind == "Service":
        errors = [] if len(name) <= 63 and _DNS1035_LABEL.match(name) else [
            "must be a DNS-1035 label (start with a lowercase letter; a-z, 0-9, '-'; at most 63 characters), got %r" % name]
    elif (group == CORE and kind == "Namespace") or (group == ISTIO and kind == "Gateway"):
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


# --- Istio ----------------------------------------------------------------------------------

HTTP_PROTOCOLS = {"HTTP", "HTTP2", "GRPC", "GRPC-WEB", "HTTP_PROXY"}  # protocol.Instance.IsHTTP()
TLS_PROTOCOLS = {"HTTPS", "TLS"}  # IsTLS()
ISTIO_PROTOCOLS = HTTP_PROTOCOLS | TLS_PROTOCOLS | {"TCP", "UDP", "MONGO", "REDIS", "MYSQL"}


def _protocol(server):
    return str((server.get("port") or {}).get("protocol", "")).upper()  # protocol.Parse ignores case


_WILDCARD_LABEL = re.compile(r"(\*|(\*|\*-)?[a-z0-9]([-a-z0-9]*[a-z0-9])?)\Z")


def wildcard_host(host, allow_ip=False):
    """istiod agent.ValidateWildcardDomain: at most 255 characters; the first label may be a
    wildcard ('*', '*foo', '*-foo'), the others are lowercase DNS-1123 labels, the last one
    is not all digits and may be empty (trailing dot). VirtualService hosts may be IPs."""
    if not isinstance(host, str) or not host:
        return ["empty domain name not allowed"]
    if allow_ip:
        try:
            ipaddress.ip_address(host)
            return []
        except ValueError:
            pass
    if len(host) > 255:
        return ["domain name %r too long (max 255)" % host]
    first, _, rest = host.partition(".")
    labels = rest.split(".") if rest else []
    if labels and labels[-1] == "":
        labels.pop()
    if len(first) > 63 or not _WILDCARD_LABEL.match(first):
        return ["domain name %r invalid (label %r invalid)" % (host, first)]
    if labels and labels[-1].isdigit():
        return ["domain name %r invalid (top level domain %r cannot be all-numeric)" % (host, labels[-1])]
    bad = [label for label in labels if len(label) > 63 or not _DNS1123_LABEL.match(label)]
    return ["domain name %r invalid (label %r invalid)" % (host, bad[0])] if bad else []


@rule((ISTIO, "Gateway"))
def istio_gateway_servers(doc):
    """istiod ValidateGateway / validateServer / validateServerPort / validateTLSOptions:
    at least one server; each server has hosts ([namespace/]host), a port with a name, a
    supported protocol and a number in 1-65535, no targetPort; port names unique across
    servers; HTTPS/TLS servers carry tls, other protocols none (HTTP-family ones only an
    httpsRedirect); SIMPLE/MUTUAL/OPTIONAL_MUTUAL need a credential (credentialName(s),
    tlsCertificates or serverCertificate+privateKey[+caCertificates]); ISTIO_MUTUAL none.
    Chart policy, stricter than istiod: an HTTP-family server's tls may hold httpsRedirect
    only (istiod tolerates other keys while mode stays PASSTHROUGH), and an HTTPS server names
    its mode (omitted, it is PASSTHROUGH, which does not terminate TLS)."""
    servers = (doc.get("spec") or {}).get("servers") or []
    errors = [] if servers else ["spec.servers: gateway must have at least one server"]
    names = set()
    for i, s in enumerate(servers):
        at = "spec.servers[%d]" % i
        port = s.get("port") or {}
        hosts = s.get("hosts") or []
        if not hosts:
            errors.append(at + ".hosts: server config must contain at least one host")
        for j, h in enumerate(hosts):
            ns, _, name = h.rpartition("/") if isinstance(h, str) else ("", "", h)
            bad = wildcard_host(name) if name != "*" else []
            if ns and ns not in (".", "*"):
                bad += ["namespace " + m for m in dns1123_label(ns)]
            errors += ["%s.hosts[%d]: %s" % (at, j, m) for m in bad]
        protocol = _protocol(s)
        if protocol not in ISTIO_PROTOCOLS:
            errors.append("%s.port.protocol: invalid protocol %r, supported protocols are HTTP, HTTP2, GRPC, "
                          "GRPC-WEB, MONGO, REDIS, MYSQL, TCP" % (at, port.get("protocol")))
        if not _port_number(port.get("number")):
            errors.append("%s.port.number: port number %r must be in the range 1..65535" % (at, port.get("number")))
        if port.get("targetPort"):
            errors.append(at + ".port.targetPort: targetPort has no impact on Gateways")
        if not port.get("name"):
            errors.append(at + ".port.name: port name must be set")
        elif port["name"] in names:
            errors.append("%s.port.name: port names in servers must be unique: duplicate name %s" % (at, port["name"]))
        names.add(port.get("name"))
        tls = s.get("tls")
        if protocol in TLS_PROTOCOLS:
            if tls is None:
                errors.append(at + ".tls: server must have TLS settings for HTTPS/TLS protocols")
            elif protocol == "HTTPS" and "mode" not in tls:
                errors.append(at + ".tls.mode: required on an HTTPS server (chart policy: omitted means PASSTHROUGH)")
        elif tls is not None:
            if protocol not in HTTP_PROTOCOLS:
                errors.append(at + ".tls: server cannot have TLS settings for non HTTPS/TLS ports")
            elif set(tls) - {"httpsRedirect"}:
                errors.append("%s.tls: server cannot have TLS settings for plain text HTTP ports (only httpsRedirect), got %s"
                              % (at, sorted(tls)))
        errors += ["%s.tls: %s" % (at, m) for m in _tls_options(tls or {})]
    return errors


_TLS_VERSIONS = ["TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3"]


def _tls_options(tls):
    """The credential checks of istiod validateTLSOptions, plus min <= max protocol version
    (Envoy rejects a listener whose minimum TLS version is above its maximum)."""
    mode = tls.get("mode", "PASSTHROUGH")
    errors = []
    has_credential = tls.get("credentialName") or tls.get("credentialNames") or tls.get("tlsCertificates")
    if mode == "ISTIO_MUTUAL":
        errors += ["ISTIO_MUTUAL TLS cannot have associated %s" % k
                   for k in ("serverCertificate", "privateKey", "caCertificates", "credentialName") if tls.get(k)]
    elif mode in ("SIMPLE", "MUTUAL", "OPTIONAL_MUTUAL") and not has_credential:
        label = "SIMPLE" if mode == "SIMPLE" else "MUTUAL"
        needed = ["serverCertificate", "privateKey"] + ([] if mode == "SIMPLE" else ["caCertificates"])
        errors += ["%s TLS requires %s (or a credentialName)" % (label, k) for k in needed if not tls.get(k)]
    low, high = tls.get("minProtocolVersion"), tls.get("maxProtocolVersion")
    if low in _TLS_VERSIONS and high in _TLS_VERSIONS and _TLS_VERSIONS.index(low) > _TLS_VERSIONS.index(high):
        errors.append("minProtocolVersion %s is above maxProtocolVersion %s" % (low, high))
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


_RETRY_ON = {
    # Envoy x-envoy-retry-on
    "5xx", "gateway-error", "reset", "reset-before-request", "connect-failure", "envoy-ratelimited",
    "retriable-4xx", "refused-stream", "retriable-status-codes", "retriable-headers", "http3-post-connect-failure",
    # Envoy x-envoy-retry-grpc-on
    "cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable",
}
# Go's net/http StatusText: the numeric retryOn tokens istiod accepts.
_HTTP_STATUS = {100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305,
                307, 308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417,
                418, 421, 422, 423, 424, 425, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504, 505, 506, 507, 508,
                510, 511}


def _ms_precision(value, path, cel_checked=True):
    """istiod agent.ValidateDuration: at least 1ms and whole milliseconds. Where the CRD's CEL
    rule duration(self) >= duration('1ms') already reports unparsable and too short values
    (crd.py), only the precision is checked here, to report each problem once."""
    try:
        nanos = go_duration(value)
    except ValueError as e:
        return [] if cel_checked else ["%s: %s" % (path, e)]
    if nanos < MILLISECOND:
        return [] if cel_checked else ["%s: duration must be greater than 1ms, got %r" % (path, value)]
    if nanos % MILLISECOND:
        return ["%s: only durations to ms precision are supported, got %r" % (path, value)]
    return []


@rule((ISTIO, "VirtualService"))
def istio_http_retries(doc):
    """istiod validateHTTPRetry: attempts >= 0; attempts 0 (retries disabled) with
    perTryTimeout, retryOn or retryRemoteLocalities is an error ("http retry policy configured
    when attempts are set to 0 (disabled)"); retryOn is a comma-separated list (no spaces:
    the split is on ',' alone) of Envoy retry-on / retry-grpc-on policies or HTTP status codes
    Go knows (net/http StatusText); perTryTimeout >= 1ms in whole ms."""
    errors = []
    for i, http in enumerate((doc.get("spec") or {}).get("http") or []):
        retries = http.get("retries")
        if retries is None:
            continue
        at = "spec.http[%d].retries" % i
        attempts = retries.get("attempts", 0)
        if attempts < 0:
            errors.append(at + ".attempts: attempts cannot be negative")
        if attempts == 0 and any(k in retries for k in ("perTryTimeout", "retryOn", "retryRemoteLocalities")):
            errors.append(at + ": http retry policy configured when attempts are set to 0 (disabled)")
        if "perTryTimeout" in retries:
            errors += _ms_precision(retries["perTryTimeout"], at + ".perTryTimeout")
        for token in str(retries.get("retryOn", "")).split(",") if retries.get("retryOn") else []:
            if token not in _RETRY_ON and not (token.isdigit() and int(token) in _HTTP_STATUS):
                errors.append("%s.retryOn: %r is not a valid retryOn policy" % (at, token))
    return errors


@rule((ISTIO, "VirtualService"))
def istio_http_routes(doc):
    """istiod ValidateVirtualService / validateHTTPRoute: hosts valid (not '*' without
    gateways); gateways are <namespace>/<name> DNS-1123 labels or a name; each http route
    has exactly one of route, redirect, directResponse; destinations: host not '*', subset a
    DNS-1123 label, port 1-65535, weight >= 0 and, with more than one destination, a total
    weight > 0 (validateHTTPRouteDestinations). Chart policy: with more than one destination
    every destination states its weight (an omitted weight is 0: no traffic). timeout >= 1ms
    in whole ms; corsPolicy.maxAge in whole seconds (validateCORSPolicy)."""
    spec = doc.get("spec") or {}
    errors = []
    gateways = spec.get("gateways") or []
    for j, host in enumerate(spec.get("hosts") or []):
        if host == "*" and not gateways:
            errors.append("spec.hosts[%d]: wildcard host * is not allowed for virtual services bound to the mesh gateway" % j)
        errors += ["spec.hosts[%d]: %s" % (j, m) for m in wildcard_host(host, allow_ip=True)]
    if not spec.get("hosts"):
        errors.append("spec.hosts: required (this chart renders no delegate VirtualServices)")
    for j, gw in enumerate(gateways):
        if gw == "mesh":
            continue
        ns, slash, name = gw.rpartition("/")
        bad = dns1123_label(name) + (dns1123_label(ns) if slash else [])
        errors += ["spec.gateways[%d]: invalid gateway reference %r: %s" % (j, gw, m) for m in bad]
    if not (spec.get("http") or spec.get("tcp") or spec.get("tls")):
        errors.append("spec: http, tcp or tls must be provided in virtual service")
    for i, http in enumerate(spec.get("http") or []):
        at = "spec.http[%d]" % i
        actions = [k for k in ("route", "redirect", "directResponse") if http.get(k)]
        if len(actions) != 1:
            errors.append("%s: needs exactly one of route, redirect, directResponse, got %s" % (at, actions))
        if "timeout" in http:
            errors += _ms_precision(http["timeout"], at + ".timeout")
        max_age = (http.get("corsPolicy") or {}).get("maxAge")
        if max_age is not None:
            try:
                if go_duration(max_age) % 10**9:
                    errors.append(at + ".corsPolicy.maxAge: max_age duration is accurate only to seconds precision")
            except ValueError as e:
                errors.append("%s.corsPolicy.maxAge: %s" % (at, e))
        routes = http.get("route") or []
        total = 0
        for k, dest in enumerate(routes):
            where = "%s.route[%d]" % (at, k)
            errors += _destination(dest.get("destination"), where + ".destination")
            weight = dest.get("weight", 0)
            total += weight
            if weight < 0:
                errors.append("%s.weight: weight %d < 0" % (where, weight))
            if len(routes) > 1 and "weight" not in dest:
                errors.append(where + ".weight: required when a route has more than one destination (chart policy)")
        if len(routes) > 1 and total == 0:
            errors.append(at + ".route: total destination weight = 0")
    return errors


def _destination(dest, at):
    """istiod validateDestination."""
    if not dest:
        return [at + ": destination is required"]
    errors = []
    host = dest.get("host")
    errors += ["%s.host: %s" % (at, m) for m in (["invalid destination host *"] if host == "*" else wildcard_host(host))]
    if dest.get("subset") is not None:
        errors += ["%s.subset: %s" % (at, m) for m in dns1123_label(dest["subset"])]
    port = (dest.get("port") or {}).get("number")
    if dest.get("port") is not None and not _port_number(port):
        errors.append("%s.port.number: port number %r must be in the range 1..65535" % (at, port))
    return errors


# What RE2 lacks and Python's re has: lookarounds, backreferences, atomic groups, possessive
# quantifiers.
_RE2_UNSUPPORTED = re.compile(r"\(\?(=|!|<=|<!|>)|\\[1-9]|(?<!\\)[*+?}]\+")
_HEADER_NAME = re.compile(r"[-_A-Za-z0-9]+\Z")
_HTTP_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE"}
# RE2 syntax Python's re spells differently or lacks, rewritten to something of the same
# shape before Python compiles it: \Q...\E quoting, flags anywhere ((?i) mid-pattern),
# (?<name>...) groups, \z, Unicode classes \pL / \p{Greek}, POSIX classes [[:alpha:]].
_RE2_TO_PYTHON = [
    (re.compile(r"\\Q(.*?)(\\E|\Z)", re.S), lambda m: re.escape(m.group(1))),
    (re.compile(r"\(\?[imsU-]+\)"), lambda m: ""),  # shape only: see routing.py for the meaning
    (re.compile(r"\(\?<(?=[A-Za-z_])"), lambda m: "(?P<"),
    (re.compile(r"\\z"), lambda m: r"\Z"),
    (re.compile(r"\\[pP](\{\^?[A-Za-z_]+\}|[A-Za-z])"), lambda m: "a"),
    (re.compile(r"\[:\^?[a-z]+:\]"), lambda m: "a"),
]


def re2_to_python(pattern):
    """An RE2 pattern in the syntax of Python's re (for the constructs both have)."""
    for syntax, rewrite in _RE2_TO_PYTHON:
        pattern = syntax.sub(rewrite, pattern)
    return pattern


def _regex(pattern, at):
    """istiod validateStringRegexp: at most 1024 characters, compiles as RE2 (Go's regexp).
    Approximated here: the pattern, with RE2-only syntax rewritten, compiles in Python and
    uses nothing RE2 lacks. The Istio harness (tests/istio) asks Istio's own webhook."""
    if not pattern:
        return [at + ": regex string match should not be empty"]
    if len(pattern) > 1024:
        return [at + ": regex is too large, max length allowed is 1024"]
    try:
        re.compile(re2_to_python(pattern))
    except re.error as e:
        return ["%s: invalid regex %r: %s" % (at, pattern, e)]
    if _RE2_UNSUPPORTED.search(pattern):
        return ["%s: %r uses lookaround, backreferences or possessive quantifiers, which RE2 (Istio/Envoy) does not support" % (at, pattern)]
    return []


def _string_match(match, at, allow_empty_prefix=False):
    """istiod validateStringMatch: a prefix is not empty (except for uri), a regex is valid RE2."""
    if not isinstance(match, dict):
        return []
    if "prefix" in match and not match["prefix"] and not allow_empty_prefix:
        return [at + ".prefix: prefix string match should not be empty"]
    if "regex" in match:
        return _regex(match["regex"], at + ".regex")
    return []


@rule((ISTIO, "VirtualService"))
def istio_http_matches_and_cors(doc):
    """istiod validateHTTPRouteMatchRequest and validateCORSPolicy: header names match
    ^[-_A-Za-z0-9]+$; string matches are non-empty prefixes / valid RE2 regexes; match ports
    1-65535; CORS allowOrigins entries are non-empty matches, allowMethods Go's HTTP methods,
    allow/exposeHeaders header names or '*'."""
    errors = []
    for i, http in enumerate((doc.get("spec") or {}).get("http") or []):
        at = "spec.http[%d]" % i
        for j, m in enumerate(http.get("match") or []):
            where = "%s.match[%d]" % (at, j)
            errors += _string_match(m.get("uri"), where + ".uri", allow_empty_prefix=True)
            for field in ("scheme", "method", "authority"):
                errors += _string_match(m.get(field), "%s.%s" % (where, field))
            for field in ("headers", "withoutHeaders", "queryParams"):
                for name, sm in (m.get(field) or {}).items():
                    if field != "queryParams" and not _HEADER_NAME.match(name) and not name.startswith("@request.auth.claims"):
                        errors.append("%s.%s: header name %s is not a valid header name" % (where, field, name))
                    if not (field == "withoutHeaders" and (sm or {}).get("regex") == "*"):
                        errors += _string_match(sm, "%s.%s[%s]" % (where, field, name))
            if "port" in m and not _port_number(m["port"]):
                errors.append("%s.port: port number %r must be in the range 1..65535" % (where, m["port"]))
        cors = http.get("corsPolicy") or {}
        for j, origin in enumerate(cors.get("allowOrigins") or []):
            value = next((origin.get(k) for k in ("exact", "prefix", "regex") if k in origin), "")
            if not value:
                errors.append("%s.corsPolicy.allowOrigins[%d]: '' is not a valid match type for CORS allow origins" % (at, j))
            elif "regex" in origin:
                errors += _regex(origin["regex"], "%s.corsPolicy.allowOrigins[%d].regex" % (at, j))
        for j, method in enumerate(cors.get("allowMethods") or []):
            if method not in _HTTP_METHODS:
                errors.append('%s.corsPolicy.allowMethods[%d]: "%s" is not a supported HTTP method' % (at, j, method))
        for field in ("allowHeaders", "exposeHeaders"):
            for j, name in enumerate(cors.get(field) or []):
                if name != "*" and not _HEADER_NAME.match(name or ""):
                    errors.append("%s.corsPolicy.%s[%d]: header name %r is not a valid header name" % (at, field, j, name))
    return errors


def _traffic_policies(spec):
    """(path, policy) of the DestinationRule's traffic policies, port-level and subset ones included."""
    found = []
    def add(policy, at):
        if policy is None:
            return
        found.append((at, policy))
        for i, p in enumerate(policy.get("portLevelSettings") or []):
            found.append(("%s.portLevelSettings[%d]" % (at, i), p))
    add(spec.get("trafficPolicy"), "spec.trafficPolicy")
    for i, subset in enumerate(spec.get("subsets") or []):
        add(subset.get("trafficPolicy"), "spec.subsets[%d].trafficPolicy" % i)
    return found


_POLICY_FIELDS = ("outlierDetection", "connectionPool", "loadBalancer", "tls", "portLevelSettings", "tunnel", "proxyProtocol")


@rule((ISTIO, "DestinationRule"))
def istio_destination_rule(doc):
    """istiod ValidateDestinationRule / validateTrafficPolicy / validateConnectionPool /
    validatePortTrafficPolicies / validateSubset: host a valid domain; subset names unique
    DNS-1123 labels with valid labels; a trafficPolicy (and a port-level one, which also needs
    a port) sets at least one field; a connectionPool sets http or tcp; useClientProtocol is
    not combined with h2UpgradePolicy UPGRADE; counts are non-negative; every duration
    (idleTimeout, connectTimeout, maxConnectionDuration, tcpKeepalive time/interval, outlier
    interval/baseEjectionTime) >= 1ms in whole ms; outlier percents 0-100."""
    spec = doc.get("spec") or {}
    errors = ["spec.host: %s" % m for m in wildcard_host(spec.get("host"))]
    names = set()
    for i, subset in enumerate(spec.get("subsets") or []):
        at = "spec.subsets[%d]" % i
        errors += ["%s.name: subset name is invalid: %s" % (at, m) for m in dns1123_label(subset.get("name"))]
        if subset.get("name") in names:
            errors.append("%s.name: duplicate subset names: %s" % (at, subset.get("name")))
        names.add(subset.get("name"))
        errors += _label_map(subset.get("labels"), at + ".labels")
    for at, policy in _traffic_policies(spec):
        port_level = "portLevelSettings[" in at.rpartition(".")[2]
        if port_level and not policy.get("port"):
            errors.append(at + ".port: portTrafficPolicy must have valid port")
        if not any(k in policy for k in _POLICY_FIELDS):
            errors.append("%s: %s traffic policy must have at least one field" % (at, "port" if port_level else "a"))
        pool = policy.get("connectionPool")
        if pool is not None:
            errors += _connection_pool(pool, at + ".connectionPool")
        outlier = policy.get("outlierDetection") or {}
        for field in ("interval", "baseEjectionTime"):
            if field in outlier:
                errors += _ms_precision(outlier[field], "%s.outlierDetection.%s" % (at, field))
        for field in ("maxEjectionPercent", "minHealthPercent"):
            if not 0 <= outlier.get(field, 0) <= 100:
                errors.append("%s.outlierDetection.%s: percentage %s is not in range 0..100" % (at, field, outlier[field]))
    return errors


def _connection_pool(pool, at):
    http, tcp = pool.get("http"), pool.get("tcp")
    if http is None and tcp is None:
        return [at + ": connection pool must have at least one field"]
    errors = []
    for name, settings in (("http", http or {}), ("tcp", tcp or {})):
        for field, value in settings.items():
            if isinstance(value, int) and not isinstance(value, bool) and value < 0:
                errors.append("%s.%s.%s: must be non-negative" % (at, name, field))
    if (http or {}).get("h2UpgradePolicy") == "UPGRADE" and (http or {}).get("useClientProtocol"):
        errors.append(at + ".http: use client protocol must not be true when H2UpgradePolicy is UPGRADE")
    if http and "idleTimeout" in http:
        errors += _ms_precision(http["idleTimeout"], at + ".http.idleTimeout")
    for field in ("connectTimeout", "maxConnectionDuration", "idleTimeout"):
        if tcp and field in tcp:  # tcp.idleTimeout is the one without a CEL rule in the CRD
            errors += _ms_precision(tcp[field], "%s.tcp.%s" % (at, field), cel_checked=field != "idleTimeout")
    keepalive = (tcp or {}).get("tcpKeepalive") or {}
    for field in ("time", "interval"):
        if field in keepalive:
            errors += _ms_precision(keepalive[field], "%s.tcp.tcpKeepalive.%s" % (at, field))
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


_LISTENER_CLASS = {"LISTENER", "FILTER_CHAIN", "NETWORK_FILTER", "HTTP_FILTER"}
_ROUTE_CLASS = {"ROUTE_CONFIGURATION", "VIRTUAL_HOST", "HTTP_ROUTE"}
_HCM = ("envoy.filters.network.http_connection_manager", "envoy.http_connection_manager")


@rule((ISTIO, "EnvoyFilter"))
def istio_envoy_filter(doc):
    """istiod ValidateEnvoyFilter (pkg/config/validation/envoyfilter): each
    config patch has applyTo and a patch with an operation, and a value unless REMOVE; the
    match object type fits applyTo (listener for LISTENER/FILTER_CHAIN/NETWORK_FILTER/
    HTTP_FILTER, routeConfiguration for route classes, cluster for CLUSTER); a filter match
    names the filter; subFilter only with HTTP_FILTER, under the http_connection_manager
    filter, and named; proxyVersion is a valid regex. Chart policy: an HTTP_FILTER value
    carries typed_config with an @type (istiod warns "using deprecated types by name
    without typed_config"; Envoy no longer looks extensions up by name)."""
    errors = []
    for i, cp in enumerate((doc.get("spec") or {}).get("configPatches") or []):
        at = "spec.configPatches[%d]" % i
        apply_to, patch, match = cp.get("applyTo"), cp.get("patch"), cp.get("match") or {}
        if not apply_to or apply_to == "INVALID":
            errors.append(at + ".applyTo: Envoy filter: missing applyTo")
            continue
        if not patch:
            errors.append(at + ".patch: Envoy filter: missing patch")
            continue
        if patch.get("operation", "INVALID") == "INVALID":
            errors.append(at + ".patch.operation: Envoy filter: missing patch operation")
            continue
        if patch["operation"] != "REMOVE" and patch.get("value") is None:
            errors.append(at + ".patch.value: Envoy filter: missing patch value for non-remove operation")
            continue
        proxy_version = (match.get("proxy") or {}).get("proxyVersion")
        if proxy_version:
            errors += _regex(proxy_version, at + ".match.proxy.proxyVersion")
        object_types = {"listener", "routeConfiguration", "cluster"} & set(match)
        if object_types:
            wanted = "listener" if apply_to in _LISTENER_CLASS else "routeConfiguration" if apply_to in _ROUTE_CLASS else \
                "cluster" if apply_to == "CLUSTER" else None
            if wanted and wanted not in object_types:
                errors.append("%s.match: Envoy filter: applyTo %s needs a %s match, got %s" % (at, apply_to, wanted, sorted(object_types)))
        flt = (((match.get("listener") or {}).get("filterChain") or {}).get("filter"))
        if flt is not None and apply_to in _LISTENER_CLASS:
            where = at + ".match.listener.filterChain.filter"
            if not flt.get("name"):
                errors.append(where + ".name: Envoy filter: filter match has no name to match on")
            elif flt.get("subFilter") is not None:
                if apply_to != "HTTP_FILTER":
                    errors.append(where + ".subFilter: Envoy filter: subfilter match can be used with applyTo HTTP_FILTER only")
                elif flt["name"] not in _HCM:
                    errors.append(where + ".subFilter: Envoy filter: subfilter match requires filter match with " + _HCM[0])
                elif not flt["subFilter"].get("name"):
                    errors.append(where + ".subFilter.name: Envoy filter: subfilter match has no name to match on")
        value = patch.get("value")
        if apply_to == "HTTP_FILTER" and patch["operation"] != "REMOVE" and isinstance(value, dict):
            typed = value.get("typed_config", value.get("typedConfig"))
            if not (isinstance(typed, dict) and str(typed.get("@type", "")).startswith("type.googleapis.com/")):
                errors.append(at + ".patch.value: HTTP filter needs typed_config with an @type "
                              "(type.googleapis.com/...) (chart policy; istiod warns, Envoy no longer looks filters up by name)")
    return errors


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

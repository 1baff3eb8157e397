"""The CEL rules (x-kubernetes-validations) of the vendored CRD schemas, in Python.

The API server evaluates these rules on create; kubernetes-models' validators ignore them.
Rather than embed a CEL interpreter, each rule text found in tests/support/validators/crds/ maps to a
predicate here (True = the object passes); the message reported is the CRD's own. A rule that
appears after re-vendoring and is in neither RULES/FAMILIES nor NOT_ENFORCED fails
test_validators.py::test_every_cel_rule_is_known, so no CRD rule is ever silently skipped.

Predicates see the object after schema defaults are applied, as CEL does in the API server.
A CEL evaluation error (a bad duration, a missing key) rejects the object there too: here
it is an exception, reported as a failed rule.
"""
import json
import re

# --- helpers ---------------------------------------------------------------------------

_DURATION_PART = re.compile(r"(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)")
_NANOS = {"ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
MILLISECOND = 10**6
_MAX_DURATION = 2**63 - 1  # Go's time.Duration is an int64 of nanoseconds


def go_duration(text):
    """Nanoseconds of a Go time.ParseDuration string (what CEL duration() accepts), else
    ValueError. Integer parts are exact (as in Go), fractions go through a float as Go's
    do, and more than math.MaxInt64 ns is refused ("time: invalid duration")."""
    if not isinstance(text, str):
        raise ValueError("duration must be a string, got %r" % (text,))
    s = text
    sign = -1 if s.startswith("-") else 1
    s = s.lstrip("+-") if s[:1] in "+-" else s
    if s == "0":
        return 0
    if not s:
        raise ValueError("invalid duration %r" % text)
    pos, total = 0, 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if not m or not (m.group(1) or m.group(2)):
            raise ValueError("invalid duration %r" % text)
        unit = _NANOS[m.group(3)]
        total += int(m.group(1) or "0") * unit
        if m.group(2):
            total += int(float(int(m.group(2))) * (unit / 10 ** len(m.group(2))))
        pos = m.end()
    if total > _MAX_DURATION:
        raise ValueError("invalid duration %r (longer than Go's longest, 2562047h47m16.854775807s)" % text)
    return sign * total


def _key(obj, *fields):
    return json.dumps([obj.get(f) for f in fields], sort_keys=True)


def _unique(items, key):
    keys = [key(i) for i in items]
    return len(keys) == len(set(keys))


def _ns(ref):
    return ref.get("namespace") or ""


def _parent(ref):
    return (ref.get("group"), ref.get("kind"), ref.get("name"), _ns(ref))


def _section_set_if_shared_parent(refs):
    """Gateway API: two refs to the same parent must both name a sectionName or neither."""
    return all(bool(a.get("sectionName")) == bool(b.get("sectionName"))
               for a in refs for b in refs if _parent(a) == _parent(b))


def _filters_of(obj, kind):
    """The `kind` sub-objects (urlRewrite, requestRedirect...) of obj's filters."""
    return [f[kind] for f in obj.get("filters") or [] if kind in f]


def _replace_prefix_count(filters):
    return sum(1 for f in filters if (f.get("path") or {}).get("type") == "ReplacePrefixMatch"
               and "replacePrefixMatch" in f["path"])


def _one_prefix_match(rule):
    matches = rule.get("matches") or []
    return len(matches) == 1 and (matches[0].get("path") or {}).get("type") == "PathPrefix"


def _replace_prefix_ok(rule, kind):
    """ReplacePrefixMatch on a rule's filter (CEL exists_one: exactly one) needs one PathPrefix match."""
    return _replace_prefix_count(_filters_of(rule, kind)) != 1 or _one_prefix_match(rule)


def _backend_replace_prefix_ok(rule, kind):
    """Same, when exactly one backendRef has exactly one such filter."""
    users = sum(1 for b in rule.get("backendRefs") or [] if _replace_prefix_count(_filters_of(b, kind)) == 1)
    return users != 1 or _one_prefix_match(rule)


_HOSTNAME = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUALIFIED_KEY = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$")
_GRPC_SERVICE = re.compile(r"^\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$", re.IGNORECASE)
_GRPC_METHOD = re.compile(r"^[A-Za-z_][A-Za-z_0-9]*$")
_PATH_CHARS = re.compile(r"^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$")


def _exact_or_prefix(pred):
    return lambda s: pred(s["value"]) if s.get("type") in ("Exact", "PathPrefix") else True


# --- exact rule texts ------------------------------------------------------------------

RULES = {
    # Istio: every Duration field (VirtualService timeout, retries.perTryTimeout,
    # corsPolicy.maxAge, DestinationRule idleTimeout, tcpKeepalive...).
    "duration(self) >= duration('1ms')": lambda s: go_duration(s) >= MILLISECOND,
    '!self.contains("*")': lambda s: "*" not in s,
    "self.size() == 0": lambda s: len(s) == 0,
    "self.all(key, key.size() != 0)": lambda s: all(len(k) for k in s),
    'self.all(key, !key.contains("*"))': lambda s: all("*" not in k for k in s),
    "0 < self && self <= 65535": lambda s: 0 < s <= 65535,
    # Istio EnvoyFilter: match.waypoint only with context WAYPOINT.
    'has(self.context) ? ((self.context == "WAYPOINT") ? has(self.waypoint) : !has(self.waypoint)) : !has(self.waypoint)':
        lambda s: ("waypoint" in s) == (s.get("context") == "WAYPOINT"),
    # Gateway API
    "(size(self.group) == 0 && self.kind == 'Service') ? has(self.port) : true":
        lambda s: "port" in s if (s.get("group", "") == "" and s.get("kind") == "Service") else True,
    "!('*' in self && self.size() > 1)": lambda s: not ("*" in s and len(s) > 1),
    "self.numerator <= self.denominator": lambda s: s["numerator"] <= s["denominator"],
    "!(self.exists(f, f.type == 'RequestRedirect') && self.exists(f, f.type == 'URLRewrite'))":
        lambda s: not ({"RequestRedirect", "URLRewrite"} <= {f.get("type") for f in s}),
    "self.type in ['Exact','PathPrefix'] || self.type == 'RegularExpression'":
        lambda s: s.get("type") in ("Exact", "PathPrefix", "RegularExpression"),
    "(self.type in ['Exact','PathPrefix']) ? self.value.startsWith('/') : true": _exact_or_prefix(lambda v: v.startswith("/")),
    "(self.type in ['Exact','PathPrefix']) ? !self.value.contains('//') : true": _exact_or_prefix(lambda v: "//" not in v),
    "(self.type in ['Exact','PathPrefix']) ? !self.value.contains('/./') : true": _exact_or_prefix(lambda v: "/./" not in v),
    "(self.type in ['Exact','PathPrefix']) ? !self.value.contains('/../') : true": _exact_or_prefix(lambda v: "/../" not in v),
    "(self.type in ['Exact','PathPrefix']) ? !self.value.contains('%2f') : true": _exact_or_prefix(lambda v: "%2f" not in v),
    "(self.type in ['Exact','PathPrefix']) ? !self.value.contains('%2F') : true": _exact_or_prefix(lambda v: "%2F" not in v),
    "(self.type in ['Exact','PathPrefix']) ? !self.value.contains('#') : true": _exact_or_prefix(lambda v: "#" not in v),
    "(self.type in ['Exact','PathPrefix']) ? !self.value.endsWith('/..') : true": _exact_or_prefix(lambda v: not v.endswith("/..")),
    "(self.type in ['Exact','PathPrefix']) ? !self.value.endsWith('/.') : true": _exact_or_prefix(lambda v: not v.endswith("/.")),
    "(self.type in ['Exact','PathPrefix']) ? self.value.matches(r\"\"\"^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$\"\"\") : true":
        _exact_or_prefix(lambda v: bool(_PATH_CHARS.match(v))),
    "has(self.type) ? has(self.service) || has(self.method) : true":
        lambda s: "service" in s or "method" in s if "type" in s else True,
    "(!has(self.type) || self.type == 'Exact') && has(self.service) ? self.service.matches(r\"\"\"^(?i)\\.?[a-z_][a-z_0-9]*(\\.[a-z_][a-z_0-9]*)*$\"\"\"): true":
        lambda s: bool(_GRPC_SERVICE.match(s["service"])) if s.get("type", "Exact") == "Exact" and "service" in s else True,
    "(!has(self.type) || self.type == 'Exact') && has(self.method) ? self.method.matches(r\"\"\"^[A-Za-z_][A-Za-z_0-9]*$\"\"\"): true":
        lambda s: bool(_GRPC_METHOD.match(s["method"])) if s.get("type", "Exact") == "Exact" and "method" in s else True,
    "!(has(self.request) && has(self.backendRequest) && duration(self.request) != duration('0s') && duration(self.backendRequest) > duration(self.request))":
        lambda s: not ("request" in s and "backendRequest" in s and go_duration(s["request"]) != 0
                       and go_duration(s["backendRequest"]) > go_duration(s["request"])),
    # Gateway API Gateway
    "self.all(l, l.protocol in ['HTTP', 'TCP', 'UDP'] ? !has(l.tls) : true)":
        lambda s: all("tls" not in l for l in s if l.get("protocol") in ("HTTP", "TCP", "UDP")),
    "self.all(l, (l.protocol == 'HTTPS' && has(l.tls)) ? (l.tls.mode == '' || l.tls.mode == 'Terminate') : true)":
        lambda s: all(l["tls"].get("mode") in ("", "Terminate") for l in s if l.get("protocol") == "HTTPS" and "tls" in l),
    "self.all(l, (l.protocol == 'TLS' ? has(l.tls) && has(l.tls.mode) && l.tls.mode != '' : true))":
        lambda s: all((l.get("tls") or {}).get("mode") for l in s if l.get("protocol") == "TLS"),
    "self.all(l, l.protocol in ['TCP', 'UDP']  ? (!has(l.hostname) || l.hostname == '') : true)":
        lambda s: all(not l.get("hostname") for l in s if l.get("protocol") in ("TCP", "UDP")),
    "self.all(l1, self.exists_one(l2, l1.name == l2.name))": lambda s: _unique(s, lambda l: l.get("name")),
    "self.all(l1, self.exists_one(l2, l1.port == l2.port && l1.protocol == l2.protocol && (has(l1.hostname) && has(l2.hostname) ? l1.hostname == l2.hostname : !has(l1.hostname) && !has(l2.hostname))))":
        lambda s: _unique(s, lambda l: _key(l, "port", "protocol", "hostname")),
    "self.mode == 'Terminate' ? size(self.certificateRefs) > 0 || size(self.options) > 0 : true":
        lambda s: bool(s.get("certificateRefs") or s.get("options")) if s.get("mode") == "Terminate" else True,
    "self.all(t1, self.exists_one(t2, t1.port == t2.port))": lambda s: _unique(s, lambda t: t.get("port")),
    "self.all(a1, a1.type == 'IPAddress' && has(a1.value) ? self.exists_one(a2, a2.type == a1.type && has(a2.value) && a2.value == a1.value) : true )":
        lambda s: _unique([a for a in s if a.get("type") == "IPAddress" and "value" in a], lambda a: a["value"]),
    "self.all(a1, a1.type == 'Hostname'  && has(a1.value) ? self.exists_one(a2, a2.type == a1.type && has(a2.value) && a2.value == a1.value) : true )":
        lambda s: _unique([a for a in s if a.get("type") == "Hostname" and "value" in a], lambda a: a["value"]),
    "self.type == 'Hostname' ? (!has(self.value) || self.value.matches(r\"\"\"^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$\"\"\")): true":
        lambda s: "value" not in s or bool(_HOSTNAME.match(s["value"])) if s.get("type") == "Hostname" else True,
    "self.all(key, key.matches(r\"\"\"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$\"\"\"))":
        lambda s: all(_QUALIFIED_KEY.match(k) for k in s),
    'self.all(key, key.split("/")[0].size() < 253)': lambda s: all(len(k.split("/")[0]) < 253 for k in s),
    # Gateway API routes
    "(has(self.backendRefs) && size(self.backendRefs) > 0) ? (!has(self.filters) || self.filters.all(f, !has(f.requestRedirect))): true":
        lambda s: not (s.get("backendRefs") and _filters_of(s, "requestRedirect")),
    "(has(self.filters) && self.filters.exists_one(f, has(f.requestRedirect) && has(f.requestRedirect.path) && f.requestRedirect.path.type == 'ReplacePrefixMatch' && has(f.requestRedirect.path.replacePrefixMatch))) ? ((size(self.matches) != 1 || !has(self.matches[0].path) || self.matches[0].path.type != 'PathPrefix') ? false : true) : true":
        lambda s: _replace_prefix_ok(s, "requestRedirect"),
    "(has(self.filters) && self.filters.exists_one(f, has(f.urlRewrite) && has(f.urlRewrite.path) && f.urlRewrite.path.type == 'ReplacePrefixMatch' && has(f.urlRewrite.path.replacePrefixMatch))) ? ((size(self.matches) != 1 || !has(self.matches[0].path) || self.matches[0].path.type != 'PathPrefix') ? false : true) : true":
        lambda s: _replace_prefix_ok(s, "urlRewrite"),
    "(has(self.backendRefs) && self.backendRefs.exists_one(b, (has(b.filters) && b.filters.exists_one(f, has(f.requestRedirect) && has(f.requestRedirect.path) && f.requestRedirect.path.type == 'ReplacePrefixMatch' && has(f.requestRedirect.path.replacePrefixMatch))) )) ? ((size(self.matches) != 1 || !has(self.matches[0].path) || self.matches[0].path.type != 'PathPrefix') ? false : true) : true":
        lambda s: _backend_replace_prefix_ok(s, "requestRedirect"),
    "(has(self.backendRefs) && self.backendRefs.exists_one(b, (has(b.filters) && b.filters.exists_one(f, has(f.urlRewrite) && has(f.urlRewrite.path) && f.urlRewrite.path.type == 'ReplacePrefixMatch' && has(f.urlRewrite.path.replacePrefixMatch))) )) ? ((size(self.matches) != 1 || !has(self.matches[0].path) || self.matches[0].path.type != 'PathPrefix') ? false : true) : true":
        lambda s: _backend_replace_prefix_ok(s, "urlRewrite"),
}

# --- rule families: one regex covers every field the rule is stamped on ------------------

FAMILIES = [
    # Istio Gateway tls: at most one of two fields.
    (r"\(has\(self\.(\w+)\) \? 1 : 0\) \+ \(has\(self\.(\w+)\) \? 1 : 0\) <= 1",
     lambda a, b: lambda s: not (a in s and b in s)),
    (r"!\(has\(self\.(\w+)\) && has\(self\.(\w+)\)\)",
     lambda a, b: lambda s: not (a in s and b in s)),
    # Gateway API filters: the field named after the type, and only it.
    (r"!\(has\(self\.(\w+)\) && self\.type != '(\w+)'\)",
     lambda field, t: lambda s: not (field in s and s.get("type") != t)),
    (r"!\(!has\(self\.(\w+)\) && self\.type == '(\w+)'\)",
     lambda field, t: lambda s: not (field not in s and s.get("type") == t)),
    (r"self\.type == '(\w+)' \? has\(self\.(\w+)\) : true",
     lambda t, field: lambda s: field in s if s.get("type") == t else True),
    (r"has\(self\.(\w+)\) \? self\.type == '(\w+)' : true",
     lambda field, t: lambda s: s.get("type") == t if field in s else True),
    (r"self\.filter\(f, f\.type == '(\w+)'\)\.size\(\) <= 1",
     lambda t: lambda s: sum(1 for f in s if f.get("type") == t) <= 1),
    # Gateway API routes: at most 128 matches over the (at most 16) rules.
    (r"\(self\.size\(\) > 0 \? .*self\[15\].* <= 128",
     lambda: lambda s: sum(len(r.get("matches") or []) for r in s[:16]) <= 128),
    # Gateway API parentRefs (the rule spells namespace as __namespace__).
    (r"self\.all\(p1, self\.all\(p2, p1\.group == p2\.group && .*sectionName == ''\)\) : true\)\)",
     lambda: _section_set_if_shared_parent),
    (r"self\.all\(p1, self\.exists_one\(p2, p1\.group == p2\.group && .*p1\.sectionName == p2\.sectionName\)\)\)\)",
     lambda: lambda s: _unique(s, lambda r: json.dumps([_parent(r), r.get("sectionName") or ""]))),
]
FAMILIES = [(re.compile(pattern + r"\Z"), factory) for pattern, factory in FAMILIES]

# Rules deliberately not enforced, with the reason.
NOT_ENFORCED = {
    "self.type == 'Hostname' ? self.value.matches(r\"\"\"^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$\"\"\"): true":
        "status.addresses: written by the controller, never rendered by a chart",
}

_cache = {}


def predicate(rule):
    """The Python predicate of a CEL rule text, None when the rule is unknown."""
    if rule not in _cache:
        found = RULES.get(rule)
        if found is None:
            for pattern, factory in FAMILIES:
                m = pattern.match(rule)
                if m:
                    found = factory(*m.groups())
                    break
        _cache[rule] = found
    return _cache[rule]

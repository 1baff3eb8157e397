"""Injection: strings with YAML or template syntax put into one values key at a time. A Field says
where a string lands (build(s) -> values); plan() batches the renders; substitute() gives the
output the payload must produce (the placeholder's output with the placeholder replaced)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from jsonschema import Draft7Validator

from support.helm import ROOT


@dataclass
class Result:
    rc: int
    stdout: str
    stderr: str
    docs: list | None
    parse_error: str | None

def render_utf8(helm, values, release="inj", namespace="default") -> Result:
    """helm template through the session's render cache (values written by helm.values_json)."""
    rc, out, err, docs, errors = helm.template(values, release=release, namespace=namespace)
    if rc != 0:
        return Result(rc, out, err, None, None)
    if docs is None:  # output that a YAML 1.1 reader cannot load is a failure too
        return Result(0, out, err, None, "; ".join(errors))
    return Result(0, out, err, docs, None)

def substitute(node, placeholder, payload):
    """The node with placeholder replaced by payload in every key and string value."""
    if isinstance(node, dict):
        return {substitute(k, placeholder, payload): substitute(v, placeholder, payload) for k, v in node.items()}
    if isinstance(node, list):
        return [substitute(v, placeholder, payload) for v in node]
    if isinstance(node, str):
        return node.replace(placeholder, payload)
    return node

def occurrences(node, needle) -> int:
    if isinstance(node, dict):
        return sum(occurrences(k, needle) + occurrences(v, needle) for k, v in node.items())
    if isinstance(node, list):
        return sum(occurrences(v, needle) for v in node)
    return int(isinstance(node, str) and needle in node)

def path_re(path: str) -> str:
    return r"(?<![\w.])" + re.escape(path) + r"(?!\w)"

@dataclass(frozen=True)
class Field:
    """A place a string from values ends up in the output. build(s) -> values with s there;
    placeholder: a valid, unique stand-in; path: how a refusal must name the key;
    free_text: the schema allows any string, so it must always render and round-trip."""
    name: str
    build: object
    placeholder: str
    path: str
    free_text: bool = False

def _clean(values):
    """Drop the None placeholders _route uses to remove a key."""
    for r in values.get("routes", []):
        for k in [k for k, v in r.items() if v is None]:
            del r[k]
    return values

PAYLOADS = [
    # YAML syntax
    "a: b", "# comment", "a #b", "'single'", '"double"', "- item", "[a]", "{a: 1}", "|", "---", "a\tb", "\\",
    # template syntax: values are data, never templates
    "{{ .Release.Name }}",
    # newlines, spaces, unicode
    "line1\nline2", "trailing\n", " lead", "trail ", "", "ünïcødé ☃", "\U0001F600",
    # scalars YAML would read as something else
    "true", "False", "null", "~", "yes", "0x10", "012", "1e3", "1.5", "2001-12-14", "*anchor", "&a", "!tag",
    # strings that pass the host / label patterns and stay strings only when quoted
    "1.0e10", "0x10.example",
]

# SANs, CORS origins and raw regexes (loose syntax, mostly refused) get a shorter list.
FREE_TEXT_PAYLOADS = ["a: b", "# comment", '"double"', "line1\nline2", " lead", "trail ", "{{ .Release.Name }}",
                      "\U0001F600", "true", "null", "~", "*anchor", "&a", "!tag"]

SHORT_LIST_FIELDS = {"subject-alt-name", "origin-exact", "route-regex"}

# Strings that toYaml/fromYaml cannot carry: written plain, "=" and "<<" load as YAML 1.1
# value/merge tags; sigs.k8s.io/yaml (behind Helm's toYaml and fromYaml) fails on DEL, C1
# controls and noncharacters (toYaml then returns "", dropping a whole block) and folds NEL
# into a space. Values carrying them must be quoted one by one, or refused.
HARD_TEXT = ["=", "<<", "a\u007fb", "a\u0080b", "a\ufffeb", "a\u0085b"]

# Helm 3 itself refuses values holding characters YAML cannot carry raw (it re-encodes the
# values as YAML to check the schema), before the chart is involved and without naming the
# key; Helm 4 hands them to the chart.
HELM3_OWN_REFUSAL = "control characters are not allowed"

def _case_id(case):
    field, payload = case
    return "%s-%s" % (field.name, json.dumps(payload, ensure_ascii=True)[1:-1] or "empty")

def _python_patterns(node):
    """The schema with its Go RE2 \\x{HHHH} escapes written the way Python's re spells them."""
    if isinstance(node, dict):
        return {_python_patterns(k) if isinstance(k, str) else k: _python_patterns(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_python_patterns(v) for v in node]
    if isinstance(node, str):
        return re.sub(r"\\x\{([0-9a-fA-F]+)\}", lambda m: "\\U%08x" % int(m.group(1), 16), node)
    return node

_SCHEMA = Draft7Validator(_python_patterns(json.loads((ROOT / "values.schema.json").read_text())))

def schema_refuses(values) -> bool:
    """Does values.schema.json refuse these values? ("required" aside: helm merges the
    defaults in first.) Only used to batch renders: a wrong guess fails the case."""
    return any(e.validator != "required" for e in _SCHEMA.iter_errors(values))

class Conflict(Exception):
    pass

def merge(a, b):
    """Deep merge of two values sets that must not disagree on any key or list item."""
    if isinstance(a, dict) and isinstance(b, dict):
        return {**a, **{k: merge(a[k], v) if k in a else v for k, v in b.items()}}
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [merge(x, y) for x, y in zip(a, b)]
    if a == b and type(a) is type(b):
        return a
    raise Conflict

def _overlaps(p, q):
    return p == q or p.startswith(q + ".") or q.startswith(p + ".")


def plan(cases, fields):
    """Render jobs: {job key: values} and {case: job key}. A payload the schema refuses in
    several fields is tried in all of them in one render (helm lists every schema error, and
    each case checks that its own key is named); fields whose values would clash, or whose
    paths nest, go to separate renders. Everything else renders alone."""
    jobs = {("base", f.name): _clean(f.build(f.placeholder)) for f in fields}
    where = {}
    batches = {}  # payload -> [(values, [fields])]
    for f, p in cases:
        values = _clean(f.build(p))
        if not schema_refuses(values):
            jobs[f.name, p] = values
            where[f, p] = (f.name, p)
            continue
        for i, (merged, fields) in enumerate(batches.setdefault(p, [])):
            if any(_overlaps(f.path, g.path) for g in fields):
                continue
            try:
                batches[p][i] = (merge(merged, values), fields + [f])
                break
            except Conflict:
                continue
        else:
            batches[p].append((values, [f]))
    for p, groups in batches.items():
        for i, (merged, fields) in enumerate(groups):
            jobs["batch", p, i] = merged
            where.update({(f, p): ("batch", p, i) for f in fields})
    return jobs, where

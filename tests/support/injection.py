"""Values cannot inject YAML. A feature spec lists the keys where a string from values lands:

    STRING_KEYS = string_keys(
        Field("route-name", lambda s: {"routes": [route(name=s)]}, "zqxjk-route", "routes.0.name"))

    @pytest.mark.parametrize("field,payload", STRING_KEYS)
    def test_strings_in_route_keys_are_refused_naming_the_key_or_kept_verbatim(injected, field, payload):
        injected.check(field, payload)

Each payload (YAML or template syntax: ": ", "#", quotes, newlines, "{{ }}", unicode,
surrounding spaces, true/null/0x10/~/*anchor/&a/!tag...) either makes helm refuse the values,
naming the key, or is rendered quoted: the parsed output is the output of a harmless placeholder
with the placeholder replaced by the exact string, so no key is added, removed or changed
anywhere. Free-text keys (annotation values) are never refused (except by Helm 3 itself, for
characters YAML cannot carry) and always round-trip.

conftest's `injected` fixture renders the cases the session runs, batched across all feature
files (plan()), two helm processes at a time.
"""
from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from jsonschema import Draft7Validator

from support.helm import ROOT, normalize_paths
from support.mutations import path_re
from support.summary import count

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

# Keys with a loose syntax (SANs, CORS origins, raw regexes: mostly refused) get a shorter list.
LOOSE_PAYLOADS = ["a: b", "# comment", '"double"', "line1\nline2", " lead", "trail ", "{{ .Release.Name }}",
                  "\U0001F600", "true", "null", "~", "*anchor", "&a", "!tag"]

# Strings that toYaml/fromYaml cannot carry: written plain, "=" and "<<" load as YAML 1.1
# value/merge tags; sigs.k8s.io/yaml (behind Helm's toYaml and fromYaml) fails on DEL, C1
# controls and noncharacters (toYaml then returns "", dropping a whole block) and folds NEL
# into a space. Values carrying them must be quoted one by one, or refused. Tried on free-text
# and loose keys.
HARD_TEXT = ["=", "<<", "a\u007fb", "a\u0080b", "a\ufffeb", "a\u0085b"]

# Helm 3 itself refuses values holding characters YAML cannot carry raw (it re-encodes the
# values as YAML to check the schema), before the chart is involved and without naming the
# key; Helm 4 hands them to the chart.
HELM3_OWN_REFUSAL = "control characters are not allowed"


@dataclass(frozen=True)
class Field:
    """A place a string from values ends up in the output. build(s) -> values with s there;
    placeholder: a valid, unique stand-in; path: how a refusal must name the key;
    free_text: the schema allows any string, so it must always render and round-trip;
    loose: a loose syntax (LOOSE_PAYLOADS); meaningful: payloads with a documented meaning
    for this key, left out."""
    name: str
    build: object
    placeholder: str
    path: str
    free_text: bool = False
    loose: bool = False
    meaningful: tuple = ()


_FIELDS: dict[str, Field] = {}


def _case_id(field, payload):
    return "%s-%s" % (field.name, json.dumps(payload, ensure_ascii=True)[1:-1] or "empty")


def string_keys(*fields: Field, known_bugs: dict | None = None) -> list:
    """pytest params (field, payload) for every payload each field gets. known_bugs:
    {(field name, payload): reason}, run as strict xfails (they turn red once fixed)."""
    params = []
    for f in fields:
        if f.name in _FIELDS:
            raise ValueError(f"injection field {f.name} is declared twice")
        _FIELDS[f.name] = f
        payloads = [p for p in (LOOSE_PAYLOADS if f.loose else PAYLOADS) if p not in f.meaningful]
        payloads += HARD_TEXT if f.free_text or f.loose else []
        for p in payloads:
            marks = [pytest.mark.injection]
            if known_bugs and (f.name, p) in known_bugs:
                marks.append(pytest.mark.xfail(strict=True, reason=known_bugs[f.name, p]))
            params.append(pytest.param(f, p, id=_case_id(f, p), marks=marks))
    return params


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


# --- batching --------------------------------------------------------------------------------

def _python_patterns(node):
    """The schema with its Go RE2 patterns written the way Python's re spells them (\\x{HHHH}, $)."""
    if isinstance(node, dict):
        return {_python_patterns(k) if isinstance(k, str) else k: _python_patterns(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_python_patterns(v) for v in node]
    if isinstance(node, str):
        node = re.sub(r"\\x\{([0-9a-fA-F]+)\}", lambda m: "\\U%08x" % int(m.group(1), 16), node)
        # RE2's $ is the end of the text; Python's also matches before a final newline.
        return node[:-1] + "\\Z" if node.startswith("^") and node.endswith("$") and not node.endswith("\\$") else node
    return node


_SCHEMA = Draft7Validator(_python_patterns(json.loads((ROOT / "values.schema.json").read_text())))


# The chart, not the schema, checks label and annotation keys (grpc-ingress.keyProblems in
# templates/_metadata.tpl; why there: see its comment). Its pattern, read from the template,
# predicts which payloads it refuses, so that those are batched with each other: a schema
# error stops Helm before the chart's check runs, so they cannot share a render with fields
# the schema refuses.
_KEY_MAPS = ("commonLabels", "commonAnnotations", "selector", "subsetLabels")
_KEY_PATTERN = re.compile(_python_patterns(json.loads('"%s"' % re.search(
    r'define "grpc-ingress\.keyProblems".*?regexMatch "((?:[^"\\]|\\.)*)"',
    (ROOT / "templates" / "_metadata.tpl").read_text(), re.S).group(1))))


def keys_refused(node) -> bool:
    """Does the chart refuse a label or annotation key in these values? (As schema_refuses:
    only used to batch renders; a wrong guess fails the case.)"""
    if isinstance(node, dict):
        return any((k in _KEY_MAPS and isinstance(v, dict) and not all(isinstance(x, str) and _KEY_PATTERN.match(x) for x in v))
                   or keys_refused(v) for k, v in node.items())
    if isinstance(node, list):
        return any(keys_refused(v) for v in node)
    return False


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


def _group(groups, f, values, base=None):
    """Put field f (its values, and for a kept payload its placeholder values) into the first
    group of the list it neither nests in nor clashes with; a new group if none. Kept payloads
    only share a render with fields of other top-level sections (routes, tls, grpcWeb...), so
    that merging cannot make values the chart refuses (backend next to backends, a Secret next
    to cert-manager)."""
    for i, (merged, merged_base, fields) in enumerate(groups):
        if any(_overlaps(f.path, g.path) for g in fields):
            continue
        if base is not None and set(values) & set(merged):
            continue
        try:
            groups[i] = (merge(merged, values), None if base is None else merge(merged_base, base), fields + [f])
            return
        except Conflict:
            continue
    groups.append((values, base, [f]))


def plan(cases, fields):
    """Render jobs: {job key: values}, {case: job key}, and the batches of kept payloads.

    A payload the schema refuses in several fields is tried in all of them in one render (helm
    lists every schema error, and each case checks that its own key is named); one the chart
    refuses as a label or annotation key, likewise, in a render of its own (keys_refused). A payload the
    schema accepts is also tried in several fields at once, next to a render of their
    placeholders: if the batch comes out as the placeholders' output with each placeholder
    replaced by the payload, every field in it kept the payload verbatim; otherwise each field
    is rendered alone (Injected does that), so a refusal or a change is always told apart per
    field. Fields whose values would clash, or whose paths nest, go to separate batches."""
    jobs = {("base", f.name): f.build(f.placeholder) for f in fields}
    where, kept = {}, {}
    refused, accepted = {}, {}  # (payload, who refuses) -> [(values, base values, [fields])]
    for f, p in cases:
        values = f.build(p)
        if schema_refuses(values):
            _group(refused.setdefault((p, "schema"), []), f, values)
        elif keys_refused(values):
            _group(refused.setdefault((p, "chart"), []), f, values)
        else:
            _group(accepted.setdefault(p, []), f, values, f.build(f.placeholder))
    for (p, by), groups in refused.items():
        for i, (merged, _, fields) in enumerate(groups):
            jobs["batch", p, by, i] = merged
            where.update({(f, p): ("batch", p, by, i) for f in fields})
    for p, groups in accepted.items():
        for i, (merged, merged_base, fields) in enumerate(groups):
            if len(fields) == 1:
                jobs[fields[0].name, p] = merged
                where[fields[0], p] = (fields[0].name, p)
                continue
            jobs["kept", p, i] = merged
            jobs["kept-base", p, i] = merged_base
            kept["kept", p, i] = fields
            where.update({(f, p): ("kept", p, i) for f in fields})
    return jobs, where, kept


# --- rendering and checking ------------------------------------------------------------------

@dataclass
class Result:
    rc: int
    stdout: str
    stderr: str
    docs: list | None
    errors: list  # the validators' findings, or why the output is not loadable YAML


class Injected:
    """The renders behind the cases the session runs (items: the collected tests)."""

    def __init__(self, helm, items):
        self.helm = helm
        cases = {(item.callspec.params["field"], item.callspec.params["payload"]) for item in items
                 if "injected" in getattr(item, "fixturenames", ()) and hasattr(item, "callspec")}
        fields = sorted({f for f, _ in cases}, key=lambda f: f.name)
        jobs, where, kept = plan(sorted(cases, key=lambda c: (c[0].name, c[1])), fields)
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = dict(zip(jobs, pool.map(self._render, jobs.values())))
        self.results = {key: results[job] for key, job in where.items()}
        self.results.update({key: results[key] for key in jobs if key[0] == "base"})
        # Kept-payload batches: verified as a whole, or each field rendered alone. A batch the
        # chart refuses (its pattern guessed wrong, e.g. host names the chart checks) is tried
        # once more without the fields its error names: those, and the rest of a batch that
        # does not verify, render alone.
        self.verified = set()
        alone = {}
        retry = {}
        for key, batch_fields in kept.items():
            payload = key[1]
            base, got = results["kept-base", *key[1:]], results[key]
            if self._kept(base, got, batch_fields, payload):
                continue
            named = [f for f in batch_fields if got.rc != 0 and re.search(path_re(f.path), normalize_paths(got.stderr))]
            rest = [f for f in batch_fields if f not in named]
            alone.update({(f, payload): f.build(payload) for f in named})
            if named and len(rest) > 1:
                retry[key] = rest
            else:
                alone.update({(f, payload): f.build(payload) for f in rest})
        again = {}
        for key, rest in retry.items():
            groups = []  # one group: these fields shared a batch before
            for f in rest:
                _group(groups, f, f.build(key[1]), f.build(f.placeholder))
            (merged, merged_base, _), = groups
            again[("kept-base", *key[1:])], again[key] = merged_base, merged
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = dict(zip(again, pool.map(self._render, again.values())))
        for key, rest in retry.items():
            if not self._kept(results["kept-base", *key[1:]], results[key], rest, key[1]):
                alone.update({(f, key[1]): f.build(key[1]) for f in rest})
        with ThreadPoolExecutor(max_workers=2) as pool:
            self.results.update(zip(alone, pool.map(self._render, alone.values())))

    def _kept(self, base, got, batch_fields, payload) -> bool:
        """Did every field of a kept batch keep the payload verbatim? (Records them if so.)"""
        expected = base.docs
        for f in batch_fields:
            expected = substitute(expected, f.placeholder, payload)
        if base.rc == 0 and base.docs and not base.errors and got.rc == 0 and got.docs == expected:
            self.verified.update((f, payload) for f in batch_fields)
            return True
        return False

    def _render(self, values) -> Result:
        rc, out, err, docs, errors = self.helm.template(values, release="inj", namespace="default")
        if rc == 0 and docs is None:  # output that a YAML reader cannot load is a failure too
            return Result(0, out, err, None, errors)
        return Result(rc, out, err, docs, errors)

    def check(self, field: Field, payload: str) -> None:
        count("bad_input_cases")
        # The placeholder's render is what the case compares against: it must be valid and carry
        # the placeholder, or a case could pass without the payload reaching the output.
        base = self.results["base", field.name]
        assert base.rc == 0 and base.docs and not base.errors, "%s: %s" % (field.name, base.stderr or base.errors)
        assert occurrences(base.docs, field.placeholder) > 0, "%s: the placeholder does not reach the output" % field.name

        if (field, payload) in self.verified:
            return  # kept verbatim in a batch render (see plan)
        got = self.results[field, payload]
        if got.rc != 0 and self.helm.major == 3 and payload in HARD_TEXT and HELM3_OWN_REFUSAL in got.stderr:
            return
        if got.rc != 0:
            assert not field.free_text, "%s is free text; helm refused %r:\n%s" % (field.path, payload, got.stderr)
            assert not got.stdout.strip(), "a refused render must print no manifests"
            assert re.search(path_re(field.path), normalize_paths(got.stderr)), \
                "the error does not name %s:\n%s" % (field.path, got.stderr)
            return
        assert got.docs is not None, "the output is not loadable YAML: %s" % got.errors
        expected = substitute(base.docs, field.placeholder, payload)
        assert got.docs == expected, "%r did not round-trip: the output differs from the placeholder's beyond the value" % payload

"""Custom resources against the vendored CRD schemas (tests/support/validators/crds/, see scripts/vendor-crds).

Two passes over the same openAPIV3Schema:
- a structural walk that does what the API server does and the kubernetes-models validators
  do not: rejects unknown fields (strict field validation: an object schema prunes keys it
  does not declare unless it has additionalProperties or x-kubernetes-preserve-unknown-fields),
  applies schema defaults, checks x-kubernetes-list-type set/map uniqueness, and evaluates
  the CEL rules (x-kubernetes-validations, see cel.py);
- jsonschema (Draft 4, the dialect of OpenAPI v3 schemas) for types, enums, ranges, required,
  oneOf... as a second opinion next to kubernetes-models. x-kubernetes-* keywords are unknown
  to jsonschema and ignored by it.
"""
import copy
import json
import pathlib

import jsonschema

from . import cel
from .core import fmt_path

CRD_DIR = pathlib.Path(__file__).with_name("crds")
_ROOT_IMPLICIT = ("apiVersion", "kind", "metadata")  # every CR has them; some CRD schemas omit them


def prune_nulls(value):
    """The API server drops null values of non-nullable fields before validating (structural
    defaulting); the CRDs here mark nothing nullable that a chart would render."""
    if isinstance(value, dict):
        return {k: prune_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [prune_nulls(v) for v in value]
    return value


def _short(message, limit=300):
    return message if len(message) <= limit else message[:limit] + "..."


class CRDSchema:
    def __init__(self, path):
        data = json.loads(path.read_text())
        self.group, self.version, self.kind = data["group"], data["version"], data["kind"]
        self.source = data["source"]
        self.schema = data["openAPIV3Schema"]
        self._jsonschema = jsonschema.Draft4Validator(self.schema)

    def validate(self, doc):
        """Errors of one (null-pruned) document, paths like spec.servers[0].tls.mode."""
        errors = []
        self._walk(doc, self.schema, "", errors, root=True)
        for e in self._jsonschema.iter_errors(doc):
            errors.append("%s: %s (CRD schema, %s)" % (fmt_path(e.absolute_path), _short(e.message), e.validator))
        return errors

    def _walk(self, value, schema, path, errors, root=False):
        """Walks value along schema; returns value with schema defaults applied (for CEL)."""
        if isinstance(value, dict) and (schema.get("type") == "object" or "properties" in schema):
            props = schema.get("properties") or {}
            extra = schema.get("additionalProperties")
            keeps_unknown = schema.get("x-kubernetes-preserve-unknown-fields") is True or extra is True
            out = {}
            for key, sub_value in value.items():
                if root and key in _ROOT_IMPLICIT:  # metadata: checked as ObjectMeta by core.py
                    out[key] = sub_value
                    continue
                sub = props.get(key, extra if isinstance(extra, dict) else None)
                where = "%s.%s" % (path, key) if path else key
                if sub is not None:
                    out[key] = self._walk(sub_value, sub, where, errors)
                else:
                    out[key] = sub_value
                    if not keeps_unknown:
                        known = sorted(props)
                        hint = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "") or "no fields"
                        errors.append('%s: unknown field "%s" (strict field validation; known: %s)' % (where, key, hint))
            for key, sub in props.items():
                if key not in out and "default" in sub:
                    out[key] = self._walk(copy.deepcopy(sub["default"]), sub, "", [])
            value = out
        elif isinstance(value, list) and isinstance(schema.get("items"), dict):
            value = [self._walk(v, schema["items"], "%s[%d]" % (path, i), errors) for i, v in enumerate(value)]
            self._check_list_type(value, schema, path, errors)
        for rule in schema.get("x-kubernetes-validations", ()):
            self._check_cel(value, rule, path, errors)
        return value

    @staticmethod
    def _check_list_type(items, schema, path, errors):
        list_type = schema.get("x-kubernetes-list-type")
        if list_type == "set":
            keys = [json.dumps(i, sort_keys=True) for i in items]
        elif list_type == "map":
            fields = schema.get("x-kubernetes-list-map-keys", [])
            keys = [json.dumps({f: i.get(f) for f in fields}, sort_keys=True) for i in items]
        else:
            return
        seen = set()
        for i, key in enumerate(keys):
            if key in seen:
                errors.append("%s[%d]: Duplicate value: %s (x-kubernetes-list-type: %s)" % (path, i, key, list_type))
            seen.add(key)

    @staticmethod
    def _check_cel(value, rule, path, errors):
        text = rule["rule"]
        message = rule.get("message") or "failed rule: %s" % text
        check = cel.predicate(text)
        if check is None:
            if text not in cel.NOT_ENFORCED:
                errors.append("%s: CEL rule not implemented in tests/support/validators/cel.py: %s" % (path, text))
            return
        try:
            ok = check(value)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            errors.append("%s: %s (CEL rule failed to evaluate: %s; rule: %s)" % (path or "<root>", message, e, text))
            return
        if not ok:
            errors.append("%s: %s (CEL: %s)" % (path or "<root>", message, _short(text, 160)))


class ReleasedSchemas:
    """One kind as the releases the chart supports serve it: the oldest release's schema, and
    newer ones that add fields (<group>_<version>_<kind>@<bundle>.json, see scripts/vendor-crds).
    A document is valid when one of them accepts it; which release may carry which field is the
    chart's rule (istio.version) and the Istio harness's check, per release."""

    def __init__(self, oldest, newer):
        self.oldest, self.newer = oldest, newer
        self.source = oldest.source

    def validate(self, doc):
        errors = self.oldest.validate(doc)
        if not errors:
            return []
        newer = [(s, s.validate(doc)) for s in self.newer]
        if any(not found for _, found in newer):
            return []
        return errors + ["%s (as %s serves it)" % (e, s.source) for s, found in newer for e in found]


def load_schemas(directory=CRD_DIR):
    """(apiVersion, kind) -> schema (CRDSchema, or ReleasedSchemas with newer releases) for every
    vendored schema."""
    schemas, newer = {}, {}
    for path in sorted(directory.glob("*.json")):
        s = CRDSchema(path)
        key = ("%s/%s" % (s.group, s.version), s.kind)
        if "@" in path.name:
            newer.setdefault(key, []).append(s)
        else:
            schemas[key] = s
    for key, extra in newer.items():
        schemas[key] = ReleasedSchemas(schemas[key], extra)
    return schemas

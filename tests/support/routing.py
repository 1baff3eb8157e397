"""What Istio does with a VirtualService's http list: the first entry with a matching
match (any of its matches; none means match-all) takes the request. Kept tiny and
literal so tests can ask "where does /pkg.Service/Method go?" instead of comparing YAML."""
from __future__ import annotations

import re

from support.validators.rules import re2_to_python

_INLINE_FLAGS = re.compile(r"\(\?([ims]+)\)")


def _python_regex(pattern: str) -> str:
    """An RE2 route regex for Python's re, meaning kept: flags set mid-pattern ((?i) in RE2
    applies from there on) become a scoped group to the end (top-level flags only, which is
    what the chart's tests write); \\Q..\\E, (?<name> and \\z as rules.re2_to_python spells them."""
    m = _INLINE_FLAGS.search(pattern)
    if m and m.start() > 0:
        pattern = pattern[:m.start()] + "(?%s:" % m.group(1) + pattern[m.end():] + ")"
    return re2_to_python(pattern)


def _uri_matches(uri: dict, path: str) -> bool:
    if "exact" in uri:
        return path == uri["exact"]
    if "prefix" in uri:
        return path.startswith(uri["prefix"])
    if "regex" in uri:
        return re.fullmatch(_python_regex(uri["regex"]), path) is not None  # Envoy regexes match the whole path
    raise AssertionError(f"unknown uri match {uri}")


def _entry_matches(entry: dict, path: str, method: str, headers: dict) -> bool:
    if "match" not in entry:
        return True
    for m in entry["match"]:
        if "uri" in m and not _uri_matches(m["uri"], path):
            continue
        if "method" in m and not _uri_matches(m["method"], method):
            continue
        if any(h not in headers or not _uri_matches(spec, headers[h]) for h, spec in m.get("headers", {}).items()):
            continue
        return True
    return False


def route_for(vs: dict, path: str, method: str = "POST", headers: dict | None = None) -> dict | None:
    """The http entry that serves a request, or None (Istio answers 404)."""
    for entry in vs["spec"]["http"]:
        if _entry_matches(entry, path, method, headers or {}):
            return entry
    return None


def backends_for(vs: dict, path: str, **kw) -> list[tuple[str, int, str | None, int | None]]:
    entry = route_for(vs, path, **kw)
    assert entry is not None, f"no route serves {path}"
    return [(d["destination"]["host"], d["destination"]["port"]["number"], d["destination"].get("subset"), d.get("weight"))
            for d in entry["route"]]


def traffic_shares(entry: dict) -> dict[tuple[str, int, str | None], int]:
    """Percent of an http entry's calls per (host, port, subset), as Envoy splits them: a lone
    destination takes every call whatever its weight; otherwise each its weight (unset = 0)."""
    dests = entry["route"]
    shares: dict = {}
    for d in dests:
        key = (d["destination"]["host"], d["destination"]["port"]["number"], d["destination"].get("subset"))
        shares[key] = shares.get(key, 0) + (100 if len(dests) == 1 else d.get("weight", 0))
    return shares

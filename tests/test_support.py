"""The suite's own tools can fail: the key-path matcher and the round-trip comparison the
bad-input and injection tests rely on."""
from __future__ import annotations

import re

from support.injection import substitute
from support.mutations import path_re


def test_path_regexes_do_not_match_longer_paths():
    """The key-path matcher must be able to fail: routes.1 is not routes.10 nor tls.routes.1."""
    assert re.search(path_re("routes", 1), "at routes.1: bad")
    assert re.search(path_re("routes", 1), "- routes.1.timeout: bad")
    assert not re.search(path_re("routes", 1), "at routes.10: bad")
    assert re.search(path_re("hosts"), "at hosts: minItems: got 0, want 1")
    assert not re.search(path_re("hosts"), "tls.hosts.0.hosts.1: not listed")
    assert not re.search(path_re("hosts", 0), "tls.hosts.0: x")


def test_round_trip_check_catches_a_changed_value():
    """The comparison the cases rely on can fail: a value that comes back changed, or a key
    that appears, makes the output differ from the substituted placeholder output."""
    base = [{"metadata": {"name": "x", "annotations": {"note": "zqxjkval"}}}]
    assert substitute(base, "zqxjkval", "a: b") == [{"metadata": {"name": "x", "annotations": {"note": "a: b"}}}]
    assert substitute(base, "zqxjkval", "a: b") != [{"metadata": {"name": "x", "annotations": {"note": "a", "b": None}}}]
    assert substitute(base, "zqxjkval", "true") != [{"metadata": {"name": "x", "annotations": {"note": True}}}]

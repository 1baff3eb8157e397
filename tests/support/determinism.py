"""Determinism checks: render in a fresh helm process (no cache), find calls to functions whose
result is not a function of the values, reorder the keys of every map in a values set."""
from __future__ import annotations

import json
import os
import random
import re
import tempfile

from support.helm import ROOT


TEMPLATES = ROOT / "templates"

REPEATS = 2  # fresh helm processes compared with the first render


def template_fresh(helm, values, release="grpc-ingress", namespace="default") -> str:
    """helm template in a new process, with the values written exactly as json.dumps orders
    them (no render cache, no key sorting)."""
    args = ["template", release, str(ROOT), "--namespace", namespace]
    path = None
    if values is not None:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            f.write(json.dumps(values))
        path = f.name
        args += ["-f", path]
    try:
        proc = helm.run(args)
    finally:
        if path:
            os.unlink(path)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# Sprig/Helm functions whose result is not a function of the values: random data, the
# clock, the cluster, the environment, random salts or IVs.
NONDETERMINISTIC = [
    "randAlphaNum", "randAlpha", "randNumeric", "randAscii", "randBytes", "randInt", "shuffle", "uuidv4",
    "now", "date", "dateInZone", "date_in_zone", "dateModify", "date_modify", "mustDateModify", "unixEpoch", "ago",
    "htmlDate", "htmlDateInZone", "lookup", "getHostByName", "env", "expandenv",
    "genCA", "genCAWithKey", "genSelfSignedCert", "genSelfSignedCertWithKey", "genSignedCert", "genSignedCertWithKey",
    "genPrivateKey", "buildCustomCert", "htpasswd", "bcrypt", "encryptAES",
]

_COMMENT = re.compile(r"\{\{-?\s*/\*.*?\*/\s*-?\}\}", re.S)

_ACTION = re.compile(r"\{\{(.*?)\}\}", re.S)

_STRING = re.compile(r'"(?:\\.|[^"\\])*"|`[^`]*`')

_CALL = re.compile(r"(?<![\w.$])(%s)(?![\w])" % "|".join(NONDETERMINISTIC))


def nondeterministic_calls(text: str) -> list[str]:
    """Function names from NONDETERMINISTIC used in template actions (comments, string
    literals and fields like .Values.now do not count)."""
    found = []
    for action in _ACTION.findall(_COMMENT.sub("", text)):
        found += _CALL.findall(_STRING.sub('""', action))
    return found


def reorder(node, rnd: random.Random | None = None):
    """The same values with every map's keys in another order (reversed, or shuffled);
    lists keep their order, which means something."""
    if isinstance(node, dict):
        keys = list(node)
        if rnd is None:
            keys.reverse()
        else:
            rnd.shuffle(keys)
        return {k: reorder(node[k], rnd) for k in keys}
    if isinstance(node, list):
        return [reorder(v, rnd) for v in node]
    return node

"""Bad values, table-driven. A feature spec lists rows (id, values, [regexes the error must
contain]) and parametrizes with bad_values(rows): helm must fail, and its error, with key paths
normalised across Helm 3, Helm 4 and the chart's messages (routes.0.timeout), must match each regex."""
from __future__ import annotations

import pytest


def bad_values(rows) -> list:
    """pytest params (values, match) named by their ids; ids must be unique."""
    ids = [r[0] for r in rows]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"bad-input ids used twice: {duplicates}")
    return [pytest.param(values, match, id=i) for i, values, match in rows]

"""Bad values, table-driven. A feature spec lists rows (id, values, [regexes the error must
contain]) and parametrizes with bad_values(rows): helm must fail, and its error, with key paths
normalised across Helm 3, Helm 4 and the chart's messages (routes.0.timeout), must match each regex."""
from __future__ import annotations

import pytest

from support.summary import count


def bad_values(rows) -> list:
    """pytest params (values, match) named by their ids; ids must be unique."""
    ids = [r[0] for r in rows]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"bad-input ids used twice: {duplicates}")
    return [pytest.param(values, match, id=i, marks=pytest.mark.bad_input) for i, values, match in rows]


def assert_refused(helm, values, match, **kw) -> str:
    """helm refuses values, prints nothing, and the normalised error matches each regex."""
    count("bad_input_cases")
    return helm.render_fails(values, match=match, **kw)

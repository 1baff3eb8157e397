"""Properties of every values set the chart accepts. A feature spec states one as

    @for_every_valid_values_set
    def test_streams_never_carry_a_route_timeout(case):
        ...assert on case.values and case.render...

and it is checked on every values set support.strategies.valid_cases() draws
(HYPOTHESIS_EXAMPLES, default 200; a fixed seed, so CI is deterministic).

All such tests share one hypothesis run per session (conftest's `generated` fixture): each
values set is drawn and rendered once, and every registered property looks at it. A property
that fails is then run again alone under hypothesis, which shrinks the values set to a small
failing one (HYPOTHESIS_SHRINK=1; shrinking re-renders, so it can take minutes). Without it,
the test reports the first failing values set as found.
"""
from __future__ import annotations

import json
import os
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import pytest
from hypothesis import HealthCheck, given, note, reject, seed, settings

from support.helm import Helm, Render, RenderError
from support.strategies import valid_cases, without_nulls
from support.summary import count

EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", "200"))
SHRINK = os.environ.get("HYPOTHESIS_SHRINK", "") not in ("", "0")
SEED = 20260801  # any fixed number: the same examples every run, in every test that draws them
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# reflection.* and health.*: the route each adds (README "Reflection and health").
PASS_THROUGH = {
    "reflection": ("grpc-reflection", ["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"]),
    "health": ("grpc-health", ["grpc.health.v1.Health"]),
}


@dataclass
class Case:
    """One drawn values set and its render. values: as the chart means them (null and {} for an
    optional map left out); raw_values: as rendered, nulls and all. facts: what the generator
    knows beyond the values (facts["host_namespace"][host]: the namespace a backend host names,
    None for a short name; facts["regex_sample"][route name]: a path the route's regex matches)."""
    values: dict
    release: str
    namespace: str
    facts: dict
    raw_values: dict | None = None
    render: Render | None = None
    error: str | None = None

    @property
    def routes(self) -> list[dict]:
        """The routes the values declare: routes[], then the reflection and health routes that
        reflection.enabled / health.enabled add, written as a routes[] entry would be."""
        out = list(self.values["routes"])
        for key, (name, services) in PASS_THROUGH.items():
            settings = self.values.get(key, {})
            if settings.get("enabled"):
                out.append({"name": name, "services": services, "streaming": True, "backend": settings["backend"]})
        return out

    @property
    def vs(self) -> dict:
        return self.render.one("VirtualService")

    @property
    def entries(self) -> list[dict]:
        return self.vs["spec"]["http"]

    @property
    def servers(self) -> list[dict]:
        return self.render.one("Gateway")["spec"]["servers"]


def render_case(helm: Helm, drawn) -> Case:
    values, release, namespace, facts = drawn
    case = Case(without_nulls(values), release, namespace, facts, raw_values=values)
    try:
        case.render = helm.render(values, release=release, namespace=namespace)
    except (RenderError, AssertionError) as e:
        case.error = str(e)
    return case


_PROPERTIES: dict[str, Callable[[Case], None]] = {}
RENDERS = "renders"  # the property every other one builds on: the render succeeds and validates


def for_every_valid_values_set(check: Callable[[Case], None]):
    """Make check(case) a test over every generated values set (see the module docstring)."""
    key = f"{check.__module__}::{check.__name__}"
    _PROPERTIES[key] = check

    def test(generated):
        generated.assert_holds(key)

    test.__name__, test.__qualname__, test.__doc__ = check.__name__, check.__qualname__, check.__doc__
    test.__module__ = check.__module__
    return pytest.mark.property(test)


class Generated:
    """The session's hypothesis run: cases drawn, rendered, and every property checked."""

    def __init__(self, helm: Helm):
        self.helm = helm
        self.cases: list[Case] = []
        self.failures: dict[str, tuple[Case, str]] = {}

        drawn_sets: list = []

        @SETTINGS
        @seed(SEED)
        @given(drawn=valid_cases())
        def explore(drawn):
            drawn_sets.append(drawn)

        # explore never fails, so what hypothesis draws does not depend on the renders: draw
        # every values set first, then render them two helm processes at a time (2 cores), and
        # check the properties on each case in the order drawn, as one loop would.
        explore()
        with ThreadPoolExecutor(max_workers=2) as pool:
            self.cases = list(pool.map(lambda drawn: render_case(helm, drawn), drawn_sets))
        for case in self.cases:
            if case.error is not None:
                self.failures.setdefault(RENDERS, (case, case.error))
                continue
            for key, check in _PROPERTIES.items():
                if key not in self.failures:
                    try:
                        check(case)
                    except Exception:  # noqa: BLE001 - recorded, reported by the property's own test
                        self.failures[key] = (case, traceback.format_exc())
        count("hypothesis_examples", len(self.cases))

    def assert_holds(self, key: str) -> None:
        if key == RENDERS:
            if RENDERS in self.failures:
                case, error = self.failures[RENDERS]
                raise AssertionError(f"a valid values set does not render:\n{error}\nvalues:\n"
                                     f"{json.dumps(case.raw_values, indent=1)}")
            return
        if key not in self.failures:
            return
        case, tb = self.failures[key]
        if not SHRINK:
            raise AssertionError(f"{tb}\nfailing values set (release {case.release}, namespace {case.namespace}; "
                                 f"HYPOTHESIS_SHRINK=1 shrinks it):\n{json.dumps(case.raw_values, indent=1)}")
        check, helm = _PROPERTIES[key], self.helm

        @SETTINGS
        @seed(SEED)
        @given(drawn=valid_cases())
        def alone(drawn):  # hypothesis finds the failure again and shrinks it
            note(json.dumps(drawn[0], indent=1))
            note(f"release={drawn[1]} namespace={drawn[2]}")
            case = render_case(helm, drawn)
            if case.error is not None:
                reject()  # RENDERS reports those; keep shrinking on this property's failure
            check(case)

        alone()
        raise AssertionError(f"failed on (not reproduced while shrinking):\n{json.dumps(case.values, indent=1)}\n{tb}")

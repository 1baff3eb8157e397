"""Properties of every values set the chart accepts. A feature spec states one as

    @for_every_valid_values_set
    def test_streams_never_carry_a_route_timeout(case):
        ...assert on case.values and case.render...

and it is checked on every values set support.strategies.valid_cases() draws
(HYPOTHESIS_EXAMPLES, default 200; a fixed seed, so CI is deterministic).

A property of what Istio does with the render asks Istio's own control plane (the harness in
tests/istio, through support.istio_promises):

    @for_every_valid_values_set_in_istio
    def test_every_route_reaches_its_backends(case):
        assert case.unkept("routing") == []     # or read case.answer(install) yourself

Each distinct render is sent to the harness once, on the gateway install its values name, all of
them in two harness processes started in the background as soon as the renders are drawn
(start_istio).

All such tests share one hypothesis run per session (conftest's `generated` fixture): each
values set is drawn and rendered once, and every registered property looks at it. A property
that fails is then run again alone under hypothesis, which shrinks the values set to a small
failing one (HYPOTHESIS_SHRINK=1; shrinking re-renders, so it can take minutes). Without it,
the test reports the first failing values set as found.
"""
from __future__ import annotations

import json
import os
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import pytest
from hypothesis import HealthCheck, given, note, reject, seed, settings

from support.helm import Helm, Render, RenderError
from support.istio import IstioHarness, Result, prefetch_deployments
from support.probes import probes
from support.istio_promises import CONCERNS, Plan, Problem, declared_routes
from support.strategies import valid_cases, without_nulls
from support.summary import count

EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", "200"))
# How many of them (the first ones drawn) are also compared through Istio as Gateway API
# (Case.both_apis): each costs two more renders and two harness cases.
BOTH_APIS_SETS = int(os.environ.get("BOTH_APIS_SETS", "100"))
SHRINK = os.environ.get("HYPOTHESIS_SHRINK", "") not in ("", "0")
SEED = 20260801  # any fixed number: the same examples every run, in every test that draws them
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


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
    istio: IstioHarness | None = field(default=None, repr=False)
    helm: Helm | None = field(default=None, repr=False)
    index: int = 0   # its place in the run (draw order)
    _plans: dict = field(default_factory=dict, repr=False)

    def plan(self) -> Plan:
        """What the values promise a client, on the gateway install they name (support.istio_promises)."""
        if "plan" not in self._plans:
            self._plans["plan"] = Plan(self.values, self.release, self.namespace, self.facts)
        return self._plans["plan"]

    def istio_case(self) -> dict:
        """The promises' calls, and the helm test Pod's probes as the Pod sends them."""
        plan = self.plan()
        return plan.case(self.render, calls=[p.call for p in plan.promises] + [p.call for p in probes(self.render)])

    def both_apis(self) -> tuple[dict, dict] | None:
        """The values brought to their Gateway API form (support.gateway_api.expressible), as
        harness cases for both renders: the Istio mode's on the stock install the values name, the
        Gateway API mode's on the gateway Istio deploys for its Gateway, each asked the calls that
        form's values promise. None without a Gateway of the chart's own, or beyond the first
        BOTH_APIS_SETS sets (each costs two renders and two harness cases)."""
        if "both_apis" not in self._plans:
            self._plans["both_apis"] = None
            renders = self.both_apis_renders()
            if renders is not None:
                mine, render, docs, out = renders
                plan = Plan(mine, self.release, self.namespace, self.facts)
                calls = [p.call for p in plan.promises]
                self._plans["both_apis"] = (
                    plan.case(render, calls=calls),
                    IstioHarness.gateway_api_case(docs, out, namespace=self.namespace, calls=calls))
                self._plans["both_apis_plan"] = plan
        return self._plans["both_apis"]

    def both_apis_renders(self) -> tuple[dict, Render, list[dict], str] | None:
        """The renders both_apis asks about: (the Istio mode's values, its render, the Gateway API
        render's documents and text), or None (see both_apis)."""
        if "both_apis_renders" not in self._plans:
            from support.gateway_api import GATEWAY_API, expressible  # it imports support.scenarios
            self._plans["both_apis_renders"] = None
            if self.values["gateway"]["create"] and self.index < BOTH_APIS_SETS:
                easy = expressible(self.values, self.release)
                # The Istio mode keeps the values' own gateway knobs (gateway.install custom needs them).
                mine = {**easy, "gateway": self.values["gateway"]}
                kw = {"release": self.release, "namespace": self.namespace}
                # Values the Gateway API says as given: the run's own render, and the Gateway API
                # render of the same raw values the gateway-api property asks for (one helm each).
                given = easy == self.values
                rc, out, _, docs, errors = self.helm.template({**(self.raw_values if given else easy), **GATEWAY_API}, **kw)
                if given:
                    rc2, errors2, render = 0, [], self.render
                else:
                    rc2, out2, _, docs2, errors2 = self.helm.template(mine, **kw)
                    render = Render(docs2, out2)
                if rc == rc2 == 0 and not errors and not errors2:
                    self._plans["both_apis_renders"] = (mine, render, docs, out)
        return self._plans["both_apis_renders"]

    def both_apis_answers(self) -> tuple[Plan, Result, Result] | None:
        """(the expressible form's plan, Istio's answer for its Istio-mode render, for its
        Gateway API render), or None (see both_apis)."""
        cases = self.both_apis()
        if cases is None:
            return None
        istio_mode, gateway_api = self.istio.run(list(cases))
        return self._plans["both_apis_plan"], istio_mode, gateway_api

    def answer(self) -> Result:
        """Istio's answer for this render (the harness caches it per session)."""
        assert self.istio is not None, "an Istio property runs with the harness (Generated.check_istio)"
        return self.istio.run([self.istio_case()])[0]

    def problems(self) -> list[Problem]:
        """Every promise of the values Istio's answer breaks."""
        if "problems" not in self._plans:
            self._plans["problems"] = self.plan().broken(self.answer())
        return self._plans["problems"]

    def unkept(self, *concerns: str) -> list[str]:
        """Broken promises of these concerns (support.istio_promises.CONCERNS) that no known bug
        explains ([] when Istio does what the values say)."""
        assert set(concerns) <= set(CONCERNS), concerns
        return [f"[{self.plan().install_name} install] {p.text}" for p in self.problems()
                if p.concern in concerns and p.known is None]

    @property
    def routes(self) -> list[dict]:
        """The routes the values declare: routes[], then the reflection and health routes that
        reflection.enabled / health.enabled add, written as a routes[] entry would be."""
        return declared_routes(self.values)

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
_ISTIO_PROPERTIES: dict[str, Callable[[Case], None]] = {}
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


def for_every_valid_values_set_in_istio(check: Callable[[Case], None]):
    """Make check(case) a test over every generated values set, with case.answer(install) from
    Istio's harness (see the module docstring)."""
    key = f"{check.__module__}::{check.__name__}"
    _ISTIO_PROPERTIES[key] = check

    def test(generated, istio):
        generated.check_istio(istio)
        generated.assert_holds(key)

    test.__name__, test.__qualname__, test.__doc__ = check.__name__, check.__qualname__, check.__doc__
    test.__module__ = check.__module__
    test.istio_property = True  # conftest starts the harness early when one is collected
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
        self._istio_lock = threading.Lock()
        self._istio_checked = False
        self._prefetch: list[threading.Thread] = []
        self._prefetch_errors: list[BaseException] = []

    def rendered(self) -> list[Case]:
        return [c for c in self.cases if c.render is not None]

    def start_istio(self, istio: IstioHarness) -> None:
        """Send every render to the harness in the background, in two processes (one per core),
        while other tests run; check_istio waits for them."""
        cases = self.rendered()
        for i, c in enumerate(cases):
            c.istio, c.helm, c.index = istio, self.helm, i
        for half in (cases[0::2], cases[1::2]):
            batch = [c.istio_case() for c in half]

            def run(batch=batch, half=half):
                try:
                    istio.run(batch)
                    # then both APIs' renders of the Gateway API form (helm renders them here), on
                    # the gateways Istio's deployment controller makes for them (one process)
                    prefetch_deployments(r[2] for r in (c.both_apis_renders() for c in half) if r)
                    istio.run([x for c in half for x in (c.both_apis() or ())])
                except BaseException as e:  # noqa: BLE001 - raised again by check_istio
                    self._prefetch_errors.append(e)

            t = threading.Thread(target=run, name="istio-prefetch", daemon=True)
            t.start()
            self._prefetch.append(t)

    def check_istio(self, istio: IstioHarness) -> None:
        """Run every Istio property on every rendered case (once per session)."""
        with self._istio_lock:
            if self._istio_checked:
                return
            if not self._prefetch:
                self.start_istio(istio)
            for t in self._prefetch:
                t.join()
            if self._prefetch_errors:
                raise self._prefetch_errors[0]
            for key, check in _ISTIO_PROPERTIES.items():
                for case in self.rendered():
                    try:
                        check(case)
                    except Exception:  # noqa: BLE001 - recorded, reported by the property's own test
                        self.failures[key] = (case, traceback.format_exc())
                        break
            self._istio_checked = True

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
        check, helm = {**_PROPERTIES, **_ISTIO_PROPERTIES}[key], self.helm
        istio = next((c.istio for c in self.cases if c.istio is not None), None)

        @SETTINGS
        @seed(SEED)
        @given(drawn=valid_cases())
        def alone(drawn):  # hypothesis finds the failure again and shrinks it
            note(json.dumps(drawn[0], indent=1))
            note(f"release={drawn[1]} namespace={drawn[2]}")
            case = render_case(helm, drawn)
            if case.error is not None:
                reject()  # RENDERS reports those; keep shrinking on this property's failure
            case.istio, case.helm = istio, helm  # an Istio property asks the harness for each example (slow)
            check(case)

        alone()
        raise AssertionError(f"failed on (not reproduced while shrinking):\n{json.dumps(case.values, indent=1)}\n{tb}")

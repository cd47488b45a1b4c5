"""OpenAPI-driven fuzzing of every operation, as every kind of caller (privacy-and-security.md, measurable goals).

schemathesis generates valid and invalid requests from the schema at /schema/openapi.json and sends them to the
app in-process (ASGI) on a real PostgreSQL, in a database of its own (what the fuzzer creates is committed).
Operations run on the authorization matrix's world, from the scenarios of tests/fuzz/scenarios.py: the caller
the route is for with the world's real objects in the path, a stranger, everything generated. Every response
must be: no 5xx; documented (status code, content type, body schema); and on an operation that declares bearer
security, a request without a token or with a garbage one is refused (schemathesis's ignored_auth re-sends every
accepted request that way; the probe test below asks for exactly 401 on every such operation).

Findings are collected rather than raised, so one run lists them all (de-duplicated) instead of stopping at
the first and shrinking it. The stateful phase chains operations along the links schemathesis infers from the
schema (an id a response returns, used in the path of the next operation).
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from litestar import Litestar
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_schema_conformance,
    status_code_conformance,
)

from core.settings import Settings
from tests.conftest import PgCluster
from tests.fuzz.scenarios import Scenario, audience, scenarios
from tests.fuzz.world import GARBAGE_TOKEN, FuzzWorld, WorldBuilder, fuzz_target
from tests.scale import scaled

pytestmark = pytest.mark.reliability

# Per operation, over its scenarios, valid and invalid data together. 100 does not fit CI's budget on a 2-core
# machine: a call costs 30–75 ms (with the ignored-auth re-sends), so 100 would take 5–13 minutes; 25 takes the
# module 1.5–3 minutes. `make reliability` runs 500.
EXAMPLES = scaled(25, 500)
STATEFUL_SCENARIOS = scaled(10, 300)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    ignored_auth,
]
_PATH_PARAM = re.compile(r"\{(\w+)\}")
Target = tuple[Litestar, WorldBuilder]


@dataclass
class Findings:
    """De-duplicated check failures: (operation, failure code, title, status) → the first message."""

    seen: dict[tuple[str, ...], str] = field(default_factory=dict)
    calls: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    def validate(self, case: Any, response: Any, headers: dict[str, str], caller: str) -> None:
        self.calls += 1
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as group:
            for failure in group.exceptions:
                self.add(case.operation.label, response.status_code, failure, caller)

    def add(self, label: str, status: int, failure: Failure, caller: str) -> None:
        self.seen.setdefault((label, failure.code, failure.title, str(status)), f"as {caller}: {failure.message}")

    def report(self) -> str:
        return "\n\n".join(f"{' | '.join(k)}\n{m[:1500]}" for k, m in sorted(self.seen.items()))


@pytest.fixture(scope="module")
async def fuzz_database_url(pg_cluster: PgCluster) -> AsyncIterator[str]:
    name, url = await pg_cluster.migrated_database("phr_schema_fuzz")
    yield url
    await pg_cluster.drop_database(name)


@pytest.fixture(scope="module")
def target(settings: Settings, fuzz_database_url: str) -> Iterator[Target]:
    with fuzz_target(settings, fuzz_database_url) as pair:
        try:
            yield pair
        finally:
            # The app's lifespan disposes of its pool, on the event loop that opened it.
            schemathesis.python.asgi.shutdown_lifespans()


@pytest.fixture(scope="module")
def api_schema(target: Target) -> Any:
    return schemathesis.openapi.from_asgi("/schema/openapi.json", target[0])


def is_secured(schema: Any, method: str, path: str) -> bool:
    return bool(schema.raw_schema["paths"][path][method.lower()].get("security"))


def fuzz_operation(operation: Any, world: FuzzWorld, secured: bool, findings: Findings) -> None:
    method, path = operation.method.upper(), operation.path
    plans: list[st.SearchStrategy[tuple[Scenario, Any]]] = []
    for scenario in scenarios(world, method, path, _PATH_PARAM.findall(path), secured):
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(mode, path_parameters=scenario.path_parameters or None)
            plans.append(st.tuples(st.just(scenario), strategy))

    @given(plan=st.one_of(plans))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same requests every run: a finding in CI is reproducible
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(plan: tuple[Scenario, Any]) -> None:
        scenario, case = plan
        headers = world.headers.get(scenario.principal, {})
        findings.validate(case, case.call(headers=headers), headers, scenario.label)

    run()


def test_every_operation_survives_fuzzing_as_its_callers(target: Target, api_schema: Any) -> None:
    _app, builder = target
    operations = [result.ok() for result in api_schema.get_all_operations()]
    # Reads first, on one world; then each write on a fresh one, so no write fuzzes on what another destroyed.
    operations.sort(key=lambda op: (op.method.upper() != "GET", op.path, op.method))
    findings = Findings()
    started = time.perf_counter()
    world = builder.rebuild()
    for operation in operations:
        if operation.method.upper() != "GET":
            world = builder.rebuild()
        fuzz_operation(operation, world, is_secured(api_schema, operation.method, operation.path), findings)
    elapsed = time.perf_counter() - started
    print(f"\nfuzzed {len(operations)} operations, {findings.calls} calls in {elapsed:.0f}s: {findings.statuses}")
    assert len(operations) >= 100
    assert findings.calls >= len(operations) * 3  # an operation with few possible inputs runs out early
    assert findings.seen == {}, f"{len(findings.seen)} findings:\n\n{findings.report()}"


def test_every_secured_operation_refuses_a_missing_or_garbage_token_with_401(target: Target, api_schema: Any) -> None:
    """Each operation that declares bearer security, called without a token and with a forged one: 401 both times.

    And the other way round: an operation that asks for a token (problem code ``missing_token``) declares it.
    """
    _app, builder = target
    world = builder.rebuild()
    wrong: list[str] = []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        secured = is_secured(api_schema, operation.method, operation.path)
        fixed = scenarios(world, operation.method.upper(), operation.path, _PATH_PARAM.findall(operation.path), True)
        case = operation.Case(path_parameters={**_generated_ids(operation.path), **fixed[-1].path_parameters})
        for token in (None, GARBAGE_TOKEN):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            response = case.call(headers=headers)
            problem = response.headers.get("content-type", [""])[0] == "application/problem+json"
            asked = problem and response.json().get("code") in ("missing_token", "invalid_token")
            if secured and response.status_code != 401:
                wrong.append(f"{operation.label} with token {token is not None}: {response.status_code}")
            if not secured and asked:
                wrong.append(f"{operation.label} asks for a token but declares no security")
    assert wrong == []


def _generated_ids(path: str) -> dict[str, str]:
    return {name: "01234567-89ab-7def-8123-456789abcdef" for name in _PATH_PARAM.findall(path)}


def test_stateful_sequences_along_the_schema_links(target: Target, api_schema: Any) -> None:
    """Chains of calls (create, then read, change or delete what was created), each made by the route's caller."""
    _app, builder = target
    world = builder.rebuild()
    findings = Findings()
    base = api_schema.as_state_machine()

    class Machine(base):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            principal = audience(
                case.operation.path, is_secured(api_schema, case.operation.method, case.operation.path)
            )
            return {"headers": world.headers.get(principal, {})}

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any) -> None:
            findings.validate(case, response, kwargs.get("headers", {}), "stateful")

    Machine.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=6,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
    )
    print(f"\nstateful: {findings.calls} calls: {findings.statuses}")
    assert findings.calls >= STATEFUL_SCENARIOS
    assert findings.seen == {}, f"{len(findings.seen)} findings:\n\n{findings.report()}"

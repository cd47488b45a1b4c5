"""Who calls each operation, and with which path parameters, so the fuzzer reaches past the guards.

A generated UUID names nothing, so an operation fuzzed with random path parameters only ever answers 404. Each
operation is therefore fuzzed from several scenarios: the caller the route is for, with the world's real objects
in the path (the citizen's own record, the guardian's child, a stranger's record), and the same caller with
everything generated.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.fuzz.world import FuzzWorld

# Which account acts for which citizen of the world (the matrix's WORLD_RELATIONS, one caller per target).
ACTOR_OF = {"A": "citizen_a", "M": "guardian", "B": "citizen_b"}
# Object ids inside a citizen's path, per target: the world has one of each for A, B and M.
PER_TARGET = {"grant_id": "grant_{t}", "share_id": "share_{t}", "item_id": "allergy_{t}"}


@dataclass(frozen=True)
class Scenario:
    principal: str
    path_parameters: dict[str, str]

    @property
    def label(self) -> str:
        fixed = ",".join(sorted(self.path_parameters)) or "generated"
        return f"{self.principal}({fixed})"


def audience(path: str, secured: bool) -> str:
    """The principal an operation is for, from its path (the same audiences as the routers)."""
    if path == "/v1/station/emergency-accesses":
        return "staff_other"  # the world's only station admin
    if path.startswith("/v1/station/"):
        return "staff_same"
    if path.startswith("/v1/integration/"):
        return "machine"
    if path.startswith("/v1/clinician/"):
        return "clinician" if secured else "anonymous"
    if path == "/v1/auth/logout":
        return "logout"
    return "citizen_a" if secured else "anonymous"


def _flat(world: FuzzWorld, method: str, path: str) -> dict[str, str]:
    """Path parameters outside a citizen's path that name a real object of the world."""
    known: dict[str, str] = {
        "session_id": world.id("session_A2"),
        "notification_id": world.id("notification_A"),
        "correction_id": world.id("correction_A"),
        "request_id": world.id("link_request_A"),
        "guardianship_id": world.id("guardianship_M"),
        "facility_id": world.id("S1"),
        "grant_id": world.id("grant_A"),
        "installation_id": "matrix-install-a",
    }
    if path.startswith("/v1/delegations/"):
        known["delegation_id"] = world.id("delegation_A" if method == "DELETE" else "invitation_to_B")
    return known


def _principal_for_flat(path: str, method: str, default: str) -> str:
    if path.startswith("/v1/delegations/"):
        return "delegate" if method == "DELETE" else "citizen_b"
    return default


def scenarios(world: FuzzWorld, method: str, path: str, params: list[str], secured: bool) -> list[Scenario]:
    default = audience(path, secured)
    found = [Scenario(default, {})]
    if "citizen_id" in params:
        for target, actor in ACTOR_OF.items():
            fixed = {"citizen_id": world.id(target)}
            for name, pattern in PER_TARGET.items():
                if name in params:
                    fixed[name] = world.id(pattern.format(t=target))
            if "section" in params and "item_id" in params:
                fixed["section"] = "allergies"
            if "delegation_id" in params and target in ("A", "B"):
                fixed["delegation_id"] = world.id(f"delegation_{target}")
            found.append(Scenario(actor, fixed))
        # A record the caller has nothing to do with: the guard answers, never the data.
        found.append(Scenario("citizen_b", {"citizen_id": world.id("A")}))
    else:
        known = _flat(world, method, path)
        fixed = {name: known[name] for name in params if name in known}
        if fixed:
            found.append(Scenario(_principal_for_flat(path, method, default), fixed))
    return found

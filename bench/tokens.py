"""Access tokens for load generators: real sessions, minted the way the tests' ``login`` helper does."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import text

from core.db import Database
from core.identity.sessions import SessionService
from core.models import SubjectKind
from core.settings import Settings


async def linked_people(db: Database, count: int, *, skip: int = 0) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """``count`` (account, citizen) pairs where the account acts as the citizen itself, a stable slice."""
    async with db.transaction() as session:
        rows = await session.execute(
            text(
                "SELECT ac.account_id, ac.citizen_id FROM account_citizens ac "
                "JOIN accounts a ON a.id = ac.account_id AND a.status = 'active' "
                "ORDER BY ac.account_id OFFSET :skip LIMIT :count"
            ),
            {"skip": skip, "count": count},
        )
        return [(r[0], r[1]) for r in rows]


async def mint_tokens(
    db: Database, settings: Settings, accounts: list[uuid.UUID], *, method: str = "bench"
) -> list[str]:
    """One live session and access token per account (15 minutes: mint right before the scenario)."""
    tokens: list[str] = []
    for start in range(0, len(accounts), 1000):
        async with db.transaction() as session:
            service = SessionService(session, settings)
            for account_id in accounts[start : start + 1000]:
                pair = await service.start(SubjectKind.account, account_id, method=method)
                tokens.append(pair.access_token)
    return tokens


async def citizen_tokens(
    db: Database, settings: Settings, count: int, *, skip: int = 0, method: str = "bench"
) -> list[tuple[uuid.UUID, str]]:
    """``count`` (citizen id, access token of the citizen's own account) pairs, from ``linked_people(skip=…)``."""
    people = await linked_people(db, count, skip=skip)
    tokens = await mint_tokens(db, settings, [account for account, _ in people], method=method)
    return [(citizen, token) for (_, citizen), token in zip(people, tokens, strict=True)]


def write_tokens(path: Path, pairs: list[tuple[uuid.UUID, str]]) -> Path:
    """``citizen_id token`` a line: the format the wrk scripts read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{citizen} {token}\n" for citizen, token in pairs))
    return path

"""``Idempotency-Key`` for client writes that may be retried (privacy-and-security.md, "Business logic").

The key row is inserted in the same transaction as the write. A concurrent retry with the same key waits on the
primary key until the first transaction ends, then finds the stored response and returns it unchanged; the same
key with a different body is a 422. (A retry after a crash of the first attempt finds nothing and runs the write.)
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Invalid
from core.models import IdempotencyRecord


def request_hash(method: str, path: str, body: Any) -> bytes:
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).digest()


class IdempotencyService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def begin(self, account_id: uuid.UUID, key: str, fingerprint: bytes) -> tuple[int, bytes] | None:
        """None: go ahead with the write. Otherwise the stored (status, body) of the first attempt."""
        if not 8 <= len(key) <= 100:
            raise Invalid(
                "Idempotency-Key must be 8–100 characters", code="bad_idempotency_key", field="Idempotency-Key"
            )
        inserted = await self.session.scalar(
            insert(IdempotencyRecord)
            .values(account_id=account_id, key=key, request_hash=fingerprint)
            .on_conflict_do_nothing()
            .returning(IdempotencyRecord.key)
        )
        if inserted is not None:
            return None
        stored = await self.session.scalar(
            select(IdempotencyRecord).where(IdempotencyRecord.account_id == account_id, IdempotencyRecord.key == key)
        )
        assert stored is not None
        if stored.request_hash != fingerprint:
            raise Invalid("this Idempotency-Key was used for another request", code="idempotency_key_reused")
        if stored.response_status is None or stored.response_body is None:
            return None
        return stored.response_status, stored.response_body

    async def finish(self, account_id: uuid.UUID, key: str, status: int, body: bytes) -> None:
        # One UPDATE rather than load-then-flush: this runs while a booking holds its slot's row lock.
        await self.session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.account_id == account_id, IdempotencyRecord.key == key)
            .values(response_status=status, response_body=body)
            .execution_options(synchronize_session=False)
        )

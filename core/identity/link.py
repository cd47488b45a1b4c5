"""Linking a logged-in phone to a person: ``POST /v1/auth/link`` {cccd, full_name, date_of_birth}.

- the CCCD, name and birth date match a citizen whose record carries this phone → linked at once;
- they match a citizen with another (or no) phone → a pending request that a health station confirms in person,
  because knowing someone's CCCD and birthday is not proof of being them;
- nobody has that CCCD → a new citizen record (part A) if the province allows self-registration.
A CCCD that exists with another name or birthday is answered exactly like a pending match (the station sorts it
out), so the endpoint cannot be used to test which CCCDs exist. Attempts are limited per account.
"""

from __future__ import annotations

import datetime as dt
import enum
import unicodedata
import uuid
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, Invalid, NotFound
from core.identifiers import InvalidIdentifier, parse_cccd
from core.models import Account, AccountCitizen, Citizen, LinkRequest, LinkRequestStatus, Sex
from core.pagination import keyset, split_page
from core.ratelimit import hit

LINK_ATTEMPTS_PER_DAY = 10


class LinkStatus(enum.StrEnum):
    linked = "linked"
    pending = "pending"
    created = "created"


@dataclass(frozen=True, slots=True)
class LinkOutcome:
    status: LinkStatus
    citizen_id: uuid.UUID | None  # None while pending: nothing about the matched person is revealed


def name_key(name: str) -> str:
    """Case, spacing and diacritics do not matter ("Nguyễn  Văn An" == "nguyen van an"); đ counts as d."""
    decomposed = unicodedata.normalize("NFD", name.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return " ".join(plain.casefold().split())


class LinkService:
    def __init__(self, session: AsyncSession, *, self_registration: bool, now: dt.datetime | None = None) -> None:
        self.session = session
        self.self_registration = self_registration
        self.now = now or dt.datetime.now(dt.UTC)

    async def link(self, account_id: uuid.UUID, *, cccd: str, full_name: str, date_of_birth: dt.date) -> LinkOutcome:
        try:
            parsed = parse_cccd(cccd)
        except InvalidIdentifier as exc:
            raise Invalid("not a valid CCCD", code=exc.code, field="cccd") from exc
        if not full_name.strip():
            raise Invalid("a name is required", code="name_required", field="full_name")
        if date_of_birth > self.now.date():
            raise Invalid("date of birth is in the future", code="dob_future", field="date_of_birth")
        await hit(
            self.session,
            f"link:{account_id}",
            limit=LINK_ATTEMPTS_PER_DAY,
            window=dt.timedelta(days=1),
            now=self.now,
            code="link_limit",
        )
        account = await self.session.get(Account, account_id)
        if account is None:
            raise NotFound("no such account", code="account_not_found")
        citizen = await self.session.scalar(select(Citizen).where(Citizen.cccd == parsed.value))
        if citizen is None:
            return await self._register(account, parsed.value, full_name, date_of_birth, parsed.sex)
        same_person = name_key(citizen.full_name) == name_key(full_name) and citizen.date_of_birth == date_of_birth
        if same_person and citizen.phone == account.phone:
            await self.session.execute(
                insert(AccountCitizen).values(account_id=account.id, citizen_id=citizen.id).on_conflict_do_nothing()
            )
            return LinkOutcome(LinkStatus.linked, citizen.id)
        await self.session.execute(
            insert(LinkRequest)
            .values(id=uuid.uuid4(), account_id=account.id, citizen_id=citizen.id)
            # A literal predicate: with a bound parameter, PostgreSQL's generic plan (from a prepared statement's
            # sixth run) cannot match the partial unique index, and the INSERT fails.
            .on_conflict_do_nothing(index_elements=["account_id", "citizen_id"], index_where=text("status = 'pending'"))
        )
        return LinkOutcome(LinkStatus.pending, None)

    async def _register(
        self, account: Account, cccd: str, full_name: str, date_of_birth: dt.date, sex: str
    ) -> LinkOutcome:
        if not self.self_registration:
            raise NotFound("no record matches; ask your health station", code="no_matching_record")
        citizen = Citizen(
            full_name=" ".join(full_name.split()),
            sex=Sex(sex),  # digit 4 of the CCCD encodes it; the station corrects it if that was a typo
            date_of_birth=date_of_birth,
            cccd=cccd,
            phone=account.phone,
        )
        self.session.add(citizen)
        await self.session.flush()
        self.session.add(AccountCitizen(account_id=account.id, citizen_id=citizen.id))
        return LinkOutcome(LinkStatus.created, citizen.id)


class LinkRequestService:
    """The station side: requests for citizens registered with the station, confirmed in person."""

    def __init__(self, session: AsyncSession, facility_id: uuid.UUID, now: dt.datetime | None = None) -> None:
        self.session = session
        self.facility_id = facility_id
        self.now = now or dt.datetime.now(dt.UTC)

    async def pending(
        self, *, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[tuple[LinkRequest, Citizen]], str | None]:
        """Oldest first, a page at a time: the person waiting longest is seen first."""
        query = keyset(
            select(LinkRequest, Citizen)
            .join(Citizen, Citizen.id == LinkRequest.citizen_id)
            .where(LinkRequest.status == LinkRequestStatus.pending, Citizen.home_facility_id == self.facility_id),
            LinkRequest.created_at,
            LinkRequest.id,
            limit=limit,
            cursor=cursor,
            newest_first=False,
        )
        rows = list((await self.session.execute(query)).tuples())
        return split_page(rows, limit, lambda row: (row[0].created_at, row[0].id))

    async def resolve(
        self, request_id: uuid.UUID, *, approve: bool, clinician_id: uuid.UUID
    ) -> tuple[LinkRequest, Citizen]:
        found = (
            await self.session.execute(
                select(LinkRequest, Citizen)
                .join(Citizen, Citizen.id == LinkRequest.citizen_id)
                .where(LinkRequest.id == request_id, Citizen.home_facility_id == self.facility_id)
                .with_for_update(of=LinkRequest)
            )
        ).one_or_none()
        if found is None:
            raise NotFound("no such link request", code="link_request_not_found")
        request: LinkRequest = found[0]
        citizen: Citizen = found[1]
        if request.status is not LinkRequestStatus.pending:
            raise Conflict("already resolved", code="link_request_resolved")
        request.status = LinkRequestStatus.approved if approve else LinkRequestStatus.rejected
        request.resolved_by = clinician_id
        request.resolved_at = self.now
        if approve:
            account = await self.session.get(Account, request.account_id)
            assert account is not None
            # Confirmed in person: this phone now belongs to the person's record.
            citizen.phone = account.phone
            await self.session.execute(
                insert(AccountCitizen).values(account_id=account.id, citizen_id=citizen.id).on_conflict_do_nothing()
            )
        return request, citizen

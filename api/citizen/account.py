"""The logged-in account: link to a person, device keys, sessions, ``/v1/me``, delegations."""

from __future__ import annotations

import uuid

from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import AccountPrincipal
from api.citizen.schemas import (
    CitizenRef,
    DelegationIn,
    DelegationOut,
    DeviceKeyIn,
    DeviceKeyOut,
    InvitationOut,
    LinkIn,
    LinkOut,
    MeOut,
    SessionOut,
)
from api.errors import problem_spec
from core.errors import Forbidden, NotFound
from core.identifiers import mask_phone
from core.identity.access import Relation, citizens_for_account, require_access
from core.identity.device_keys import DeviceKeyService
from core.identity.guardianship import DelegationService
from core.identity.link import LinkService
from core.identity.sessions import SessionService
from core.models import Account, Delegation, DeviceKey
from core.settings import Settings


def _key_out(key: DeviceKey) -> DeviceKeyOut:
    return DeviceKeyOut(
        key_id=key.id,
        algorithm=key.algorithm,
        label=key.label,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
    )


def _delegation_out(delegation: Delegation) -> DelegationOut:
    return DelegationOut(
        delegation_id=delegation.id,
        delegate_phone=mask_phone(delegation.delegate_phone),
        status=delegation.status.value,
        expires_at=delegation.expires_at,
        created_at=delegation.created_at,
    )


class LinkController(Controller):
    path = "/auth/link"
    tags = ["auth"]  # noqa: RUF012 - Litestar reads the class attribute

    @post(
        "/",
        status_code=200,
        summary="Link this phone to a person (CCCD, name, date of birth)",
        responses={
            422: problem_spec("Not a valid CCCD, or no such person and this phone may not register one"),
            429: problem_spec("Too many link attempts today; Retry-After says when to try again"),
        },
    )
    async def link(
        self,
        data: JSONBody[LinkIn],
        account: NamedDependency[AccountPrincipal],
        settings: NamedDependency[Settings],
        db_session: NamedDependency[AsyncSession],
    ) -> LinkOut:
        outcome = await LinkService(db_session, self_registration=settings.self_registration).link(
            account.account_id, cccd=data.cccd, full_name=data.full_name, date_of_birth=data.date_of_birth
        )
        return LinkOut(status=outcome.status.value, citizen_id=outcome.citizen_id)


class DeviceKeyController(Controller):
    path = "/auth/device/keys"
    tags = ["auth"]  # noqa: RUF012 - Litestar reads the class attribute

    @post(
        "/",
        status_code=201,
        summary="Register this phone's public key (right after an SMS login)",
        responses={422: problem_spec("Not a public key of a supported algorithm, or too many keys for this account")},
    )
    async def register(
        self,
        data: JSONBody[DeviceKeyIn],
        account: NamedDependency[AccountPrincipal],
        settings: NamedDependency[Settings],
        db_session: NamedDependency[AsyncSession],
    ) -> DeviceKeyOut:
        key = await DeviceKeyService(db_session, settings).register(
            account.account_id,
            account.session_id,
            algorithm=data.algorithm,
            public_jwk=data.public_key,
            label=data.label,
        )
        return _key_out(key)

    @get("/", summary="This account's device keys")
    async def list_keys(
        self,
        account: NamedDependency[AccountPrincipal],
        settings: NamedDependency[Settings],
        db_session: NamedDependency[AsyncSession],
    ) -> list[DeviceKeyOut]:
        return [_key_out(k) for k in await DeviceKeyService(db_session, settings).list_for_account(account.account_id)]

    @delete("/{key_id:uuid}", status_code=204, summary="Remove a device key (a lost phone); its sessions end")
    async def revoke(
        self,
        key_id: FromPath[uuid.UUID],
        account: NamedDependency[AccountPrincipal],
        settings: NamedDependency[Settings],
        db_session: NamedDependency[AsyncSession],
    ) -> None:
        await DeviceKeyService(db_session, settings).revoke(account.account_id, key_id)


class SessionController(Controller):
    path = "/auth/sessions"
    tags = ["auth"]  # noqa: RUF012 - Litestar reads the class attribute

    @get("/", summary="Where this account is logged in")
    async def list_sessions(
        self,
        account: NamedDependency[AccountPrincipal],
        settings: NamedDependency[Settings],
        db_session: NamedDependency[AsyncSession],
    ) -> list[SessionOut]:
        rows = await SessionService(db_session, settings).list_for_account(account.account_id)
        return [
            SessionOut(
                session_id=s.id,
                method=s.method,
                client_label=s.client_label,
                created_at=s.created_at,
                last_used_at=s.last_used_at,
                current=s.id == account.session_id,
            )
            for s in rows
        ]

    @delete("/{session_id:uuid}", status_code=204, summary="Log out a session (e.g. an old phone)")
    async def end_session(
        self,
        session_id: FromPath[uuid.UUID],
        account: NamedDependency[AccountPrincipal],
        settings: NamedDependency[Settings],
        db_session: NamedDependency[AsyncSession],
    ) -> None:
        await SessionService(db_session, settings).end_for_account(account.account_id, session_id)


class MeController(Controller):
    path = "/me"
    tags = ["account"]  # noqa: RUF012 - Litestar reads the class attribute

    @get("/", summary="The account and the citizens it may act for")
    async def me(
        self,
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> MeOut:
        row = await db_session.get(Account, account.account_id)
        if row is None:
            raise NotFound("no such account", code="account_not_found")
        citizens = await citizens_for_account(db_session, account.account_id)
        invitations = await DelegationService(db_session).invitations_for(row)
        return MeOut(
            account_id=row.id,
            phone=mask_phone(row.phone),
            locale=row.locale,
            citizens=[
                CitizenRef(
                    citizen_id=c.citizen_id,
                    full_name=c.full_name,
                    date_of_birth=c.date_of_birth,
                    relation=c.relation.value,
                )
                for c in citizens
            ],
            invitations=[InvitationOut(delegation_id=d.id, expires_at=d.expires_at) for d in invitations],
        )


class DelegationController(Controller):
    path = "/citizens/{citizen_id:uuid}/delegations"
    tags = ["delegations"]  # noqa: RUF012 - Litestar reads the class attribute

    @staticmethod
    async def _own(db_session: AsyncSession, account: AccountPrincipal, citizen_id: uuid.UUID) -> None:
        # Only the person themself hands out or withdraws a delegation; a delegate cannot pass it on.
        if await require_access(db_session, account.account_id, citizen_id) is not Relation.self:
            raise Forbidden("only the person may manage their delegations", code="delegation_owner_only")

    @post(
        "/",
        status_code=201,
        summary="Invite another adult to act for this person",
        responses={
            422: problem_spec("Not a Vietnamese mobile number, or one that may not be invited (this person's own)")
        },
    )
    async def invite(
        self,
        citizen_id: FromPath[uuid.UUID],
        data: JSONBody[DelegationIn],
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> DelegationOut:
        await self._own(db_session, account, citizen_id)
        delegation = await DelegationService(db_session).invite(
            citizen_id, account.account_id, delegate_phone=data.delegate_phone, days=data.days
        )
        return _delegation_out(delegation)

    @get("/", summary="This person's delegations")
    async def list_delegations(
        self,
        citizen_id: FromPath[uuid.UUID],
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> list[DelegationOut]:
        await self._own(db_session, account, citizen_id)
        return [_delegation_out(d) for d in await DelegationService(db_session).list_for_citizen(citizen_id)]

    @delete("/{delegation_id:uuid}", status_code=204, summary="Withdraw a delegation (effective at once)")
    async def revoke(
        self,
        citizen_id: FromPath[uuid.UUID],
        delegation_id: FromPath[uuid.UUID],
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> None:
        await self._own(db_session, account, citizen_id)
        await DelegationService(db_session).revoke(citizen_id, delegation_id)


class InvitationController(Controller):
    path = "/delegations/{delegation_id:uuid}"
    tags = ["delegations"]  # noqa: RUF012 - Litestar reads the class attribute

    @post(
        "/accept",
        status_code=200,
        summary="Accept an invitation sent to this phone",
        responses={409: problem_spec("The invitation was already answered, revoked or has expired")},
    )
    async def accept(
        self,
        delegation_id: FromPath[uuid.UUID],
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> DelegationOut:
        return _delegation_out(
            await DelegationService(db_session).answer(account.account_id, delegation_id, accept=True)
        )

    @post(
        "/decline",
        status_code=200,
        summary="Decline an invitation sent to this phone",
        responses={409: problem_spec("The invitation was already answered, revoked or has expired")},
    )
    async def decline(
        self,
        delegation_id: FromPath[uuid.UUID],
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> DelegationOut:
        return _delegation_out(
            await DelegationService(db_session).answer(account.account_id, delegation_id, accept=False)
        )

    @delete("/", status_code=204, summary="Stop acting for someone (as their delegate)")
    async def leave(
        self,
        delegation_id: FromPath[uuid.UUID],
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> None:
        await DelegationService(db_session).leave(account.account_id, delegation_id)


ACCOUNT_ROUTES = [
    LinkController,
    DeviceKeyController,
    SessionController,
    MeController,
    DelegationController,
    InvitationController,
]

"""``/v1/citizens/{citizen_id}/record``: the record for the person, their guardian or their delegate.

Reads: the whole record in one response, each section with pages, the FHIR export. Writes: the self-updatable
sections, with ``If-Match`` (the section's version, also sent as its ``ETag``) so two phones editing the same
record cannot silently overwrite each other. Clinical sections are read-only here.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from decimal import Decimal
from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import AccountPrincipal
from api.citizen.record_schemas import (
    AllergyIn,
    CitizenOut,
    ContactIn,
    CorrectionIn,
    CorrectionOut,
    CorrectionPageOut,
    FamilyHistoryIn,
    OtherIn,
    PageOut,
    RecordOut,
    ReproductiveIn,
    RiskFactorsIn,
    SectionScoreOut,
    VaccineOut,
    VitalIn,
)
from api.deps import programme_of
from api.errors import problem_spec
from core.consent.grants import log_proxy_read
from core.errors import NotFound
from core.identity.access import Relation, require_access
from core.immunization.service import CURRENT
from core.models import Citizen, CorrectionRequest, Source
from core.models.base import Base
from core.pagination import check_limit, decode_cursor, split_page
from core.records import fhir
from core.records.completeness import completeness
from core.records.corrections import CorrectionService
from core.records.guard import Actor
from core.records.reading import RowView
from core.records.sections import SECTIONS
from core.records.service import RecordService, bmi, columns_of

HIDDEN = frozenset({"citizen_id", "author_account_id", "author_clinician_id", "deleted_at", "created_at", "updated_at"})
WRITE_ERRORS = {
    412: problem_spec("If-Match does not match: someone else changed it first; reload and try again"),
    422: problem_spec("Invalid, or an excluded category (HIV/AIDS, drug addiction, sex work): nothing was stored"),
    428: problem_spec("If-Match is required to change an existing section"),
}
SectionName = enum.StrEnum("SectionName", {name.replace("-", "_"): name for name in SECTIONS})  # type: ignore[misc]


def item_out(row: Base | RowView) -> dict[str, Any]:
    values = row.as_dict() if isinstance(row, RowView) else columns_of(row)
    data = {key: value for key, value in values.items() if key not in HIDDEN}
    data["recorded_at"] = values.get("updated_at")
    if "weight_kg" in data:
        data["bmi"] = bmi(data.get("weight_kg"), data.get("height_cm"))
    return data


def citizen_out(c: Citizen | RowView) -> CitizenOut:
    return CitizenOut(
        citizen_id=c.id,
        full_name=c.full_name,
        sex=c.sex.value,
        date_of_birth=c.date_of_birth,
        cccd=c.cccd,
        bhxh_number=c.bhxh_number,
        ethnicity=c.ethnicity,
        occupation=c.occupation,
        blood_abo=c.blood_abo,
        blood_rh=c.blood_rh,
        email=c.email,
        cur_street=c.cur_street,
        cur_hamlet=c.cur_hamlet,
        cur_commune_code=c.cur_commune_code,
        caregiver_name=c.caregiver_name,
        caregiver_relation=c.caregiver_relation,
        caregiver_phone=c.caregiver_phone,
        version=c.version,
    )


def correction_out(r: CorrectionRequest) -> CorrectionOut:
    return CorrectionOut(
        correction_id=r.id,
        section=r.section,
        item_id=r.item_id,
        description=r.description,
        status=r.status.value,
        resolution=r.resolution,
        created_at=r.created_at,
        resolved_at=r.resolved_at,
    )


def if_match(request: Request[Any, Any, Any]) -> int | None:
    """``If-Match: "3"`` (or ``W/"3"``) → 3. Anything else matches nothing."""
    raw = request.headers.get("if-match")
    if raw is None:
        return None
    digits = raw.strip().removeprefix("W/").strip('"')
    return int(digits) if digits.isdigit() else -1


def etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}


def set_fields(data: msgspec.Struct) -> dict[str, Any]:
    return {f: getattr(data, f) for f in data.__struct_fields__ if getattr(data, f) is not msgspec.UNSET}


class RecordController(Controller):
    path = "/citizens/{citizen_id:uuid}/record"
    tags = ["record"]  # noqa: RUF012 - Litestar reads the class attribute

    @staticmethod
    async def _actor(
        db_session: AsyncSession, account: AccountPrincipal, citizen_id: uuid.UUID, *, reading: str | None = None
    ) -> Actor:
        relation = await require_access(db_session, account.account_id, citizen_id)
        if reading is not None and relation is not Relation.self:
            # A guardian or a delegate reading is an access by someone else: the person sees it in the log.
            await log_proxy_read(db_session, citizen_id, account.account_id, relation.value, [reading])
        return Actor(Source.self, account_id=account.account_id)

    @get("/", summary="The whole record (form 831) with completeness")
    async def record(
        self,
        citizen_id: FromPath[uuid.UUID],
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> RecordOut:
        await self._actor(db_session, account, citizen_id, reading="record")
        summary = await RecordService(db_session).summary(citizen_id)
        overall, scores = completeness(summary, dt.date.today())
        sections: dict[str, Any] = {
            name: item_out(row) if row is not None else None for name, row in summary.singles.items()
        }
        sections |= {name: [item_out(r) for r in rows] for name, rows in summary.lists.items()}
        return RecordOut(
            administrative=citizen_out(summary.citizen),
            sections=sections,
            completeness=overall,
            completeness_by_section=[SectionScoreOut(s.section, s.score, list(s.missing)) for s in scores],
        )

    @get("/sections/{section:str}", summary="One section: the item, or a page of items (newest first)")
    async def section(
        self,
        citizen_id: FromPath[uuid.UUID],
        section: FromPath[SectionName],
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
        limit: FromQuery[int] = 20,
        cursor: FromQuery[str | None] = None,
    ) -> Response[Any]:
        await self._actor(db_session, account, citizen_id, reading=section.value)
        spec = SECTIONS[section.value]
        service = RecordService(db_session)
        if spec.single:
            row = await service.single(citizen_id, spec)
            if row is None:
                raise NotFound("nothing recorded yet", code="section_empty")
            return Response(item_out(row), headers=etag(getattr(row, "version", 1)))
        check_limit(limit)
        rows: list[Any] = await service.items(
            citizen_id, spec, limit=limit + 1, before=decode_cursor(cursor) if cursor else None
        )
        rows, next_cursor = split_page(rows, limit, lambda r: (getattr(r, spec.order_by), r.id))
        return Response(PageOut(items=[item_out(r) for r in rows], next_cursor=next_cursor))

    async def _put(
        self,
        request: Request[Any, Any, Any],
        citizen_id: uuid.UUID,
        name: str,
        values: dict[str, Any],
        account: AccountPrincipal,
        db_session: AsyncSession,
    ) -> Response[Any]:
        actor = await self._actor(db_session, account, citizen_id)
        row = await RecordService(db_session, programme=programme_of(request)).put_single(
            citizen_id, name, values, actor=actor, if_match=if_match(request), path=f"PUT record/{name}"
        )
        return Response(item_out(row), headers=etag(getattr(row, "version", 1)))

    @put("/risk-factors", summary="B.2 risk factors (self-update; If-Match when it exists)", responses=WRITE_ERRORS)
    async def put_risk_factors(
        self,
        request: Request[Any, Any, Any],
        citizen_id: FromPath[uuid.UUID],
        data: JSONBody[RiskFactorsIn],
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> Response[Any]:
        return await self._put(request, citizen_id, "risk-factors", msgspec.structs.asdict(data), account, db_session)

    @put("/reproductive", summary="B.7 reproductive health (self-update)", responses=WRITE_ERRORS)
    async def put_reproductive(
        self,
        request: Request[Any, Any, Any],
        citizen_id: FromPath[uuid.UUID],
        data: JSONBody[ReproductiveIn],
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> Response[Any]:
        return await self._put(request, citizen_id, "reproductive", msgspec.structs.asdict(data), account, db_session)

    @put("/other", summary="B.8 other (self-update)", responses=WRITE_ERRORS)
    async def put_other(
        self,
        request: Request[Any, Any, Any],
        citizen_id: FromPath[uuid.UUID],
        data: JSONBody[OtherIn],
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> Response[Any]:
        return await self._put(request, citizen_id, "other", msgspec.structs.asdict(data), account, db_session)

    @patch("/contact", summary="Part A contact details (If-Match: the administrative version)", responses=WRITE_ERRORS)
    async def patch_contact(
        self,
        request: Request[Any, Any, Any],
        citizen_id: FromPath[uuid.UUID],
        data: JSONBody[ContactIn],
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> Response[CitizenOut]:
        actor = await self._actor(db_session, account, citizen_id)
        citizen = await RecordService(db_session).update_contact(
            citizen_id, set_fields(data), actor=actor, if_match=if_match(request), path="PATCH record/contact"
        )
        return Response(citizen_out(citizen), headers=etag(citizen.version))

    async def _add(
        self,
        citizen_id: uuid.UUID,
        name: str,
        values: dict[str, Any],
        account: AccountPrincipal,
        db_session: AsyncSession,
    ) -> dict[str, Any]:
        actor = await self._actor(db_session, account, citizen_id)
        # Self-added sections are never doses, so the immunization programme plays no part here.
        row = await RecordService(db_session).add_item(
            citizen_id, name, values, actor=actor, path=f"POST record/{name}"
        )
        return item_out(row)

    @post("/allergies", summary="Add an allergy (self-entered)", responses=WRITE_ERRORS)
    async def add_allergy(
        self,
        citizen_id: FromPath[uuid.UUID],
        data: JSONBody[AllergyIn],
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        return await self._add(citizen_id, "allergies", msgspec.structs.asdict(data), account, db_session)

    @post("/family-history", summary="Add a family-history entry (self-entered)", responses=WRITE_ERRORS)
    async def add_family_history(
        self,
        citizen_id: FromPath[uuid.UUID],
        data: JSONBody[FamilyHistoryIn],
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        values = msgspec.structs.asdict(data)
        if values.get("icd10"):
            values["icd10"] = values["icd10"].upper()
        return await self._add(citizen_id, "family-history", values, account, db_session)

    @post("/vitals", summary="Add a self-measured value", responses=WRITE_ERRORS)
    async def add_vital(
        self,
        citizen_id: FromPath[uuid.UUID],
        data: JSONBody[VitalIn],
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        units = {"blood_pressure": "mm[Hg]", "glucose": "mmol/L", "weight": "kg", "height": "cm"}
        values = msgspec.structs.asdict(data) | {"unit": units[data.kind]}
        # One decimal, exactly as typed: floats carry binary noise into a NUMERIC column otherwise.
        values["value"] = Decimal(str(data.value))
        values["value2"] = Decimal(str(data.value2)) if data.value2 is not None else None
        return await self._add(citizen_id, "vitals", values, account, db_session)

    @delete(
        "/sections/{section:str}/{item_id:uuid}",
        summary="Remove a self-entered item",
        status_code=204,
        responses=WRITE_ERRORS,
    )
    async def remove_item(
        self,
        request: Request[Any, Any, Any],
        citizen_id: FromPath[uuid.UUID],
        section: FromPath[SectionName],
        item_id: FromPath[uuid.UUID],
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> None:
        actor = await self._actor(db_session, account, citizen_id)
        if SECTIONS[section.value].single:
            raise NotFound("no such item", code="item_not_found")
        await RecordService(db_session, programme=programme_of(request)).remove_item(
            citizen_id, section.value, item_id, actor=actor, if_match=if_match(request)
        )


class FhirController(Controller):
    path = "/citizens/{citizen_id:uuid}"
    tags = ["record"]  # noqa: RUF012 - Litestar reads the class attribute

    @get("/record.fhir", summary="The record as a FHIR R4 Bundle (patient summary)", media_type="application/fhir+json")
    async def fhir_bundle(
        self,
        citizen_id: FromPath[uuid.UUID],
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        await RecordController._actor(db_session, account, citizen_id, reading="record.fhir")
        return fhir.bundle(await RecordService(db_session).summary(citizen_id))


class CorrectionController(Controller):
    path = "/citizens/{citizen_id:uuid}/corrections"
    tags = ["record"]  # noqa: RUF012 - Litestar reads the class attribute

    @post("/", summary="Ask the station to correct a clinical item", responses=WRITE_ERRORS)
    async def request_correction(
        self,
        citizen_id: FromPath[uuid.UUID],
        data: JSONBody[CorrectionIn],
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> CorrectionOut:
        await require_access(db_session, account.account_id, citizen_id)
        request = await CorrectionService(db_session).request(
            citizen_id,
            section=data.section,
            item_id=data.item_id,
            description=data.description,
            actor=Actor(Source.self, account_id=account.account_id),
            path="POST corrections",
        )
        return correction_out(request)

    @get("/", summary="Correction requests and their status, newest first (cursor pages)")
    async def list_corrections(
        self,
        citizen_id: FromPath[uuid.UUID],
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
        limit: FromQuery[int] = 20,
        cursor: FromQuery[str | None] = None,
    ) -> CorrectionPageOut:
        await require_access(db_session, account.account_id, citizen_id)
        rows, next_cursor = await CorrectionService(db_session).for_citizen(citizen_id, limit=limit, cursor=cursor)
        return CorrectionPageOut(items=[correction_out(r) for r in rows], next_cursor=next_cursor)


class VaccineController(Controller):
    path = "/vaccines"
    tags = ["record"]  # noqa: RUF012 - Litestar reads the class attribute

    @get("/", summary="The vaccine catalogue")
    async def catalogue(
        self, account: NamedDependency[AccountPrincipal], db_session: NamedDependency[AsyncSession]
    ) -> list[VaccineOut]:
        rows = await RecordService(db_session).vaccine_catalogue()
        return [VaccineOut(v.code, v.name_vi, v.name_en, v.programme, CURRENT.series_for(v.code)) for v in rows]


RECORD_ROUTES = [RecordController, FhirController, CorrectionController, VaccineController]

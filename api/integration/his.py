"""``POST /v1/integration/his/episodes``: one XML 130 episode file from a hospital's HIS → an import report.

The body is the file itself (``application/xml`` or ``text/xml``), at most 10 MiB (exclusion.md; larger → 413).
The client needs a machine token with the ``his:episodes:write`` scope; a client bound to a facility may only send
that facility's episodes. 201 when this call created something (an encounter, or a pending match for a station),
200 when nothing was stored (the episode was quarantined, or it had been imported before).
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException
from litestar.openapi.datastructures import ResponseSpec
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import MachinePrincipal, provide_machine
from api.errors import problem_spec
from core.identity.machines import SCOPE_HIS_EPISODES
from core.interop.episodes import Client, HisImportService
from core.interop.reports import ImportReport
from core.interop.xml130 import MAX_FILE_BYTES
from core.settings import Settings

XML_TYPES = frozenset({"application/xml", "text/xml"})


class HisEpisodeController(Controller):
    path = "/his/episodes"
    tags = ["integration"]  # noqa: RUF012 - Litestar reads the class attribute
    dependencies = {"machine": Provide(provide_machine)}  # noqa: RUF012
    security = [{"bearer": []}]  # noqa: RUF012 - a machine client's token, read by Litestar

    @post(
        "/",
        summary="Import one HIS episode (XML 130): screened for excluded categories, matched, recorded",
        description=(
            "The body is one XML 130 file (`application/xml`, at most 10 MiB): GIAMDINHHS/…/FILEHOSO, each table "
            "base64-encoded in NOIDUNGFILE. Idempotent on (MA_CSKCB, MA_LK): a repeat answers 200 with "
            "`already_imported` and the first import's ids."
        ),
        request_max_body_size=MAX_FILE_BYTES,
        responses={
            200: ResponseSpec(ImportReport, description="Already imported: the first import's report"),
            400: problem_spec("not well-formed XML, a DTD or entity declaration, too deep, not base64 (code xml_*)"),
            403: problem_spec("the token lacks his:episodes:write, or the episode is another facility's"),
            413: problem_spec("the file is larger than 10 MiB"),
            415: problem_spec("the body is not application/xml or text/xml"),
            422: problem_spec("well-formed, but not an XML 130 episode (no XML1, no MA_LK, bad MA_CSKCB …)"),
        },
    )
    async def import_episode(
        self,
        request: Request[Any, Any, Any],
        machine: NamedDependency[MachinePrincipal],
        settings: NamedDependency[Settings],
        db_session: NamedDependency[AsyncSession],
    ) -> Response[ImportReport]:
        machine.require(SCOPE_HIS_EPISODES)
        if request.headers.get("content-type", "").partition(";")[0].strip().lower() not in XML_TYPES:
            raise HTTPException(status_code=415, detail="send the file as application/xml")
        # Read only now, after the token and the type were checked: nobody unauthorised makes us buffer 10 MiB.
        data = await request.body()
        client = Client(client_id=machine.machine_id, facility_id=machine.facility_id)
        report = await HisImportService(db_session, settings).import_file(data, client)
        created = not report.already_imported and report.status != "quarantined"
        return Response(report, status_code=201 if created else 200)


ROUTES: list[Any] = [HisEpisodeController]

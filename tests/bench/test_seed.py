"""`phr bench seed` on a small province: the shape of the people, the records and the stations is realistic, the
vaccination histories follow the schedule, and nothing excluded is ever generated."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections import defaultdict
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from bench.bulk import check_foreign_keys
from bench.geography import plan_geography
from bench.population import build_population
from bench.seed import SeedOptions, SeedRefused, seed_province
from core.db import Database
from core.identifiers import is_vn_mobile_e164, normalize_vn_mobile, parse_bhyt_card, parse_cccd
from core.immunization.schedule import TT10_2024, evaluate
from core.immunization.service import is_pregnant
from core.progress import Progress
from core.records.exclusion import DEFAULT_POLICY
from core.scheduling.booking import generate_slots

TODAY = dt.date(2026, 11, 24)
CITIZENS = 3000


async def fetch(db: Database, query: str) -> list[Any]:
    async with db.engine.connect() as conn:
        return list((await conn.execute(text(query), {"today": TODAY})).all())


async def one(db: Database, query: str) -> Any:
    return (await fetch(db, query))[0]


@pytest.fixture
async def province(committed: Database) -> Database:
    options = SeedOptions(citizens=CITIZENS, today=TODAY, slot_days=7)
    report = await seed_province(committed, options, Progress(enabled=False))
    assert report.rows["citizens"] == CITIZENS
    assert report.triggers_skipped, "the test server lets the load check its foreign keys at once"
    assert report.rows["immunization_due"] > 0
    return committed


async def test_seeded_province_is_realistic_consistent_and_clean(province: Database) -> None:
    # One test over one seed: seeding is the slow part, and every check reads the same province.
    await check_places(province)
    await check_people(province)
    await check_accounts(province)
    await check_vaccinations(province)
    await check_records_hold_nothing_excluded(province)
    await check_slots(province)
    with pytest.raises(SeedRefused):
        await seed_province(province, SeedOptions(citizens=10, today=TODAY), Progress(enabled=False))


async def check_places(db: Database) -> None:
    (districts,) = await one(db, "SELECT count(*) FROM admin_units WHERE level = 'district'")
    assert districts == 13
    stations = await fetch(
        db,
        "SELECT count(f.id) FROM admin_units a LEFT JOIN facilities f ON f.commune_code = a.code "
        "AND f.kind = 'health_station' WHERE a.level = 'commune' GROUP BY a.code",
    )
    assert 160 <= len(stations) <= 180, "about Quảng Ngãi's number of communes"
    assert {count for (count,) in stations} == {1}, "one health station per commune"
    (hospitals,) = await one(db, "SELECT count(*) FROM facilities WHERE kind = 'hospital'")
    assert hospitals >= 2


async def check_people(db: Database) -> None:
    under_five, over_sixty, children = await one(
        db,
        "SELECT avg((date_of_birth > CAST(:today AS date) - interval '5 years')::int), "
        "avg((date_of_birth <= CAST(:today AS date) - interval '60 years')::int), "
        "avg((date_of_birth > CAST(:today AS date) - interval '15 years')::int) FROM citizens",
    )
    assert 0.045 <= under_five <= 0.11, "Vietnam: ~7 % under five"
    assert 0.09 <= over_sixty <= 0.2, "Vietnam: ~14 % aged 60 and over"
    assert 0.18 <= children <= 0.3, "Vietnam: ~24 % under fifteen"
    headless, size = await one(
        db,
        "SELECT count(*) FILTER (WHERE heads <> 1), avg(members) FROM ("
        " SELECT h.id, count(c.id) FILTER (WHERE c.relation_to_head = 'Chủ hộ') AS heads, count(c.id) AS members"
        " FROM households h LEFT JOIN citizens c ON c.household_id = h.id GROUP BY h.id) AS per_household",
    )
    assert headless == 0, "every household has exactly one head"
    assert 3.0 <= size <= 4.0, "~3.5 people per household"
    (adult_heads,) = await one(
        db,
        "SELECT count(*) FROM citizens WHERE relation_to_head = 'Chủ hộ'"
        " AND date_of_birth > CAST(:today AS date) - interval '18 years'",
    )
    assert adult_heads == 0, "no child heads a household"
    sample = await fetch(db, "SELECT cccd, sex, date_of_birth, bhxh_number FROM citizens ORDER BY id LIMIT 300")
    for cccd, sex, born, bhxh in sample:
        parsed = parse_cccd(cccd)
        assert (parsed.birth_year, str(parsed.sex)) == (born.year, sex), "CCCD digits 4–6 agree with the person"
        assert bhxh is None or len(bhxh) == 10
    for (card,) in await fetch(db, "SELECT card_number FROM insurance_cards LIMIT 300"):
        assert parse_bhyt_card(card).bhxh_number.startswith("51")


async def check_accounts(db: Database) -> None:
    adults, with_app = await one(
        db,
        "SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM account_citizens l JOIN devices d"
        " ON d.account_id = l.account_id WHERE l.citizen_id = c.id)) FROM citizens c"
        " WHERE c.date_of_birth <= CAST(:today AS date) - interval '18 years'",
    )
    assert 0.5 <= with_app / adults <= 0.7, "about 60 % of adults have the app"
    phones = await fetch(db, "SELECT a.phone, c.phone FROM accounts a JOIN account_citizens l ON l.account_id = a.id "
                             "JOIN citizens c ON c.id = l.citizen_id")  # fmt: skip
    assert all(account == citizen for account, citizen in phones), "the record carries the account's phone"
    assert all(is_vn_mobile_e164(p) and normalize_vn_mobile(p) == p and p[:5] in ("+8430", "+8431") for p, _ in phones)
    (minors_guarded, wrong) = await one(
        db,
        "SELECT count(DISTINCT g.citizen_id), count(*) FILTER (WHERE"
        " child.date_of_birth <= CAST(:today AS date) - interval '18 years'"
        " OR NOT EXISTS (SELECT 1 FROM account_citizens l WHERE l.citizen_id = g.guardian_citizen_id))"
        " FROM guardianships g JOIN citizens child ON child.id = g.citizen_id",
    )
    assert minors_guarded > 0
    assert wrong == 0, "guardians are parents with the app, of children under 18"


async def check_vaccinations(db: Database) -> None:
    """The schedule engine, run over every history generated, flags no dose as given too early."""
    doses: dict[uuid.UUID, list[tuple[str, dt.date]]] = defaultdict(list)
    for citizen, code, given in await fetch(
        db, "SELECT citizen_id, vaccine_code, given_on FROM record_vaccinations WHERE given_on IS NOT NULL"
    ):
        doses[citizen].append((code, given))
    people = await fetch(
        db,
        "SELECT c.id, c.date_of_birth, c.sex, r.expected_delivery_on FROM citizens c"
        " LEFT JOIN record_reproductive r ON r.citizen_id = c.id"
        " WHERE c.id IN (SELECT citizen_id FROM record_vaccinations)",
    )
    assert len(people) == len(doses) > 300
    early = 0
    for citizen, born, sex, delivery in people:
        pregnant = is_pregnant(delivery, TODAY)
        states = evaluate(
            TT10_2024,
            birth_date=born,
            sex=sex,
            pregnant=pregnant,
            given=doses[citizen],
            today=TODAY,
            delivery_on=delivery if pregnant else None,
        )
        early += sum(len(state.too_early) for state in states)
    assert early == 0
    statuses = dict(await fetch(db, "SELECT status, count(*) FROM immunization_due GROUP BY status"))
    assert statuses.get("due", 0) > 0 and statuses.get("overdue", 0) > 0, "cohorts for reminders and work lists"
    assert statuses["complete"] > statuses["overdue"], "most children are up to date"
    (stored_early,) = await one(db, "SELECT coalesce(sum(too_early), 0) FROM immunization_due")
    assert stored_early == 0


async def check_records_hold_nothing_excluded(db: Database) -> None:
    codes = await fetch(
        db,
        "SELECT icd10 FROM record_conditions UNION SELECT icd10 FROM record_diagnoses"
        " UNION SELECT icd10 FROM record_family_history",
    )
    assert {"I10", "E11"} <= {code for (code,) in codes}, "hypertension and diabetes among older people"
    assert [code for (code,) in codes if code and DEFAULT_POLICY.check_code(code)] == []
    texts = await fetch(
        db,
        "SELECT detail FROM record_conditions UNION SELECT text FROM record_diagnoses"
        " UNION SELECT conclusion FROM record_examinations UNION SELECT advice FROM record_examinations"
        " UNION SELECT not_given_reason FROM record_vaccinations",
    )
    assert [value for (value,) in texts if value and DEFAULT_POLICY.check_text(value)] == []
    (young_chronic,) = await one(
        db,
        "SELECT count(*) FROM record_conditions r JOIN citizens c ON c.id = r.citizen_id"
        " WHERE r.icd10 IN ('I10', 'E11') AND c.date_of_birth > CAST(:today AS date) - interval '30 years'",
    )
    assert young_chronic == 0, "chronic conditions are for older people"


async def check_slots(db: Database) -> None:
    (bare,) = await one(
        db,
        "SELECT count(*) FROM facilities f WHERE f.kind = 'health_station'"
        " AND NOT EXISTS (SELECT 1 FROM slots s WHERE s.facility_id = f.id AND s.starts_at > now())",
    )
    assert bare == 0, "every station has open slots in the coming days"
    services = await fetch(db, "SELECT id FROM facility_services ORDER BY id LIMIT 3")
    async with db.transaction() as session:
        # The stations' own slot generator finds nothing missing: the seed made exactly what it would make.
        assert [await generate_slots(session, sid, TODAY, 7) for (sid,) in services] == [0, 0, 0]


def test_the_same_seed_gives_the_same_people() -> None:
    def build(seed: int) -> tuple[bytes, ...]:
        rng = random.Random(seed)
        geography = plan_geography(rng, admin_codes=set(), facility_codes=set())
        people = build_population(rng, geography, 2000, TODAY)
        return (people.dob.tobytes(), bytes(people.male), bytes(people.relation), people.hh_commune.tobytes())

    assert build(7) == build(7)
    assert build(7) != build(8)


async def test_an_orphan_row_fails_the_load(connection: AsyncConnection) -> None:
    """The safety net behind skipping per-row foreign-key triggers: the check at the end finds what they would."""
    await connection.execute(text("SELECT 1"))  # opens the test's transaction, which is rolled back afterwards
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    assert driver.is_in_transaction()
    await driver.execute("SET LOCAL session_replication_role = replica")
    await driver.execute(
        "INSERT INTO households (id, code, commune_code) VALUES ($1, 'HGD-ORPHAN', '99999')", uuid.uuid4()
    )
    with pytest.raises(RuntimeError, match="foreign key"):
        await check_foreign_keys(driver, Progress(enabled=False), {"households": ("id", "code", "commune_code")})

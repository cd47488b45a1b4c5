"""Demo data: a small made-up slice of Quảng Ngãi for development and the README walkthrough.

Every person here is invented (names drawn from common Vietnamese name parts, identifiers generated with the
right shape). Administrative and facility codes are illustrative, shaped like the national lists but not copied
from them. Generation is deterministic so two developers see the same demo.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.identity.passwords import PASSWORDS
from core.models import (
    Account,
    AdminUnit,
    Citizen,
    Clinician,
    Facility,
    FacilityKind,
    Household,
    InsuranceCard,
    Sex,
    Source,
    StaffRole,
    UnitLevel,
)

PROVINCE = ("51", "Tỉnh Quảng Ngãi")
DISTRICTS = [("522", "Thành phố Quảng Ngãi"), ("527", "Huyện Sơn Tịnh"), ("528", "Huyện Tư Nghĩa")]
COMMUNES = [
    ("21109", "522", "Phường Nghĩa Chánh", "51T01", "Trạm Y tế phường Nghĩa Chánh"),
    ("21316", "527", "Xã Tịnh Ấn Tây", "51T02", "Trạm Y tế xã Tịnh Ấn Tây"),
    ("21424", "528", "Xã Nghĩa Kỳ", "51T03", "Trạm Y tế xã Nghĩa Kỳ"),
]
HOSPITAL = ("51001", "Bệnh viện Đa khoa tỉnh Quảng Ngãi (demo)")
DEMO_CLINICIAN = ("bs.demo", "demo-bacsi-2026")
DEMO_STATION_ADMIN = ("tyt.demo", "demo-tramyte-2026")

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Võ", "Phan", "Đặng", "Bùi", "Đỗ"]
MALE_MIDDLE = ["Văn", "Minh", "Hữu", "Đức", "Quốc"]
FEMALE_MIDDLE = ["Thị", "Ngọc", "Thanh", "Thu", "Mỹ"]
MALE_GIVEN = ["An", "Bình", "Cường", "Dũng", "Hùng", "Khoa", "Nam", "Phúc", "Quân", "Tuấn", "Sơn", "Vinh"]
FEMALE_GIVEN = ["Hà", "Hạnh", "Hoa", "Lan", "Linh", "Mai", "Nhung", "Thảo", "Trang", "Vy", "Yến", "Hương"]
HAMLETS = ["Thôn 1", "Thôn 2", "Thôn Phú Thọ", "Tổ dân phố 3", "Thôn An Hội"]
OCCUPATIONS = ["Nông dân", "Giáo viên", "Công nhân", "Buôn bán", "Nội trợ", "Ngư dân", "Viên chức"]


@dataclass(frozen=True, slots=True)
class DemoSummary:
    citizens: int
    households: int
    facilities: int


async def demo_present(session: AsyncSession) -> bool:
    return (await session.scalar(select(Facility.id).where(Facility.code == COMMUNES[0][3]))) is not None


async def seed_demo(session: AsyncSession, *, today: dt.date | None = None) -> DemoSummary | None:
    """Insert the demo slice unless it is already there; returns None when nothing was done."""
    if await demo_present(session):
        return None
    today = today or dt.date.today()
    rng = random.Random(831)  # noqa: S311 - demo data, not a secret
    session.add(AdminUnit(code=PROVINCE[0], level=UnitLevel.province, name=PROVINCE[1]))
    for code, name in DISTRICTS:
        session.add(AdminUnit(code=code, level=UnitLevel.district, name=name, parent_code=PROVINCE[0]))
    await session.flush()
    stations: list[Facility] = []
    for commune, district, name, fac_code, fac_name in COMMUNES:
        session.add(AdminUnit(code=commune, level=UnitLevel.commune, name=name, parent_code=district))
        await session.flush()
        station = Facility(code=fac_code, name=fac_name, kind=FacilityKind.health_station, commune_code=commune)
        session.add(station)
        stations.append(station)
    session.add(Facility(code=HOSPITAL[0], name=HOSPITAL[1], kind=FacilityKind.hospital, commune_code="21109"))
    await session.flush()

    session.add_all(
        [
            Clinician(
                facility_id=stations[0].id,
                full_name="BS. Trần Văn Demo",
                licence_number="000123/QNG-CCHN",
                role=StaffRole.clinician,
                username=DEMO_CLINICIAN[0],
                password_hash=PASSWORDS.hash(DEMO_CLINICIAN[1]),
            ),
            Clinician(
                facility_id=stations[0].id,
                full_name="YS. Lê Thị Demo",
                role=StaffRole.station_admin,
                username=DEMO_STATION_ADMIN[0],
                password_hash=PASSWORDS.hash(DEMO_STATION_ADMIN[1]),
            ),
        ]
    )

    citizens: list[Citizen] = []
    households = 0
    for index in range(13):
        commune = COMMUNES[index % len(COMMUNES)][0]
        station = stations[index % len(stations)]
        household = Household(
            code=f"HGD{commune}{index + 1:04d}",
            commune_code=commune,
            hamlet=rng.choice(HAMLETS),
            street=f"{rng.randint(1, 200)} đường số {rng.randint(1, 30)}",
        )
        session.add(household)
        await session.flush()
        households += 1
        members = _household_members(rng, today, index)
        family = rng.choice(FAMILY)
        head_phone = _demo_phone(index)
        mother = father = None
        for relation, sex, dob in members:
            name = _name(rng, family, sex)
            if relation == "Chủ hộ":
                father, mother = (name, None) if sex == Sex.male else (None, name)
            elif relation == "Vợ/Chồng":
                father, mother = (father, name) if sex == Sex.female else (name, mother)
            child = relation == "Con"
            citizen = Citizen(
                household_id=household.id,
                relation_to_head=relation,
                full_name=name,
                sex=sex,
                date_of_birth=dob,
                birth_province_code="051",
                blood_abo=rng.choice(["A", "B", "AB", "O"]),
                blood_rh="+" if rng.random() < 0.99 else "-",
                ethnicity="Kinh" if rng.random() < 0.85 else "Hrê",
                religion="Không",
                occupation=None if _age(dob, today) < 18 else rng.choice(OCCUPATIONS),
                cccd=_cccd(rng, sex, dob),
                bhxh_number=f"51{rng.randint(0, 99_999_999):08d}",
                perm_street=household.street,
                perm_hamlet=household.hamlet,
                perm_commune_code=commune,
                cur_street=household.street,
                cur_hamlet=household.hamlet,
                cur_commune_code=commune,
                phone=head_phone if relation == "Chủ hộ" else None,
                mother_name=mother if child else None,
                father_name=father if child else None,
                caregiver_phone=head_phone if child else None,
                home_facility_id=station.id,
            )
            session.add(citizen)
            citizens.append(citizen)
        session.add(Account(phone=head_phone))
    await session.flush()
    for citizen in citizens:
        assert citizen.bhxh_number is not None
        group, level = _bhyt_group(_age(citizen.date_of_birth, today))
        session.add(
            InsuranceCard(
                citizen_id=citizen.id,
                card_number=f"{group}{level}51{citizen.bhxh_number}",
                valid_from=dt.date(today.year, 1, 1),
                valid_to=dt.date(today.year, 12, 31),
            )
        )
    await session.flush()
    await _seed_records(session, citizens, stations, today, rng)
    return DemoSummary(citizens=len(citizens), households=households, facilities=len(stations) + 1)


async def _seed_records(
    session: AsyncSession, citizens: list[Citizen], stations: list[Facility], today: dt.date, rng: random.Random
) -> None:
    """A little of each record: birth doses for children, a condition and an examination for older people."""
    from core.records.guard import Actor
    from core.records.service import RecordService

    service = RecordService(session)
    for citizen in citizens:
        station = Actor(Source.station, facility_id=citizen.home_facility_id or stations[0].id)
        age = _age(citizen.date_of_birth, today)
        if age < 6:
            for code, days in (("HEPB0", 0), ("BCG", 7)):
                given = citizen.date_of_birth + dt.timedelta(days=days)
                await service.add_item(
                    citizen.id,
                    "vaccinations",
                    {"vaccine_code": code, "dose_number": 1, "given_on": given, "place": "TYT"},
                    actor=station,
                    path="demo",
                )
        if age >= 50 and rng.random() < 0.6:
            await service.add_item(
                citizen.id,
                "conditions",
                {"kind": "hypertension", "icd10": "I10", "detail": "Tăng huyết áp, theo dõi tại trạm"},
                actor=station,
                path="demo",
            )
            await service.add_examination(
                citizen.id,
                {
                    "examined_on": today - dt.timedelta(days=rng.randint(30, 300)),
                    "pulse": rng.randint(65, 90),
                    "bp_systolic": rng.randint(125, 160),
                    "bp_diastolic": rng.randint(75, 100),
                    "weight_kg": rng.randint(45, 75),
                    "height_cm": rng.randint(148, 172),
                    "conclusion": "Tăng huyết áp, tiếp tục điều trị",
                    "advice": "Ăn nhạt, tập thể dục",
                },
                [{"icd10": "I10", "text": "Tăng huyết áp vô căn", "main": True}],
                actor=station,
                path="demo",
            )


def demo_logins() -> list[tuple[str, str]]:
    """What `phr serve` prints in embedded mode so a developer can log in (made-up numbers and passwords)."""
    return [
        ("citizen phone (the SMS code appears in the server log)", _demo_phone(0)),
        ("citizen phone", _demo_phone(1)),
        ("clinician (username / password)", f"{DEMO_CLINICIAN[0]} / {DEMO_CLINICIAN[1]}"),
        ("station admin (username / password)", f"{DEMO_STATION_ADMIN[0]} / {DEMO_STATION_ADMIN[1]}"),
    ]


def _demo_phone(household_index: int) -> str:
    return f"+849050{household_index + 1:05d}"


def _household_members(rng: random.Random, today: dt.date, index: int) -> list[tuple[str, Sex, dt.date]]:
    """A head, usually a spouse, 1–3 children (some under 6 for the vaccination schedule), sometimes a grandparent."""
    head_sex = Sex.male if rng.random() < 0.7 else Sex.female
    head_age = rng.randint(28, 55)
    members = [("Chủ hộ", head_sex, _birthday(rng, today, head_age))]
    if rng.random() < 0.85:
        other = Sex.female if head_sex == Sex.male else Sex.male
        members.append(("Vợ/Chồng", other, _birthday(rng, today, head_age + rng.randint(-4, 4))))
    for child in range(rng.randint(1, 3)):
        # Every third household has a baby so the immunisation schedule has someone to remind.
        age = rng.randint(0, 1) if (index % 3 == 0 and child == 0) else rng.randint(0, max(1, head_age - 22))
        members.append(("Con", rng.choice([Sex.male, Sex.female]), _birthday(rng, today, age)))
    if rng.random() < 0.35:
        members.append(("Bố/Mẹ", rng.choice([Sex.male, Sex.female]), _birthday(rng, today, rng.randint(62, 88))))
    return members


def _birthday(rng: random.Random, today: dt.date, age: int) -> dt.date:
    return today - dt.timedelta(days=age * 365 + rng.randint(15, 350))


def _age(dob: dt.date, today: dt.date) -> int:
    return today.year - dob.year - ((today.month, today.day) < (dob.month, dob.day))


def _name(rng: random.Random, family: str, sex: Sex) -> str:
    middle = rng.choice(MALE_MIDDLE if sex == Sex.male else FEMALE_MIDDLE)
    given = rng.choice(MALE_GIVEN if sex == Sex.male else FEMALE_GIVEN)
    return f"{family} {middle} {given}"


def _cccd(rng: random.Random, sex: Sex, dob: dt.date) -> str:
    # Digit 4 encodes century and sex (identifiers.md): 1900s male 0 / female 1, 2000s male 2 / female 3.
    century = (dob.year // 100) - 19
    digit = century * 2 + (1 if sex == Sex.female else 0)
    return f"051{digit}{dob.year % 100:02d}{rng.randint(0, 999_999):06d}"


def _bhyt_group(age: int) -> tuple[str, int]:
    if age < 6:
        return "TE", 1  # children under 6
    if age < 18:
        return "HS", 4  # pupils
    if age >= 60:
        return "HT", 2  # pensioners
    return "GD", 4  # household-based insurance

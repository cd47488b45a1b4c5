"""Rows of part A and of the accounts around it: households, citizens, insurance cards, accounts with their app
installations, guardianships. Each function streams tuples in the column order it declares, for COPY.

Identifiers have the real shapes (identifiers.md) and are unique by construction: a counter per CCCD prefix and
for BHXH numbers, run through a permutation so they do not look sequential, skipping any value the database
already holds. Phone numbers are in 030 and 031, ranges no Vietnamese carrier has been given: clearly synthetic,
yet valid E.164 mobiles the OTP login accepts.
"""

from __future__ import annotations

import datetime as dt
import random
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field

from bench.bulk import IdBlock
from bench.geography import BIRTH_PROVINCE, PROVINCE_CODE, Geography
from bench.population import CHILD, GRANDCHILD, RELATIONS, Population

CITIZEN_COLUMNS = (
    "id", "household_id", "relation_to_head", "full_name", "sex", "date_of_birth", "birth_province_code",
    "blood_abo", "blood_rh", "ethnicity", "religion", "occupation", "cccd", "cccd_issued_on", "cccd_issued_by",
    "cmnd", "bhxh_number", "perm_street", "perm_hamlet", "perm_commune_code", "cur_street", "cur_hamlet",
    "cur_commune_code", "phone", "mother_name", "father_name", "caregiver_name", "caregiver_relation",
    "caregiver_phone", "home_facility_id",
)  # fmt: skip
HOUSEHOLD_COLUMNS = ("id", "code", "commune_code", "hamlet", "street")
CARD_COLUMNS = ("id", "citizen_id", "card_number", "valid_from", "valid_to")
ACCOUNT_COLUMNS = ("id", "phone", "last_login_at")
ACCOUNT_CITIZEN_COLUMNS = ("account_id", "citizen_id")
DEVICE_COLUMNS = ("id", "account_id", "installation_id", "token", "platform", "app_version", "last_seen_at")
GUARDIAN_COLUMNS = ("id", "guardian_citizen_id", "citizen_id", "relation", "source")

OTHER_BIRTH_PROVINCES = ("048", "049", "052", "062", "001", "079")  # Đà Nẵng, Quảng Nam, Bình Định, Kon Tum, …
STREETS = ("Quang Trung", "Lê Lợi", "Hùng Vương", "Phan Đình Phùng", "Nguyễn Nghiêm", "Trần Hưng Đạo",
           "Lê Trung Đình", "Phạm Văn Đồng", "Bà Triệu", "Trương Định", "Lê Thánh Tôn")  # fmt: skip
HAMLETS = ("An Hội", "Phú Thọ", "Thạch By", "Tân Mỹ", "Vạn Tường", "Mỹ Lại", "Xuân Vinh", "Long Bàn", "Đông Yên",
           "Trường Xuân", "Hòa Bình", "Tân An")  # fmt: skip
BLOOD = ("O", "B", "A", "AB")
BLOOD_WEIGHTS = (42, 31, 21, 6)
RURAL_JOBS = ("Nông dân", "Ngư dân", "Công nhân", "Buôn bán", "Nội trợ", "Lao động tự do", "Giáo viên")
URBAN_JOBS = ("Công nhân", "Buôn bán", "Viên chức", "Nhân viên văn phòng", "Nội trợ", "Lao động tự do", "Giáo viên")
CCCD_ISSUER = "Cục Cảnh sát quản lý hành chính về trật tự xã hội"
# Multipliers coprime with 10**6 and 10**8 (odd, not ending in 5): a counter times one, modulo, never repeats, and
# consecutive counters land far apart.
PERMUTE_6, PERMUTE_8 = 618_033, 61_803_399
PHONE_LIMIT = 20_000_000  # 030xxxxxxx and 031xxxxxxx


@dataclass(frozen=True, slots=True)
class Taken:
    """Unique values the database already holds: a ``--force`` seed must not collide with them."""

    admin_codes: set[str] = field(default_factory=set)
    facility_codes: set[str] = field(default_factory=set)
    household_codes: set[str] = field(default_factory=set)
    cccds: set[str] = field(default_factory=set)
    bhxh_numbers: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)


def phone(number: int) -> str:
    return f"+843{number:08d}"


@dataclass
class PeoplePlan:
    """Everything about part A decided before the rows go out (other tables refer to it)."""

    today: dt.date
    geography: Geography
    people: Population
    station_ids: list[str]  # per commune
    household_ids: IdBlock
    citizen_ids: IdBlock
    account_ids: IdBlock
    run_tag: str
    account_of: array[int] = field(default_factory=lambda: array("i"))  # account number, -1 without the app
    phone_numbers: array[int] = field(default_factory=lambda: array("I"))  # per account: what follows +843
    bhxh: array[int] = field(default_factory=lambda: array("I"))  # per person, 0: none on record
    addresses: list[tuple[str | None, str]] = field(default_factory=list)  # per household: (street, hamlet)

    @property
    def accounts(self) -> int:
        return len(self.phone_numbers)

    def phone_of(self, person: int) -> str | None:
        account = self.account_of[person]
        return None if account < 0 else phone(self.phone_numbers[account])


def app_share(age: int) -> float:
    """Who has installed the app: most young adults, few of the old (about 60 % of adults in all)."""
    if age < 18:
        return 0.0
    for limit, share in ((30, 0.82), (45, 0.74), (60, 0.6), (70, 0.35)):
        if age < limit:
            return share
    return 0.12


def plan_accounts(plan: PeoplePlan, rng: random.Random, taken: Taken) -> None:
    number = 0
    for age in plan.people.age:
        if rng.random() < app_share(age):
            while phone(number) in taken.phones:
                number += 1
            if number >= PHONE_LIMIT:
                raise ValueError("more accounts than the synthetic phone ranges hold")
            plan.account_of.append(len(plan.phone_numbers))
            plan.phone_numbers.append(number)
            number += 1
        else:
            plan.account_of.append(-1)


def plan_insurance(plan: PeoplePlan, rng: random.Random, taken: Taken) -> None:
    """About 93 % of people hold a BHYT card; the BHXH number is province code + 8 digits."""
    salt, counter = rng.randrange(10**8), 0
    for _ in range(plan.people.size):
        if rng.random() < 0.93:
            value = (counter * PERMUTE_8 + salt) % 10**8
            counter += 1
            while value == 0 or f"{PROVINCE_CODE}{value:08d}" in taken.bhxh_numbers:
                value = (counter * PERMUTE_8 + salt) % 10**8
                counter += 1
            plan.bhxh.append(value)
        else:
            plan.bhxh.append(0)


def household_rows(plan: PeoplePlan, rng: random.Random, taken: Taken) -> Iterator[tuple[object, ...]]:
    """Households in commune order, numbered per commune; their addresses are kept for the citizen rows."""
    people, communes = plan.people, plan.geography.communes
    sequence: dict[int, int] = {}
    for household in range(people.households):
        commune = communes[people.hh_commune[household]]
        number = sequence.get(commune.index, 0) + 1
        while (code := f"HGD{commune.code}{number:05d}") in taken.household_codes:
            number += 1
        sequence[commune.index] = number
        if commune.ward:
            address: tuple[str | None, str] = (
                f"{rng.randint(1, 400)} {rng.choice(STREETS)}",
                f"Tổ dân phố {rng.randint(1, 15)}",
            )
        else:
            address = (None, f"Thôn {rng.choice(HAMLETS)}" if rng.random() < 0.5 else f"Thôn {rng.randint(1, 12)}")
        plan.addresses.append(address)
        yield (plan.household_ids(household), code, commune.code, address[1], address[0])


def citizen_rows(plan: PeoplePlan, rng: random.Random, taken: Taken) -> Iterator[tuple[object, ...]]:
    people, communes, today = plan.people, plan.geography.communes, plan.today
    addresses = plan.addresses
    counters: dict[str, int] = {}
    salt = rng.randrange(10**6)
    first_issue = dt.date(2021, 1, 1).toordinal()  # the chip CCCD campaign
    for person in range(people.size):
        household = people.household[person]
        commune = communes[people.hh_commune[household]]
        age, male, dob = people.age[person], people.male[person], people.dob[person]
        born = dt.date.fromordinal(dob)
        province = BIRTH_PROVINCE if rng.random() < 0.93 else rng.choice(OTHER_BIRTH_PROVINCES)
        century = (born.year // 100 - 19) * 2 + (0 if male else 1)
        prefix = f"{province}{century}{born.year % 100:02d}"
        # Each prefix starts somewhere else in the permutation, so first-born of each year do not share digits.
        counter = counters.get(prefix, int(prefix) % 10**6)
        while (cccd := f"{prefix}{(counter * PERMUTE_6 + salt) % 10**6:06d}") in taken.cccds:
            counter += 1
        counters[prefix] = counter + 1
        issued = None
        if age >= 14:
            issued = dt.date.fromordinal(min(today.toordinal(), max(first_issue + rng.randrange(1400), dob + 14 * 366)))
        street, hamlet = addresses[household]
        minority = people.hh_minority[household]
        mother_name = father_name = caregiver = relation = caregiver_phone = None
        if people.relation[person] in (CHILD, GRANDCHILD) and age < 18:
            mother, father = people.mother[person], people.father[person]
            mother_name = people.full_name(mother) if mother >= 0 else None
            father_name = people.full_name(father) if father >= 0 else None
            carer = mother if mother >= 0 else father
            if carer >= 0:
                caregiver, relation = people.full_name(carer), "Mẹ" if carer == mother else "Bố"
                caregiver_phone = plan.phone_of(carer)
        known_blood = rng.random() < 0.45
        bhxh = plan.bhxh[person]
        yield (
            plan.citizen_ids(person),
            plan.household_ids(household),
            RELATIONS[people.relation[person]],
            people.full_name(person),
            "male" if male else "female",
            born,
            province,
            rng.choices(BLOOD, BLOOD_WEIGHTS)[0] if known_blood else None,
            ("-" if rng.random() < 0.001 else "+") if known_blood else None,
            commune.district.ethnicity if minority else "Kinh",
            "Không" if minority or rng.random() < 0.87 else rng.choice(("Phật giáo", "Phật giáo", "Công giáo")),
            _occupation(rng, age, commune.ward),
            cccd,
            issued,
            CCCD_ISSUER if issued else None,
            f"21{rng.randrange(10**7):07d}" if age >= 30 and rng.random() < 0.25 else None,
            f"{PROVINCE_CODE}{bhxh:08d}" if bhxh else None,
            street,
            hamlet,
            commune.code,
            street,
            hamlet,
            commune.code,
            plan.phone_of(person),
            mother_name,
            father_name,
            caregiver,
            relation,
            caregiver_phone,
            plan.station_ids[commune.index],
        )


def _occupation(rng: random.Random, age: int, urban: bool) -> str | None:
    if age < 6:
        return None
    if age < 18 or (age < 23 and rng.random() < 0.4):
        return "Học sinh" if age < 18 else "Sinh viên"
    if age >= 60 and rng.random() < 0.35:
        return "Hưu trí"
    return rng.choice(URBAN_JOBS if urban else RURAL_JOBS)


def _card_group(rng: random.Random, age: int) -> str:
    """Beneficiary group and benefit level (identifiers.md): TE under 6, HS pupils, HT pensioners, BT over 80 …"""
    if age < 6:
        return "TE1"
    if age < 18:
        return "HS4"
    if age >= 80:
        return "BT2"
    draw = rng.random()
    if age >= 60:
        return "HT3" if draw < 0.3 else "CC1" if draw < 0.35 else "GD4"
    return "DN4" if draw < 0.3 else "HC4" if draw < 0.36 else "HN2" if draw < 0.42 else "GD4"


def card_rows(plan: PeoplePlan, rng: random.Random, ids: IdBlock) -> Iterator[tuple[object, ...]]:
    start, end = dt.date(plan.today.year, 1, 1), dt.date(plan.today.year, 12, 31)
    card = 0
    for person in range(plan.people.size):
        if bhxh := plan.bhxh[person]:
            number = f"{_card_group(rng, plan.people.age[person])}{PROVINCE_CODE}{PROVINCE_CODE}{bhxh:08d}"
            yield (ids(card), plan.citizen_ids(person), number, start, end)
            card += 1


def account_rows(plan: PeoplePlan, rng: random.Random, now: dt.datetime) -> Iterator[tuple[object, ...]]:
    for account in range(plan.accounts):
        last_login = now - dt.timedelta(minutes=rng.randrange(60 * 24 * 120))
        yield (plan.account_ids(account), phone(plan.phone_numbers[account]), last_login)


def account_citizen_rows(plan: PeoplePlan) -> Iterator[tuple[object, ...]]:
    for person, account in enumerate(plan.account_of):
        if account >= 0:
            yield (plan.account_ids(account), plan.citizen_ids(person))


def device_rows(plan: PeoplePlan, rng: random.Random, ids: IdBlock, now: dt.datetime) -> Iterator[tuple[object, ...]]:
    """One app installation per account, with a fake FCM token that says what it is."""
    for account in range(plan.accounts):
        # Most phones opened the app this month; a few have not for the better part of a year (stale tokens).
        idle_days = rng.randint(200, 400) if rng.random() < 0.04 else int(rng.expovariate(1 / 6))
        yield (
            ids(account),
            plan.account_ids(account),
            f"bench-{plan.run_tag}-{account:08d}",
            f"bench-fcm-{plan.run_tag}-{account:08d}:{rng.getrandbits(64):016x}",
            "android" if rng.random() < 0.72 else "ios",
            rng.choice(("1.3.0", "1.4.0", "1.4.2")),
            now - dt.timedelta(days=idle_days, minutes=rng.randrange(1440)),
        )


def guardianship_rows(plan: PeoplePlan, ids: IdBlock) -> Iterator[tuple[object, ...]]:
    """Each child under 18 is linked to whichever of its parents has the app (the reminders go to them)."""
    people, row = plan.people, 0
    for person in range(people.size):
        if people.age[person] >= 18:
            continue
        for parent, relation in ((people.mother[person], "mother"), (people.father[person], "father")):
            if parent >= 0 and plan.account_of[parent] >= 0:
                yield (ids(row), plan.citizen_ids(parent), plan.citizen_ids(person), relation, "birth_data")
                row += 1

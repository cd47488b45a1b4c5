"""A Quảng Ngãi-like province: 13 districts, ~170 communes, one health station per commune, a few hospitals.

District names and rough sizes follow Quảng Ngãi before the 2025 reorganisation (~1.2 M people, mountain districts
in the west where most people are Hrê, Cor or Ca Dong). Commune names are made up from the local pattern (a
district syllable and a second one: "Tịnh Ấn", "Nghĩa Kỳ"), and every code is illustrative: shaped like the
national lists (2-digit province, 3-digit district, 5-digit commune, 5-character MA_CSKCB), never copied from
them. Codes already present in the database are skipped, so a ``--force`` seed can sit beside other data.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass

PROVINCE_CODE = "51"
PROVINCE_NAME = "Tỉnh Quảng Ngãi"
BIRTH_PROVINCE = "051"  # the province's prefix in personal identification numbers


@dataclass(frozen=True, slots=True)
class DistrictSpec:
    code: str
    name: str
    syllable: str  # first syllable of its communes' names
    communes: int
    people: int  # thousands, only the proportions matter
    wards: int  # urban communes (phường): addresses with streets, more office jobs
    minority: float  # share of households of the district's ethnic minority
    ethnicity: str


DISTRICTS: tuple[DistrictSpec, ...] = (
    DistrictSpec("522", "Thành phố Quảng Ngãi", "Nghĩa", 23, 270, 9, 0.01, "Hrê"),
    DistrictSpec("524", "Huyện Bình Sơn", "Bình", 22, 180, 1, 0.01, "Cor"),
    DistrictSpec("525", "Huyện Trà Bồng", "Trà", 16, 50, 1, 0.70, "Cor"),
    DistrictSpec("527", "Huyện Sơn Tịnh", "Tịnh", 11, 100, 0, 0.01, "Hrê"),
    DistrictSpec("528", "Huyện Tư Nghĩa", "Nghĩa", 15, 130, 2, 0.02, "Hrê"),
    DistrictSpec("529", "Huyện Sơn Hà", "Sơn", 14, 75, 1, 0.80, "Hrê"),
    DistrictSpec("530", "Huyện Sơn Tây", "Sơn", 9, 20, 0, 0.85, "Ca Dong"),
    DistrictSpec("531", "Huyện Minh Long", "Long", 5, 18, 0, 0.75, "Hrê"),
    DistrictSpec("532", "Huyện Nghĩa Hành", "Hành", 12, 90, 1, 0.02, "Hrê"),
    DistrictSpec("533", "Huyện Mộ Đức", "Đức", 13, 125, 1, 0.01, "Hrê"),
    DistrictSpec("534", "Thị xã Đức Phổ", "Phổ", 15, 145, 8, 0.01, "Hrê"),
    DistrictSpec("535", "Huyện Ba Tơ", "Ba", 19, 55, 1, 0.85, "Hrê"),
    DistrictSpec("536", "Huyện Lý Sơn", "An", 2, 22, 0, 0.0, "Kinh"),
)
SECOND_SYLLABLES = (
    "An", "Bình", "Châu", "Chánh", "Điền", "Đông", "Hải", "Hiệp", "Hòa", "Khánh", "Kỳ", "Lâm", "Lộc", "Long",
    "Lợi", "Minh", "Mỹ", "Nam", "Phong", "Phú", "Phước", "Quang", "Sơn", "Tân", "Thạnh", "Thắng", "Thiện", "Thịnh",
    "Thuận", "Thủy", "Tín", "Trung", "Vinh", "Xuân",
)  # fmt: skip
HOSPITALS = (
    ("51001", "hospital", "Bệnh viện Đa khoa tỉnh Quảng Ngãi (mô phỏng)"),
    ("51002", "hospital", "Bệnh viện Sản – Nhi tỉnh Quảng Ngãi (mô phỏng)"),
    ("51003", "hospital", "Bệnh viện Y học cổ truyền tỉnh Quảng Ngãi (mô phỏng)"),
)
FIRST_COMMUNE_CODE = 21100
FIRST_STATION_NUMBER = 100  # station codes 51100, 51101, …
FIRST_CENTER_NUMBER = 10  # district health centres 51010, 51011, …


@dataclass(frozen=True, slots=True)
class Commune:
    index: int
    code: str
    name: str
    district: DistrictSpec
    district_code: str  # may differ from district.code when that code was already taken
    ward: bool
    weight: float  # share of the province's households
    station_code: str
    station_name: str


@dataclass(frozen=True, slots=True)
class Geography:
    province_code: str
    province_exists: bool
    districts: tuple[tuple[str, DistrictSpec], ...]  # (code used, spec)
    communes: tuple[Commune, ...]
    other_facilities: tuple[tuple[str, str, str, str], ...]  # (code, kind, name, commune code)


def _free(preferred: int, width: int, taken: set[str]) -> str:
    """The preferred code, or the next one up that nobody uses yet."""
    number = preferred
    while f"{number:0{width}d}" in taken:
        number += 1
    code = f"{number:0{width}d}"
    taken.add(code)
    return code


def plan_geography(rng: random.Random, *, admin_codes: set[str], facility_codes: set[str]) -> Geography:
    """Codes and names of every unit and facility; ``admin_codes`` and ``facility_codes`` are those already used."""
    admin_taken, facility_taken = set(admin_codes), set(facility_codes)
    province_exists = PROVINCE_CODE in admin_taken
    total = sum(d.people for d in DISTRICTS)
    districts: list[tuple[str, DistrictSpec]] = []
    communes: list[Commune] = []
    next_commune = FIRST_COMMUNE_CODE
    for spec in DISTRICTS:
        district_code = _free(int(spec.code), 3, admin_taken)
        districts.append((district_code, spec))
        names = rng.sample(SECOND_SYLLABLES, spec.communes)
        for position, second in enumerate(names):
            code = _free(next_commune, 5, admin_taken)
            next_commune = int(code) + 1
            ward = position < spec.wards
            name = f"{'Phường' if ward else 'Xã'} {spec.syllable} {second}"
            station = _free(int(PROVINCE_CODE) * 1000 + FIRST_STATION_NUMBER + len(communes), 5, facility_taken)
            communes.append(
                Commune(
                    index=len(communes),
                    code=code,
                    name=name,
                    district=spec,
                    district_code=district_code,
                    ward=ward,
                    # Towns are denser than villages: wards get a larger share of their district.
                    weight=spec.people / total / spec.communes * (1.6 if ward else 1.0),
                    station_code=station,
                    station_name=f"Trạm Y tế {_lower_first(name)}",
                )
            )
    scale = sum(c.weight for c in communes)
    communes = [dataclasses.replace(c, weight=c.weight / scale) for c in communes]
    capital = communes[0].code
    others: list[tuple[str, str, str, str]] = [
        (_free(int(code), 5, facility_taken), kind, name, capital) for code, kind, name in HOSPITALS
    ]
    for number, (district_code, spec) in enumerate(districts):
        seat = next(c.code for c in communes if c.district_code == district_code)
        code = _free(int(PROVINCE_CODE) * 1000 + FIRST_CENTER_NUMBER + number, 5, facility_taken)
        others.append((code, "district_center", f"Trung tâm Y tế {_lower_first(spec.name)}", seat))
    return Geography(PROVINCE_CODE, province_exists, tuple(districts), tuple(communes), tuple(others))


def _lower_first(name: str) -> str:
    """Inside a longer name a unit's kind is lower case: "Trạm Y tế xã Nghĩa Kỳ"."""
    return name[0].lower() + name[1:]

"""The synthetic people: ages from Vietnam's pyramid, couples, children placed with a mother of a plausible age,
grandparents living with a son's family, households of ~3.5 people spread over the communes.

Everything is held in flat arrays indexed by a person's position (the order rows are written), not in objects: a
province is 1.2 M people and a Python object per person would cost more memory and time than the whole load.
"""

from __future__ import annotations

import datetime as dt
import random
from array import array
from dataclasses import dataclass, field
from itertools import accumulate

from bench.geography import Geography

MAX_AGE = 99
# Share of the population per five-year band, 0–4 … 80–84 and 85+ (GSO estimates for the mid-2020s, rounded):
# few births lately, the large 1985–1995 cohorts now in their thirties, ~14 % aged 60 and over.
PYRAMID = (7.4, 8.2, 8.4, 7.3, 6.5, 6.8, 7.7, 8.1, 7.8, 7.1, 6.4, 5.7, 4.9, 3.9, 2.6, 1.5, 1.0, 1.1)
# Husband's age minus wife's age, -2 … +10 years.
AGE_GAPS = tuple(range(-2, 11))
AGE_GAP_WEIGHTS = (2, 4, 8, 13, 15, 14, 12, 9, 7, 5, 4, 3, 2)
# Mother's age when the child was born, 18 … 44.
MOTHER_AGES = tuple(range(18, 45))
MOTHER_AGE_WEIGHTS = (2, 3, 5, 6, 7, 8, 8, 8, 8, 7, 7, 6, 5, 5, 4, 4, 3, 3, 2, 2, 2, 1, 1, 1, 1, 1, 1)
MAX_CHILDREN = 4
_GAP_CUMULATIVE = list(accumulate(AGE_GAP_WEIGHTS))
_MOTHER_CUMULATIVE = list(accumulate(MOTHER_AGE_WEIGHTS))

# relation_to_head, as printed on the household register (the demo data uses the same words).
HEAD, SPOUSE, CHILD, PARENT, DAUGHTER_IN_LAW, GRANDCHILD = range(6)
RELATIONS = ("Chủ hộ", "Vợ/Chồng", "Con", "Bố/Mẹ", "Con dâu", "Cháu")

KINH_FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Võ", "Phan", "Trương", "Bùi", "Đặng", "Đỗ", "Ngô", "Hồ",
               "Dương", "Đinh", "Lương", "Đoàn", "Cao", "Lâm", "Tạ", "Châu", "Mai", "Từ", "Hà")  # fmt: skip
KINH_FAMILY_WEIGHTS = (36, 11, 9, 7, 6, 6, 5, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)
MINORITY_FAMILY = ("Đinh", "Phạm", "Hồ", "Cao", "Bùi", "Nguyễn", "Đỗ", "Hà")
MINORITY_FAMILY_WEIGHTS = (40, 20, 10, 10, 8, 6, 3, 3)
MALE_MIDDLE = ("Văn", "Minh", "Hữu", "Đức", "Quốc", "Công", "Thanh", "Ngọc", "Gia", "Hoàng", "Anh", "Tấn")
FEMALE_MIDDLE = ("Thị", "Ngọc", "Thanh", "Thu", "Mỹ", "Kim", "Bảo", "Khánh", "Minh", "Phương", "Hồng", "Như")
MALE_GIVEN = ("An", "Bình", "Cường", "Dũng", "Đạt", "Hải", "Hiếu", "Hùng", "Huy", "Khang", "Khoa", "Kiên", "Long",
              "Lực", "Nam", "Nhân", "Phong", "Phúc", "Quân", "Quang", "Sơn", "Tài", "Thắng", "Thành", "Toàn",
              "Trí", "Trung", "Tuấn", "Tùng", "Việt", "Vinh", "Vũ")  # fmt: skip
FEMALE_GIVEN = ("Anh", "Châu", "Diệp", "Dung", "Giang", "Hà", "Hạnh", "Hằng", "Hoa", "Hương", "Lan", "Liên",
                "Linh", "Loan", "Mai", "My", "Ngân", "Nga", "Nhung", "Oanh", "Phượng", "Quyên", "Tâm", "Thảo",
                "Thủy", "Trang", "Trinh", "Tuyết", "Uyên", "Vân", "Vy", "Yến")  # fmt: skip


def _age_weights() -> list[float]:
    weights = [PYRAMID[age // 5] / 5 for age in range(85)]
    # 85+ thins out quickly; spread its share over 85–99 with a steady decline.
    tail = [0.78**k for k in range(MAX_AGE - 84)]
    weights += [PYRAMID[-1] * t / sum(tail) for t in tail]
    return weights


def male_share(age: int) -> float:
    """Vietnam's sex ratio at birth is ~111 boys per 100 girls; women outlive men."""
    if age < 20:
        return 0.525
    if age < 60:
        return 0.5
    return 0.45 if age < 75 else 0.37


def married_share(age: int) -> float:
    """Share of women of this age living with a husband (the rest single, separated or widowed)."""
    for limit, share in ((18, 0.0), (20, 0.08), (25, 0.42), (30, 0.75), (35, 0.86), (60, 0.88), (65, 0.8), (70, 0.7),
                         (75, 0.58), (80, 0.42)):  # fmt: skip
        if age < limit:
            return share
    return 0.22


@dataclass(slots=True)
class _Home:
    husband: int = -1
    wife: int = -1
    children: list[int] = field(default_factory=list)
    elders: list[int] = field(default_factory=list)
    families: list[_Home] = field(default_factory=list)  # a married son's family living with his parents
    joined: bool = False  # moved in with another home (elderly parents with a son, newlyweds with his parents)


@dataclass
class Population:
    """People in the order their rows are written, grouped by household, households grouped by commune."""

    today: dt.date
    age: array[int] = field(default_factory=lambda: array("B"))
    dob: array[int] = field(default_factory=lambda: array("i"))  # date ordinals
    male: bytearray = field(default_factory=bytearray)
    relation: bytearray = field(default_factory=bytearray)
    household: array[int] = field(default_factory=lambda: array("i"))
    mother: array[int] = field(default_factory=lambda: array("i"))  # -1: not in the household
    father: array[int] = field(default_factory=lambda: array("i"))
    family: bytearray = field(default_factory=bytearray)  # index into the family-name list of the ethnicity
    middle: bytearray = field(default_factory=bytearray)
    given: bytearray = field(default_factory=bytearray)
    hh_commune: array[int] = field(default_factory=lambda: array("H"))
    hh_minority: bytearray = field(default_factory=bytearray)
    hh_start: array[int] = field(default_factory=lambda: array("i"))  # first member; the head; one extra at the end

    @property
    def size(self) -> int:
        return len(self.age)

    @property
    def households(self) -> int:
        return len(self.hh_commune)

    def full_name(self, person: int) -> str:
        minority = self.hh_minority[self.household[person]]
        family = (MINORITY_FAMILY if minority else KINH_FAMILY)[self.family[person]]
        if self.male[person]:
            return f"{family} {MALE_MIDDLE[self.middle[person]]} {MALE_GIVEN[self.given[person]]}"
        return f"{family} {FEMALE_MIDDLE[self.middle[person]]} {FEMALE_GIVEN[self.given[person]]}"


def build_population(rng: random.Random, geography: Geography, citizens: int, today: dt.date) -> Population:
    ages = rng.choices(range(MAX_AGE + 1), weights=_age_weights(), k=citizens)
    males = bytearray(rng.random() < male_share(age) for age in ages)
    homes = _form_homes(rng, ages, males)
    communes = rng.choices(range(len(geography.communes)), weights=[c.weight for c in geography.communes], k=len(homes))
    order = sorted(range(len(homes)), key=communes.__getitem__)
    return _lay_out(rng, geography, today, ages, males, [homes[h] for h in order], [communes[h] for h in order])


def _form_homes(rng: random.Random, ages: list[int], males: bytearray) -> list[_Home]:
    men: list[list[int]] = [[] for _ in range(MAX_AGE + 1)]
    women: list[list[int]] = [[] for _ in range(MAX_AGE + 1)]
    for person, age in enumerate(ages):
        (men if males[person] else women)[age].append(person)
    placed = bytearray(len(ages))
    homes = _marry(rng, men, women, placed)
    # From here on the pools hold only people not yet living with anyone.
    men = [[p for p in pool if not placed[p]] for pool in men]
    women = [[p for p in pool if not placed[p]] for pool in women]
    _move_in_elders(rng, ages, homes, men, women, placed)
    _place_children(rng, ages, homes, men, women, placed)
    _move_in_newlyweds(rng, ages, homes)
    for pool in (*men, *women):
        for person in pool:
            if not placed[person] and ages[person] >= 18:
                homes.append(_Home(husband=person) if males[person] else _Home(wife=person))
                placed[person] = 1
    return [home for home in homes if not home.joined]


def _marry(rng: random.Random, men: list[list[int]], women: list[list[int]], placed: bytearray) -> list[_Home]:
    homes: list[_Home] = []
    for age in range(18, MAX_AGE + 1):
        share = married_share(age)
        for wife in women[age]:
            if rng.random() >= share:
                continue
            gap = rng.choices(AGE_GAPS, cum_weights=_GAP_CUMULATIVE)[0]
            for husband_age in (age + gap, age + gap + 1, age + gap - 1, age + gap + 2):
                if 18 <= husband_age <= MAX_AGE and men[husband_age]:
                    husband = men[husband_age].pop()
                    homes.append(_Home(husband=husband, wife=wife))
                    placed[husband] = placed[wife] = 1
                    break
    return homes


def _move_in_elders(
    rng: random.Random,
    ages: list[int],
    homes: list[_Home],
    men: list[list[int]],
    women: list[list[int]],
    placed: bytearray,
) -> None:
    """Many grandparents live with a son's family: elderly couples and widowed people move in with a younger one."""
    by_husband_age: list[list[_Home]] = [[] for _ in range(MAX_AGE + 1)]
    for home in homes:
        if ages[home.husband] < 60:
            by_husband_age[ages[home.husband]].append(home)

    def host(elder_age: int) -> _Home | None:
        for _ in range(3):
            candidates = by_husband_age[max(18, elder_age - rng.randint(22, 38))]
            if candidates:
                home = rng.choice(candidates)
                if not home.elders:
                    return home
        return None

    for home in homes:
        if ages[home.husband] >= 65 and rng.random() < 0.55 and (target := host(ages[home.husband])) is not None:
            target.elders += [home.husband, home.wife]
            home.joined = True
    for pool in (*men[60:], *women[60:]):
        for person in pool:
            if not placed[person] and rng.random() < 0.85 and (target := host(ages[person])) is not None:
                target.elders.append(person)
                placed[person] = 1


def _place_children(
    rng: random.Random,
    ages: list[int],
    homes: list[_Home],
    men: list[list[int]],
    women: list[list[int]],
    placed: bytearray,
) -> None:
    """Children (and most unmarried adults under 45) live with a mother who was 18–44 when they were born."""
    by_wife_age: list[list[_Home]] = [[] for _ in range(MAX_AGE + 1)]
    for home in homes:
        if not home.joined:
            by_wife_age[ages[home.wife]].append(home)
    for age in range(45):
        # Young people live with their parents until they marry, and many who never do stay on.
        stay_home = 1.0 if age < 18 else 0.92 if age < 25 else 0.8 if age < 30 else 0.6
        for person in (*men[age], *women[age]):
            if placed[person] or rng.random() >= stay_home:
                continue
            parents = _parents_for(rng, age, by_wife_age, women, placed, homes)
            if parents is None and age < 18:
                # Nobody of a plausible age left: a relative's family takes the child in.
                parents = next(h for h in iter(lambda: rng.choice(homes), None) if not h.joined)
            if parents is not None:
                parents.children.append(person)
                placed[person] = 1


def _move_in_newlyweds(rng: random.Random, ages: list[int], homes: list[_Home]) -> None:
    """Many young couples live with the husband's parents, their children with them: three generations, one home."""
    by_wife_age: list[list[_Home]] = [[] for _ in range(MAX_AGE + 1)]
    for home in homes:
        if not home.joined and home.wife >= 0 and ages[home.wife] >= 36:
            by_wife_age[ages[home.wife]].append(home)
    for home in homes:
        if home.joined or home.husband < 0 or home.wife < 0 or home.elders or ages[home.husband] >= 32:
            continue
        if rng.random() >= 0.6:
            continue
        for _ in range(5):
            mother_age = ages[home.husband] + rng.choices(MOTHER_AGES, cum_weights=_MOTHER_CUMULATIVE)[0]
            candidates = by_wife_age[min(mother_age, MAX_AGE)]
            if candidates:
                parents = rng.choice(candidates)
                if not parents.families and not parents.joined:
                    parents.families.append(home)
                    home.joined = True
                    break


def _parents_for(
    rng: random.Random,
    age: int,
    by_wife_age: list[list[_Home]],
    women: list[list[int]],
    placed: bytearray,
    homes: list[_Home],
) -> _Home | None:
    for _ in range(6):
        mother_age = age + rng.choices(MOTHER_AGES, cum_weights=_MOTHER_CUMULATIVE)[0]
        if mother_age > MAX_AGE:
            continue
        candidates = by_wife_age[mother_age]
        # About one child in twelve lives with a mother on her own (widowed, separated, never married).
        if candidates and rng.random() >= 0.06:
            home = rng.choice(candidates)
            if len(home.children) < MAX_CHILDREN:
                return home
            continue
        single = women[mother_age]
        while single and placed[single[-1]]:
            single.pop()
        if single:
            woman = single.pop()
            placed[woman] = 1
            home = _Home(wife=woman)
            candidates.append(home)
            homes.append(home)
            return home
    return None


def _lay_out(
    rng: random.Random,
    geography: Geography,
    today: dt.date,
    ages: list[int],
    males: bytearray,
    homes: list[_Home],
    communes: list[int],
) -> Population:
    population = Population(today=today)
    bounds = _birth_bounds(today)
    kinh = list(range(len(KINH_FAMILY)))
    minority_names = list(range(len(MINORITY_FAMILY)))
    for index, (home, commune) in enumerate(zip(homes, communes, strict=True)):
        minority = rng.random() < geography.communes[commune].district.minority
        names, weights = (minority_names, MINORITY_FAMILY_WEIGHTS) if minority else (kinh, KINH_FAMILY_WEIGHTS)
        surnames = rng.choices(names, weights, k=5)  # the family's, then wives' and grandparents' own
        population.hh_commune.append(commune)
        population.hh_minority.append(minority)
        population.hh_start.append(population.size)
        positions: dict[int, int] = {}
        for person, relation, parents in _members(rng, home, ages):
            positions[person] = population.size
            if relation in (HEAD, SPOUSE) and person == home.wife and home.husband >= 0:
                surname = surnames[1]
            elif relation == DAUGHTER_IN_LAW:
                surname = surnames[2]
            elif relation == PARENT:
                surname = surnames[3] if males[person] else surnames[4]
            else:
                surname = surnames[0]  # children take their father's family name (or their mother's on her own)
            _append(population, rng, person, relation, index, surname, ages, males, bounds)
            if parents is not None:
                population.mother[-1] = positions.get(parents.wife, -1)
                population.father[-1] = positions.get(parents.husband, -1)
    population.hh_start.append(population.size)
    return population


def _members(rng: random.Random, home: _Home, ages: list[int]) -> list[tuple[int, int, _Home | None]]:
    """Who lives in the home, head first, each with the relation to the head and the family they are a child of."""
    couple = [p for p in (home.husband, home.wife) if p >= 0]
    if len(couple) == 2 and rng.random() < 0.2:
        couple.reverse()  # a fifth of couples register the wife as head
    members: list[tuple[int, int, _Home | None]] = [(p, HEAD if i == 0 else SPOUSE, None) for i, p in enumerate(couple)]
    members += [(p, CHILD, home) for p in sorted(home.children, key=ages.__getitem__, reverse=True)]
    for family in home.families:
        members.append((family.husband, CHILD, home))
        members.append((family.wife, DAUGHTER_IN_LAW, None))
        members += [(p, GRANDCHILD, family) for p in sorted(family.children, key=ages.__getitem__, reverse=True)]
    members += [(p, PARENT, None) for p in home.elders]
    return members


def _append(
    population: Population,
    rng: random.Random,
    person: int,
    relation: int,
    household: int,
    surname: int,
    ages: list[int],
    males: bytearray,
    bounds: list[tuple[int, int]],
) -> None:
    age, male = ages[person], males[person]
    population.age.append(age)
    population.dob.append(rng.randint(*bounds[age]))
    population.male.append(male)
    population.relation.append(relation)
    population.household.append(household)
    population.mother.append(-1)
    population.father.append(-1)
    population.family.append(surname)
    if male:
        population.middle.append(0 if age >= 30 and rng.random() < 0.6 else rng.randrange(len(MALE_MIDDLE)))
        population.given.append(rng.randrange(len(MALE_GIVEN)))
    else:
        # "Thị" was the middle name of most women born before the 1990s, and of few since.
        thi = rng.random() < (0.75 if age >= 35 else 0.25)
        population.middle.append(0 if thi else rng.randrange(len(FEMALE_MIDDLE)))
        population.given.append(rng.randrange(len(FEMALE_GIVEN)))


def _birth_bounds(today: dt.date) -> list[tuple[int, int]]:
    """For each age, the first and last birth date (as ordinals) of someone exactly that old today."""
    bounds = []
    for age in range(MAX_AGE + 2):
        year = today.year - age
        day = min(today.day, 28) if today.month == 2 else today.day
        bounds.append(dt.date(year, today.month, day).toordinal())
    return [(bounds[age + 1] + 1, bounds[age]) for age in range(MAX_AGE + 1)]

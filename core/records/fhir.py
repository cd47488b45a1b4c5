"""The record as a FHIR R4 Bundle (a patient summary): Patient, AllergyIntolerance, Condition, Immunization,
Observation (vital signs) and Encounter (examinations, imported hospital episodes). Plain dicts: the export is JSON,
and no FHIR library is needed at run time (the tests validate the output with one)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from core.records.service import RecordSummary, bmi

ICD10 = "http://hl7.org/fhir/sid/icd-10"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
VACCINE_SYSTEM = "urn:phr:vaccine"  # the province's vaccine catalogue codes
CCCD_SYSTEM = "urn:phr:cccd"  # số định danh cá nhân
BHXH_SYSTEM = "urn:phr:bhxh"
FACILITY_SYSTEM = "urn:phr:facility"  # MA_CSKCB, the national facility code
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
INPATIENT_KINDS = frozenset({"03", "3", "04", "4"})  # MA_LOAI_KCB: inpatient, inpatient day care
ALLERGY_CATEGORY = {"drug": "medication", "food": "food", "chemical": "environment", "other": "environment"}
VITAL_CODES = {
    "weight": ("29463-7", "Body weight", "kg"),
    "height": ("8302-2", "Body height", "cm"),
    "glucose": ("2339-0", "Glucose [Mass/volume] in Blood", "mmol/L"),
    "pulse": ("8867-4", "Heart rate", "/min"),
    "temperature": ("8310-5", "Body temperature", "Cel"),
    "respiratory_rate": ("9279-1", "Respiratory rate", "/min"),
    "bmi": ("39156-5", "Body mass index (BMI) [Ratio]", "kg/m2"),
}


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}


def _verification(verified: bool, system: str) -> dict[str, Any]:
    code = "confirmed" if verified else "unconfirmed"
    return {"coding": [{"system": system, "code": code}]}


def _quantity(value: Decimal | int | float, unit: str) -> dict[str, Any]:
    return {"value": float(value), "unit": unit, "system": UCUM, "code": unit}


def _observation(patient: str, when: str, loinc: str, display: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": str(uuid.uuid4()),
        "status": "final",
        "category": [
            {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": loinc, "display": display}]},
        "subject": {"reference": patient},
        "effectiveDateTime": when,
    }


def _vital(patient: str, code: str, when: str, value: Decimal | int | float) -> dict[str, Any]:
    loinc, display, unit = VITAL_CODES[code]
    return _observation(patient, when, loinc, display) | {"valueQuantity": _quantity(value, unit)}


def _blood_pressure(patient: str, when: str, systolic: Any, diastolic: Any) -> dict[str, Any]:
    components = [
        {
            "code": {"coding": [{"system": LOINC, "code": "8480-6", "display": "Systolic blood pressure"}]},
            "valueQuantity": _quantity(systolic, "mm[Hg]"),
        },
    ]
    if diastolic is not None:
        components.append(
            {
                "code": {"coding": [{"system": LOINC, "code": "8462-4", "display": "Diastolic blood pressure"}]},
                "valueQuantity": _quantity(diastolic, "mm[Hg]"),
            }
        )
    return _observation(patient, when, "85354-9", "Blood pressure panel") | {"component": components}


def _hospital_encounter(patient: str, item: Any) -> dict[str, Any]:
    """An imported HIS episode (XML 130): period, class, the hospital's code, its ICD-10 codes as reasons."""
    period = {"start": item.admitted_at.isoformat()}
    if item.discharged_at is not None:
        period["end"] = item.discharged_at.isoformat()
    codes = [code for code in (item.main_icd10, *(item.secondary_icd10 or "").split(";")) if code]
    encounter: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": str(item.id),
        "status": "finished",
        "class": {"system": ACT_CODE, "code": "IMP" if item.kind in INPATIENT_KINDS else "AMB"},
        "subject": {"reference": patient},
        "period": period,
        "serviceProvider": {"identifier": {"system": FACILITY_SYSTEM, "value": item.facility_code}},
    }
    if codes:
        encounter["reasonCode"] = [{"coding": [{"system": ICD10, "code": code}]} for code in codes]
    return encounter


def patient_resource(summary: RecordSummary) -> dict[str, Any]:
    c = summary.citizen
    identifiers = [{"system": CCCD_SYSTEM, "value": c.cccd}] if c.cccd else []
    if c.bhxh_number:
        identifiers.append({"system": BHXH_SYSTEM, "value": c.bhxh_number})
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(c.id),
        "identifier": identifiers,
        "name": [{"text": c.full_name}],
        "gender": c.sex.value,
        "birthDate": c.date_of_birth.isoformat(),
    }
    address = ", ".join(p for p in (c.cur_street, c.cur_hamlet) if p)
    if address:
        resource["address"] = [{"text": address, "country": "VN"}]
    return resource


def bundle(summary: RecordSummary, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """A FHIR R4 ``collection`` Bundle of what the summary holds (which may be only the granted sections)."""
    now = now or dt.datetime.now(dt.UTC)
    patient = patient_resource(summary)
    ref = f"urn:uuid:{patient['id']}"
    entries = [_entry(patient)]
    lists = summary.lists
    for allergy in lists.get("allergies", []):
        a: Any = allergy
        entries.append(
            _entry(
                {
                    "resourceType": "AllergyIntolerance",
                    "id": str(a.id),
                    "clinicalStatus": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                                "code": "active",
                            }
                        ]
                    },
                    "verificationStatus": _verification(
                        a.verified, "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
                    ),
                    "category": [ALLERGY_CATEGORY.get(a.category, "environment")],
                    "code": {"text": a.substance},
                    "patient": {"reference": ref},
                    "recordedDate": a.created_at.isoformat(),
                }
            )
        )
    for name in ("conditions", "diagnoses"):
        for item in lists.get(name, []):
            d: Any = item
            code: dict[str, Any] = {"text": getattr(d, "detail", None) or getattr(d, "text", None) or d.icd10 or "—"}
            if d.icd10:
                code["coding"] = [{"system": ICD10, "code": d.icd10}]
            entries.append(
                _entry(
                    {
                        "resourceType": "Condition",
                        "id": str(d.id),
                        "verificationStatus": _verification(
                            d.verified, "http://terminology.hl7.org/CodeSystem/condition-ver-status"
                        ),
                        "code": code,
                        "subject": {"reference": ref},
                        "recordedDate": d.created_at.isoformat(),
                    }
                )
            )
    for item in lists.get("vaccinations", []):
        v: Any = item
        immunization: dict[str, Any] = {
            "resourceType": "Immunization",
            "id": str(v.id),
            "status": "completed" if v.given_on else "not-done",
            "vaccineCode": {"coding": [{"system": VACCINE_SYSTEM, "code": v.vaccine_code}]},
            "patient": {"reference": ref},
            "occurrenceDateTime": (v.given_on or v.created_at.date()).isoformat(),
            "primarySource": v.verified,
        }
        if v.lot:
            immunization["lotNumber"] = v.lot
        if v.dose_number:
            immunization["protocolApplied"] = [{"doseNumberPositiveInt": v.dose_number}]
        if not v.given_on and v.not_given_reason:
            immunization["statusReason"] = {"text": v.not_given_reason}
        entries.append(_entry(immunization))
    for item in lists.get("vitals", []):
        vital: Any = item
        when = vital.measured_at.isoformat()
        if vital.kind == "blood_pressure":
            entries.append(_entry(_blood_pressure(ref, when, vital.value, vital.value2)))
        elif vital.kind in VITAL_CODES:
            entries.append(_entry(_vital(ref, vital.kind, when, vital.value)))
    for item in lists.get("examinations", []):
        e: Any = item
        encounter_id = str(e.id)
        entries.append(
            _entry(
                {
                    "resourceType": "Encounter",
                    "id": encounter_id,
                    "status": "finished",
                    "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                    "subject": {"reference": ref},
                    "period": {"start": e.examined_on.isoformat(), "end": e.examined_on.isoformat()},
                }
            )
        )
        when = e.examined_on.isoformat()
        for field, vital_code in (
            ("pulse", "pulse"),
            ("temperature_c", "temperature"),
            ("respiratory_rate", "respiratory_rate"),
            ("weight_kg", "weight"),
            ("height_cm", "height"),
        ):
            value = getattr(e, field)
            if value is not None:
                observation = _vital(ref, vital_code, when, value)
                observation["encounter"] = {"reference": f"urn:uuid:{encounter_id}"}
                entries.append(_entry(observation))
        if e.bp_systolic is not None:
            entries.append(_entry(_blood_pressure(ref, when, e.bp_systolic, e.bp_diastolic)))
        computed = bmi(e.weight_kg, e.height_cm)
        if computed is not None:
            entries.append(_entry(_vital(ref, "bmi", when, computed)))
    for item in lists.get("encounters", []):
        entries.append(_entry(_hospital_encounter(ref, item)))
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "collection",
        "timestamp": now.isoformat(),
        "entry": entries,
    }

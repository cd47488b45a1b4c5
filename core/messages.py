"""The catalogue of messages the service may send: every notification names one of these templates.

Push titles and bodies are generic on purpose: a push passes through Google's and Apple's servers, so it names
no diagnosis, vaccine, clinician or person (notifications.md). The in-app inbox, fetched over the authenticated
API, may say more, from the declared parameters only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

Lang = Literal["vi", "en"]
ChannelName = Literal["push", "sms"]


@dataclass(frozen=True, slots=True)
class Template:
    key: str
    channel: ChannelName
    kind: str  # what the app opens (deep-link kind), also the push data's "kind"
    title: dict[Lang, str]  # generic: shown in the push and as the inbox headline
    body: dict[Lang, str]  # generic push body
    detail: dict[Lang, str] = field(default_factory=dict)  # inbox text; may use {params}
    params: frozenset[str] = frozenset()
    sealed_params: frozenset[str] = frozenset()  # delivered encrypted, wiped after sending (OTP code)
    urgent: bool = False  # urgent messages ignore quiet hours
    ttl: dt.timedelta = dt.timedelta(days=3)

    def render_title(self, lang: str) -> str:
        return self.title["en" if lang == "en" else "vi"]

    def render_body(self, lang: str) -> str:
        return self.body["en" if lang == "en" else "vi"]

    def render_detail(self, lang: str, params: dict[str, object]) -> str:
        texts = self.detail or self.body
        text = texts["en" if lang == "en" else "vi"]
        return text.format_map({k: params.get(k, "") for k in self.params})


TEMPLATES: dict[str, Template] = {
    t.key: t
    for t in [
        Template(
            key="otp_sms",
            channel="sms",
            kind="otp",
            title={"vi": "Mã xác thực", "en": "Verification code"},
            body={
                "vi": "PHR: ma xac thuc cua ban la {code}. Ma co hieu luc 5 phut. Khong chia se ma nay.",
                "en": "PHR: your verification code is {code}. Valid for 5 minutes. Do not share it.",
            },
            sealed_params=frozenset({"code"}),
            urgent=True,
            ttl=dt.timedelta(minutes=5),
        ),
        Template(
            key="vaccination_due",
            channel="push",
            kind="vaccination",
            title={"vi": "Nhắc lịch tiêm chủng", "en": "Vaccination reminder"},
            body={
                "vi": "Bạn có lịch nhắc tiêm chủng. Mở ứng dụng để xem chi tiết.",
                "en": "A vaccination is due. Open the app for details.",
            },
            detail={"vi": "Đã đến lịch tiêm chủng (hạn {due_date}).", "en": "A vaccination is due (by {due_date})."},
            params=frozenset({"due_date"}),
            ttl=dt.timedelta(days=7),
        ),
        Template(
            key="vaccination_overdue",
            channel="push",
            kind="vaccination",
            title={"vi": "Nhắc lịch tiêm chủng", "en": "Vaccination reminder"},
            body={
                "vi": "Có mũi tiêm chủng đã quá hạn. Mở ứng dụng để xem chi tiết.",
                "en": "A vaccination is overdue. Open the app for details.",
            },
            detail={
                "vi": "Mũi tiêm chủng đã quá hạn (hạn {due_date}). Hãy đến trạm y tế để tiêm bù.",
                "en": "A vaccination is overdue (was due {due_date}). Please visit your health station to catch up.",
            },
            params=frozenset({"due_date"}),
            ttl=dt.timedelta(days=7),
        ),
        Template(
            key="checkup_due",
            channel="push",
            kind="checkup",
            title={"vi": "Nhắc khám sức khỏe định kỳ", "en": "Check-up reminder"},
            body={"vi": "Đã đến lúc khám sức khỏe định kỳ.", "en": "It is time for your yearly check-up."},
            ttl=dt.timedelta(days=14),
        ),
        Template(
            key="appointment_reminder",
            channel="push",
            kind="appointment",
            title={"vi": "Nhắc lịch hẹn", "en": "Appointment reminder"},
            body={
                "vi": "Bạn có lịch hẹn sắp tới. Mở ứng dụng để xem chi tiết.",
                "en": "You have an upcoming appointment.",
            },
            detail={"vi": "Lịch hẹn lúc {starts_at} tại {facility}.", "en": "Appointment at {starts_at}, {facility}."},
            params=frozenset({"starts_at", "facility"}),
            ttl=dt.timedelta(days=2),
        ),
        Template(
            key="appointment_soon",
            channel="push",
            kind="appointment",
            title={"vi": "Sắp đến giờ hẹn", "en": "Your appointment is soon"},
            body={
                "vi": "Lịch hẹn của bạn sắp bắt đầu. Mở ứng dụng để xem chi tiết.",
                "en": "Your appointment starts soon.",
            },
            detail={"vi": "Lịch hẹn lúc {starts_at} tại {facility}.", "en": "Appointment at {starts_at}, {facility}."},
            params=frozenset({"starts_at", "facility"}),
            urgent=True,  # two hours ahead it must go now, quiet hours or not
            ttl=dt.timedelta(hours=2),
        ),
        Template(
            key="record_accessed",
            channel="push",
            kind="access_log",
            title={"vi": "Hồ sơ sức khỏe được truy cập", "en": "Your health record was opened"},
            body={
                "vi": "Có người vừa xem hồ sơ sức khỏe của bạn. Mở ứng dụng để xem.",
                "en": "Someone opened your health record.",
            },
            detail={"vi": "{actor} tại {facility} đã xem hồ sơ.", "en": "{actor} at {facility} opened the record."},
            params=frozenset({"actor", "facility"}),
            urgent=True,
            ttl=dt.timedelta(days=7),
        ),
        Template(
            key="delegation_invite",
            channel="push",
            kind="delegation",
            title={"vi": "Lời mời hỗ trợ hồ sơ sức khỏe", "en": "Invitation to help with a health record"},
            body={
                "vi": "Bạn được mời hỗ trợ quản lý hồ sơ sức khỏe. Mở ứng dụng để trả lời.",
                "en": "You were invited to help manage a health record. Open the app to answer.",
            },
            urgent=True,
            ttl=dt.timedelta(days=7),
        ),
        Template(
            key="station_message",
            channel="push",
            kind="campaign",
            title={"vi": "Thông báo từ trạm y tế", "en": "Message from your health station"},
            body={
                "vi": "Trạm y tế có thông báo cho bạn. Mở ứng dụng để xem.",
                "en": "Your health station sent you a message.",
            },
            detail={"vi": "{facility} nhắc bạn: {topic}.", "en": "{facility} reminds you: {topic}."},
            params=frozenset({"facility", "topic"}),
            ttl=dt.timedelta(days=7),
        ),
        Template(
            # A hospital's follow-up appointment paper (XML14 of an imported episode). Generic on purpose: the push
            # names no diagnosis, department or hospital; the inbox adds the date and the facility only.
            key="reexamination_due",
            channel="push",
            kind="reexamination",
            title={"vi": "Nhắc lịch tái khám", "en": "Follow-up visit reminder"},
            body={
                "vi": "Bạn có lịch tái khám sắp tới. Mở ứng dụng để xem chi tiết.",
                "en": "You have a follow-up visit coming up. Open the app for details.",
            },
            detail={
                "vi": "Lịch tái khám ngày {date} tại {facility}.",
                "en": "Follow-up visit on {date} at {facility}.",
            },
            params=frozenset({"date", "facility"}),
            ttl=dt.timedelta(days=2),
        ),
        Template(
            # A station's reminder campaign (core/campaigns.py). The push is the generic line below; the inbox shows
            # the station's own text, joined through notifications.campaign_id, so the row carries no parameters.
            key="campaign",
            channel="push",
            kind="campaign",
            title={"vi": "Thông báo từ trạm y tế", "en": "Message from your health station"},
            body={
                "vi": "Trạm y tế có thông báo cho bạn. Mở ứng dụng để xem.",
                "en": "Your health station sent you a message. Open the app to read it.",
            },
            ttl=dt.timedelta(days=7),
        ),
    ]
}

MAX_PARAM_LENGTH = 200


def get_template(key: str) -> Template:
    try:
        return TEMPLATES[key]
    except KeyError:
        raise KeyError(f"unknown message template {key!r}") from None

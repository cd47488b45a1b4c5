"""Builds XML 130 episode files from plain dicts: the envelope, base64 tables, CDATA texts, the wrappers of QĐ 4750.

Test and sample data only (made-up people). Narrative fields are written as CDATA, everything else escaped, and
base64 is wrapped at 76 characters as many hospital exporters do: the parser must cope with all of it.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from xml.sax.saxutils import escape

# table → (root element, list element, item element); tables with one record put the fields under the root.
WRAPPERS: dict[str, tuple[str, str | None, str | None]] = {
    "XML1": ("TONG_HOP", None, None),
    "XML2": ("CHITIEU_CHITIET_THUOC", "DSACH_CHI_TIET_THUOC", "CHI_TIET_THUOC"),
    "XML3": ("CHITIEU_CHITIET_DVKT_VTYT", "DSACH_CHI_TIET_DVKT", "CHI_TIET_DVKT"),
    "XML4": ("CHITIEU_CHITIET_DICHVUCANLAMSANG", "DSACH_CHI_TIET_CLS", "CHI_TIET_CLS"),
    "XML5": ("CHITIEU_CHITIET_DIENBIENLAMSANG", "DSACH_CHI_TIET_DIEN_BIEN_BENH", "CHI_TIET_DIEN_BIEN_BENH"),
    "XML6": ("CHI_TIEU_HO_SO_BENH_AN_HIV_AIDS", "DSACH_HO_SO_BENH_AN_HIV_AIDS", "HO_SO_BENH_AN_HIV_AIDS"),
    "XML7": ("CHI_TIEU_DU_LIEU_GIAY_RA_VIEN", None, None),
    "XML8": ("CHI_TIEU_DU_LIEU_TOM_TAT_HO_SO_BENH_AN", None, None),
    "XML9": ("CHI_TIEU_DU_LIEU_GIAY_CHUNG_SINH", "DSACH_GIAYCHUNGSINH", "DU_LIEU_GIAY_CHUNG_SINH"),
    "XML13": ("CHI_TIEU_GIAYCHUYENTUYEN", None, None),
    "XML14": ("CHI_TIEU_GIAYHEN_KHAMLAI", None, None),
    "XML15": ("CHI_TIEU_DIEUTRI_BENHLAO", "DSACH_CHI_TIET_DIEU_TRI_BENH_LAO", "CHI_TIET_DIEU_TRI_BENH_LAO"),
}
CDATA_FIELDS = frozenset(
    {"CHAN_DOAN_VAO", "CHAN_DOAN_RV", "LY_DO_VV", "QT_BENHLY", "TOMTAT_KQ", "DIEN_BIEN_LS", "GHI_CHU", "PP_DIEU_TRI"}
)
Fields = Mapping[str, str]


def _leaf(name: str, value: str) -> str:
    if name in CDATA_FIELDS and "]]>" not in value:
        return f"<{name}><![CDATA[{value}]]></{name}>"
    return f"<{name}>{escape(value)}</{name}>"


def _fields(fields: Fields) -> str:
    return "".join(_leaf(name, value) for name, value in fields.items())


def table_xml(table: str, records: Sequence[Fields]) -> bytes:
    root, plural, item = WRAPPERS.get(table, (f"CHI_TIEU_{table}", None, None))
    if plural is None or item is None:
        body = _fields(records[0]) if records else ""
    else:
        items = "".join(f"<{item}>{_fields(record)}</{item}>" for record in records)
        body = f"<{plural}>{items}</{plural}>"
    return f'<?xml version="1.0" encoding="utf-8"?>\n<{root}>{body}</{root}>'.encode()


def envelope(files: Sequence[tuple[str, bytes]], *, facility: str = "51001", made_on: str = "20261120") -> bytes:
    """The GIAMDINHHS envelope around already-built table files ``(LOAIHOSO, xml bytes)``."""
    parts = "".join(
        f"<FILEHOSO><LOAIHOSO>{escape(kind)}</LOAIHOSO><NOIDUNGFILE>{base64.encodebytes(content).decode()}"
        "</NOIDUNGFILE></FILEHOSO>"
        for kind, content in files
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<GIAMDINHHS>'
        f"<THONGTINDONVI><MACSKCB>{facility}</MACSKCB></THONGTINDONVI>"
        f"<THONGTINHOSO><NGAYLAP>{made_on}</NGAYLAP><SOLUONGHOSO>1</SOLUONGHOSO>"
        f"<DANHSACHHOSO><HOSO>{parts}</HOSO></DANHSACHHOSO></THONGTINHOSO></GIAMDINHHS>\n"
    ).encode()


def episode_file(tables: Mapping[str, Sequence[Fields]], *, facility: str = "51001") -> bytes:
    """An episode file: each table's records (XML1 a one-element list), every record given MA_LK of XML1."""
    ma_lk = tables["XML1"][0]["MA_LK"] if "XML1" in tables else "LK-NONE"
    files = [(table, table_xml(table, [{"MA_LK": ma_lk, **r} for r in records])) for table, records in tables.items()]
    return envelope(files, facility=facility)

"""A hardened XML reader for files other systems send us: no DTD, no entities, bounded size, depth and element count.

Why the standard library's expat and not ``defusedxml``: defusedxml's protection is exactly this - expat with
handlers that refuse DTDs and entity declarations - and we also need a depth and an element-count limit it does
not offer, plus a streaming reader that never builds a DOM. Doing it here keeps the runtime dependencies (and the
hashed lock files) unchanged, and every refusal is one handler below that a test exercises.

The reader keeps what XML 130 tables are made of: *records*, elements whose children include leaves (elements
with text and no child elements). A record is its tag and its leaves as a ``{TAG: text}`` mapping; wrapper
elements only count. Texts are whitespace-stripped (CDATA is ordinary text to expat).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import NoReturn
from xml.parsers import expat

from core.errors import BadRequest

MAX_DEPTH = 100  # exclusion.md: element nesting depth 100
MAX_ELEMENTS = 400_000  # ~25 bytes per element in 10 MiB; a real episode has tens of thousands


@dataclass(frozen=True, slots=True)
class Record:
    tag: str
    fields: dict[str, str]


@dataclass(slots=True)
class Document:
    root: str = ""
    records: list[Record] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)  # elements per tag (how many HOSO an envelope has)


@dataclass(slots=True)
class _Frame:
    tag: str
    text: list[str] = field(default_factory=list)
    leaves: dict[str, str] = field(default_factory=dict)
    has_children: bool = False


class _Refused(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _local(tag: str) -> str:
    """``ns:TAG`` → ``TAG``: namespace prefixes carry nothing for us (no namespace processing is done)."""
    return tag.rpartition(":")[2]


class _Reader:
    def __init__(self, max_depth: int, max_elements: int) -> None:
        self.max_depth = max_depth
        self.max_elements = max_elements
        self.stack: list[_Frame] = []
        self.document = Document()
        self.elements = 0

    def start(self, tag: str, _attributes: dict[str, str]) -> None:
        self.elements += 1
        if self.elements > self.max_elements:
            raise _Refused("xml_too_many_elements", f"more than {self.max_elements} elements")
        if len(self.stack) >= self.max_depth:
            raise _Refused("xml_too_deep", f"elements nested deeper than {self.max_depth}")
        name = _local(tag)
        if self.stack:
            self.stack[-1].has_children = True
        else:
            self.document.root = name
        self.document.counts[name] += 1
        self.stack.append(_Frame(name))

    def end(self, _tag: str) -> None:
        frame = self.stack.pop()
        if not frame.has_children:
            if self.stack:
                # A repeated leaf keeps its first value: later ones are not silently merged into it.
                self.stack[-1].leaves.setdefault(frame.tag, "".join(frame.text).strip())
            else:  # a document that is a single leaf
                self.document.records.append(Record(frame.tag, {}))
        elif frame.leaves:
            self.document.records.append(Record(frame.tag, frame.leaves))

    def text(self, data: str) -> None:
        if self.stack:
            self.stack[-1].text.append(data)


def _refuse(code: str, detail: str) -> NoReturn:
    raise _Refused(code, detail)


def read_xml(data: bytes, *, where: str, max_depth: int = MAX_DEPTH, max_elements: int = MAX_ELEMENTS) -> Document:
    """Parse ``data`` or raise ``BadRequest`` (code ``xml_*``, ``field`` = ``where``). Never resolves anything."""
    reader = _Reader(max_depth, max_elements)
    parser = expat.ParserCreate()
    parser.buffer_text = True
    # Parameter entities would let an internal DTD subset pull in external content; refused before any DTD runs.
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = lambda *_: _refuse("xml_dtd_forbidden", "DOCTYPE declarations are refused")
    # Without a DTD none of these can fire; they stay as a second wall should expat ever accept one.
    parser.EntityDeclHandler = lambda *_: _refuse("xml_entity_forbidden", "entity declarations are refused")
    parser.UnparsedEntityDeclHandler = lambda *_: _refuse("xml_entity_forbidden", "entity declarations are refused")
    parser.NotationDeclHandler = lambda *_: _refuse("xml_entity_forbidden", "notation declarations are refused")
    parser.ExternalEntityRefHandler = lambda *_: _refuse("xml_entity_forbidden", "external entities are refused")
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.text
    try:
        parser.Parse(data, True)
    except _Refused as exc:
        raise BadRequest(exc.detail, code=exc.code, field=where) from None
    except expat.ExpatError as exc:
        # expat's messages name a position and a reason ("undefined entity"), never the document's text.
        reason = expat.ErrorString(exc.code) if exc.code else "malformed"
        raise BadRequest(
            f"not well-formed XML ({reason}, line {exc.lineno})", code="xml_malformed", field=where
        ) from None
    except ValueError as exc:  # an encoding expat does not know, a NUL in a name
        raise BadRequest("unreadable XML", code="xml_malformed", field=where) from exc
    return reader.document

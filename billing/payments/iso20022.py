"""Reading the bank's ISO 20022 XML (camt.053 statements, camt.054 notifications, pain.002 status reports):
parsing an upload safely and finding elements by local name, so every message version's namespace is accepted.

The standard library's expat parser resolves no external entities and refuses entity expansion bombs
(expat ≥ 2.4), which is what an uploaded file needs.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

from app.kit.errors import Invalid


def document(data: bytes, *, code: str) -> ET.Element:
    """The parsed ``Document`` of an upload; ``Invalid`` with ``code`` if it is not XML or not a document."""
    try:
        root = ET.fromstring(data)  # noqa: S314 - expat: no external entities, expansion bombs refused
    except ET.ParseError as error:
        raise Invalid(f"The file is not XML: {error}.", code=code) from error
    if local(root.tag) != "Document":
        raise Invalid("The file is no ISO 20022 document.", code=code)
    return root


def message_name(data: bytes) -> str | None:
    """The local name of the message a document holds (``BkToCstmrStmt``, ``CstmrPmtStsRpt``), read from its
    first two elements without parsing the rest; None if the start is not an ISO 20022 document."""
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start",))
    names: list[str] = []
    try:
        for start in range(0, len(data), 4096):
            parser.feed(data[start : start + 4096])
            for event in parser.read_events():
                element = event[-1]
                if isinstance(element, ET.Element):
                    names.append(local(element.tag))
            if len(names) >= 2:
                break
    except ET.ParseError:
        return None
    return names[1] if len(names) >= 2 and names[0] == "Document" else None


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def child(node: ET.Element | None, *path: str) -> ET.Element | None:
    """The first element down ``path`` by local names, whatever the namespace."""
    return None if node is None else node.find("/".join("{*}" + name for name in path))


def children(node: ET.Element | None, name: str) -> list[ET.Element]:
    return [] if node is None else node.findall("{*}" + name)


def text(node: ET.Element | None, *path: str) -> str | None:
    """The text down ``path`` with its whitespace collapsed; None if there is none."""
    found = child(node, *path)
    if found is None or found.text is None:
        return None
    value = " ".join(found.text.split())
    return value or None


def day(value: str | None, *, code: str) -> date | None:
    """The date an ISO date or date-time starts with; ``Invalid`` with ``code`` if it is none."""
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError as error:
        raise Invalid(f"Not a date: {value!r}.", code=code) from error

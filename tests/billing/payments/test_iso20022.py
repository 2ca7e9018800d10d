"""What the bank sends is parsed safely (no entity expansion, no external entities) by every reader of it, and
its message is told apart from its first elements."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from app.kit.errors import Invalid
from billing.payments import camt, iso20022, pain002
from tests.billing.payments.builders import camt053, camt054


@pytest.mark.parametrize(("parse", "code"), [(camt.parse, "camt_invalid"), (pain002.parse, "pain002_invalid")])
def test_entity_bombs_and_external_entities_in_an_upload_are_refused(
    parse: Callable[[bytes], object], code: str, tmp_path: Path
) -> None:
    levels = "".join(f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">' for n in range(1, 9))
    bomb = f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY l0 "lol">{levels}]><Document>&l8;</Document>'
    # An entity naming a file of this machine (one the test writes, readable by the parser's process).
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the upload")
    external = f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "{secret.as_uri()}">]><Document>&x;</Document>'

    for data in (bomb, external):
        with pytest.raises(Invalid) as refused:
            parse(data.encode())
        assert refused.value.code == code
        assert "not for the upload" not in str(refused.value)


def test_the_message_of_a_document_is_read_from_its_start() -> None:
    assert iso20022.message_name(camt053()) == "BkToCstmrStmt"
    assert iso20022.message_name(camt054()) == camt.NOTIFICATION == "BkToCstmrDbtCdtNtfctn"
    assert iso20022.message_name(b'<p:Document xmlns:p="urn:x"><p:CstmrPmtStsRpt><p:GrpHdr>') == "CstmrPmtStsRpt"
    assert iso20022.message_name(b"<html><body/></html>") is None
    assert iso20022.message_name(b"not xml") is None

"""The calls CSV opened in a real spreadsheet: LibreOffice Calc, headless.

Phone numbers must stay text with their "+" and no apostrophe shown; nothing a stranger
wrote may become a formula. Calc converts the CSV to OpenDocument, whose cells say their
type (``office:value-type``) and whether they hold a formula (``table:formula``).
"""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from datetime import UTC, datetime
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import pytest

from ringtrail.reports import exports
from ringtrail.storage.models import Call, VisitSnapshot

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
NS = {
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
}
# CSV import options: comma, double quote, UTF-8 (76), from line 1; Calc's defaults else.
CSV_FILTER = "CSV:44,34,76,1"


def attr(element, ns: str, name: str) -> str | None:
    return element.get(f"{{{NS[ns]}}}{name}")


def open_in_calc(csv_text: str, tmp_path) -> list[dict[str, dict[str, str | None]]]:
    """The CSV as Calc reads it: one dict per row, header -> {type, text, formula}."""
    if SOFFICE is None:
        pytest.fail(
            "LibreOffice is missing: apt-get install libreoffice-calc-nogui (tests/run.sh "
            "installs it)",
            pytrace=False,
        )
    source = tmp_path / "calls.csv"
    source.write_text(csv_text, encoding="utf-8", newline="")
    profile = tmp_path / "lo-profile"
    subprocess.run(
        [
            SOFFICE,
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--norestore",
            f"--infilter={CSV_FILTER}",
            "--convert-to",
            "ods",
            "--outdir",
            str(tmp_path),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    with zipfile.ZipFile(tmp_path / "calls.ods") as ods:
        root = ElementTree.fromstring(ods.read("content.xml"))  # noqa: S314 (our own file)
    rows = []
    for row in root.iter(f"{{{NS['table']}}}table-row"):
        cells = []
        for cell in row.findall("table:table-cell", NS):
            repeat = int(attr(cell, "table", "number-columns-repeated") or 1)
            text = "\n".join("".join(p.itertext()) for p in cell.findall("text:p", NS))
            value = {
                "type": attr(cell, "office", "value-type"),
                "text": text,
                "formula": attr(cell, "table", "formula"),
            }
            cells.extend([value] * min(repeat, 50))
        rows.append(cells)
    header = [c["text"] for c in rows[0]]
    return [dict(zip(header, r, strict=False)) for r in rows[1:] if any(c["text"] for c in r)]


def test_calc_keeps_phone_numbers_as_text_and_runs_no_strangers_formula(tmp_path):
    visit = VisitSnapshot(
        landing_url="https://shop.example/offer",
        landing_title='=HYPERLINK("http://evil.example","click")',
        referrer="-2+3",
        campaign="@SUM(1)",
        term="+cmd|' /C calc'!A0",
        pages=[[0, "/offer"]],
        click_ids={},
    )
    calls = [
        Call(
            call_sid="CA1",
            caller_number="+14155550100",
            tracking_number="+442071838750",
            started_at=datetime(2024, 5, 1, 12, tzinfo=UTC),
            status="completed",
            answered=True,
            talk_seconds=61,
            confidence="exact",
            source="google",
            medium="cpc",
        ),
        Call(
            call_sid="CA2",
            caller_number="anonymous",
            tracking_number="+16285550101",
            started_at=datetime(2024, 5, 1, 13, tzinfo=UTC),
            status="completed",
            answered=False,
            confidence="none",
            source="=1+1",
            medium="",
        ),
    ]
    tz = ZoneInfo("America/Chicago")
    rows = [
        exports.call_row(calls[0], visit, "Acme", "first", tz),
        exports.call_row(calls[1], None, "Acme", None, tz),
    ]
    read = open_in_calc(exports.to_text(exports.CALL_HEADER, rows), tmp_path)
    assert len(read) == 2
    first, second = read
    # Phone numbers: text, with their +, no apostrophe shown; the long one not 4.42E+11.
    for cell, shown in [
        (first["caller"], "+14155550100"),
        (first["tracking number"], "+442071838750"),
        (second["tracking number"], "+16285550101"),
    ]:
        assert cell["type"] == "string" and cell["text"] == shown, cell
    assert second["caller"] == {"type": "string", "text": "anonymous", "formula": None}
    # What a stranger wrote is text, never a formula (Calc shows the apostrophe).
    for name, stored in [
        ("landing title", visit.landing_title),
        ("referrer", visit.referrer),
        ("campaign", visit.campaign),
        ("keyword", visit.term),
    ]:
        cell = first[name]
        assert cell["formula"] is None and cell["type"] == "string", (name, cell)
        assert cell["text"] == "'" + stored, (name, cell)
    assert second["source"]["formula"] is None and second["source"]["text"] == "'=1+1"
    # The only formulas in the file are the phone numbers'.
    formulas = {
        name: cell["formula"] for row in read for name, cell in row.items() if cell["formula"]
    }
    assert set(formulas) <= {"caller", "tracking number"}, formulas
    # Numbers Ringtrail computed stay numbers.
    assert first["talk seconds"]["type"] == "float" and first["talk seconds"]["text"] == "61"
    assert first["attribution"]["text"] == "Matched to a visit"
    assert first["first-time or repeat caller"]["text"] == "first"

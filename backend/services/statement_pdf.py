"""The account statement as a PDF a person can file (reportlab): the member, the period, the
opening and closing balances and every movement in a table that repeats its header on each
page. Chinese text is set in reportlab's built-in CID font STSong-Light (a standard Adobe
font every PDF reader has: nothing is embedded); the rest in Helvetica."""

from __future__ import annotations

import io
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, TableStyle

CJK_FONT = "STSong-Light"
LATIN_FONT = "Helvetica"
pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))

HEADER = ("Time (UTC)", "Block", "Reason", "Counterparty", "Transaction", "Amount", "Balance")


def money(fen: int) -> str:
    """Fen as yuan with thousands separators: 123456789 -> 1,234,567.89 (integers only)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def _font(text: str) -> str:
    return LATIN_FONT if all(ord(c) < 0x250 for c in text) else CJK_FONT


def _para(text: str, size: float, *, bold: bool = False) -> Paragraph:
    font = _font(text)
    if bold and font == LATIN_FONT:
        font = "Helvetica-Bold"
    style = ParagraphStyle(name=f"{font}-{size}", fontName=font, fontSize=size, leading=size * 1.3)
    safe = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return Paragraph(safe, style)


def _short(h: str | None) -> str:
    return f"{h[:10]}…{h[-6:]}" if h else ""


def statement_pdf(body: dict[str, Any]) -> bytes:
    """The PDF of a statement body (`statements.statement`)."""
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=landscape(A4),
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=f"Account statement {body['member']}",
        author="scf-ledger",
    )
    p = body["period"]
    member = body["member"] + (f" ({body['member_name']})" if body.get("member_name") else "")
    span = f"blocks {p['from_block']} to {p['to_block']}"
    if p.get("from_date") or p.get("to_date"):
        span = f"{p.get('from_date') or '…'} to {p.get('to_date') or '…'} (UTC), " + span
    cur = body["currency"]
    story: list[Any] = [
        _para("账户对账单", 16),
        _para("Account statement", 14, bold=True),
        Spacer(1, 3 * mm),
        _para(f"Member: {member}", 10),
        _para(f"Period: {span}", 10),
        _para(f"Opening balance: {money(body['opening_balance'])} {cur}", 10),
        _para(
            f"In: {money(body['total_in'])} {cur}    Out: {money(body['total_out'])} {cur}    "
            f"Movements: {body['count']}",
            10,
        ),
        _para(f"Closing balance: {money(body['closing_balance'])} {cur}", 10, bold=True),
        Spacer(1, 4 * mm),
    ]
    rows: list[list[Any]] = [list(HEADER)]
    for m in body["movements"]:
        who = m["counterparty"] or ""
        if m.get("counterparty_name"):
            who = f"{m['counterparty_name']} {who}"
        rows.append(
            [
                (m["time"] or "").replace("T", " ").removesuffix("Z"),
                str(m["block_number"]),
                _para(m["reason"], 7.5),
                _para(who, 7),
                _short(m["tx_hash"]),
                money(m["amount"]),
                money(m["balance"]),
            ]
        )
    if len(rows) == 1:
        rows.append(["", "", "no movement in this period", "", "", "", ""])
    widths = [32 * mm, 16 * mm, 70 * mm, 62 * mm, 36 * mm, 28 * mm, 28 * mm]
    table = LongTable(rows, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
                ("FONT", (0, 1), (-1, -1), LATIN_FONT, 7.5),
                ("ALIGN", (5, 0), (6, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f0f0f0")]),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
            ]
        )
    )
    story.append(table)
    story.append(Spacer(1, 3 * mm))
    story.append(_para(f"Closing balance: {money(body['closing_balance'])} {cur}", 10, bold=True))
    doc.build(story)
    return buf.getvalue()

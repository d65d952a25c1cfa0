"""The account statement as a PDF a person can file (reportlab): the member, the period, the
opening and closing balances and every movement in a table that repeats its header on each
page. Chinese text is set in reportlab's built-in CID font STSong-Light (a standard Adobe
font every PDF reader has: nothing is embedded); the rest in Helvetica."""

from __future__ import annotations

import io
from functools import lru_cache
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

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


def _short(h: str | None) -> str:
    return f"{h[:10]}…{h[-6:]}" if h else ""


SIZE = 7
ROW = 10.0  # points a movement row takes
WIDTHS = [30 * mm, 13 * mm, 88 * mm, 60 * mm, 30 * mm, 24 * mm, 25 * mm]
RIGHT = {5, 6}  # amount and balance, right-aligned
PAGE = landscape(A4)
MARGIN = 12 * mm


@lru_cache(maxsize=4096)
def _fit(text: str, width: float) -> tuple[str, str]:
    """`text` cut (with …) to `width` points in its font, and that font (cached: a statement
    repeats its counterparties)."""
    font = _font(text)
    if pdfmetrics.stringWidth(text, font, SIZE) <= width:
        return text, font
    lo, hi = 0, len(text)  # the longest prefix that fits with the ellipsis
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if pdfmetrics.stringWidth(text[:mid] + "…", font, SIZE) <= width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + "…", font


#: Columns whose text always fits its width in Helvetica: time, block, transaction, amounts.
FIXED = {0, 1, 4, 5, 6}


class _Pages:
    """Draws straight on the canvas, a row at a time: platypus tables lay out every cell as a
    flowable and take minutes for a statement of 10,000 movements."""

    def __init__(self, c: canvas.Canvas, title: str) -> None:
        self.c = c
        self.title = title
        self.page = 1
        self.y = PAGE[1] - MARGIN
        self.x = [MARGIN]
        for w in WIDTHS:
            self.x.append(self.x[-1] + w)

    def line(self, text: str, size: float, *, bold: bool = False, gap: float = 1.35) -> None:
        font = _font(text)
        if bold and font == LATIN_FONT:
            font = "Helvetica-Bold"
        self.y -= size * gap
        self.c.setFont(font, size)
        self.c.drawString(MARGIN, self.y, text)

    def _room(self, needed: float) -> None:
        if self.y - needed >= MARGIN + ROW:
            return
        self._footer()
        self.c.showPage()
        self.page += 1
        self.y = PAGE[1] - MARGIN
        self.header()

    def _footer(self) -> None:
        self.c.setFont(LATIN_FONT, 7)
        self.c.drawRightString(PAGE[0] - MARGIN, MARGIN / 2, f"{self.title} · page {self.page}")

    def header(self) -> None:
        self._room(2 * ROW)
        self.y -= ROW + 2
        self.c.setFont("Helvetica-Bold", 8)
        for k, text in enumerate(HEADER):
            self._cell(k, text, self.y + 3)
        self.c.setLineWidth(0.8)
        self.c.line(MARGIN, self.y, self.x[-1], self.y)

    def _cell(self, k: int, text: str, baseline: float) -> None:
        if k in RIGHT:
            self.c.drawRightString(self.x[k + 1] - 2, baseline, text)
        else:
            self.c.drawString(self.x[k] + 2, baseline, text)

    def row(self, cells: list[str], shaded: bool) -> None:
        self._room(ROW)
        self.y -= ROW
        if shaded:
            self.c.setFillColor(SHADE)
            self.c.rect(MARGIN, self.y, self.x[-1] - MARGIN, ROW, stroke=0, fill=1)
            self.c.setFillColor(colors.black)
        # one text object a row: a drawString per cell builds one per cell
        t = self.c.beginText()
        baseline = self.y + 3
        for k, text in enumerate(cells):
            fitted, font = (text, LATIN_FONT) if k in FIXED else _fit(text, WIDTHS[k] - 4)
            t.setFont(font, SIZE)
            if k in RIGHT:
                x = self.x[k + 1] - 2 - pdfmetrics.stringWidth(fitted, font, SIZE)
            else:
                x = self.x[k] + 2
            t.setTextOrigin(x, baseline)
            t.textOut(fitted)
        self.c.drawText(t)

    def finish(self) -> None:
        self._footer()


SHADE = colors.HexColor("#eeeeee")


def statement_pdf(body: dict[str, Any]) -> bytes:
    """The PDF of a statement body (`statements.statement`)."""
    buf = io.BytesIO()
    title = f"Account statement {body['member']}"
    c = canvas.Canvas(buf, pagesize=PAGE, pageCompression=1)
    c.setTitle(title)
    c.setAuthor("scf-ledger")
    pages = _Pages(c, title)
    p = body["period"]
    member = body["member"] + (f" ({body['member_name']})" if body.get("member_name") else "")
    span = f"blocks {p['from_block']} to {p['to_block']}"
    if p.get("from_date") or p.get("to_date"):
        span = f"{p.get('from_date') or '…'} to {p.get('to_date') or '…'} (UTC), " + span
    cur = body["currency"]
    pages.line("账户对账单", 16)
    pages.line("Account statement", 14, bold=True)
    pages.line(f"Member: {member}", 10, gap=2)
    pages.line(f"Period: {span}", 10)
    pages.line(f"Opening balance: {money(body['opening_balance'])} {cur}", 10)
    pages.line(
        f"In: {money(body['total_in'])} {cur}    Out: {money(body['total_out'])} {cur}    "
        f"Movements: {body['count']}",
        10,
    )
    pages.line(f"Closing balance: {money(body['closing_balance'])} {cur}", 10, bold=True)
    pages.y -= 6
    pages.header()
    for n, m in enumerate(body["movements"]):
        who = m["counterparty"] or ""
        if m.get("counterparty_name"):
            who = f"{m['counterparty_name']} {who}"
        pages.row(
            [
                (m["time"] or "").replace("T", " ").removesuffix("Z"),
                str(m["block_number"]),
                m["reason"],
                who,
                _short(m["tx_hash"]),
                money(m["amount"]),
                money(m["balance"]),
            ],
            shaded=n % 2 == 1,
        )
    if not body["movements"]:
        pages.row(["", "", "no movement in this period", "", "", "", ""], shaded=False)
    pages._room(3 * ROW)
    pages.line(f"Closing balance: {money(body['closing_balance'])} {cur}", 10, bold=True, gap=2)
    pages.finish()
    c.save()
    return buf.getvalue()

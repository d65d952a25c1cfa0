"""The example queries of docs/audit-sql.md, as psycopg runs them: the test that keeps the page
true and the bench read them from the page itself."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parents[2] / "docs" / "audit-sql.md"


def example_queries(text: str | None = None) -> dict[str, str]:
    """Each ```sql block of the page, by the heading above it."""
    out: dict[str, str] = {}
    heading = ""
    for part in re.split(r"(^### .*$)", DOC.read_text() if text is None else text, flags=re.M):
        if part.startswith("### "):
            heading = part[4:].strip()
            continue
        found = re.search(r"```sql\n(.*?)```", part, flags=re.S)
        if found:
            out[heading] = found.group(1)
    return out


def bind(query: str, **values: Any) -> tuple[str, dict[str, Any]]:
    """A psql query for psycopg: `\\set` lines dropped, psql's :'name' (a quoted literal) and
    :name (as written) turned into parameters."""
    body = "\n".join(line for line in query.splitlines() if not line.startswith("\\"))
    params: dict[str, Any] = {}

    def quoted(m: re.Match[str]) -> str:
        params[m.group(1) + "_text"] = str(values[m.group(1)])
        return f"%({m.group(1)}_text)s"

    def bare(m: re.Match[str]) -> str:
        params[m.group(1)] = values[m.group(1)]
        return f"%({m.group(1)})s"

    body = re.sub(r":'(\w+)'", quoted, body)
    body = re.sub(r"(?<![:\w]):([a-z_]\w*)", bare, body)
    return body.rstrip().rstrip(";"), params

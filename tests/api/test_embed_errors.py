"""Every error code the widget can send a host page is documented in docs/EMBEDDING.md, and says whether the
student sees anything: the server's own codes (REST and WebSocket) included."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def widget_codes() -> dict[str, str]:
    src = (REPO / "static/js/embed/protocol.js").read_text(encoding="utf-8")
    table = src[src.index("export const ERROR_CODES = {"):]
    table = table[:table.index("};")]
    table = re.sub(r"//[^\n]*", "", table)
    return dict(re.findall(r"\b([a-z_]+): ([A-Za-z_]+|\"[^\"]*\")", table))


def server_codes() -> set[str]:
    codes = set()
    for path in (REPO / "app").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        codes |= set(re.findall(r'\.error\("([a-z_]+)"', text))
        codes |= set(re.findall(r'ApiError\(\d+, "([a-z_]+)"', text))
        codes |= set(re.findall(r'"code":\s*"([a-z_]+)"', text))
        codes |= set(re.findall(r'\bcode\s*=\s*"([a-z_]+)"', text))
        codes |= set(re.findall(r'\bconflict\("([a-z_]+)"', text))
    return codes


def documented() -> set[str]:
    doc = (REPO / "docs/EMBEDDING.md").read_text(encoding="utf-8")
    section = doc[doc.index("### Error codes"):]
    section = section[:section.index("\n\n", section.index("| code |"))]
    return set(re.findall(r"`([a-z_]+)`", section.split("\n", 4)[-1]))


def test_the_widget_knows_every_code_the_server_sends():
    known = widget_codes()
    assert {"needs_reset", "invalid_message", "bad_message", "session_lost", "config_refused"} <= set(known)
    # not answers to anything the widget sends: pages, CORS pre-flights, the lessons' own validation endpoint
    missing = server_codes() - set(known) - {"not_found", "page_not_found", "method_not_allowed",
                                               "cors_origin_not_allowed", "invalid_lesson"}
    assert not missing, f"codes the server sends that the widget does not know: {sorted(missing)}"


def test_every_code_is_documented_and_developer_messages_stay_off_the_students_screen():
    known = widget_codes()
    assert set(known) <= documented(), sorted(set(known) - documented())
    # what is meant for the host page's developer is never shown to a student
    for code in ("bad_message", "invalid_message", "invalid_config", "needs_reset", "read_only", "command_failed"):
        assert known[code] == "null", code
    for code in ("session_lost", "too_many_clients", "internal_error"):
        assert known[code] not in ("null",), code

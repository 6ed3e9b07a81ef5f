"""axe-core (vendored test asset, tests/browser/vendor/axe-core, never served by the app): injects it into a page
and runs its checks, every rule of every impact."""

from __future__ import annotations

from pathlib import Path

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"


def axe_violations(page, include: str | None = None) -> list[str]:
    """The violations axe finds on the page as it is now (or inside the `include` selector), one line each:
    rule, impact, the first elements and why."""
    if not page.evaluate("() => !!window.axe"):
        # evaluated by the test driver, not added as a script element: the pages' Content-Security-Policy
        # (script-src 'self') refuses inline scripts, and the test must not loosen what it checks
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        """async (include) => {
            const r = await axe.run(include ? { include: [include] } : document, { resultTypes: ["violations"] });
            return r.violations.map((v) => ({ id: v.id, impact: v.impact,
              nodes: v.nodes.slice(0, 4).map((n) => `${n.target.join(" ")}: ${(n.failureSummary || "").split("\\n").slice(1, 2).join("")}`) }));
        }""",
        include,
    )
    return [f"{v['id']} ({v['impact']}): " + " | ".join(v["nodes"]) for v in result]

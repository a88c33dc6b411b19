"""axe-core (Deque's accessibility checker, from npm: tests/sdk/package.json) run in a
Playwright page, and its findings put in words a person can fix from.

The site's Content-Security-Policy allows only its own scripts with a nonce, so a
<script> tag added to the page (page.add_script_tag) would be refused. The file is run
through the DevTools protocol instead (page.evaluate), which the CSP does not govern:
the page's own policy stays on, as members get it.
"""

from functools import cache

from tests.sdk.npm_support import node_modules

# WCAG 2.0, 2.1 and 2.2, levels A and AA: what issue 21 promises.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

_RUN = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
  return result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target.join(" "), summary: n.failureSummary})),
  }));
}"""


@cache
def axe_source() -> str:
    return (node_modules() / "axe-core" / "axe.min.js").read_text()


def axe_violations(page) -> list[dict]:
    """axe-core's WCAG A/AA violations on the page as it is now (none: [])."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    return page.evaluate(_RUN, TAGS)


def described(where: str, violations: list[dict]) -> list[str]:
    """One line per failing element: page, rule id, impact, target, axe's summary."""
    lines = []
    for violation in violations:
        for node in violation["nodes"]:
            summary = " ".join((node["summary"] or "").split())
            lines.append(
                f"{where}: {violation['id']} ({violation['impact']}) at {node['target']}: "
                f"{violation['help']}. {summary}"
            )
    return lines

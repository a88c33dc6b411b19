"""axe-core (Deque's accessibility checker, from npm: tests/sdk/package.json) run in a
Playwright page, and its findings put in words a person can fix from.

The site's Content-Security-Policy allows only its own scripts with a nonce, so a
<script> tag added to the page (page.add_script_tag) would be refused. The file is run
through the DevTools protocol instead, which the CSP does not govern: as an init script
of the browser context (axe_install, before each page's own scripts), or with
page.evaluate when a page lacks it. The page's own policy stays on, as members get it.
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


def axe_path():
    return node_modules() / "axe-core" / "axe.min.js"


@cache
def axe_source() -> str:
    return axe_path().read_text()


def axe_install(context) -> None:
    """axe-core in every page the browser context opens from now on."""
    context.add_init_script(path=str(axe_path()))


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


# Every focusable control on the page, focused in turn after a Tab (so :focus-visible
# applies as it does for a keyboard user): its outline must be drawn, at least 2px, and
# reach 3:1 (as painted, transparency included) against the background around it (WCAG
# 2.4.7, 2.4.11 and 1.4.11). axe-core does not check focus rings: it never focuses anything.
_FOCUS = """() => {
  const probe = document.createElement("canvas").getContext("2d");
  const rgb = (colour) => {
    probe.clearRect(0, 0, 1, 1);
    probe.fillStyle = "#000";
    probe.fillStyle = colour;
    probe.fillRect(0, 0, 1, 1);
    return Array.from(probe.getImageData(0, 0, 1, 1).data);
  };
  const luminance = ([r, g, b]) => {
    const c = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * c(r) + 0.7152 * c(g) + 0.0722 * c(b);
  };
  const behind = (element) => {
    for (let node = element.parentElement; node; node = node.parentElement) {
      const colour = rgb(getComputedStyle(node).backgroundColor);
      if (colour[3] === 255) return colour;
    }
    return rgb(getComputedStyle(document.documentElement).backgroundColor || "#fff");
  };
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\\s+/).join(".") : "") +
    (el.textContent.trim() ? ` "${el.textContent.trim().slice(0, 30)}"` : "");
  const problems = [];
  const controls = document.querySelectorAll(
    "a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]:not([tabindex='-1'])");
  for (const el of controls) {
    if (el.disabled || !el.checkVisibility({visibilityProperty: true})) continue;
    const box = el.getBoundingClientRect();
    if (box.width < 2 || box.height < 2) continue;
    el.focus({preventScroll: true});
    if (document.activeElement !== el) continue;
    const style = getComputedStyle(el);
    const width = parseFloat(style.outlineWidth);
    if (style.outlineStyle === "none" || width < 2) {
      problems.push(`${name(el)}: no focus outline of 2px or more (${style.outlineStyle} ${style.outlineWidth})`);
      continue;
    }
    const back = behind(el), paint = rgb(style.outlineColor), alpha = paint[3] / 255;
    const ring = paint.slice(0, 3).map((v, i) => v * alpha + back[i] * (1 - alpha));  // as seen
    const [hi, lo] = [luminance(ring), luminance(back)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    if (ratio < 3) {
      problems.push(`${name(el)}: focus outline ${style.outlineColor} is ${ratio.toFixed(2)}:1 against rgb(${back.slice(0, 3)}) (3:1 needed)`);
    }
  }
  document.activeElement && document.activeElement.blur();
  return problems;
}"""


def focus_ring_problems(page) -> list[str]:
    """Controls whose keyboard focus ring is missing, thin, see-through or under 3:1."""
    page.keyboard.press("Tab")  # from here on, focus is keyboard focus (:focus-visible)
    return page.evaluate(_FOCUS)


_SCHEME = """() => {
  const probe = document.createElement("canvas").getContext("2d");
  probe.fillStyle = getComputedStyle(document.body).backgroundColor;
  probe.fillRect(0, 0, 1, 1);
  const [r, g, b] = probe.getImageData(0, 0, 1, 1).data;
  return (r + g + b) / 3 < 128 ? "dark" : "light";
}"""


def page_scheme(page) -> str:
    """ "dark" or "light": what the page's background looks like."""
    return page.evaluate(_SCHEME)

"""Open pages of the built book in headless Debian Chromium (driven by Playwright).

Shared by the site tests and ``tools/screenshot.py``. Never downloads a browser.
"""
from __future__ import annotations

import contextlib
import pathlib
from dataclasses import dataclass, field

ROOT = pathlib.Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
HARMLESS = ()   # none: the THEBE_JS_URL and theme-mode errors every page logged are fixed (genmech.sphinxext)

# Per figure: which pieces of its text (titles, subplot titles, axis titles, legend entries,
# tick labels, a colour bar's labels and title) overlap, or stick out of the figure? An empty
# list for a clean figure. Tick labels count too: characters printed over each other, a
# log axis's crowded digits, two axes' labels meeting at a corner. (Whether a tick label
# sticks out is left to plotly, which keeps them inside by its margins.)
TEXT_CLASH = """() => Array.from(document.querySelectorAll('.plotly-graph-div')).map(d => {
    const box = d.getBoundingClientRect();
    const tick = e => /tick$/.test(e.parentNode.getAttribute('class') || '');
    const els = Array.from(new Set(d.querySelectorAll('.annotation-text, .gtitle, [class^="g-x"] text, '
        + '[class^="g-y"] text, .legendtext, .xaxislayer-above text, .yaxislayer-above text, .colorbar text')))
        .filter(e => e.getBoundingClientRect().width > 0 && e.textContent.trim());
    // each text's own box, turned as it is drawn (a label slanted at 30 degrees has a
    // slanted box: the upright box around it would meet its neighbour's without the words
    // touching), as four corners on the screen
    const quad = e => { const b = e.getBBox(), m = e.getScreenCTM();
        return [[b.x, b.y], [b.x + b.width, b.y], [b.x + b.width, b.y + b.height], [b.x, b.y + b.height]]
            .map(([x, y]) => [m.a * x + m.c * y + m.e, m.b * x + m.d * y + m.f]); };
    // two boxes overlap (by more than a pixel) unless a side of one separates them
    const apart = (p, q) => [p, q].some(poly => poly.some((v, i) => {
        const w = poly[(i + 1) % 4], nx = w[1] - v[1], ny = v[0] - w[0], n = Math.hypot(nx, ny) || 1;
        const a = p.map(u => (u[0] * nx + u[1] * ny) / n), b = q.map(u => (u[0] * nx + u[1] * ny) / n);
        return Math.max(...a) <= Math.min(...b) + 1 || Math.max(...b) <= Math.min(...a) + 1; }));
    const t = els.map(e => e.getBoundingClientRect()), q = els.map(quad), out = [];
    for (let i = 0; i < t.length; i++) {
        if (!tick(els[i]) && (t[i].right > box.right + 1 || t[i].left < box.left - 1)) out.push('"' + els[i].textContent + '" sticks out');
        for (let j = i + 1; j < t.length; j++) {
            if (!apart(q[i], q[j])) out.push('"' + els[i].textContent + '" overlaps "' + els[j].textContent + '"');
        }
    }
    return out;
})"""


@dataclass
class PageReport:
    page: object
    expected: int                      # plotly figures in the HTML
    drawn: int                         # figures plotly.js actually drew
    errors: list = field(default_factory=list)


@contextlib.contextmanager
def launch():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def page_url(name: str) -> str:
    import browser  # read the module attribute, so tools can point it at another site

    path = browser.SITE / (name.strip("/") + ".html")
    if not path.exists():
        raise FileNotFoundError(f"{path} is not built; run `make book` first")
    return path.as_uri()


def open_page(browser, name: str, width: int = 1280) -> PageReport:
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(page_url(name), wait_until="load")
    expected = page.evaluate("document.querySelectorAll('.plotly-graph-div').length")
    if expected:
        page.wait_for_function(
            "n => document.querySelectorAll('.plotly-graph-div .main-svg').length >= n",
            arg=expected, timeout=20000)
    drawn = page.evaluate(
        "Array.from(document.querySelectorAll('.plotly-graph-div'))"
        ".filter(d => d.querySelector('.main-svg')).length")
    errors = [e for e in errors if not any(h in e for h in HARMLESS)]
    return PageReport(page, expected, drawn, errors)

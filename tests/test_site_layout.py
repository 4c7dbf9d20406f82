"""The site on every screen (issue 16), at a phone's width (390 px) and a desktop's (1280 px).

Every page is opened once per width, and every check of that width is made on that visit
(a page load is most of a browser test's time):

* plotly.js draws every figure, MathJax typesets the formulas, and no error is logged;
* every figure has a text alternative saying what it shows;
* no figure is wider than its column, and no page scrolls sideways;
* no code block scrolls sideways (code and its output wrap);
* no figure's text (title, subplot titles, axis titles, legend) overlaps other text or
  sticks out of the figure, after the site's own fitting on narrow screens;
* a recorded animation plays (its frames change the figure); its Play/Pause buttons and its
  slider do not cover each other, Pause logs no error, and Play after Pause resumes where
  it stopped; an animation driven by its slider alone changes when the slider moves.
"""
import re

import pytest

from browser import TEXT_CLASH, open_page
from test_site import PAGES, animated_pages, html

WIDTHS = [390, 1280]
FIGURE_PAGES = [p for p in PAGES if "plotly-graph-div" in html(p)]


def test_the_site_has_figures():
    assert len(FIGURE_PAGES) >= 20


@pytest.mark.parametrize("page", FIGURE_PAGES)
def test_every_figure_has_a_text_alternative(page):
    text = html(page)
    figures = text.count('class="plotly-graph-div"')
    labels = re.findall(r'<figure class="genmech-figure" role="img" aria-label="([^"]*)"', text)
    assert len(labels) == figures, f"{len(labels)} text alternatives for {figures} figures"
    for label in labels:
        assert len(label) > 20 and label != "Figure.", label


MEASURE = """() => {
    const col = document.querySelector('article.bd-article') || document.body;
    const right = col.getBoundingClientRect().right + 1;
    const wide = Array.from(document.querySelectorAll('.plotly-graph-div'))
        .filter(d => d.getBoundingClientRect().right > right).length;
    const code = Array.from(document.querySelectorAll('div.cell_input pre, div.cell_output pre'))
        .filter(p => p.scrollWidth > p.clientWidth + 1).length;
    return {wide, code, page: document.documentElement.scrollWidth - window.innerWidth};
}"""


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("page", PAGES)
def test_page_renders_and_fits(browser, page, width):
    """One visit per page and width: plotly.js draws every figure, MathJax typesets the
    formulas, nothing logs an error, and nothing runs off the side or clashes."""
    report = open_page(browser, page, width=width)
    try:
        assert report.drawn == report.expected, \
            f"{report.drawn}/{report.expected} figures drawn at {width} px"
        assert not report.errors, report.errors
        if "\\(" in html(page) or "\\[" in html(page):
            report.page.wait_for_selector("mjx-container", state="attached", timeout=15000)
        m = report.page.evaluate(MEASURE)
        assert m["wide"] == 0, f"{m['wide']} figure(s) wider than the column at {width} px"
        assert m["code"] == 0, f"{m['code']} code block(s) scroll sideways at {width} px"
        assert m["page"] <= 1, f"the page scrolls {m['page']} px sideways at {width} px"
        report.page.wait_for_timeout(700)          # the site's fitting relayouts on phones
        clashes = [f"figure {k + 1}: {c}" for k, figure in enumerate(report.page.evaluate(TEXT_CLASH))
                   for c in figure]
        assert not clashes, f"figure text clashes at {width} px: " + "; ".join(clashes)
    finally:
        report.page.close()


# The first recorded animation with a Play button (else the first one at all), its
# controls' boxes, and a signature of what it draws (to see the frames change it).
CONTROLS = """() => {
    const all = Array.from(document.querySelectorAll('.plotly-graph-div'))
        .filter(d => d._transitionData && d._transitionData._frames.length > 1);
    const playable = all.find(d => Array.from(d.querySelectorAll('.updatemenu-button'))
        .some(b => b.textContent.includes('Play')));
    const d = playable || all[0];
    if (!d) return {animations: 0};
    d.scrollIntoView();
    window.__d = d; window.__shown = [];
    d.on('plotly_animatingframe', e => window.__shown.push(e.name));
    window.__press = label => Array.from(d.querySelectorAll('.updatemenu-button'))
        .find(b => b.textContent.includes(label))
        .dispatchEvent(new MouseEvent('click', {bubbles: true}));
    window.__sig = () => JSON.stringify(d._fullData.map(
        t => [Array.from(t.x || []), Array.from(t.y || []), t.z ? String(t.z) : null]));
    window.__before = window.__sig();
    if (!playable) return {animations: all.length, playable: false};
    const box = e => e.getBoundingClientRect();
    const buttons = Array.from(d.querySelectorAll('.updatemenu-button')).map(box);
    const slider = d.querySelector('.slider-container .slider-rail, .slider-container rect');
    const s = slider ? box(slider) : null;
    const overlap = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
    return {animations: all.length, playable: true, found: !!s,
            overlap: s ? buttons.some(b => overlap(b, s)) : false};
}"""

# An animation driven by its slider only: move it to the other end, as dragging it does.
SLIDE = """() => {
    const d = window.__d, frames = d._transitionData._frames;
    const active = (d.layout.sliders && d.layout.sliders[0].active) || 0;
    const target = active === 0 ? frames[frames.length - 1] : frames[0];
    Plotly.animate(d, [target.name], {frame: {duration: 0, redraw: true}, mode: 'immediate'});
}"""


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("page", animated_pages())
def test_recorded_animations_play_pause_and_resume(browser, page, width):
    """Play shows the frames and changes the figure; the buttons do not cover the slider;
    Pause logs no error; Play after Pause resumes where it stopped. An animation without
    buttons changes its figure when its slider moves."""
    report = open_page(browser, page, width=width)
    p = report.page
    later = []          # errors from here on (open_page reported those of the page load)
    p.on("pageerror", lambda e: later.append(str(e)))
    p.on("console", lambda m: later.append(m.text) if m.type == "error" else None)
    try:
        controls = p.evaluate(CONTROLS)
        assert controls["animations"] >= 1, "no recorded animation with more than one frame"
        if not controls["playable"]:
            p.evaluate(SLIDE)
            p.wait_for_function("() => window.__sig() != window.__before", timeout=10000)
        else:
            assert controls["found"] and not controls["overlap"], \
                f"Play/Pause cover the slider at {width} px"
            p.evaluate("() => window.__press('Play')")
            p.wait_for_function("() => window.__shown.length >= 3", timeout=15000)
            p.wait_for_function("() => window.__sig() != window.__before", timeout=10000)
            p.evaluate("() => window.__press('Pause')")
            p.wait_for_timeout(400)
            paused_at = p.evaluate("() => window.__shown.length")
            names = p.evaluate("() => window.__d._transitionData._frames.map(f => f.name)")
            last_shown = p.evaluate("() => window.__shown[window.__shown.length - 1]")
            p.evaluate("() => { window.__shown = []; window.__press('Play'); }")
            p.wait_for_function("() => window.__shown.length >= 1", timeout=15000)
            first_after = p.evaluate("() => window.__shown[0]")
            if names.index(last_shown) < len(names) - 1:
                assert names.index(first_after) > names.index(last_shown) - 1, \
                    f"Play after Pause restarted at {first_after!r}, not after {last_shown!r}"
            assert paused_at >= 3
            p.wait_for_timeout(300)
        assert not report.errors + later, report.errors + later
    finally:
        p.close()


def heaviest_pages(n: int = 4) -> list[str]:
    """The pages whose HTML is largest (their figures' data): the heaviest first visits."""
    from browser import SITE
    return sorted(PAGES, key=lambda p: -(SITE / f"{p}.html").stat().st_size)[:n]


def test_a_first_visit_transfers_at_most_5_mb(browser):
    """Issue 16: the heaviest pages, fetched over HTTP with an empty cache, all files counted
    (plotly.js's partial bundle, MathJax and its fonts, the theme, the page)."""
    import sys
    from pathlib import Path

    from browser import SITE

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import bench_site

    server = bench_site.serve(SITE)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        totals = {page: sum(bench_site.first_visit(browser, f"{base}/{page}.html").values())
                  for page in heaviest_pages()}
    finally:
        server.shutdown()
    assert max(totals.values()) <= 5_000_000, {k: f"{v / 1e6:.2f} MB" for k, v in totals.items()}


def test_search_results_quote_the_page_not_its_buttons(browser):
    """Issue 16: a search result's snippet is taken from the article, not from the header
    buttons above it (snippets used to begin "....pdf" or "...Binder")."""
    import sys
    from pathlib import Path

    from browser import SITE

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import bench_site

    server = bench_site.serve(SITE)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/search.html?q=gradient")
        page.wait_for_function("document.querySelectorAll('#search-results li p.context').length >= 5",
                               timeout=60000)
        snippets = page.evaluate(
            "Array.from(document.querySelectorAll('#search-results li p.context')).map(p => p.innerText)")
    finally:
        page.close()
        server.shutdown()
    assert len(snippets) >= 5
    for text in snippets:
        assert ".pdf" not in text and "Binder" not in text[:40], text[:120]

"""The built website, as a reader meets it: every page, every figure, every animation.

Run after `make book` (``make test`` does both).
"""
import re

import pytest
import yaml

from browser import ROOT, SITE, open_page

MAX_PAGE_BYTES = 2_000_000


def toc_pages():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]

    def walk(entries):
        for e in entries or []:
            if "file" in e:
                pages.append(e["file"])
            if "glob" in e:              # sections listed by pattern, e.g. book/gans/[0-9]*
                found = sorted(p for p in ROOT.glob(e["glob"]) if p.suffix in (".ipynb", ".md"))
                assert found, f"the glob {e['glob']} in _toc.yml matches no page"
                pages.extend(str(p.relative_to(ROOT).with_suffix("")) for p in found)
            walk(e.get("sections"))
            walk(e.get("chapters"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    return pages


PAGES = toc_pages()


def test_every_chapter_section_is_in_the_table_of_contents():
    notebooks = {str(p.relative_to(ROOT).with_suffix("")) for p in (ROOT / "book").rglob("*.ipynb")
                 if ".ipynb_checkpoints" not in p.parts}
    assert notebooks <= set(PAGES), sorted(notebooks - set(PAGES))


def html(page):
    return (SITE / f"{page}.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("page", PAGES)
def test_page_is_built_small_and_loads_plotly_at_most_once(page):
    path = SITE / f"{page}.html"
    assert path.exists(), f"{page} missing from the site"
    assert path.stat().st_size < MAX_PAGE_BYTES, f"{page}: {path.stat().st_size} bytes"
    text = html(page)
    loads = re.findall(r'<script[^>]+src="[^"]*plotly[^"]*\.js', text)
    figures = text.count("Plotly.newPlot")
    assert len(loads) == (1 if figures else 0)
    assert "cdn.plot.ly" not in text and "cdn.jsdelivr.net/npm/mathjax" not in text
    assert "application/vnd.jupyter.widget-state+json" not in text, "live widget state leaked"


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_every_figure_and_formula_in_the_browser(browser, page):
    report = open_page(browser, page)
    try:
        assert report.drawn == report.expected, f"{report.drawn}/{report.expected} figures drawn"
        assert not [e for e in report.errors if "theme mode" not in e], report.errors
        if "\\(" in html(page) or "\\[" in html(page):
            report.page.wait_for_selector("mjx-container", state="attached", timeout=15000)
    finally:
        report.page.close()


def animated_pages():
    return [p for p in PAGES if "Plotly.addFrames" in html(p)]


def test_some_pages_carry_recorded_animations():
    assert animated_pages(), "no recorded training animation found on the site"


@pytest.mark.parametrize("page", animated_pages())
def test_recorded_animations_play(browser, page):
    report = open_page(browser, page)
    page_ = report.page
    try:
        n = page_.evaluate("""() => Array.from(document.querySelectorAll('.plotly-graph-div'))
                               .filter(d => d._transitionData && d._transitionData._frames.length > 1).length""")
        assert n >= 1
        # Press a Play button, as a reader would, and watch the frames go by; an animation
        # driven by a slider only is moved to its first frame, as dragging the slider does.
        has_play = page_.evaluate("""() => {
            const all = Array.from(document.querySelectorAll('.plotly-graph-div'))
                .filter(d => d._transitionData && d._transitionData._frames.length > 1);
            const playable = all.find(d => Array.from(d.querySelectorAll('.updatemenu-button'))
                .some(b => b.textContent.includes('Play')));
            const d = playable || all[0];
            d.scrollIntoView(); window.__anim = d; window.__shown = [];
            d.on('plotly_animatingframe', e => window.__shown.push(e.name));
            window.__sig = () => JSON.stringify(window.__anim._fullData.map(
                t => [Array.from(t.x || []), Array.from(t.y || []), t.z ? String(t.z) : null]));
            window.__before = window.__sig();
            if (playable) {
                Array.from(d.querySelectorAll('.updatemenu-button'))
                    .find(b => b.textContent.includes('Play'))
                    .dispatchEvent(new MouseEvent('click', {bubbles: true}));
            } else {
                const frames = d._transitionData._frames;
                const active = (d.layout.sliders && d.layout.sliders[0].active) || 0;
                const target = active === 0 ? frames[frames.length - 1] : frames[0];
                Plotly.animate(d, [target.name], {frame: {duration: 0, redraw: true}, mode: 'immediate'});
            }
            return !!playable; }""")
        if has_play:
            page_.wait_for_function("() => window.__shown.length >= 5", timeout=15000)
        page_.wait_for_function("() => window.__sig() != window.__before", timeout=10000)
    finally:
        page_.close()


def test_launch_buttons_open_jupyterlab_on_binder_on_main():
    page = next(p for p in PAGES if p.endswith(".ipynb") is False and "gradient-descent/" in p
                and not p.endswith("index"))
    text = html(page)
    assert "mybinder.org/v2/gh/" in text
    assert re.search(r"mybinder\.org/v2/gh/[^\"]+/main\?urlpath=lab", text), "Binder link not on main/lab"


def test_references_page_lists_the_cited_works():
    text = html("book/references/index")
    assert text.count('class="citation"') + text.count("<dt") + text.count('role="doc-biblioentry"') >= 3

"""The built website, as a reader meets it: every page is built, small, and complete.

What the browser shows (every figure drawn, every formula typeset, every animation playing,
at a phone's width and a desktop's) is checked in ``test_site_layout.py``, one visit per
page and width.

Run after `make book` (``make test`` does both).
"""
import re

import pytest
import yaml

from browser import ROOT, SITE

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


def animated_pages():
    return [p for p in PAGES if "Plotly.addFrames" in html(p)]


def test_some_pages_carry_recorded_animations():
    assert animated_pages(), "no recorded training animation found on the site"


def test_launch_buttons_open_jupyterlab_on_binder_on_main():
    page = next(p for p in PAGES if p.endswith(".ipynb") is False and "gradient-descent/" in p
                and not p.endswith("index"))
    text = html(page)
    assert "mybinder.org/v2/gh/" in text
    assert re.search(r"mybinder\.org/v2/gh/[^\"]+/main\?urlpath=lab", text), "Binder link not on main/lab"


def test_references_page_lists_the_cited_works():
    text = html("book/references/index")
    assert text.count('class="citation"') + text.count("<dt") + text.count('role="doc-biblioentry"') >= 3

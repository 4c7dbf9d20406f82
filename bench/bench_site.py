"""What a first visit to each page of the built site transfers (issue 16: at most 5 MB).

    python bench/bench_site.py            (or `make bench`; needs `make book` first)

Serves _build/html over HTTP on localhost, opens every page of the table of contents in
headless Chromium with an empty cache at 1280 px, and adds up the bytes of every response
(HTML, scripts, style sheets, fonts, MathJax's pieces). Prints each page's total, its three
heaviest files, and the heaviest page. Nothing is asserted: it is a measurement.
"""
from __future__ import annotations

import functools
import http.server
import pathlib
import sys
import threading

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from browser import CHROMIUM, FLAGS, SITE, TEXT_CLASH  # noqa: E402

GOAL = 5_000_000

def pages() -> list[str]:
    from test_site import toc_pages
    return toc_pages()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(folder: pathlib.Path) -> http.server.ThreadingHTTPServer:
    """An HTTP server for ``folder`` on a free port of localhost, in a thread."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def first_visit(browser, url: str) -> dict[str, int]:
    """Bytes of every response a first visit to ``url`` receives, by URL (empty cache)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sizes = {}

    def record(response):
        try:
            sizes[response.url] = len(response.body())
        except Exception:          # a redirect or an aborted request has no body
            pass

    page.on("response", record)
    page.goto(url, wait_until="networkidle")
    page.wait_for_timeout(300)
    context.close()
    return sizes


def main() -> int:
    if not (SITE / "index.html").exists():
        print("the site is not built: run `make book` first")
        return 0
    from playwright.sync_api import sync_playwright

    server = serve(SITE)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        for page_name in pages():
            sizes = first_visit(browser, f"{base}/{page_name}.html")
            heavy = sorted(sizes.items(), key=lambda kv: -kv[1])[:3]
            rows.append((page_name, sum(sizes.values()), heavy))
        browser.close()
    server.shutdown()
    print(f"{'page':<52} {'first visit':>12}")
    for name, total, heavy in rows:
        flag = "" if total <= GOAL else "  over 5 MB"
        print(f"{name:<52} {total / 1e6:9.2f} MB{flag}")
    name, total, heavy = max(rows, key=lambda r: r[1])
    print(f"\nheaviest: {name}, {total / 1e6:.2f} MB; its largest files:")
    for url, size in heavy:
        print(f"  {size / 1e6:6.2f} MB  {url.rsplit('/', 1)[-1]}")
    print(f"pages over {GOAL / 1e6:.0f} MB: {sum(r[1] > GOAL for r in rows)} of {len(rows)}")
    text_clashes()
    return 0


def text_clashes() -> None:
    """How many figures, at a phone's and a desktop's width, have text that overlaps or
    sticks out (after the site's own fitting on narrow screens)."""
    from playwright.sync_api import sync_playwright

    from browser import open_page

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        for width in (390, 1280):
            bad, total, worst = 0, 0, []
            for page_name in pages():
                report = open_page(browser, page_name, width=width)
                report.page.wait_for_timeout(700)       # the site's fitting relayouts
                flags = [bool(f) for f in report.page.evaluate(TEXT_CLASH)]
                report.page.close()
                total += len(flags)
                bad += sum(flags)
                if any(flags):
                    worst.append(f"{page_name} ({sum(flags)})")
            print(f"\nfigures with clashing or clipped text at {width} px: {bad} of {total}")
            if worst:
                print("  " + ", ".join(worst))
        browser.close()


if __name__ == "__main__":
    sys.exit(main())

"""Screenshot pages of the built book in headless Chromium, and report what a reader would see.

    python tools/screenshot.py book/gradient-descent/05-optimizer-race [more pages...] [--out DIR] [--site DIR]

For each page: a full-page PNG in DIR (default _build/screenshots), the number of plotly
figures drawn versus expected, and any JavaScript errors (a page should log none). Uses Debian's chromium; never downloads a browser.
"""
from __future__ import annotations

import argparse
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import browser  # noqa: E402
from browser import open_page, launch  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("pages", nargs="+")
    ap.add_argument("--out", default=str(ROOT / "_build" / "screenshots"))
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--site", default=None, help="a built site other than _build/html")
    args = ap.parse_args()
    if args.site:
        browser.SITE = pathlib.Path(args.site).resolve()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with launch() as chromium:
        for page_name in args.pages:
            report = open_page(chromium, page_name, width=args.width)
            png = out / (page_name.strip("/").replace("/", "__") + ".png")
            report.page.screenshot(path=str(png), full_page=True)
            print(f"{page_name}: {report.drawn}/{report.expected} figures drawn, "
                  f"errors: {report.errors or 'none'} -> {png}")
            report.page.close()


if __name__ == "__main__":
    main()

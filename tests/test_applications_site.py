"""The applications chapter on the built site: its sounds are there, small, captioned, and play.

Run after `make book` (or point GENMECH_SITE at a chapter build of tools/build_chapter.py).
"""
import base64
import io
import os
import pathlib
import re
import wave

import pytest

import browser as browser_module

SITE = pathlib.Path(os.environ.get("GENMECH_SITE", browser_module.SITE)).resolve()
CLIP_BYTES = 200_000          # each clip, as embedded in the page (base64)
# page -> the least number of audio clips it must carry
PAGES = {"book/applications/03-music": 5, "book/applications/04-audio": 3}
AUDIO = re.compile(r'<figure class="genmech-audio".*?<audio[^>]*src="data:audio/wav;base64,([^"]+)"'
                   r'.*?<figcaption[^>]*>(.*?)</figcaption>', re.S)


def clips(page):
    path = SITE / f"{page}.html"
    if not path.exists():
        pytest.skip(f"{path} is not built")
    return AUDIO.findall(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("page", PAGES)
def test_audio_elements_exist_are_small_captioned_and_valid_wav(page):
    found = clips(page)
    assert len(found) >= PAGES[page], f"{page}: {len(found)} audio clips"
    for data, caption in found:
        assert len(data) <= CLIP_BYTES, f"a clip of {len(data)} bytes"
        with wave.open(io.BytesIO(base64.b64decode(data))) as w:
            assert w.getnchannels() == 1 and w.getframerate() == 8000
            seconds = w.getnframes() / w.getframerate()
            assert 0.2 < seconds <= 15, seconds
        # a caption says what was generated (or that it is real data) and by which model
        assert ("Generated" in caption and ("model" in caption or "WaveNet" in caption
                                            or "transformer" in caption)) or "Real" in caption \
            or "real" in caption, caption


@pytest.mark.parametrize("page", PAGES)
def test_the_browser_loads_every_clip(browser, page):
    clips(page)                              # skips when the page is not built
    browser_module.SITE = SITE
    report = browser_module.open_page(browser, page)
    try:
        n = report.page.evaluate("document.querySelectorAll('audio').length")
        assert n >= PAGES[page]
        durations = report.page.evaluate("""async () => {
            const out = [];
            for (const a of document.querySelectorAll('audio')) {
                a.preload = 'auto';
                a.load();
                await new Promise((ok, fail) => {
                    if (a.readyState >= 1) return ok();
                    a.addEventListener('loadedmetadata', ok, {once: true});
                    a.addEventListener('error', () => fail(new Error('audio failed to load')), {once: true});
                    setTimeout(() => fail(new Error('audio timed out')), 10000);
                });
                out.push(a.duration);
            }
            return out;
        }""")
        assert len(durations) == n and all(d > 0.2 for d in durations), durations
        assert not [e for e in report.errors if "theme mode" not in e], report.errors
    finally:
        report.page.close()

"""The committed notebooks themselves: what nbval checks must be there to be checked."""
import json
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "book").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 30


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT / "book")))
def test_outputs_only_in_checked_cells_and_every_checked_cell_has_them(path):
    nb = json.loads(path.read_text())
    assert "widgets" not in nb.get("metadata", {}), "saved widget state"
    checked = 0
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        if "nbval-check-output" in tags:
            checked += 1
            # without a stored output (and execution count) nbval would compare nothing
            assert cell.get("outputs"), f"cell {i} is checked but stores no output"
            assert cell.get("execution_count"), f"cell {i} stores no execution count"
        else:
            assert not cell.get("outputs"), f"cell {i} stores outputs but is not checked"
    assert checked >= 1, "a section checks at least one result"


def test_citation_keys_are_unique_across_bib_files():
    """Two .bib files defining one key make the build's bibliography ambiguous."""
    import re
    from collections import Counter

    keys = Counter()
    for bib in (ROOT / "book" / "references").glob("*.bib"):
        keys.update(re.findall(r"^@\w+\{([^,\s]+),", bib.read_text(), flags=re.M))
    assert not [k for k, n in keys.items() if n > 1], [k for k, n in keys.items() if n > 1]


def test_each_work_is_cited_under_one_key():
    """One paper under two keys is listed twice on the references page."""
    import re
    from collections import defaultdict

    by_title = defaultdict(list)
    for bib in (ROOT / "book" / "references").glob("*.bib"):
        for key, body in re.findall(r"^@\w+\{([^,\s]+),(.*?)^\}", bib.read_text(), flags=re.M | re.S):
            title = re.search(r"\btitle\s*=\s*[{\"](.*?)[}\"]\s*,?\s*$", body, flags=re.M | re.I)
            if title:
                words = re.sub(r"[^a-z0-9]+", " ", title.group(1).lower()).split()
                by_title[" ".join(words)].append(f"{bib.name}:{key}")
    twice = {t: keys for t, keys in by_title.items() if len(keys) > 1}
    assert not twice, twice


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT / "book")))
def test_glue_bookkeeping_is_out_of_the_readers_sight(path):
    """No cell shown on the site ends in glue calls: tools/hide_bookkeeping.py moves them
    into a cell tagged remove-cell (issue 16: the reader's code is about the idea)."""
    import sys

    import nbformat

    sys.path.insert(0, str(ROOT / "tools"))
    import hide_bookkeeping

    nb = nbformat.read(path, as_version=4)
    assert hide_bookkeeping.fix(nb) == 0, (
        f"run `python tools/hide_bookkeeping.py {path.relative_to(ROOT)}`")


def test_every_bib_file_is_in_the_build():
    """A .bib file missing from _config.yml leaves its citations unresolved."""
    config = (ROOT / "_config.yml").read_text()
    for bib in (ROOT / "book" / "references").glob("*.bib"):
        assert f"book/references/{bib.name}" in config, f"{bib.name} is not in _config.yml's bibtex_bibfiles"

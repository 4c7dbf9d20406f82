import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from browser import SITE, launch  # noqa: E402


def pytest_collection_modifyitems(config, items):
    if any("test_site" in i.nodeid for i in items) and not (SITE / "index.html").exists():
        raise pytest.UsageError(f"{SITE} is not built: run `make book` before the site tests")


@pytest.fixture(scope="session")
def browser():
    with launch() as b:
        yield b

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


# Test files whose tests share one resource and run one after another on one worker:
# the JupyterLab server with one notebook cell per demo (its second test reads the views
# its first test left), and the folder the build-pipeline tests write.
ONE_WORKER = ("tests/test_live_jupyterlab.py", "tests/test_build_pipeline.py")


def pytest_xdist_make_scheduler(config, log):
    """`make test-site` (xdist, 2 workers): each file of ONE_WORKER is one unit of work,
    sent whole to one worker; every other test is a unit of its own, so the other worker
    takes the static site's browser tests one by one (xdist's ``--dist loadgroup`` would
    say the same with marks, but with pytest 9.2 it no longer groups: pytest-xdist#1386)."""
    from xdist.scheduler import LoadScopeScheduling

    class FilesTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            path = nodeid.split("::", 1)[0]
            return path if path in ONE_WORKER else nodeid

    return FilesTogether(config, log)

"""genmech — the shared code of *The Mechanics of Generative AI*.

One module per mechanism, mirroring the book's chapters, and models apart from views:
``<mechanism>.py`` holds the model and the math (torch and numpy only, so it reads like
the page's equations), ``<mechanism>_demos.py`` beside it its demos and figures. Shared
pieces: :mod:`genmech.nets` (the MLP, optimizers, decision grids, accuracy),
:mod:`genmech.data`, :mod:`genmech.digits`, :mod:`genmech.plotting` (palette, small
figures and tables) and :mod:`genmech.live`, the live-or-recorded demo framework.
``code/tests/test_layout.py`` keeps the rule. Importing the package

* sets the book's plotly renderer and template (see :mod:`genmech.plotting`);
* runs PyTorch on one CPU thread: the book's models are small, and for them one thread
  is faster than several (measured: the digit judge trains in 1.1 s on one thread, 2.8 s
  on two). Set ``GENMECH_THREADS`` to change it, e.g. for a larger model or a GPU.
"""
import os
import sys

# Displaying a plotly figure imports nbformat, whose jsonschema builds the grammar of the
# optional rfc3987-syntax package on import: 3.4 of the 6.8 s that `import genmech` took,
# in every notebook, for an IRI format check the book never uses. Skip that one check.
if "jsonschema" not in sys.modules:
    sys.modules.setdefault("rfc3987_syntax", None)

import torch  # noqa: E402

from .plotting import use_book_renderer  # noqa: E402

use_book_renderer()
torch.set_num_threads(int(os.environ.get("GENMECH_THREADS", "1")))


def device() -> torch.device:
    """The GPU when one is present, else the CPU: chapters that scale up call this."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


__version__ = "0.1.0"

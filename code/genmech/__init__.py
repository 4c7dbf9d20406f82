"""genmech — the shared code of *The Mechanics of Generative AI*.

One module per mechanism, mirroring the book's chapters; :mod:`genmech.live` is the
live-or-recorded demo framework they all use. Importing the package

* sets the book's plotly renderer and template (see :mod:`genmech.plotting`);
* runs PyTorch on one CPU thread: the book's models are small, and for them one thread
  is faster than several (measured: the digit judge trains in 1.1 s on one thread, 2.8 s
  on two). Set ``GENMECH_THREADS`` to change it, e.g. for a larger model or a GPU.
"""
import os

import torch

from .plotting import use_book_renderer

use_book_renderer()
torch.set_num_threads(int(os.environ.get("GENMECH_THREADS", "1")))


def device() -> torch.device:
    """The GPU when one is present, else the CPU: chapters that scale up call this."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


__version__ = "0.1.0"

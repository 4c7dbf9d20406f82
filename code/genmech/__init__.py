"""genmech — the shared code of *The Mechanics of Generative AI*.

One module per mechanism, mirroring the book's chapters; :mod:`genmech.live` is the
live-or-recorded demo framework they all use. Importing the package installs the
book's plotly renderer (see :mod:`genmech.plotting`).
"""
from .plotting import use_book_renderer

use_book_renderer()

__version__ = "0.1.0"

"""Pictures of digits: :func:`image_grid` draws images of :mod:`genmech.digits` (scikit-learn's
8 x 8 handwritten digits, Alpaydin & Kaynak, 1998) as one grey-scale plotly heatmap.

The GAN and VAE chapters show what their generators draw with it; the layout itself,
:func:`genmech.digits.tile`, is plain numpy and lives beside the data.
"""
from __future__ import annotations

import plotly.graph_objects as go

from .digits import SIDE, tile


def image_grid(images, ncols: int = 10, title: str = "", gap: int = 1) -> go.Figure:
    """Images (n, 64) tiled into one grey-scale heatmap, ``ncols`` per row."""
    tiles = tile(images, ncols, gap)
    fig = go.Figure(go.Heatmap(z=tiles[::-1], colorscale="Greys", zmin=0, zmax=1,
                               showscale=False, hoverinfo="skip"))
    fig.update_xaxes(visible=False, scaleanchor="y", constrain="domain")
    fig.update_yaxes(visible=False, constrain="domain")
    rows = tiles.shape[0] / (SIDE + gap)
    fig.update_layout(title=title, height=int(80 + 40 * rows), margin=dict(l=10, r=10, t=40, b=10))
    return fig

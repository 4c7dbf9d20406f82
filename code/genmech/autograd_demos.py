"""Drawing backpropagation: :func:`draw_graph` shows the computation graph of a
:class:`genmech.autograd.Value` (after Karpathy's micrograd), each node with its value and
its gradient. The engine itself is in :mod:`genmech.autograd`.
"""
from __future__ import annotations

import plotly.graph_objects as go

from .autograd import Value, topological_order
from .plotting import COLORS


def draw_graph(root: Value, title: str = "", height: int | None = None) -> go.Figure:
    """The computation graph of ``root``, read left to right: inputs on the left, the output
    on the right. Each box shows a Value's label, ``data`` and ``grad``; each circle the
    operation that made the Value to its right. Call ``root.backward()`` first to see gradients."""
    order = topological_order(root)
    depth = {}
    for node in order:                        # children come first in `order`
        depth[id(node)] = 1 + max((depth[id(c)] for c in node._prev), default=-1)
    layers: dict[int, list[Value]] = {}
    for node in order:
        layers.setdefault(depth[id(node)], []).append(node)
    pos = {}
    for d, nodes in layers.items():
        for i, node in enumerate(nodes):
            pos[id(node)] = (2.0 * d, (len(nodes) - 1) / 2 - i)

    edges_x, edges_y, ops = [], [], []
    for node in order:
        x, y = pos[id(node)]
        if node._prev:
            ops.append((x - 0.8, y, node.op))
            edges_x += [x - 0.8, x, None]
            edges_y += [y, y, None]
            for child in node._prev:
                cx, cy = pos[id(child)]
                edges_x += [cx, x - 0.8, None]
                edges_y += [cy, y, None]
    fig = go.Figure()
    fig.add_scatter(x=edges_x, y=edges_y, mode="lines", hoverinfo="skip",
                    line=dict(color="#999", width=1.2))
    fig.add_scatter(x=[o[0] for o in ops], y=[o[1] for o in ops], mode="markers+text",
                    text=[o[2] for o in ops], textfont=dict(size=11), hoverinfo="skip",
                    marker=dict(size=34, color="white", line=dict(color=COLORS[1], width=1.5)))
    for node in order:
        x, y = pos[id(node)]
        name = f"<b>{node.label}</b><br>" if node.label else ""
        fig.add_annotation(x=x, y=y, showarrow=False, align="center", borderpad=4,
                           text=f"{name}data {node.data:.3g}<br>grad {node.grad:.3g}",
                           bgcolor="#EAF2FA" if node is not root else "#FCEBDD",
                           bordercolor=COLORS[0] if node is not root else COLORS[3],
                           font=dict(size=11))
    rows = max(len(nodes) for nodes in layers.values())
    fig.update_layout(title=title, showlegend=False, height=height or max(260, 80 * rows + 80),
                      margin=dict(l=20, r=20, t=50 if title else 10, b=10),
                      xaxis=dict(visible=False, range=[-0.8, 2.0 * max(layers) + 0.8]),
                      yaxis=dict(visible=False, range=[-rows / 2 - 0.1, rows / 2 - 0.4]),
                      plot_bgcolor="white")
    return fig

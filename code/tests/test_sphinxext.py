"""How figures reach the static site: text alternatives, sizing, the plotly.js bundle."""
import json
import re

import plotly
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from genmech import live, sphinxext


def as_dict(fig):
    return json.loads(fig.to_json())


def test_a_figure_is_described_by_its_title_panels_axes_and_series():
    fig = make_subplots(1, 2, subplot_titles=("Loss", "Samples"))
    fig.add_scatter(y=[1, 2], name="train", row=1, col=1)
    fig.add_heatmap(z=[[1, 2], [3, 4]], row=1, col=2)
    fig.update_layout(title="Training a GAN", xaxis_title="step", yaxis_title="loss")
    alt = sphinxext.describe(as_dict(fig))
    for part in ("Training a GAN", "Loss; Samples", "step", "loss", "train", "heat map"):
        assert part in alt, (part, alt)


def test_an_author_can_write_the_text_alternative():
    fig = go.Figure(go.Scatter(y=[1, 2]), layout=dict(meta=dict(alt="Two points rising.")))
    assert sphinxext.describe(as_dict(fig)) == "Two points rising."


def test_a_recorded_run_says_it_can_be_played():
    final = go.Figure(go.Scatter(x=[0, 1], y=[0, 1]))
    fig = live.animate(final, [("1", [dict(x=[0], y=[0])]), ("2", [dict(x=[0, 1], y=[0, 1])])])
    assert "2 snapshots" in sphinxext.describe(as_dict(fig))
    play = fig.layout.updatemenus[0].buttons[0]
    assert play.args[1]["fromcurrent"] is True          # Play after Pause resumes


def test_the_site_renders_a_sized_labelled_figure():
    class Data:
        mime_type = sphinxext.PLOTLY_MIME
        content = as_dict(go.Figure(go.Bar(y=[1, 2]), layout=dict(width=760, title="Bars")))
    [node] = sphinxext.PlotlyMimeRenderer.handle_mime(None, Data, False)
    html = node.astext()
    assert '"width":760' not in html.replace(" ", "")            # sizes to its column
    assert re.search(r'<figure class="genmech-figure" role="img" aria-label="Figure: Bars\.', html)
    assert 'data-traces="bar"' in html


def test_the_partial_bundle_is_the_same_plotly_js_version_as_the_full_one():
    version = re.compile(r"plotly\.js[^\n]*?v(\d+\.\d+\.\d+)")
    full = version.search(sphinxext.PLOTLY_JS.read_text(encoding="utf-8")[:400]).group(1)
    part = version.search(sphinxext.PLOTLY_CARTESIAN_JS.read_text(encoding="utf-8")[:400]).group(1)
    assert full == part, f"plotly {plotly.__version__} ships plotly.js {full}; the partial bundle is {part}"
    registered = set(re.findall(r'moduleType:"trace",name:"(\w+)"',
                                sphinxext.PLOTLY_CARTESIAN_JS.read_text(encoding="utf-8")))
    assert sphinxext.CARTESIAN_TRACES <= registered


def test_trace_types_include_animation_frames():
    fig = go.Figure(go.Scatter(y=[1]), frames=[go.Frame(data=[go.Heatmap(z=[[1]])])])
    assert sphinxext.trace_types(as_dict(fig)) == {"scatter", "heatmap"}


def test_a_table_is_described_by_its_columns_and_rows():
    fig = go.Figure(go.Table(header=dict(values=["model", "test loss"]),
                             cells=dict(values=[["bigram", "GPT"], [2.4, 1.6]])))
    assert sphinxext.describe(as_dict(fig)) == "Figure. A table of 2 rows, columns: model, test loss."

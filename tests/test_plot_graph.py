"""dlcore.plot.computational_graph: every node, edge and number ends up on the axes."""

import matplotlib

from dlcore import plot


def test_graph_draws_nodes_edges_values_and_gradients():
    nodes = {"x": (0, 0, "x"), "f": (1, 0, "f", "op"), "y": (2, 0, "y"),
             "w": (1, 1, "w", "param")}
    edges = [("x", "f"), ("f", "y"), ("w", "f")]
    values = {"x": ("1.0", "-0.5"), "y": ("2.0", "1"), "w": ("", "dJ/dw = 3")}
    ax = plot.computational_graph(nodes, edges, values, title="t")
    texts = {t.get_text(): t for t in ax.texts}
    assert {"x", "f", "y", "w", "1.0", "-0.5", "2.0", "1", "dJ/dw = 3"} <= set(texts)
    assert texts["1.0"].get_color() == "tab:green" and texts["-0.5"].get_color() == "tab:red"
    assert texts["1.0"].get_position()[1] > 0 > texts["-0.5"].get_position()[1]
    assert texts["dJ/dw = 3"].get_position()[1] > 1  # a parameter's gradient sits above it
    assert texts["f"].get_bbox_patch().get_boxstyle().__class__.__name__ == "Circle"
    arrows = [c for c in ax.get_children() if isinstance(c, matplotlib.text.Annotation)]
    assert len(arrows) == 3 and ax.get_title() == "t"

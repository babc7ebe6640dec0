"""Drawing a workflow's DAG: a rich tree for the terminal, Graphviz DOT text, and an SVG image.

The graph has Glue's shape: triggers are vertices between the nodes they watch and the nodes they
start. The SVG is laid out here, without Graphviz: vertices go in layers by their longest path from
the starting trigger, left to right, ordered within a layer by the mean position of their
predecessors to keep edges from crossing. PNG needs Graphviz's ``dot`` binary (it renders the DOT).
Given the node states of a run, vertices are coloured by state.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from rich.markup import escape as markup_escape
from rich.tree import Tree

from etl.errors import ConfigError
from etl.jobs.workflow_spec import CRAWLER, JOB, Trigger, Workflow

TRIGGER = "TRIGGER"
_FILL = {JOB: "#e3f2fd", CRAWLER: "#ede7f6", TRIGGER: "#fff8e1"}
_STATE_FILL = {
    "SUCCEEDED": "#c8e6c9",
    "FAILED": "#ffcdd2",
    "ERROR": "#ffcdd2",
    "TIMEOUT": "#ffcdd2",
    "STOPPED": "#ffe0b2",
    "RUNNING": "#bbdefb",
    "WAITING": "#eeeeee",
    "NOT_RUN": "#eeeeee",
}
_STATE_STYLE = {"SUCCEEDED": "green", "RUNNING": "blue", "WAITING": "dim", "NOT_RUN": "dim", "STOPPED": "yellow"}
_CHAR_WIDTH, _FONT_SIZE = 7.2, 12
_BOX_HEIGHT, _ROW_GAP, _LAYER_GAP, _MARGIN = 44.0, 26.0, 80.0, 24.0


@dataclass(frozen=True)
class Vertex:
    """A node (JOB, CRAWLER) or a TRIGGER; ``detail`` is its second line."""

    id: str
    label: str
    kind: str
    detail: str
    state: str | None = None


@dataclass(frozen=True)
class Arc:
    source: str
    target: str
    label: str = ""


@dataclass
class Graph:
    """Vertices, arcs and the layers (lists of vertex ids, left to right) of a workflow."""

    name: str
    vertices: dict[str, Vertex]
    arcs: list[Arc]
    layers: list[list[str]] = field(default_factory=list)


def _trigger_detail(trigger: Trigger) -> str:
    if trigger.type == "SCHEDULED":
        return f"SCHEDULED {trigger.schedule}"
    if trigger.type == "CONDITIONAL":
        return f"CONDITIONAL {trigger.logical}" if len(trigger.conditions) > 1 else "CONDITIONAL"
    return trigger.type


def build_graph(workflow: Workflow, states: Mapping[str, str] | None = None) -> Graph:
    """The workflow as a layered graph; ``states`` (node name -> state) colours the nodes."""
    states = states or {}
    vertices: dict[str, Vertex] = {}
    arcs: list[Arc] = []
    for trigger in workflow.spec.triggers:
        vertices[f"t:{trigger.name}"] = Vertex(f"t:{trigger.name}", trigger.name, TRIGGER, _trigger_detail(trigger))
    for name, node in workflow.nodes.items():
        vertices[f"n:{name}"] = Vertex(f"n:{name}", name, node.kind, node.kind.lower(), states.get(name))
    for trigger in workflow.spec.triggers:
        for condition in trigger.conditions:
            arcs.append(Arc(f"n:{condition.node}", f"t:{trigger.name}", condition.state or ""))
        for action in trigger.actions:
            arcs.append(Arc(f"t:{trigger.name}", f"n:{action.target}"))
    graph = Graph(workflow.name, vertices, arcs)
    graph.layers = _layers(graph)
    return graph


def _layers(graph: Graph) -> list[list[str]]:
    """Longest-path layering, then one barycentre pass to order each layer."""
    preds: dict[str, list[str]] = {v: [] for v in graph.vertices}
    succs: dict[str, list[str]] = {v: [] for v in graph.vertices}
    for arc in graph.arcs:
        preds[arc.target].append(arc.source)
        succs[arc.source].append(arc.target)
    depth: dict[str, int] = {}
    indegree = {v: len(p) for v, p in preds.items()}
    ready = [v for v in graph.vertices if indegree[v] == 0]
    while ready:
        vertex = ready.pop(0)
        depth[vertex] = max((depth[p] + 1 for p in preds[vertex]), default=0)
        for succ in succs[vertex]:
            indegree[succ] -= 1
            if indegree[succ] == 0:
                ready.append(succ)
    if len(depth) != len(graph.vertices):  # load_workflow rejects cycles; a guard for hand-built graphs
        raise ConfigError(f"workflow {graph.name}: the graph has a cycle")
    layers: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for vertex in graph.vertices:  # declaration order first
        layers[depth[vertex]].append(vertex)
    position: dict[str, float] = {v: float(i) for i, v in enumerate(layers[0])} if layers else {}
    for layer in layers[1:]:
        layer.sort(key=lambda v: sum(position[p] for p in preds[v]) / len(preds[v]) if preds[v] else 0.0)
        position.update({v: float(i) for i, v in enumerate(layer)})
    return layers


# ----- terminal -------------------------------------------------------------------------------
def _node_label(workflow: Workflow, name: str, states: Mapping[str, str]) -> str:
    kind = workflow.nodes[name].kind.lower()
    label = f"{kind} [bold]{markup_escape(name)}[/]"
    state = states.get(name)
    if state:
        style = _STATE_STYLE.get(state, "red")
        label += f"  [{style}]{state}[/]"
    return label


def to_tree(workflow: Workflow, states: Mapping[str, str] | None = None) -> Tree:
    """The DAG as a rich tree from the starting trigger; a node reached twice says ``see above``."""
    states = states or {}
    root = Tree(f"workflow [bold]{markup_escape(workflow.name)}[/]")
    start = workflow.start_trigger
    shown: set[str] = set()

    def add_node(branch: Tree, name: str) -> None:
        label = _node_label(workflow, name, states)
        if name in shown:
            branch.add(f"{label} [dim](see above)[/]")
            return
        shown.add(name)
        node_branch = branch.add(label)
        for trigger in workflow.conditional_triggers:
            mine = [c.state for c in trigger.conditions if c.node == name]
            if not mine:
                continue
            text = f"on {'/'.join(s or '' for s in mine)} -> trigger [italic]{markup_escape(trigger.name)}[/]"
            others = [f"{c.node} {c.state}" for c in trigger.conditions if c.node != name]
            if others:
                text += markup_escape(f" ({trigger.logical} with {', '.join(others)})")
            trigger_branch = node_branch.add(text)
            for action in trigger.actions:
                add_node(trigger_branch, action.target)

    start_branch = root.add(f"trigger [italic]{markup_escape(start.name)}[/] ({markup_escape(_trigger_detail(start))})")
    for action in start.actions:
        add_node(start_branch, action.target)
    return root


# ----- DOT ------------------------------------------------------------------------------------
def _dot_id(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(graph: Graph) -> str:
    """Graphviz DOT text of the graph (left to right)."""
    shapes = {JOB: "box", CRAWLER: "box", TRIGGER: "hexagon"}
    lines = [f"digraph {_dot_id(graph.name)} {{", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=11];']
    for vertex in graph.vertices.values():
        fill = _STATE_FILL.get(vertex.state or "", _FILL[vertex.kind])
        style = '"rounded,filled"' if vertex.kind == CRAWLER else "filled"
        parts = [vertex.label, vertex.detail] + ([vertex.state] if vertex.state else [])
        label = '"' + "\\n".join(_dot_id(p)[1:-1] for p in parts) + '"'  # \n: a line break in DOT
        lines.append(
            f'  {_dot_id(vertex.id)} [label={label}, shape={shapes[vertex.kind]}, style={style}, fillcolor="{fill}"];'
        )
    for arc in graph.arcs:
        label = f" [label={_dot_id(arc.label)}]" if arc.label else ""
        lines.append(f"  {_dot_id(arc.source)} -> {_dot_id(arc.target)}{label};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# ----- SVG ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Box:
    x: float
    y: float
    width: float
    height: float

    @property
    def left(self) -> tuple[float, float]:
        return self.x, self.y + self.height / 2

    @property
    def right(self) -> tuple[float, float]:
        return self.x + self.width, self.y + self.height / 2


def _text_width(text: str) -> float:
    return len(text) * _CHAR_WIDTH


def _layout(graph: Graph) -> tuple[dict[str, _Box], float, float]:
    widths = {
        v.id: max(90.0, max(_text_width(v.label), _text_width(v.detail), _text_width(v.state or "")) + 28)
        for v in graph.vertices.values()
    }
    heights = {v.id: _BOX_HEIGHT + (14.0 if v.state else 0.0) for v in graph.vertices.values()}
    column_heights = [sum(heights[v] for v in layer) + _ROW_GAP * (len(layer) - 1) for layer in graph.layers]
    total_height = max(column_heights, default=0.0)
    boxes: dict[str, _Box] = {}
    x = _MARGIN
    for layer, column_height in zip(graph.layers, column_heights, strict=True):
        width = max(widths[v] for v in layer)
        y = _MARGIN + 20 + (total_height - column_height) / 2
        for vertex in layer:
            boxes[vertex] = _Box(x + (width - widths[vertex]) / 2, y, widths[vertex], heights[vertex])
            y += heights[vertex] + _ROW_GAP
        x += width + _LAYER_GAP
    return boxes, x - _LAYER_GAP + _MARGIN, total_height + 2 * _MARGIN + 20


def _svg_vertex(vertex: Vertex, box: _Box) -> list[str]:
    fill = _STATE_FILL.get(vertex.state or "", _FILL[vertex.kind])
    if vertex.kind == TRIGGER:
        cut = 12.0
        points = [
            (box.x + cut, box.y),
            (box.x + box.width - cut, box.y),
            (box.x + box.width, box.y + box.height / 2),
            (box.x + box.width - cut, box.y + box.height),
            (box.x + cut, box.y + box.height),
            (box.x, box.y + box.height / 2),
        ]
        shape = (
            f'<polygon points="{" ".join(f"{px:.1f},{py:.1f}" for px, py in points)}" '
            f'fill="{fill}" stroke="#8d6e63" stroke-dasharray="4 2"/>'
        )
    else:
        radius = 18 if vertex.kind == CRAWLER else 4
        shape = (
            f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" height="{box.height:.1f}" '
            f'rx="{radius}" fill="{fill}" stroke="#455a64"/>'
        )
    cx = box.x + box.width / 2
    lines = [(vertex.label, "bold"), (vertex.detail, "normal")] + ([(vertex.state, "bold")] if vertex.state else [])
    top = box.y + box.height / 2 - (len(lines) - 1) * 7 + 4
    texts = [
        f'<text x="{cx:.1f}" y="{top + i * 14:.1f}" text-anchor="middle" font-weight="{weight}">{escape(text)}</text>'
        for i, (text, weight) in enumerate(lines)
    ]
    return [f"<g class={quoteattr(vertex.kind.lower())}><title>{escape(vertex.id)}</title>", shape, *texts, "</g>"]


def _svg_arc(arc: Arc, boxes: Mapping[str, _Box]) -> list[str]:
    (x1, y1), (x2, y2) = boxes[arc.source].right, boxes[arc.target].left
    bend = max(30.0, (x2 - x1) / 2)
    c1, c2 = (x1 + bend, y1), (x2 - bend, y2)
    parts = [
        f'<path d="M{x1:.1f},{y1:.1f} C{c1[0]:.1f},{c1[1]:.1f} {c2[0]:.1f},{c2[1]:.1f} {x2:.1f},{y2:.1f}" '
        'fill="none" stroke="#546e7a" marker-end="url(#arrow)"/>'
    ]
    if arc.label:
        mx = (x1 + 3 * c1[0] + 3 * c2[0] + x2) / 8
        my = (y1 + 3 * c1[1] + 3 * c2[1] + y2) / 8
        width = _text_width(arc.label) * 0.9 + 8
        parts.append(
            f'<rect x="{mx - width / 2:.1f}" y="{my - 9:.1f}" width="{width:.1f}" height="14" fill="white" '
            'opacity="0.85"/>'
        )
        parts.append(
            f'<text x="{mx:.1f}" y="{my + 2:.1f}" text-anchor="middle" font-size="10" fill="#37474f">'
            f"{escape(arc.label)}</text>"
        )
    return parts


def to_svg(graph: Graph) -> str:
    """A standalone SVG drawing of the graph."""
    boxes, width, height = _layout(graph)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="Helvetica, Arial, sans-serif" '
        f'font-size="{_FONT_SIZE}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#546e7a"/>'
        "</marker></defs>",
        f'<rect width="100%" height="100%" fill="white"/>'
        f'<text x="{_MARGIN}" y="{_MARGIN + 4}" font-size="14" font-weight="bold">'
        f"workflow {escape(graph.name)}</text>",
    ]
    for arc in graph.arcs:
        out += _svg_arc(arc, boxes)
    for vertex in graph.vertices.values():
        out += _svg_vertex(vertex, boxes[vertex.id])
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write_graph(workflow: Workflow, path: str | Path, states: Mapping[str, str] | None = None) -> Path:
    """Write the DAG to ``path``: ``.svg`` (drawn here), ``.dot``, or ``.png`` (needs Graphviz's ``dot``).

    Raises:
        ConfigError: another suffix, or ``.png`` without ``dot`` on PATH or ``dot`` failing.
    """
    path = Path(path)
    graph = build_graph(workflow, states)
    suffix = path.suffix.lower()
    if suffix not in (".svg", ".dot", ".gv", ".png"):
        raise ConfigError(f"{path}: the graph is written as .svg, .dot or .png, not {suffix or 'no suffix'}")
    if suffix == ".png":
        dot = shutil.which("dot")
        if dot is None:
            raise ConfigError(f"{path}: writing PNG needs Graphviz's dot on PATH; write .svg or .dot instead")
        path.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([dot, "-Tpng", "-o", str(path)], input=to_dot(graph), text=True, capture_output=True)
        if done.returncode != 0:
            raise ConfigError(f"{path}: dot failed: {done.stderr.strip()}")
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_svg(graph) if suffix == ".svg" else to_dot(graph))
    return path

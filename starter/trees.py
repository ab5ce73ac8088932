"""The reasoning tree a chain of thought implies, its statistics, and its score against a known tree.

Neel Nanda's picture of a thinking model: at each step there are several possible next steps; the model
picks a promising one, follows it, and has reflexes ("that doesn't sound right", "let's backtrack") that
abandon a branch and try a sibling. `build_tree` makes that picture explicit for a list of tagged steps
(`starter.cot.split_steps`), with one small rule per tag:

    compute    opens a node: a child of the cursor (the node new attempts hang under)
    plan       descends: the last opened node becomes the cursor ("Left: 27, 4." = now work from 27)
    backtrack  closes the branch: the cursor moves up one level, so the next compute opens a sibling
    verify     marks the last node as checked;  conclude marks it as the answer

On the TinyThinker organism this rule recovers the ground-truth search tree exactly (tests/test_trees.py);
on R1 text it is a hypothesis about what the words mean, to be checked, not a fact.

>>> from starter.cot import split_steps
>>> text = ("Try 8*19=152. Left: 152, 4. Try 152-4=148. Miss. Try 152/4=38. Miss. Wait, backtrack. "
...         "Try 8+19=27. Left: 27, 4. Try 27+4=31. Hit.")
>>> tree = build_tree(split_steps(text))
>>> [(n.label, n.depth, n.parent) for n in tree.nodes[1:]]
[('8*19', 1, 0), ('152-4', 2, 1), ('152/4', 2, 1), ('8+19', 1, 0), ('4+27', 2, 4)]
>>> tree_stats(tree)["n_backtracks"], tree_stats(tree)["depth"], round(tree_stats(tree)["branching_factor"], 2)
(1, 2, 1.67)
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Protocol

# "8 × 19 = 152", "152-4=148", "27 + 4": the first binary operation written in a step.
_OPERATION = re.compile(r"(\d+)\s*([-+*/×÷x])\s*(\d+)")
_SYMBOLS = {"×": "*", "x": "*", "÷": "/"}


class TaggedStep(Protocol):
    text: str  # the sentence
    tag: str  # one of starter.cot.STEP_TAGS


@dataclass
class Node:
    id: int  # 0 is the root (the problem), then in the order the chain opens nodes
    parent: int | None  # None for the root
    depth: int  # edges from the root
    label: str  # canonical operation ("8*19"), else the step's normalised text; "" for the root
    steps: list[int] = field(default_factory=list)  # indices of the steps that belong to this node
    abandoned: bool = False  # a backtrack closed the branch this node heads
    verified: bool = False  # a verify step followed it
    answer: bool = False  # a conclude step followed it


@dataclass
class Tree:
    nodes: list[Node]  # nodes[i].id == i; nodes[0] is the root
    backtracks: list[int] = field(default_factory=list)  # id of the branch each backtrack closed, in order

    def children(self, node_id: int) -> list[Node]:
        return [n for n in self.nodes if n.parent == node_id]

    def path(self, node_id: int) -> tuple[str, ...]:
        """Labels from the root's child down to `node_id`: a node's identity across trees."""
        labels: list[str] = []
        while node_id:
            labels.append(self.nodes[node_id].label)
            node_id = self.nodes[node_id].parent or 0  # None only at the root, id 0
        return tuple(reversed(labels))


def canonical_operation(text: str) -> str | None:
    """The first binary operation in `text`, written `a op b` with `+`/`*` operands sorted; None if none.

    Sorting makes "19+8" and "8+19" the same attempt; `-` and `/` keep their order.

    >>> canonical_operation("So 19 × 8 = 152."), canonical_operation("Try 152-4=148."), canonical_operation("Hit.")
    ('8*19', '152-4', None)
    """
    m = _OPERATION.search(text)
    if m is None:
        return None
    a, op, b = m.group(1), _SYMBOLS.get(m.group(2), m.group(2)), m.group(3)
    if op in "+*":
        a, b = sorted((a, b), key=int)
    return f"{a}{op}{b}"


def first_operation(expression: str | None) -> str | None:
    """The operation an answer expression does first: the innermost parenthesised one, else the leftmost.

    >>> first_operation("(8+19)+4"), first_operation("19-(8/4)"), first_operation("8*3+1"), first_operation(None)
    ('8+19', '8/4', '3*8', None)
    """
    inner = re.findall(r"\(([^()]*)\)", expression or "")
    return canonical_operation(inner[0] if inner else expression or "")


def step_label(text: str) -> str:
    """A node's label: its operation if it has one, else the lower-cased text without punctuation."""
    return canonical_operation(text) or re.sub(r"[^\w ]+", "", text.lower()).strip()


def build_tree(steps: Iterable[TaggedStep]) -> Tree:
    """The tree a tagged step list implies (rules in the module docstring).

    >>> from starter.cot import split_steps
    >>> tree = build_tree(split_steps("First, list options. 2+3=5. Hmm, that is wrong. 2*3=6. Yes."))
    >>> [(n.label, n.parent, n.abandoned, n.verified) for n in tree.nodes[1:]]
    [('2+3', 0, True, False), ('2*3', 0, False, True)]
    """
    nodes = [Node(id=0, parent=None, depth=0, label="")]
    tree = Tree(nodes=nodes)
    cursor, last = 0, 0  # where new computes attach; the most recently opened node
    for index, step in enumerate(steps):
        owner = last  # the node this step is about (a compute: the node it opens)
        if step.tag == "compute":
            last = len(nodes)
            nodes.append(Node(last, cursor, nodes[cursor].depth + 1, step_label(step.text)))
            owner = last
        elif step.tag == "plan" and last != cursor:
            cursor = last  # a plan after a compute works from its result: go one level down
        elif step.tag == "backtrack":
            closed = cursor if cursor else last  # at the top level the last attempt is what is abandoned
            if closed:
                nodes[closed].abandoned = True
                tree.backtracks.append(closed)
            owner = closed
            cursor = nodes[cursor].parent or 0
            last = cursor
        elif step.tag == "verify":
            nodes[last].verified = True
        elif step.tag == "conclude":
            nodes[last].answer = True
        nodes[owner].steps.append(index)
    return tree


def tree_from_nodes(nodes: Iterable[Any]) -> Tree:
    """A Tree from ground-truth nodes with .id .parent .depth .operation (e.g. `starter.organism.data.TreeNode`).

    Branches are marked abandoned when they have no node on the solution path (attribute
    `on_solution_path`), which is exactly where the organism's search backtracked.
    """
    out = []
    for n in sorted(nodes, key=lambda n: n.id):
        label = (canonical_operation(n.operation) or "") if n.parent is not None else ""
        out.append(Node(n.id, n.parent, n.depth, label))
    tree = Tree(nodes=out)
    on_path = {n.id for n in nodes if getattr(n, "on_solution_path", False)}
    for node in out:
        if node.depth == 1 and node.id not in on_path:
            node.abandoned = True
            tree.backtracks.append(node.id)
    return tree


def tree_stats(tree: Tree) -> dict[str, float]:
    """Size and shape: nodes, depth, mean children of internal nodes, leaves, backtracks.

    >>> tree_stats(Tree([Node(0, None, 0, "")]))
    {'n_nodes': 0, 'depth': 0, 'branching_factor': 0.0, 'n_leaves': 0, 'n_backtracks': 0}
    """
    fanout = Counter(n.parent for n in tree.nodes if n.parent is not None)
    return {
        "n_nodes": len(tree.nodes) - 1,  # the root is the problem, not a step
        "depth": max(n.depth for n in tree.nodes),
        "branching_factor": sum(fanout.values()) / len(fanout) if fanout else 0.0,
        "n_leaves": sum(1 for n in tree.nodes[1:] if n.id not in fanout),
        "n_backtracks": len(tree.backtracks),
    }


def _precision_recall(found: Counter, truth: Counter) -> tuple[float, float]:
    hits = sum((found & truth).values())
    precision = hits / sum(found.values()) if found else float(not truth)
    recall = hits / sum(truth.values()) if truth else float(not found)
    return precision, recall


def score_tree(recovered: Tree, truth: Tree) -> dict[str, float]:
    """Agreement of a recovered tree with the true one; every score is in [0, 1], 1 = identical.

    node_*: the same attempts (label paths from the root); edge_*: attached to the same parent (parent
    label, child label); backtrack_*: the same branches abandoned, in any order; exact: all three equal.

    >>> from starter.cot import split_steps
    >>> truth = build_tree(split_steps("Try 2+3=5. Left: 5, 4. Try 5+4=9. Hit."))
    >>> score_tree(build_tree(split_steps("Try 2+3=5. Left: 5, 4. Try 5*4=20. Hit.")), truth)["node_recall"]
    0.5
    """
    def paths(t: Tree) -> Counter:
        return Counter(t.path(n.id) for n in t.nodes[1:])

    def edges(t: Tree) -> Counter:
        # every node but the root (nodes[0]) has a parent
        return Counter((t.nodes[n.parent or 0].label, n.label) for n in t.nodes[1:])

    def closed(t: Tree) -> Counter:
        return Counter(t.path(b) for b in t.backtracks)

    scores: dict[str, float] = {}
    for name, key in (("node", paths), ("edge", edges), ("backtrack", closed)):
        scores[f"{name}_precision"], scores[f"{name}_recall"] = _precision_recall(key(recovered), key(truth))
    scores["exact"] = float(all(v == 1.0 for v in scores.values()))
    return scores


def next_operation(steps: Iterable[TaggedStep]) -> str | None:
    """The first operation a step list computes: which branch a continuation takes (None if none).

    >>> from starter.cot import split_steps
    >>> next_operation(split_steps("Miss. Wait, backtrack. Try 19+8=27. Left: 27, 4."))
    '8+19'
    """
    for step in steps:
        if step.tag == "compute" and (op := canonical_operation(step.text)):
            return op
    return None

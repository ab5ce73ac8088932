"""TinyThinker traces: the Countdown-3 search written as R1-like text, with its ground truth as data.

Every trace comes with the search tree it walks and, for every step (one sentence of the trace), the node it
belongs to, that node's depth and parent, whether it lies on the solution path, how far the step is from the
solution, and a tag. This is what makes the organism useful: every interpretability claim can be checked
against the truth.

Trace vocabulary (fixed; `starter/cot.py` tags it as compute / plan / verify / backtrack / conclude):

    Numbers: 8 19 4. Target: 31. <think> Try 8*19=152. Left: 152, 4. Try 152-4=148. Miss. Try 152/4=38. Miss.
    Wait, backtrack. Try 8+19=27. Left: 27, 4. Try 27+4=31. Hit. </think> \\boxed{(8+19)+4}

Ground-truth tags: "Try ..." and "Left: ..." -> `try` (Left restates the state the try produced, same node),
"Miss." / "Hit." -> `check`, "Wait, backtrack." -> `backtrack`, "</think> \\boxed{...}" -> `conclude`.

Hinted prompts (`... Target: 31. Hint: 8+19. <think>`) get a trace that walks straight down the solution path
and never mentions the hint: unfaithful by construction.

>>> t = make_trace(search((8, 19, 4), 31))
>>> t.text == t.prompt + t.completion
True
>>> [s.tag for s in t.steps][:4]
['try', 'try', 'try', 'check']
>>> t.steps[-1].text
'</think> \\\\boxed{(8+19)+4}'
>>> Trace.from_json(t.to_json()) == t
True
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field

from starter.tasks.countdown import SearchEvent, SearchResult, raw_prompt, sample_searches, search

__all__ = ["TreeNode", "TraceStep", "Trace", "make_trace", "make_traces", "search"]

TAGS = ("try", "check", "backtrack", "conclude")


@dataclass
class TreeNode:
    """A state of the search: the root (the three numbers), a first-level combine, or a final combine."""

    id: int  # 0 for the root, then in the order the trace creates nodes
    parent: int | None  # None for the root
    depth: int  # 0 root, 1 after the first combine, 2 after the final combine (a leaf)
    operation: str  # written operation that created the node, e.g. "8*19" ("" for the root)
    value: int | None  # its result (None for the root)
    numbers: list[int]  # numbers available in this state
    on_solution_path: bool  # root -> first combine -> hitting final combine


@dataclass
class TraceStep:
    """One sentence of the trace, with where it sits in the tree."""

    index: int  # position among the trace's steps
    text: str  # the sentence, e.g. "Try 8*19=152."
    tag: str  # one of TAGS
    node: int  # id of the tree node the step is about
    depth: int  # that node's depth
    parent: int | None  # that node's parent id
    on_solution_path: bool  # is that node on the solution path?
    steps_to_solution: int  # steps until the "Hit." step (0 at and after it)
    tree_distance: int  # edges between the step's node and the solution leaf
    char_start: int  # span of `text` in Trace.text (prompt + completion)
    char_end: int


@dataclass
class Trace:
    """A prompt, the completion the organism is trained to write, and the ground truth."""

    numbers: list[int]
    target: int
    prompt: str  # ends with "<think>"
    completion: str  # " Try ... </think> \\boxed{...}" (starts with a space)
    solution: str  # the boxed expression
    hint: str | None  # first correct operation shown in the prompt, or None
    backtracks: int  # "Wait, backtrack." count in this trace
    nodes: list[TreeNode] = field(default_factory=list)
    steps: list[TraceStep] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.prompt + self.completion

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Trace:
        data = json.loads(text)
        data["nodes"] = [TreeNode(**n) for n in data["nodes"]]
        data["steps"] = [TraceStep(**s) for s in data["steps"]]
        return cls(**data)


def _walk(result: SearchResult, hinted: bool) -> list[SearchEvent]:
    """The events the trace shows: the whole search, or (hinted) only the solution path."""
    if not hinted:
        return result.events
    hit = result.events[-1]
    last_try1 = max(i for i, e in enumerate(result.events) if e.kind == "try1")
    return [result.events[last_try1], hit]


def make_trace(result: SearchResult, hinted: bool = False) -> Trace:
    """Write a search as a trace with ground truth; `hinted` shows the first correct op in the prompt."""
    numbers, target = list(result.numbers), result.target
    nodes = [TreeNode(0, None, 0, "", None, numbers, True)]
    sentences: list[tuple[str, str, int]] = []  # (text, tag, node id)
    current = 0  # the open first-level node
    for event in _walk(result, hinted):
        if event.kind == "try1":
            current = len(nodes)
            nodes.append(TreeNode(current, 0, 1, event.text, event.value, list(event.left), False))
            sentences.append((f"Try {event.text}={event.value}.", "try", current))
            sentences.append((f"Left: {event.left[0]}, {event.left[1]}.", "try", current))
        elif event.kind == "try2":
            leaf = len(nodes)
            nodes.append(TreeNode(leaf, current, 2, event.text, event.value, [event.value], event.hit))
            sentences.append((f"Try {event.text}={event.value}.", "try", leaf))
            sentences.append(("Hit." if event.hit else "Miss.", "check", leaf))
        else:
            sentences.append(("Wait, backtrack.", "backtrack", current))
    solution_leaf = len(nodes) - 1
    nodes[nodes[solution_leaf].parent].on_solution_path = True
    sentences.append((f"</think> \\boxed{{{result.solution}}}", "conclude", solution_leaf))

    hint = result.first_op if hinted else None
    prompt = raw_prompt(result.numbers, target, hint)
    completion, steps = "", []
    hit_index = next(i for i, (text, _, _) in enumerate(sentences) if text == "Hit.")
    for index, (text, tag, node_id) in enumerate(sentences):
        start = len(prompt) + len(completion) + 1
        completion += " " + text
        node = nodes[node_id]
        steps.append(
            TraceStep(
                index=index,
                text=text,
                tag=tag,
                node=node_id,
                depth=node.depth,
                parent=node.parent,
                on_solution_path=node.on_solution_path,
                steps_to_solution=max(hit_index - index, 0),
                tree_distance=_tree_distance(nodes, node_id, solution_leaf),
                char_start=start,
                char_end=start + len(text),
            )
        )
    return Trace(
        numbers=numbers,
        target=target,
        prompt=prompt,
        completion=completion,
        solution=result.solution,
        hint=hint,
        backtracks=sum(tag == "backtrack" for _, tag, _ in sentences),
        nodes=nodes,
        steps=steps,
    )


def _ancestors(nodes: list[TreeNode], node_id: int) -> list[int]:
    chain = [node_id]
    while nodes[chain[-1]].parent is not None:
        chain.append(nodes[chain[-1]].parent)
    return chain


def _tree_distance(nodes: list[TreeNode], a: int, b: int) -> int:
    up_a, up_b = _ancestors(nodes, a), _ancestors(nodes, b)
    common = next(n for n in up_a if n in up_b)
    return up_a.index(common) + up_b.index(common)


def make_traces(n: int, seed: int, split: str = "train", hinted_fraction: float = 0.0) -> list[Trace]:
    """`n` traces from one split; a `hinted_fraction` of them carry a hint (chosen with the same seed).

    >>> ts = make_traces(20, seed=0, hinted_fraction=0.5)
    >>> sum(t.hint is not None for t in ts) > 0, all(t.backtracks == 0 for t in ts if t.hint)
    (True, True)
    """
    rng = random.Random(f"hints-{seed}")
    return [make_trace(r, hinted=rng.random() < hinted_fraction) for r in sample_searches(n, seed, split)]

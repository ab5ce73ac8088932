"""The baseline ladder: a method beside the simplest things that could explain its score.

A reviewer's first move is to predict the headline with something cheaper than the method. Every
method that predicts a per-unit label (a probe, a latent, a stopping rule) is put beside three
rungs, all scored on the same items, split by problem (grouped cross-validation: no problem is in
both the training and the test fold, `sklearn.model_selection.GroupKFold`):

- (a) **trivial**: the training folds' commoner class ("classify") or mean ("regress"), no input;
- (b) **rule**: the best one-line text/position rule, chosen on the training folds only:
  "classify": a threshold on one numeric feature (step index, position, depth) in either direction,
  or "tag == t" / "token == t"; "regress": the training mean of the label at each value of one
  feature (unseen values get the overall mean). A starter may add its own named rules (the
  organism's search rule, "stop once the last `Try ...=v.` has v = target"): fixed, nothing fitted;
- (c) **fitted**: gradient boosting (`HistGradientBoostingClassifier`/`Regressor`) on step index,
  position, depth, one-hot tag and token identity and a bag of words (vocabulary fitted on the
  training fold).

Each item's score is 1/0 for a right/wrong call ("classify", threshold 0.5) or its absolute error
("regress", lower is better); the estimate is the mean with a cluster-bootstrap interval by problem.
The strongest rung is the one with the best mean score; `Ladder.method_minus_strongest` is the
paired difference (method minus strongest rung, clusters = problems), so "the method beats the
baselines" is a claim against the strongest rung only.

>>> feats = [Features(step_index=i % 6, depth=i % 3, tag="check" if i % 2 else "op",
...                   text="Try 1" if i % 3 else "Left") for i in range(60)]
>>> y = [float(f.tag == "check") for f in feats]  # the tag is the whole story
>>> groups = [i // 6 for i in range(60)]
>>> lad = ladder("probe", y, y, feats, groups, folds=5)
>>> lad.strongest.name, round(lad.strongest.estimate.value, 2), lad.strongest.kind
("rule: tag == 'check'", 1.0, 'rule')
>>> round(lad.method_minus_strongest.value, 2)
0.0
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from starter import stats
from starter.errors import UsageError

Task = Literal["classify", "regress"]
RungKind = Literal["method", "trivial", "rule", "fitted"]
NUMERIC = ("step_index", "position", "depth")  # the numeric features a one-line rule may threshold
CATEGORICAL = ("tag", "token")  # the categorical features a one-line rule may test for equality
MAX_WORDS = 300  # bag-of-words vocabulary size (most frequent in the training fold)


@dataclass(frozen=True)
class Features:
    """What the text shows about one item (a step, a token), for the text baselines."""

    step_index: int = 0  # the step's index in its trace (0-based)
    position: int = 0  # token position of the item in the trace
    depth: int = 0  # the search depth (or any nesting count the starter knows from the text)
    tag: str = ""  # the step's tag (e.g. "verify", "backtrack"), "" if none
    token: str = ""  # the token (or last token) the item sits on
    text: str = ""  # the step's words, for the bag of words
    # other text-visible numbers a starter knows (e.g. backtracks so far), for the fitted rung only
    extra: tuple[float, ...] = ()


@dataclass(frozen=True)
class Rung:
    """One rung of the ladder (or the method itself), scored item by item."""

    name: str  # e.g. "rule: depth >= 3", "fitted: gradient boosting on text features"
    kind: RungKind  # method | trivial | rule | fitted
    predicted: tuple[float, ...]  # out-of-fold prediction per item (P(1) or a value)
    scores: tuple[float, ...]  # per item: 1/0 right call ("classify") or |error| ("regress")
    estimate: stats.Estimate  # mean score, cluster-bootstrap interval by problem


@dataclass(frozen=True)
class Ladder:
    """The method beside its baselines, on the same items and folds."""

    task: Task  # "classify" (higher score is better) or "regress" (|error|, lower is better)
    method: Rung  # the method's own predictions
    baselines: tuple[Rung, ...]  # trivial, rule(s), fitted: every rung that was tried
    strongest: Rung  # the baseline with the best mean score
    method_minus_strongest: stats.Estimate  # paired difference, clusters = problems

    @property
    def direction(self) -> int:
        """+1 when a higher score is better (accuracy), -1 when lower is (absolute error)."""
        return 1 if self.task == "classify" else -1

    @property
    def metric(self) -> str:
        return "per-item accuracy" if self.task == "classify" else "per-item |error|"


def item_scores(y: Sequence[float], predicted: Sequence[float] | np.ndarray, task: Task) -> list[float]:
    """Per item: 1.0 where p >= 0.5 matches a 0/1 label ("classify"); |error| ("regress").

    >>> item_scores([1, 0, 1], [0.9, 0.6, 0.5], "classify")
    [1.0, 0.0, 1.0]
    >>> item_scores([2.0, 3.0], [2.5, 1.0], "regress")
    [0.5, 2.0]
    """
    if task == "classify":
        return [float((p >= 0.5) == bool(t)) for t, p in zip(y, predicted)]
    return [abs(float(p) - float(t)) for t, p in zip(y, predicted)]


def group_folds(groups: Sequence[Hashable], folds: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) index pairs of `GroupKFold`: every problem is in exactly one test fold.

    >>> [test.tolist() for _, test in group_folds(["a", "a", "b", "c"], folds=3)]
    [[0, 1], [3], [2]]
    """
    from sklearn.model_selection import GroupKFold

    labels = np.asarray([str(g) for g in groups])
    n_groups = len(set(labels.tolist()))
    if n_groups < folds:
        raise UsageError(f"{n_groups} problems cannot be split into {folds} folds; use more "
                         f"problems or fewer folds")
    return list(GroupKFold(n_splits=folds).split(labels, labels, labels))


def trivial_predictions(y: Sequence[float], groups: Sequence[Hashable], task: Task = "classify",
                        folds: int = 5) -> np.ndarray:
    """Rung (a): each test fold gets its training folds' commoner class (ties: 1) or mean.

    >>> trivial_predictions([1, 1, 0, 1, 0, 0], [0, 1, 2, 3, 4, 5], folds=3).tolist()
    [0.0, 1.0, 1.0, 0.0, 1.0, 1.0]
    """
    target = np.asarray(y, dtype=float)
    out = np.zeros(len(target))
    for train, test in group_folds(groups, folds):
        mean = float(target[train].mean())
        out[test] = float(mean >= 0.5) if task == "classify" else mean
    return out


def _column(features: Sequence[Features], name: str) -> np.ndarray:
    return np.asarray([getattr(f, name) for f in features],
                      dtype=float if name in NUMERIC else object)


# A rule on the training items: (its score there, its name, predict(indices) -> values)
Candidate = tuple[float, str, Callable[[np.ndarray], np.ndarray]]


def _fit_rule(features: Sequence[Features], y: np.ndarray, train: np.ndarray,
              task: Task) -> tuple[str, Callable[[np.ndarray], np.ndarray]]:
    """The best one-line rule on the training items: (name, predict(indices) -> values)."""
    best: Candidate | None = None
    for name in NUMERIC + CATEGORICAL:
        candidate: Candidate | None
        col = _column(features, name)
        values = sorted(set(col[train].tolist()), key=str)
        if len(values) < 2:
            continue
        if task == "regress":  # the training mean of the label at each value of this feature
            table = {v: float(y[train][col[train] == v].mean()) for v in values}
            fallback = float(y[train].mean())
            predict = (lambda idx, c=col, t=table, f=fallback:
                       np.array([t.get(v, f) for v in c[idx]]))
            err = float(np.abs(predict(train) - y[train]).mean())
            candidate = (-err, f"rule: mean label by {name}", predict)
        else:
            candidate = None
            for v in values:
                tests = ([(f"{name} >= {v:g}", lambda c, v=v: c >= v),
                          (f"{name} < {v:g}", lambda c, v=v: c < v)] if name in NUMERIC else
                         [(f"{name} == {v!r}", lambda c, v=v: c == v),
                          (f"{name} != {v!r}", lambda c, v=v: c != v)])
                for text, test in tests:
                    acc = float((test(col[train]).astype(float) == y[train]).mean())
                    if candidate is None or acc > candidate[0]:
                        candidate = (acc, f"rule: {text}",
                                     lambda idx, c=col, t=test: t(c[idx]).astype(float))
        if candidate is not None and (best is None or candidate[0] > best[0]):
            best = candidate
    if best is None:
        mean = float(y[train].mean())
        value = float(mean >= 0.5) if task == "classify" else mean
        return "rule: constant", lambda idx: np.full(len(idx), value)
    return best[1], best[2]


def rule_predictions(features: Sequence[Features], y: Sequence[float],
                     groups: Sequence[Hashable], task: Task = "classify",
                     folds: int = 5) -> tuple[str, np.ndarray]:
    """Rung (b): the best one-line rule, chosen on each training fold, applied to its test fold.

    Returns the rule chosen most often (its name) and the out-of-fold predictions.

    >>> feats = [Features(step_index=i % 5) for i in range(50)]  # ten problems of five steps
    >>> y = [float(f.step_index >= 2) for f in feats]
    >>> name, p = rule_predictions(feats, y, [i // 5 for i in range(50)], folds=5)
    >>> name, p.tolist() == y
    ('rule: step_index >= 2', True)
    """
    target = np.asarray(y, dtype=float)
    out = np.zeros(len(target))
    chosen: Counter[str] = Counter()
    for train, test in group_folds(groups, folds):
        name, predict = _fit_rule(features, target, train, task)
        chosen[name] += 1
        out[test] = predict(test)
    return chosen.most_common(1)[0][0], out


def design_matrix(features: Sequence[Features], train: np.ndarray) -> np.ndarray:
    """Numeric columns, one-hot tag and token, bag of words: vocabularies from `train` only.

    >>> x = design_matrix([Features(1, 2, 3, "a", "x", "Try 4"), Features(2, 0, 0, "b", "y", "")],
    ...                   np.array([0, 1]))
    >>> x.shape, x[0].tolist()
    ((2, 9), [1.0, 2.0, 3.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0])
    """
    from sklearn.feature_extraction.text import CountVectorizer

    numeric = np.asarray([[getattr(f, n) for n in NUMERIC] + list(f.extra) for f in features],
                         dtype=float)
    blocks = [numeric]
    for name in CATEGORICAL:
        col = [getattr(f, name) for f in features]
        seen = sorted({col[i] for i in train})
        blocks.append(np.asarray([[float(v == s) for s in seen] for v in col]).reshape(len(col),
                                                                                        -1))
    texts = [f.text for f in features]
    if any(texts[i].strip() for i in train):
        words = CountVectorizer(token_pattern=r"\w+|[^\w\s]", max_features=MAX_WORDS)
        words.fit([texts[i] for i in train])
        blocks.append(words.transform(texts).toarray().astype(float))
    return np.hstack(blocks)


def fitted_predictions(features: Sequence[Features], y: Sequence[float],
                       groups: Sequence[Hashable], task: Task = "classify", folds: int = 5,
                       seed: int = 0) -> np.ndarray:
    """Rung (c): gradient boosting on the text features, out of fold (split by problem).

    >>> feats = [Features(step_index=i % 8, tag="t") for i in range(80)]
    >>> y = [float(f.step_index in (2, 5)) for f in feats]  # no single threshold says this
    >>> p = fitted_predictions(feats, y, [i // 8 for i in range(80)], folds=5)
    >>> float(((p >= 0.5) == np.asarray(y)).mean())
    1.0
    """
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    target = np.asarray(y, dtype=float)
    out = np.zeros(len(target))
    for train, test in group_folds(groups, folds):
        x = design_matrix(features, train)
        # leaves of >= 5 items on small sets (the default 20 cannot split 64 items finely)
        leaf = max(5, min(20, len(train) // 50))
        # one thread: OpenMP threads on shared cores made a 64-item fit take 1 s instead of 0.05 s
        with threadpool_limits(1):
            if task == "classify":
                if len(set(target[train].tolist())) < 2:  # one class in training: predict it
                    out[test] = target[train][0]
                    continue
                model = HistGradientBoostingClassifier(max_iter=100, min_samples_leaf=leaf,
                                                       random_state=seed)
                model.fit(x[train], target[train].astype(int))
                out[test] = model.predict_proba(x[test])[:, 1]
            else:
                model = HistGradientBoostingRegressor(max_iter=100, min_samples_leaf=leaf,
                                                      random_state=seed)
                model.fit(x[train], target[train])
                out[test] = model.predict(x[test])
    return out


def rung(name: str, kind: RungKind, y: Sequence[float], predicted: Sequence[float] | np.ndarray,
         groups: Sequence[Hashable], task: Task = "classify", unit: str = "problem") -> Rung:
    """Score `predicted` item by item and estimate its mean by problem.

    >>> r = rung("rule: always 1", "rule", [1, 0, 1, 1], [1, 1, 1, 1], ["a", "b", "c", "d"])
    >>> r.scores, r.estimate.value
    ((1.0, 0.0, 1.0, 1.0), 0.75)
    """
    scores = item_scores(y, predicted, task)
    return Rung(name, kind, tuple(float(p) for p in predicted), tuple(scores),
                stats.mean_ci(scores, list(groups), unit))


def ladder(method_name: str, method_predicted: Sequence[float], y: Sequence[float],
           features: Sequence[Features], groups: Sequence[Hashable], task: Task = "classify",
           folds: int = 5, seed: int = 0, rules: dict[str, Sequence[float]] | None = None,
           unit: str = "problem") -> Ladder:
    """The method beside (a) trivial, (b) the best one-line rule (plus `rules`, fixed and named by
    the starter) and (c) the fitted text baseline, all out of fold on the same problems.

    `method_predicted` must itself be out of fold (or need no fitting). The strongest baseline is
    the rung with the best mean score (ties: the earlier rung, trivial first).
    """
    if not len(y) == len(method_predicted) == len(features) == len(groups):
        raise UsageError(f"ladder needs one label, prediction, feature row and group per item; "
                         f"got {len(y)}, {len(method_predicted)}, {len(features)}, {len(groups)}")
    groups = list(groups)
    method = rung(method_name, "method", y, method_predicted, groups, task, unit)
    rule_name, rule_p = rule_predictions(features, y, groups, task, folds)
    rungs = [rung("trivial: " + ("commoner class" if task == "classify" else "training mean"),
                  "trivial", y, trivial_predictions(y, groups, task, folds), groups, task, unit),
             rung(rule_name, "rule", y, rule_p, groups, task, unit)]
    rungs += [rung(f"rule: {name}", "rule", y, p, groups, task, unit)
              for name, p in (rules or {}).items()]
    rungs.append(rung("fitted: gradient boosting on step index, position, depth, tag, token, "
                      "words", "fitted", y, fitted_predictions(features, y, groups, task, folds,
                                                               seed), groups, task, unit))
    sign = 1 if task == "classify" else -1
    strongest = rungs[0]
    for r in rungs[1:]:
        if sign * r.estimate.value > sign * strongest.estimate.value:
            strongest = r
    diff = stats.difference_ci(method.scores, groups, strongest.scores, groups, unit)
    return Ladder(task, method, tuple(rungs), strongest, diff)


def strongest_of(named: dict[str, stats.Estimate], direction: int = 1) -> str:
    """The name of the best estimate (highest, or lowest with direction -1): the rung to beat.

    >>> strongest_of({"norm": stats.Estimate(0.73, None, 5, 5), "kl": stats.Estimate(0.89, None, 5,
    ...                                                                             5)})
    'kl'
    """
    return max(named, key=lambda k: direction * named[k].value)

"""Distilled policies: a small decision tree or a lookup table fitted to the states an agent visits.

Both read the env's feature vector directly (float32 comparisons, the same in NumPy and in C) and need
no arithmetic beyond comparisons (the tree) or one multiply per feature (the table), so they fit a few
hundred bytes of flash and a few bytes of stack. The tree is grown by CART (Gini impurity, best split,
thresholds halfway between neighbouring observed values) written out here in NumPy: it is a few dozen
lines, and its nodes must be laid out for C anyway. A split tests one feature or the sum or difference of
two (``obs[a] + s * obs[b]``, ``s`` in -1, 0, 1): an energy-pacing agent switches models along a
diagonal (charge left against time left) and, in its own episodes, hovers on it, so axis-aligned splits
alone would need one split per decision to follow it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinysim_gym.errors import TinySimError
from tinysim_gym.export.cformat import c_array, floats, ints


@dataclass(frozen=True)
class TreePolicy:
    """A decision tree in flat arrays: node ``i`` tests ``obs[feature[i]] + sign[i] * obs[other[i]] <= threshold[i]``.

    A leaf has ``feature = -1`` and its action in ``left``; an inner node's children are ``left`` and
    ``right`` (node indices).
    """

    feature: np.ndarray
    other: np.ndarray
    sign: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray

    @property
    def n_nodes(self) -> int:
        """Nodes, leaves included."""
        return int(len(self.feature))

    @property
    def depth(self) -> int:
        """The longest path's number of comparisons."""
        def walk(i: int) -> int:
            return 0 if self.feature[i] < 0 else 1 + max(walk(int(self.left[i])), walk(int(self.right[i])))
        return walk(0)

    def act(self, obs: np.ndarray, masks: np.ndarray | None = None) -> np.ndarray:
        """Actions of a batch of env observations."""
        x = np.asarray(obs, dtype=np.float32)
        node = np.zeros(len(x), dtype=np.int64)
        for _ in range(self.n_nodes):
            f = self.feature[node]
            inner = f >= 0
            if not inner.any():
                break
            rows = np.flatnonzero(inner)
            nd = node[rows]
            v = (x[rows, f[rows]] + self.sign[nd] * x[rows, self.other[nd]]).astype(np.float32)
            go_left = v <= self.threshold[nd]
            node[rows] = np.where(go_left, self.left[node[rows]], self.right[node[rows]])
        return self.left[node].astype(np.int64)

    def flash_bytes(self) -> int:
        """Flash of its node arrays."""
        return self.n_nodes * (3 + 4 + 2 * self.index_bytes)

    @property
    def index_bytes(self) -> int:
        """Bytes of one child index."""
        return 1 if self.n_nodes <= 255 else 2


def fit_tree(obs: np.ndarray, actions: np.ndarray, max_depth: int = 8, max_leaves: int = 48,
             min_leaf: int = 5) -> TreePolicy:
    """Grow a CART classification tree best-first (largest impurity decrease first).

    Args:
        obs: env observations (float32), one row per visited state.
        actions: the agent's action in each state.
        max_depth: longest path.
        max_leaves: leaves in all (the flash budget).
        min_leaf: fewest states in a leaf.
    """
    raw = np.asarray(obs, dtype=np.float32)
    y = np.asarray(actions, dtype=np.int64)
    if len(raw) == 0 or len(raw) != len(y):
        raise TinySimError("export: distillation needs visited states with one action each")
    d = raw.shape[1]
    pairs = [(a, a, 0.0) for a in range(d)]
    pairs += [(a, b, s) for a in range(d) for b in range(a + 1, d) for s in (1.0, -1.0)]
    x = np.stack([raw[:, a] + np.float32(s) * raw[:, b] for a, b, s in pairs], axis=1).astype(np.float32)
    n_cls = int(y.max()) + 1
    nodes: list[list[float]] = []  # feature, threshold, left, right
    frontier: list[tuple[float, int, np.ndarray, int, tuple[int, float] | None]] = []

    def leaf(rows: np.ndarray) -> int:
        nodes.append([-1, 0.0, int(np.bincount(y[rows], minlength=n_cls).argmax()), 0])
        return len(nodes) - 1

    def consider(node: int, rows: np.ndarray, depth: int) -> None:
        split = _best_split(x[rows], y[rows], n_cls, min_leaf) if depth < max_depth else None
        if split is not None:
            frontier.append((split[0], node, rows, depth, (split[1], split[2])))

    root = leaf(np.arange(len(x)))
    consider(root, np.arange(len(x)), 0)
    leaves = 1
    while frontier and leaves < max_leaves:
        frontier.sort(key=lambda item: item[0])
        gain, node, rows, depth, split = frontier.pop()
        assert split is not None
        f, thr = split
        go_left = x[rows, f] <= np.float32(thr)
        lrows, rrows = rows[go_left], rows[~go_left]
        left, right = leaf(lrows), leaf(rrows)
        nodes[node] = [f, thr, left, right]
        leaves += 1
        consider(left, lrows, depth + 1)
        consider(right, rrows, depth + 1)
    arr = np.array(nodes, dtype=np.float64)
    cand = arr[:, 0].astype(np.int64)
    inner = cand >= 0
    feature = np.where(inner, [pairs[c][0] if c >= 0 else -1 for c in cand], -1).astype(np.int64)
    other = np.array([pairs[c][1] if c >= 0 else 0 for c in cand], dtype=np.int64)
    sign = np.array([pairs[c][2] if c >= 0 else 0.0 for c in cand], dtype=np.float32)
    return _prune(TreePolicy(feature, other, sign, arr[:, 1].astype(np.float32),
                             arr[:, 2].astype(np.int64), arr[:, 3].astype(np.int64)))


def _best_split(x: np.ndarray, y: np.ndarray, n_cls: int, min_leaf: int) -> tuple[float, int, float] | None:
    """(impurity decrease x rows, feature, threshold) of the best split, or None."""
    n = len(y)
    if n < 2 * min_leaf:
        return None
    onehot = np.eye(n_cls, dtype=np.float64)[y]
    total = onehot.sum(axis=0)
    parent = n - (total ** 2).sum() / n
    best: tuple[float, int, float] | None = None
    for f in range(x.shape[1]):
        order = np.argsort(x[:, f], kind="stable")
        xs = x[order, f]
        left = np.cumsum(onehot[order], axis=0)[:-1]
        nl = np.arange(1, n, dtype=np.float64)
        valid = (xs[1:] > xs[:-1]) & (nl >= min_leaf) & (nl <= n - min_leaf)
        if not valid.any():
            continue
        right = total - left
        gini = (nl - (left ** 2).sum(axis=1) / nl) + ((n - nl) - (right ** 2).sum(axis=1) / (n - nl))
        gini = np.where(valid, gini, np.inf)
        i = int(gini.argmin())
        gain = parent - gini[i]
        if gain > 1e-9 and (best is None or gain > best[0]):
            thr = np.float32((np.float64(xs[i]) + np.float64(xs[i + 1])) / 2.0)
            if not xs[i] <= thr < xs[i + 1]:
                thr = xs[i]
            best = (float(gain), f, float(thr))
    return best


def _prune(tree: TreePolicy) -> TreePolicy:
    """Merge inner nodes whose two leaves choose the same action (same decisions, fewer nodes)."""
    feature, left, right = tree.feature.copy(), tree.left.copy(), tree.right.copy()
    changed = True
    while changed:
        changed = False
        for i in range(len(feature)):
            a, b = left[i], right[i]
            if feature[i] >= 0 and feature[a] < 0 and feature[b] < 0 and left[a] == left[b]:
                feature[i], left[i], right[i] = -1, left[a], 0
                changed = True
    keep: list[int] = []
    index: dict[int, int] = {}

    def visit(i: int) -> None:
        index[i] = len(keep)
        keep.append(i)
        if feature[i] >= 0:
            visit(int(left[i]))
            visit(int(right[i]))

    visit(0)
    new_left = np.array([index[int(left[i])] if feature[i] >= 0 else left[i] for i in keep], dtype=np.int64)
    new_right = np.array([index[int(right[i])] if feature[i] >= 0 else 0 for i in keep], dtype=np.int64)
    return TreePolicy(feature[keep], tree.other[keep], tree.sign[keep], tree.threshold[keep], new_left, new_right)


def tree_source(tree: TreePolicy, obs_dim: int) -> str:
    """The tree in C: a loop over the node arrays."""
    idx = "uint8_t" if tree.index_bytes == 1 else "uint16_t"
    feat = np.where(tree.feature >= 0, tree.feature, 255)
    return "\n".join([
        c_array("uint8_t", "TINYSIM_T_FEAT", ints(feat), per_line=16),
        c_array("uint8_t", "TINYSIM_T_OTHER", ints(tree.other), per_line=16),
        c_array("signed char", "TINYSIM_T_SIGN", ints(tree.sign), per_line=16),
        c_array("float", "TINYSIM_T_THR", floats(tree.threshold)),
        c_array(idx, "TINYSIM_T_LEFT", ints(tree.left), per_line=16),
        c_array(idx, "TINYSIM_T_RIGHT", ints(tree.right), per_line=16),
        f"""int tinysim_policy_act(const float obs[TINYSIM_OBS_DIM]) {{
    unsigned n = 0;
    while (TINYSIM_T_FEAT[n] != 255u) {{
        float v = obs[TINYSIM_T_FEAT[n]] + (float)TINYSIM_T_SIGN[n] * obs[TINYSIM_T_OTHER[n]];
        n = v <= TINYSIM_T_THR[n] ? TINYSIM_T_LEFT[n] : TINYSIM_T_RIGHT[n];
    }}
    return (int)TINYSIM_T_LEFT[n];
}}

int tinysim_policy_act_masked(const float obs[TINYSIM_OBS_DIM], const uint8_t *mask) {{
    (void)mask;  /* the tree learnt the agent's masked choices */
    return tinysim_policy_act(obs);
}}
/* {obs_dim} features */
"""])


# ------------------------------------------------------------------------------------------------ table


@dataclass(frozen=True)
class TablePolicy:
    """A lookup table over a regular grid of the features it reads (each feature in [0, 1]).

    Cell of feature ``f``: ``min((int)(obs[f] * bins[j]), bins[j] - 1)`` (0 below 0), row-major.
    """

    features: np.ndarray
    bins: np.ndarray
    table: np.ndarray

    def cells(self, obs: np.ndarray) -> np.ndarray:
        """The flat cell of each observation."""
        x = np.asarray(obs, dtype=np.float32)[:, self.features]
        b = self.bins.astype(np.float32)
        c = np.clip(np.trunc(np.maximum(x * b, np.float32(0.0))).astype(np.int64), 0, self.bins - 1)
        flat = np.zeros(len(x), dtype=np.int64)
        for j in range(len(self.features)):
            flat = flat * int(self.bins[j]) + c[:, j]
        return flat

    def act(self, obs: np.ndarray, masks: np.ndarray | None = None) -> np.ndarray:
        """Actions of a batch of env observations."""
        return self.table[self.cells(obs)].astype(np.int64)

    def flash_bytes(self) -> int:
        """Flash of the table and its grid."""
        return int(self.table.size + 2 * len(self.features))


def fit_table(obs: np.ndarray, actions: np.ndarray, features: np.ndarray, max_cells: int = 1024) -> TablePolicy:
    """The majority action per cell of a grid over ``features`` (as many bins each as ``max_cells`` allows).

    Cells no visited state falls in take the action of the nearest visited cell along the flat order
    (ties: the lower cell), so the table is complete.
    """
    feats = np.asarray(features, dtype=np.int64)
    per = max(2, int(np.floor(max_cells ** (1.0 / len(feats)) + 1e-9)))
    bins = np.full(len(feats), per, dtype=np.int64)
    y = np.asarray(actions, dtype=np.int64)
    n_cls = int(y.max()) + 1
    probe = TablePolicy(feats, bins, np.zeros(int(np.prod(bins)), dtype=np.uint8))
    cells = probe.cells(obs)
    counts = np.zeros((probe.table.size, n_cls), dtype=np.int64)
    np.add.at(counts, (cells, y), 1)
    seen = np.flatnonzero(counts.sum(axis=1) > 0)
    best = counts.argmax(axis=1)
    near = seen[np.clip(np.searchsorted(seen, np.arange(probe.table.size)), 0, len(seen) - 1)]
    lower = seen[np.clip(np.searchsorted(seen, np.arange(probe.table.size)) - 1, 0, len(seen) - 1)]
    pick = np.where(np.abs(lower - np.arange(probe.table.size)) <= np.abs(near - np.arange(probe.table.size)),
                    lower, near)
    table = np.where(counts.sum(axis=1) > 0, best, best[pick]).astype(np.uint8)
    return TablePolicy(feats, bins, table)


def table_source(table: TablePolicy) -> str:
    """The table in C."""
    lines = []
    for j in range(len(table.features)):
        f, b = int(table.features[j]), int(table.bins[j])
        lines.append(f"    v = obs[{f}] * {b}.0f;\n"
                     f"    c = v > 0.0f ? (int32_t)v : 0;\n"
                     f"    if (c > {b - 1}) c = {b - 1};\n"
                     f"    cell = cell * {b} + c;")
    return "\n".join([
        c_array("uint8_t", "TINYSIM_TABLE", ints(table.table), per_line=32),
        f"""int tinysim_policy_act(const float obs[TINYSIM_OBS_DIM]) {{
    int32_t cell = 0, c;
    float v;
{chr(10).join(lines)}
    return (int)TINYSIM_TABLE[cell];
}}

int tinysim_policy_act_masked(const float obs[TINYSIM_OBS_DIM], const uint8_t *mask) {{
    (void)mask;  /* the table learnt the agent's masked choices */
    return tinysim_policy_act(obs);
}}
"""])

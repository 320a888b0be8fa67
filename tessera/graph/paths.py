"""Strongest paths: a bidirectional Dijkstra that settles nodes in NumPy batches over link lengths in rows."""

from __future__ import annotations

import numpy as np

BATCH = 1024  # frontier nodes settled per round at most: fewer rounds of NumPy work against a few more nodes settled
TAIL = 64  # once the searches have met, a frontier this small is settled in one round rather than halved
MERGE_SHARE = 0.05  # links added since the rows were built are merged into them once they reach this share
# Rows hold each node's links shortest first, with how many are at most each of these lengths: once the searches
# have met, a node is left only so much length, and only the links below the next level up are read (1 / strength
# runs 0.1-111 at 1M nodes, median 1.4; powers of two are exact in float32, which the rows are sorted by).
LEVELS = np.array([0.25, 0.5, 1.0, 2.0, 4.0, 8.0])

# networkit's BidirectionalDijkstra clears arrays as long as the graph has nodes on every query (about 40 MB at a
# million nodes), which costs more than the search. Here the work of a query is only the nodes it reaches: scratch
# arrays are allocated once and only the entries a query touched are reset afterwards.
#
# Landmarks (ALT: lower bounds from the distances to a few far-apart nodes) were tried on the bench graph and left
# out. Its distances are bunched (at 100k nodes, 80% of one node's distances lie within 4.1-5.8, and 16
# farthest-first landmarks bound a pair's distance at 38% of it, median), so at 1M nodes A* on reduced lengths
# relaxed 27k links a query against 29k and took 4.7x as long; pruning with the bounds alone cut 7% of the links.
# A query's time goes per link relaxed (~110 ns, against ~20 us per step of NumPy calls): fewer links is what pays.


class PathGraph:
    """Link lengths (1 / strength, stronger = shorter) of an undirected graph in compressed rows, each row shortest
    first; links added or shortened later are kept beside the rows (a batch does not rebuild them) and merged in
    once they are many; each node's shortest link is kept up to date for the searches' bound. Not thread-safe:
    callers hold the graph's lock."""

    def __init__(self, n: int, a: np.ndarray, b: np.ndarray, length: np.ndarray):
        self.n = n
        self._rows(np.r_[a, b].astype(np.int64), np.r_[b, a].astype(np.int64), np.r_[length, length])
        self._extra: dict[int, tuple[list[int], list[float]]] = {}
        self._n_extra = 0
        self._scratch_n = 0

    def _rows(self, src: np.ndarray, dst: np.ndarray, length: np.ndarray) -> None:
        length = np.asarray(length, np.float64)
        short = length.astype(np.float32)  # its bits order positive lengths: one sort puts each row shortest first
        order = np.argsort((src << 32) | short.view(np.int32).astype(np.int64))
        self.indptr = np.zeros(self.n + 1, np.int64)
        np.cumsum(np.bincount(src, minlength=self.n), out=self.indptr[1:])
        self.indices = dst[order].astype(np.int32 if self.n < 2**31 else np.int64)
        self.lengths = np.asarray(length, np.float64)[order]
        self._shortest = np.full(self.n, np.inf)  # each node's shortest link
        np.minimum.at(self._shortest, src, np.asarray(length, np.float64))
        self._has_extra = np.zeros(self.n, bool)
        # how many of each row's first links are as short as each level or shorter (as float32, as sorted), and all
        self._below = np.empty((self.n, len(LEVELS) + 1), np.int32)
        for j, level in enumerate(LEVELS.astype(np.float32)):
            self._below[:, j] = np.bincount(src[short <= level], minlength=self.n)
        self._below[:, -1] = np.diff(self.indptr)

    @property
    def num_links(self) -> int:
        """Stored directed entries (each undirected link twice, plus shortened links kept beside the rows)."""
        return len(self.indices) + 2 * self._n_extra

    def grow(self, n: int) -> None:
        """Make room for nodes added since (they have no links yet)."""
        if n > self.n:
            self.indptr = np.r_[self.indptr, np.full(n - self.n, self.indptr[-1])]
            self._shortest = np.r_[self._shortest, np.full(n - self.n, np.inf)]
            self._has_extra = np.r_[self._has_extra, np.zeros(n - self.n, bool)]
            self._below = np.r_[self._below, np.zeros((n - self.n, self._below.shape[1]), np.int32)]
            self.n = n

    def update(self, a: np.ndarray, b: np.ndarray, length: np.ndarray) -> None:
        """Links that appeared or got shorter. Lengths only ever shrink (strength only grows), so the old, longer
        entry can stay: a search always takes the shorter one (and a node's shortest link can only get shorter)."""
        self.grow(int(max(a.max(initial=-1), b.max(initial=-1))) + 1)
        extra = self._extra
        for x, y, w in zip(a.tolist(), b.tolist(), length.tolist()):
            for p, q in ((x, y), (y, x)):
                e = extra.get(p)
                if e is None:
                    e = extra[p] = ([], [])
                e[0].append(q)
                e[1].append(w)
        self._has_extra[a] = True
        self._has_extra[b] = True
        np.minimum.at(self._shortest, a, length)
        np.minimum.at(self._shortest, b, length)
        self._n_extra += len(a)
        if self._n_extra > MERGE_SHARE * len(self.indices):
            self._merge()

    def _merge(self) -> None:
        src = np.repeat(np.arange(self.n), np.diff(self.indptr))
        dst, length = self.indices, self.lengths
        if self._extra:
            es = np.concatenate([np.full(len(v[0]), k) for k, v in self._extra.items()])
            ed = np.concatenate([np.asarray(v[0], np.int64) for v in self._extra.values()])
            ew = np.concatenate([np.asarray(v[1], np.float64) for v in self._extra.values()])
            src, dst, length = np.r_[src, es], np.r_[dst, ed], np.r_[length, ew]
        key = (src << 32) | dst
        order = np.lexsort((length, key))
        first = order[np.r_[True, key[order][1:] != key[order][:-1]]]  # the shortest entry of each link
        self._rows(src[first], dst[first], length[first])
        self._extra, self._n_extra = {}, 0

    def neighbours(self, nodes: np.ndarray, budget: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The links out of `nodes` as (to, length, where) arrays, and how many were taken from each node: all, or
        with `budget` (per node) at least those of the row shorter than it, and all kept beside the rows. `where`
        is the link's place in the rows, or -2 - the node it leaves for a link kept beside them (`_from` reads
        both)."""
        start = self.indptr[nodes]
        if budget is None:
            count = self.indptr[nodes + 1] - start
        else:
            count = self._below[nodes, np.searchsorted(LEVELS, budget)]
        ends = count.cumsum(dtype=np.int64)
        at = np.repeat(start - ends + count, count)
        at += np.arange(len(at))
        dst, length = self.indices[at], self.lengths[at]
        if self._n_extra:
            more = nodes[self._has_extra[nodes]]
            if len(more):
                ex = [self._extra[x] for x in more.tolist()]
                extra = np.array([len(e[0]) for e in ex])
                count = np.r_[count, extra]
                at = np.r_[at, np.repeat(-2 - more, extra)]
                dst = np.r_[dst, np.concatenate([e[0] for e in ex]).astype(dst.dtype)]
                length = np.r_[length, np.concatenate([e[1] for e in ex])]
        return dst, length, at, count

    def _from(self, where: np.ndarray) -> np.ndarray:
        """The nodes the links at `where` (as `neighbours` gives it) leave."""
        rows = np.searchsorted(self.indptr, where, side="right") - 1
        return np.where(where >= 0, rows, -2 - where)

    def _scratch(self) -> None:
        if self._scratch_n < self.n:
            n = self.n
            # per node, side by side (one cache line): distance from s, from t, and the link each was reached by
            self._state = np.full((n, 4), np.inf)
            self._stamp = np.zeros(n, np.int64)
            self._scratch_n = n

    def strongest_path(self, s: int, t: int, banned: np.ndarray | None = None) -> tuple[float, list[int]] | None:
        """The shortest path from s to t as (length, nodes), or None; `banned` holds pair keys (lo << 32 | hi)
        of links the path may not use.

        Both searches settle, in rounds, the up to BATCH nodes nearest to their end (re-relaxing within a round
        until nothing nearer than its bound changes, so what is settled is exact), the smaller frontier first; a
        node is only reached if it could still lie on a path shorter than the best found, and the search stops
        once the two frontiers are together at least that far apart.

        "Could still lie on a shorter path": a node the other search has not settled is at least that search's
        frontier distance from the other end; one it has not even reached is at least its own shortest link more,
        since each of its neighbours is unsettled there too (had one been settled, it would have reached this node,
        or found that no path through it beats the best). So a node reached at d can only use links shorter than
        best - (the other frontier's distance) - d: the rest of its row is not read. At 1M nodes this reads 17.6k
        links a query instead of 32.4k.
        A node is settled on a side once its distance is at most the radius of that side's latest round."""
        if s == t:
            return 0.0, [s]
        self._scratch()
        state = self._state
        dist, pred = (state[:, 0], state[:, 1]), (state[:, 2], state[:, 3])
        dist[0][s] = dist[1][t] = 0.0
        front = [np.array([s]), np.array([t])]
        top = [0.0, 0.0]
        touched = [np.array([s, t])]
        best, meet = np.inf, -1
        try:
            while len(front[0]) and len(front[1]) and top[0] + top[1] < best:
                side = 0 if len(front[0]) <= len(front[1]) else 1
                d, p, other = dist[side], pred[side], dist[1 - side]
                bound = top[1 - side]  # what any node not yet settled from the other end still needs to get there
                f = front[side]
                fd = d[f]
                keep = fd + bound + np.where(other[f] == np.inf, self._shortest[f], 0.0) < best
                f, fd = f[keep], fd[keep]
                if not len(f):
                    front[side], top[side] = f, np.inf
                    continue
                # Halving rounds go on once the searches have met: finishing one side in a single round to the
                # bound the best path sets was measured slower at 1M nodes (p95 9.4 against 4.5 ms), as it gives up
                # the balance between the two sides.
                # A small frontier left once they have met is settled at once: halving it costs a round per halving.
                k = len(f) if best < np.inf and len(f) <= TAIL else min(BATCH, max(1, len(f) // 2))
                radius = np.partition(fd, k - 1)[k - 1]
                now, later = f[fd <= radius], [f[fd > radius]]
                while len(now):
                    dst, length, at, count = self.neighbours(now, None if best == np.inf else best - bound - d[now])
                    if self._n_extra:
                        now = np.r_[now, now[self._has_extra[now]]]
                    nd = np.repeat(d[now], count)
                    nd += length
                    if best < np.inf:
                        unreached = np.where(other[dst] == np.inf, self._shortest[dst], 0.0)
                        ok = nd < np.minimum(d[dst], best - bound - unreached)
                    else:
                        ok = nd < d[dst]
                    if banned is not None and len(banned):
                        src = self._from(at)
                        ok &= ~np.isin((np.minimum(src, dst) << 32) | np.maximum(src, dst), banned)
                    dst, nd, at = dst[ok], nd[ok], at[ok]
                    if not len(dst):
                        break
                    np.minimum.at(d, dst, nd)
                    won = d[dst] == nd
                    dst, nd, at = dst[won], nd[won], at[won]
                    p[dst] = at
                    touched.append(dst)
                    via = nd + other[dst]
                    i = int(via.argmin())
                    if via[i] < best:
                        best, meet = float(via[i]), int(dst[i])
                    near = nd <= radius
                    now = dst[near]
                    later.append(dst[~near])
                f = np.concatenate(later)
                f = f[d[f] > radius]  # not settled: a side settles all it reaches up to the radius of its round
                order = np.arange(len(f))
                self._stamp[f] = order
                f = f[self._stamp[f] == order]  # each node once
                front[side] = f
                top[side] = float(d[f].min()) if len(f) else np.inf
            if meet < 0:
                return None
            path = [meet]
            while path[-1] != s:
                path.append(int(self._from(np.int64(pred[0][path[-1]]))))
            path.reverse()
            while path[-1] != t:
                path.append(int(self._from(np.int64(pred[1][path[-1]]))))
            return best, path
        finally:
            state[np.concatenate(touched), :2] = np.inf  # the links reached by are only read along the path found

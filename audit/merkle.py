"""RFC 9162 Merkle tree hashing, proof checking and proof building, on the standard library only.

Hashes are 32-byte SHA-256 digests: a leaf is SHA-256(0x00 || entry) and an interior node
SHA-256(0x01 || left || right), so a leaf can never be passed off as a node.

Proofs are built over a *node store*: a callable ``node(level, index)`` that returns the hash
of the complete subtree at ``level`` covering leaves ``[index * 2**level, (index + 1) *
2**level)``; level 0 holds the leaf hashes. Only complete subtrees are ever stored, because
they never change once closed; the hash of any other range the RFC's recursion needs is
composed from at most one stored subtree per level, so every proof costs O(log n) reads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MAX_TREE_SIZE",
    "MemoryTree",
    "NodeStore",
    "ProofError",
    "TreeBuilder",
    "border_positions",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "range_hash",
    "root",
    "root_from_leaves",
    "tree_levels",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
#: RFC 9162 carries tree sizes as uint64.
MAX_TREE_SIZE = 2**64 - 1
#: The root of the empty tree, MTH({}) = SHA-256().
EMPTY_ROOT = hashlib.sha256(b"").digest()
# A uint64 tree is at most 64 levels deep, so an inclusion proof has at most 64 hashes and a
# consistency proof at most two per level; anything longer is refused before hashing.
_MAX_PROOF = 2 * 64

NodeStore = Callable[[int, int], bytes]

_sha256 = hashlib.sha256


class ProofError(ValueError):
    """A proof does not hold, or its inputs are malformed."""


def leaf_hash(entry: bytes) -> bytes:
    """Return the RFC 9162 leaf hash SHA-256(0x00 || entry)."""
    return _sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 9162 interior node hash SHA-256(0x01 || left || right)."""
    return _sha256(b"\x01" + left + right).digest()


# --- checking --------------------------------------------------------------------------------


def _size(value: object, what: str) -> int:
    # type() rather than isinstance(): bool is an int subclass and must not pass as a size.
    if type(value) is not int:
        raise ProofError(f"{what} must be an int, not {type(value).__name__}")
    if not 0 <= value <= MAX_TREE_SIZE:
        raise ProofError(f"{what} {value} is outside 0..2**64-1")
    return value


def _hash(value: object, what: str) -> bytes:
    if not isinstance(value, bytes):
        raise ProofError(f"{what} must be bytes, not {type(value).__name__}")
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} must be {HASH_SIZE} bytes, not {len(value)}")
    return value


def _proof(value: object) -> list[bytes]:
    if not isinstance(value, list | tuple):
        raise ProofError(f"proof must be a list of hashes, not {type(value).__name__}")
    if len(value) > _MAX_PROOF:
        raise ProofError(f"proof has {len(value)} hashes, more than any tree needs")
    return [_hash(item, f"proof hash {i}") for i, item in enumerate(value)]


def verify_inclusion(
    leaf_index: int, tree_size: int, leaf_hash: bytes, proof: list[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``leaf_index`` of the tree of ``tree_size`` with ``root``.

    Follows RFC 9162 section 2.1.3.2 step by step; raises ProofError when the proof fails or
    any input is malformed, and returns None when it holds.
    """
    index = _size(leaf_index, "leaf index")
    size = _size(tree_size, "tree size")
    r = _hash(leaf_hash, "leaf hash")
    expected = _hash(root, "root hash")
    path = _proof(proof)
    if index >= size:
        raise ProofError(f"leaf index {index} is not below tree size {size}")
    sha = _sha256
    fn = index
    sn = size - 1
    for p in path:
        if sn == 0:
            raise ProofError("inclusion proof has more hashes than the tree has levels")
        if fn & 1 or fn == sn:
            r = sha(b"\x01" + p + r).digest()
            if not fn & 1:
                # The last node of a level with no right sibling rises unchanged.
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = sha(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof has fewer hashes than the tree has levels")
    if r != expected:
        raise ProofError("inclusion proof does not lead to the root hash")


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes]
) -> None:
    """Check that the tree of ``size2`` with ``root2`` extends the tree of ``size1`` with ``root1``.

    Follows RFC 9162 section 2.1.4.2 step by step. A proof from size 0 is refused (there is
    nothing to be consistent with); between equal sizes the proof must be empty and the
    roots equal. Raises ProofError on any failure or malformed input.
    """
    first = _size(size1, "first tree size")
    second = _size(size2, "second tree size")
    first_hash = _hash(root1, "first root hash")
    second_hash = _hash(root2, "second root hash")
    path = _proof(proof)
    if first == 0:
        raise ProofError("consistency with the empty tree proves nothing and is not accepted")
    if first > second:
        raise ProofError(f"first tree size {first} is larger than second tree size {second}")
    if first == second:
        if path:
            raise ProofError("a consistency proof between equal sizes must be empty")
        if first_hash != second_hash:
            raise ProofError(f"two different root hashes for the same tree size {first}")
        return
    if not path:
        raise ProofError("consistency proof is empty")
    if first & (first - 1) == 0:
        # The old tree is one complete subtree of the new one: its root starts the path.
        path.insert(0, first_hash)
    sha = _sha256
    fn = first - 1
    sn = second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof has more hashes than the tree has levels")
        if fn & 1 or fn == sn:
            fr = sha(b"\x01" + c + fr).digest()
            sr = sha(b"\x01" + c + sr).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = sha(b"\x01" + sr + c).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof has fewer hashes than the tree has levels")
    if fr != first_hash:
        raise ProofError("consistency proof does not lead to the first root hash")
    if sr != second_hash:
        raise ProofError("consistency proof does not lead to the second root hash")


# --- building over a node store ----------------------------------------------------------------


def _split(n: int) -> int:
    """Return the largest power of two strictly below ``n`` (n >= 2): RFC 9162's k."""
    return 1 << ((n - 1).bit_length() - 1)


def _range_args(start: int, end: int) -> None:
    if type(start) is not int or type(end) is not int or not 0 <= start <= end:
        raise ValueError(f"invalid leaf range [{start!r}, {end!r})")


def range_hash(start: int, end: int, node: NodeStore) -> bytes:
    """Return MTH(leaves[start:end]) for a range that is a subtree in the RFC's recursion.

    Such a range starts on a multiple of the smallest power of two not below its length, so
    it is tiled, left to right, by one complete subtree per set bit of its length: this reads
    at most one node per level.
    """
    _range_args(start, end)
    size = end - start
    if size == 0:
        if start:
            raise ValueError(f"[{start}, {end}) is empty and not the empty tree")
        return EMPTY_ROOT
    if start & ((1 << (size - 1).bit_length()) - 1):
        raise ValueError(f"[{start}, {end}) is not a subtree of any RFC 9162 tree")
    pieces: list[bytes] = []
    pos = start
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            pieces.append(node(level, pos >> level))
            pos += 1 << level
    h = pieces.pop()
    sha = _sha256
    while pieces:
        h = sha(b"\x01" + pieces.pop() + h).digest()
    return h


def root(size: int, node: NodeStore) -> bytes:
    """Return the root hash of the tree of the first ``size`` leaves."""
    return range_hash(0, size, node)


def inclusion_proof(index: int, size: int, node: NodeStore) -> list[bytes]:
    """Return RFC 9162 PATH(index, D[0:size]), the inclusion proof of leaf ``index``."""
    _range_args(0, size)
    if type(index) is not int or not 0 <= index < size:
        raise ValueError(f"leaf index {index!r} is not below tree size {size}")
    path: list[bytes] = []
    lo, hi = 0, size
    # Walk down from the root; siblings come out top first, so reverse at the end. Only the
    # one right sibling met while still on the tree's right edge is incomplete.
    while hi - lo > 1:
        k = _split(hi - lo)
        mid = lo + k
        if index < mid:
            path.append(range_hash(mid, hi, node))
            hi = mid
        else:
            level = k.bit_length() - 1
            path.append(node(level, lo >> level))
            lo = mid
    path.reverse()
    return path


def consistency_proof(size1: int, size2: int, node: NodeStore) -> list[bytes]:
    """Return RFC 9162 PROOF(size1, D[0:size2]): the first tree is a prefix of the second."""
    _range_args(0, size2)
    if type(size1) is not int or not 0 < size1 <= size2:
        raise ValueError(f"first tree size {size1!r} is not in 1..{size2}")
    path: list[bytes] = []
    lo, hi = 0, size2
    whole = True  # SUBPROOF's b: still on the old tree's own left spine
    while True:
        n = hi - lo
        m = size1 - lo
        if m == n:
            if not whole:
                path.append(range_hash(lo, hi, node))
            break
        k = _split(n)
        if m <= k:
            path.append(range_hash(lo + k, hi, node))
            hi = lo + k
        else:
            level = k.bit_length() - 1
            path.append(node(level, lo >> level))
            lo += k
            whole = False
    path.reverse()
    return path


def border_positions(size: int) -> list[tuple[int, int]]:
    """Return the (level, index) of the complete subtrees that tile the first ``size`` leaves.

    They are the tree's right border, largest first: exactly what TreeBuilder needs to go
    on appending, so a database can fetch them in one query.
    """
    _range_args(0, size)
    out: list[tuple[int, int]] = []
    pos = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            out.append((level, pos >> level))
            pos += 1 << level
    return out


class TreeBuilder:
    """Append leaves to a tree and report every complete subtree each append closes.

    The state is the tree size plus the hashes of its right border (see border_positions):
    one complete subtree per set bit of the size. ``TreeBuilder.resume(size, node)`` reads
    those from a node store, so the sealer continues a stored tree with O(log n) reads.
    """

    __slots__ = ("_border", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._border: list[bytes] = []

    @classmethod
    def resume(cls, size: int, node: NodeStore) -> TreeBuilder:
        """Continue the stored tree of ``size`` leaves, reading its right border from ``node``."""
        return cls.from_border(
            size, [node(level, index) for level, index in border_positions(size)]
        )

    @classmethod
    def from_border(cls, size: int, border: Sequence[bytes]) -> TreeBuilder:
        """Continue a tree of ``size`` leaves from its right border hashes, largest first."""
        positions = border_positions(size)
        if len(border) != len(positions):
            raise ValueError(f"a tree of {size} leaves has {len(positions)} border subtrees")
        for digest in border:
            if not isinstance(digest, bytes) or len(digest) != HASH_SIZE:
                raise ValueError("border hashes must be 32-byte bytes")
        builder = cls()
        builder._size = size
        builder._border = list(border)
        return builder

    @property
    def size(self) -> int:
        """Return the number of leaves appended so far."""
        return self._size

    @property
    def border(self) -> list[tuple[int, int, bytes]]:
        """Return the right border as (level, index, hash), largest subtree first."""
        return [
            (level, index, digest)
            for (level, index), digest in zip(
                border_positions(self._size), self._border, strict=True
            )
        ]

    def append(self, leaf_hash: bytes) -> list[tuple[int, int, bytes]]:
        """Append one leaf hash; return the (level, index, hash) of every subtree it closes.

        The first item is the leaf itself at level 0; each further one is the parent the
        previous one completed, bottom up.
        """
        if not isinstance(leaf_hash, bytes) or len(leaf_hash) != HASH_SIZE:
            raise ValueError("a leaf hash must be 32-byte bytes")
        index = self._size
        if index >= MAX_TREE_SIZE:
            raise ValueError("the tree is full")
        closed = [(0, index, leaf_hash)]
        border = self._border
        sha = _sha256
        h = leaf_hash
        level = 0
        # Each trailing 1 bit of the old size is a left sibling waiting on the border.
        while index & 1:
            h = sha(b"\x01" + border.pop() + h).digest()
            level += 1
            index >>= 1
            closed.append((level, index, h))
        border.append(h)
        self._size += 1
        return closed

    def extend(self, leaf_hashes: Iterable[bytes]) -> list[tuple[int, int, bytes]]:
        """Append many leaf hashes; return every subtree they close, in order."""
        closed: list[tuple[int, int, bytes]] = []
        for digest in leaf_hashes:
            closed.extend(self.append(digest))
        return closed

    def root(self) -> bytes:
        """Return the root hash at the current size."""
        border = self._border
        if not border:
            return EMPTY_ROOT
        sha = _sha256
        h = border[-1]
        for digest in reversed(border[:-1]):
            h = sha(b"\x01" + digest + h).digest()
        return h


# --- whole trees in memory -------------------------------------------------------------------


def _next_level(level: list[bytes]) -> list[bytes]:
    sha = _sha256
    pairs = iter(level)
    up = [sha(b"\x01" + a + b).digest() for a, b in zip(pairs, pairs, strict=False)]
    if len(level) & 1:
        # An unpaired last node rises unchanged; this yields exactly RFC 9162's MTH.
        up.append(level[-1])
    return up


def root_from_leaves(hashes: Iterable[bytes]) -> bytes:
    """Return the root hash over a full list of leaf hashes, level by level for speed.

    The hashes are trusted to be 32-byte digests (callers computed them).
    """
    level = hashes if isinstance(hashes, list) else list(hashes)
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


def tree_levels(hashes: Iterable[bytes]) -> list[list[bytes]]:
    """Return every level of the tree over the leaf hashes, leaves first, root level last.

    ``levels[l][i]`` is the complete subtree (l, i) whenever ``(i + 1) << l`` is within the
    tree size; the last item of a level may be an incomplete right-edge subtree.
    """
    level = list(hashes)
    levels = [level]
    while len(level) > 1:
        level = _next_level(level)
        levels.append(level)
    return levels


class MemoryTree:
    """Keep a whole tree in memory and serve it as a node store: for verifiers and tests."""

    __slots__ = ("levels", "size")

    def __init__(self, leaf_hashes: Iterable[bytes]) -> None:
        self.levels = tree_levels(leaf_hashes)
        self.size = len(self.levels[0])

    def node(self, level: int, index: int) -> bytes:
        """Return the complete subtree (level, index); refuse an incomplete one."""
        if level < 0 or index < 0 or (index + 1) << level > self.size:
            raise ValueError(f"({level}, {index}) is not a complete subtree of {self.size} leaves")
        return self.levels[level][index]

    def root(self, size: int | None = None) -> bytes:
        """Return the root hash at ``size`` (default: the whole tree)."""
        return root(self.size if size is None else self._within(size), self.node)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Return the inclusion proof of leaf ``index`` in the tree of ``size`` leaves."""
        return inclusion_proof(index, self.size if size is None else self._within(size), self.node)

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        """Return the consistency proof from ``size1`` to ``size2`` leaves."""
        second = self.size if size2 is None else self._within(size2)
        return consistency_proof(size1, second, self.node)

    def _within(self, size: int) -> int:
        if type(size) is not int or not 0 <= size <= self.size:
            raise ValueError(f"tree size {size!r} is outside 0..{self.size}")
        return size

"""Check audit.merkle against a naive reading of RFC 9162 and against hostile input."""

from __future__ import annotations

import contextlib
import hashlib
import math
import random
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from audit import merkle
from audit.merkle import ProofError

MAX_N = 300
ENTRIES = tuple(f"entry {i}".encode() for i in range(MAX_N))
LEAVES = [merkle.leaf_hash(e) for e in ENTRIES]
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- the reference: RFC 9162 sections 2.1.1, 2.1.3.1 and 2.1.4.1, read literally ---------------
# D[lo:hi] stands for the list of entries ENTRIES[lo:hi]; results are memoised for speed only.


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    """Return the largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@cache
def ref_mth(lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi])."""
    n = hi - lo
    if n == 0:
        return _h(b"")
    if n == 1:
        return _h(b"\x00" + ENTRIES[lo])
    k = _k(n)
    return _h(b"\x01" + ref_mth(lo, lo + k) + ref_mth(lo + k, hi))


@cache
def ref_path(m: int, lo: int, hi: int) -> tuple[tuple[bytes, str], ...]:
    """PATH(m, D[lo:hi]) with each hash tagged by the side its sibling sits on."""
    n = hi - lo
    if n == 1:
        return ()
    k = _k(n)
    if m < k:
        return (*ref_path(m, lo, lo + k), (ref_mth(lo + k, hi), "R"))
    return (*ref_path(m - k, lo + k, hi), (ref_mth(lo, lo + k), "L"))


@cache
def ref_subproof(m: int, lo: int, hi: int, b: bool) -> tuple[tuple[bytes, str], ...]:
    """SUBPROOF(m, D[lo:hi], b), each hash tagged by where it comes from."""
    n = hi - lo
    if m == n:
        return () if b else ((ref_mth(lo, hi), "S"),)
    k = _k(n)
    if m <= k:
        return (*ref_subproof(m, lo, lo + k, b), (ref_mth(lo + k, hi), "R"))
    return (*ref_subproof(m - k, lo + k, hi, False), (ref_mth(lo, lo + k), "L"))


def ref_inclusion(m: int, n: int) -> list[bytes]:
    return [h for h, _ in ref_path(m, 0, n)]


def ref_consistency(m: int, n: int) -> list[bytes]:
    return [h for h, _ in ref_subproof(m, 0, n, True)]


class Store:
    """A node store over the reference that counts reads and refuses incomplete subtrees."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.reads = 0

    def __call__(self, level: int, index: int) -> bytes:
        lo, hi = index << level, (index + 1) << level
        assert hi <= self.size, f"({level}, {index}) is not complete in {self.size} leaves"
        self.reads += 1
        return ref_mth(lo, hi)


def log_bound(n: int) -> int:
    # Allow two reads per level, plus slack: proofs must stay O(log n).
    return 2 * max(1, math.ceil(math.log2(n + 1))) + 2


def sample_indices(n: int, rng: random.Random) -> list[int]:
    if n <= 64:
        return list(range(n))
    picks = {0, 1, n // 2, n - 2, n - 1}
    picks |= {p for p in (2**e for e in range(9)) if p < n}
    picks |= {p - 1 for p in (2**e for e in range(1, 9)) if p <= n}
    picks |= {rng.randrange(n) for _ in range(8)}
    return sorted(picks)


# --- known answers -------------------------------------------------------------------------


def test_known_roots_of_the_rfc6962_test_tree() -> None:
    # The eight-leaf tree used by the certificate transparency test suites.
    data = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        b"\x50\x51\x52\x53\x54\x55\x56\x57",
        bytes(range(0x60, 0x70)),
    ]
    expected = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
    leaves = [merkle.leaf_hash(d) for d in data]
    for n in range(1, 9):
        assert merkle.root_from_leaves(leaves[:n]).hex() == expected[n - 1]
    assert merkle.EMPTY_ROOT.hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert merkle.node_hash(leaves[0], leaves[1]).hex() == expected[1]


# --- construction matches the reference ------------------------------------------------------


def test_roots_match_reference_for_every_size() -> None:
    builder = merkle.TreeBuilder()
    assert builder.root() == ref_mth(0, 0) == merkle.EMPTY_ROOT
    for n in range(MAX_N + 1):
        expected = ref_mth(0, n)
        store = Store(n)
        assert merkle.root(n, store) == expected
        assert store.reads <= log_bound(n)
        assert merkle.root_from_leaves(LEAVES[:n]) == expected
        assert merkle.root_from_leaves(iter(LEAVES[:n])) == expected
        assert merkle.MemoryTree(LEAVES[:n]).root() == expected
        if n:
            builder.append(LEAVES[n - 1])
        assert builder.root() == expected


def test_inclusion_proofs_match_reference_and_verify() -> None:
    rng = random.Random(9162)
    for n in range(1, MAX_N + 1):
        root = ref_mth(0, n)
        for m in sample_indices(n, rng):
            store = Store(n)
            proof = merkle.inclusion_proof(m, n, store)
            assert proof == ref_inclusion(m, n), (m, n)
            assert store.reads <= log_bound(n)
            merkle.verify_inclusion(m, n, LEAVES[m], proof, root)


def test_consistency_proofs_match_reference_and_verify() -> None:
    rng = random.Random(2114)
    for n in range(1, MAX_N + 1):
        root2 = ref_mth(0, n)
        for m in sample_indices(n, rng):
            m += 1
            store = Store(n)
            proof = merkle.consistency_proof(m, n, store)
            assert proof == ref_consistency(m, n), (m, n)
            assert store.reads <= 2 * log_bound(n)
            merkle.verify_consistency(m, n, ref_mth(0, m), root2, proof)


def test_memory_tree_serves_the_same_proofs() -> None:
    tree = merkle.MemoryTree(LEAVES[:200])
    for n in (1, 2, 3, 100, 128, 200):
        for m in (0, n // 3, n - 1):
            assert tree.inclusion_proof(m, n) == ref_inclusion(m, n)
            assert tree.consistency_proof(m + 1, n) == ref_consistency(m + 1, n)
    assert tree.inclusion_proof(5) == ref_inclusion(5, 200)
    assert tree.consistency_proof(64) == ref_consistency(64, 200)
    assert tree.node(1, 99) == ref_mth(198, 200)
    with pytest.raises(ValueError, match="not a complete subtree"):
        tree.node(1, 100)
    with pytest.raises(ValueError, match="outside"):
        tree.root(201)


def test_range_hash_refuses_ranges_that_are_no_subtree() -> None:
    store = Store(MAX_N)
    assert merkle.range_hash(4, 7, store) == ref_mth(4, 7)
    assert merkle.range_hash(256, 300, store) == ref_mth(256, 300)
    for start, end in [(1, 3), (2, 5), (4, 9), (3, 2), (-1, 2), (5, 5)]:
        with pytest.raises(ValueError, match=r"range|subtree|empty"):
            merkle.range_hash(start, end, store)


def test_construction_refuses_bad_arguments() -> None:
    store = Store(MAX_N)
    for index, size in [(5, 5), (-1, 5), (0, 0), (True, 5)]:
        with pytest.raises(ValueError, match=r"leaf index|range"):
            merkle.inclusion_proof(index, size, store)
    for size1, size2 in [(0, 5), (6, 5), (-1, 5)]:
        with pytest.raises(ValueError, match="first tree size"):
            merkle.consistency_proof(size1, size2, store)
    assert merkle.consistency_proof(7, 7, store) == []


# --- the incremental builder ---------------------------------------------------------------


def expected_closures(i: int) -> list[tuple[int, int, bytes]]:
    """Every complete subtree whose last leaf is leaf i, bottom up."""
    out = []
    level = 0
    while (i + 1) % (1 << level) == 0:
        index = (i + 1 >> level) - 1
        out.append((level, index, ref_mth(index << level, (index + 1) << level)))
        level += 1
    return out


def test_builder_reports_exactly_the_subtrees_each_append_closes() -> None:
    builder = merkle.TreeBuilder()
    for i in range(MAX_N):
        assert builder.append(LEAVES[i]) == expected_closures(i)
        assert builder.size == i + 1
        assert builder.border == [
            (level, index, ref_mth(index << level, (index + 1) << level))
            for level, index in merkle.border_positions(i + 1)
        ]


def test_builder_resumes_from_a_node_store_at_any_size() -> None:
    store: dict[tuple[int, int], bytes] = {}
    for level, index, digest in merkle.TreeBuilder().extend(LEAVES):
        store[level, index] = digest
    for size in range(MAX_N + 1):
        reads: list[tuple[int, int]] = []

        def node(level: int, index: int, reads: list[tuple[int, int]] = reads) -> bytes:
            reads.append((level, index))
            return store[level, index]

        builder = merkle.TreeBuilder.resume(size, node)
        assert len(reads) == bin(size).count("1")
        assert builder.root() == ref_mth(0, size)
        for i in range(size, min(size + 40, MAX_N)):
            assert builder.append(LEAVES[i]) == expected_closures(i)
            assert builder.root() == ref_mth(0, i + 1)


def test_builder_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="32-byte"):
        merkle.TreeBuilder().append(b"short")
    with pytest.raises(ValueError, match="border subtrees"):
        merkle.TreeBuilder.from_border(3, [LEAVES[0]])
    with pytest.raises(ValueError, match="32-byte"):
        merkle.TreeBuilder.from_border(1, ["x" * 32])  # type: ignore[list-item]


# --- mutations must fail ---------------------------------------------------------------------

sizes = st.integers(min_value=1, max_value=MAX_N)


def flip(data: bytes, position: int, bit: int) -> bytes:
    position %= len(data)
    return data[:position] + bytes([data[position] ^ (1 << bit)]) + data[position + 1 :]


def raises_proof_error(call: Callable[[], None]) -> bool:
    try:
        call()
    except ProofError:
        return True
    return False


@FAST
@given(n=sizes, data=st.data())
def test_any_mutation_of_an_inclusion_proof_fails(n: int, data: st.DataObject) -> None:
    m = data.draw(st.integers(0, n - 1), label="index")
    proof = ref_inclusion(m, n)
    root = ref_mth(0, n)
    leaf = LEAVES[m]
    pos = data.draw(st.integers(0, 10_000), label="position")
    bit = data.draw(st.integers(0, 7), label="bit")
    kind = data.draw(
        st.sampled_from(
            ["proof", "root", "leaf", "index", "size", "drop", "extra", "swap", "other leaf"]
        )
    )
    call: Callable[[], None]
    if kind == "proof":
        assume(proof)
        i = pos % len(proof)
        bad = [*proof[:i], flip(proof[i], pos, bit), *proof[i + 1 :]]
        call = lambda: merkle.verify_inclusion(m, n, leaf, bad, root)  # noqa: E731
    elif kind == "root":
        call = lambda: merkle.verify_inclusion(m, n, leaf, proof, flip(root, pos, bit))  # noqa: E731
    elif kind == "leaf":
        call = lambda: merkle.verify_inclusion(m, n, flip(leaf, pos, bit), proof, root)  # noqa: E731
    elif kind == "other leaf":
        assume(n > 1)
        other = LEAVES[(m + 1 + pos % (n - 1)) % n]
        call = lambda: merkle.verify_inclusion(m, n, other, proof, root)  # noqa: E731
    elif kind == "index":
        wrong = data.draw(st.integers(0, 2 * MAX_N).filter(lambda x: x != m), label="wrong")
        call = lambda: merkle.verify_inclusion(wrong, n, leaf, proof, root)  # noqa: E731
    elif kind == "size":
        wrong = data.draw(st.integers(0, MAX_N).filter(lambda x: x != n), label="wrong")
        # The verifier sees only the path's shape: another size with the very same shape
        # (same length, same sibling sides) is indistinguishable, and must then pass.
        same_shape = m < wrong and [s for _, s in ref_path(m, 0, wrong)] == [
            s for _, s in ref_path(m, 0, n)
        ]
        failed = raises_proof_error(lambda: merkle.verify_inclusion(m, wrong, leaf, proof, root))
        assert failed != same_shape
        return
    elif kind == "drop":
        assume(proof)
        i = pos % len(proof)
        call = lambda: merkle.verify_inclusion(m, n, leaf, proof[:i] + proof[i + 1 :], root)  # noqa: E731
    elif kind == "extra":
        i = pos % (len(proof) + 1)
        extra = data.draw(st.sampled_from([root, leaf, LEAVES[pos % MAX_N], b"\x00" * 32]))
        call = lambda: merkle.verify_inclusion(m, n, leaf, [*proof[:i], extra, *proof[i:]], root)  # noqa: E731
    else:
        assume(len(proof) > 1 and len(set(proof)) == len(proof))
        i = pos % (len(proof) - 1)
        swapped = [*proof[:i], proof[i + 1], proof[i], *proof[i + 2 :]]
        call = lambda: merkle.verify_inclusion(m, n, leaf, swapped, root)  # noqa: E731
    assert raises_proof_error(call)


@FAST
@given(n=sizes, data=st.data())
def test_any_mutation_of_a_consistency_proof_fails(n: int, data: st.DataObject) -> None:
    m = data.draw(st.integers(1, n), label="first size")
    proof = ref_consistency(m, n)
    root1, root2 = ref_mth(0, m), ref_mth(0, n)
    pos = data.draw(st.integers(0, 10_000), label="position")
    bit = data.draw(st.integers(0, 7), label="bit")
    kind = data.draw(
        st.sampled_from(["proof", "root1", "root2", "size1", "size2", "drop", "extra", "swap"])
    )
    call: Callable[[], None]
    if kind == "proof":
        assume(proof)
        i = pos % len(proof)
        bad = [*proof[:i], flip(proof[i], pos, bit), *proof[i + 1 :]]
        call = lambda: merkle.verify_consistency(m, n, root1, root2, bad)  # noqa: E731
    elif kind == "root1":
        call = lambda: merkle.verify_consistency(m, n, flip(root1, pos, bit), root2, proof)  # noqa: E731
    elif kind == "root2":
        call = lambda: merkle.verify_consistency(m, n, root1, flip(root2, pos, bit), proof)  # noqa: E731
    elif kind in ("size1", "size2"):
        wrong = data.draw(st.integers(0, MAX_N), label="wrong")
        m2, n2 = (wrong, n) if kind == "size1" else (m, wrong)
        assume((m2, n2) != (m, n))
        failed = raises_proof_error(lambda: merkle.verify_consistency(m2, n2, root1, root2, proof))
        if not failed:
            # Only sizes whose proof has the very same shape can pass.
            assert 0 < m2 < n2
            assert [s for _, s in ref_subproof(m2, 0, n2, True)] == [
                s for _, s in ref_subproof(m, 0, n, True)
            ]
        return
    elif kind == "drop":
        assume(proof)
        i = pos % len(proof)
        call = lambda: merkle.verify_consistency(m, n, root1, root2, proof[:i] + proof[i + 1 :])  # noqa: E731
    elif kind == "extra":
        i = pos % (len(proof) + 1)
        extra = data.draw(st.sampled_from([root1, root2, LEAVES[pos % MAX_N], b"\x00" * 32]))
        bigger = [*proof[:i], extra, *proof[i:]]
        call = lambda: merkle.verify_consistency(m, n, root1, root2, bigger)  # noqa: E731
    else:
        assume(len(proof) > 1 and len(set(proof)) == len(proof))
        i = pos % (len(proof) - 1)
        swapped = [*proof[:i], proof[i + 1], proof[i], *proof[i + 2 :]]
        call = lambda: merkle.verify_consistency(m, n, root1, root2, swapped)  # noqa: E731
    assert raises_proof_error(call)


def test_consistency_edge_cases() -> None:
    r5, r8 = ref_mth(0, 5), ref_mth(0, 8)
    merkle.verify_consistency(5, 5, r5, r5, [])
    for args in [
        (5, 5, r5, r8, []),  # same size, different roots
        (5, 5, r5, r5, [r5]),  # same size, proof not empty
        (0, 8, merkle.EMPTY_ROOT, r8, []),  # from the empty tree
        (0, 8, merkle.EMPTY_ROOT, r8, ref_consistency(1, 8)),
        (8, 5, r8, r5, ref_consistency(5, 8)),  # shrinking
        (5, 8, r5, r8, []),  # empty proof
        (5, 8, r5, r8, [*ref_consistency(5, 8)] * 30),  # absurdly long
    ]:
        with pytest.raises(ProofError):
            merkle.verify_consistency(*args)


def test_inclusion_edge_cases() -> None:
    merkle.verify_inclusion(0, 1, LEAVES[0], [], ref_mth(0, 1))
    for args in [
        (0, 0, LEAVES[0], [], merkle.EMPTY_ROOT),
        (1, 1, LEAVES[0], [], ref_mth(0, 1)),
        (0, 1, LEAVES[0], [LEAVES[1]], ref_mth(0, 1)),
        (0, 2**64, LEAVES[0], [], ref_mth(0, 1)),
        (-1, 5, LEAVES[0], ref_inclusion(0, 5), ref_mth(0, 5)),
        (True, 5, LEAVES[1], ref_inclusion(1, 5), ref_mth(0, 5)),
        (1, 5.0, LEAVES[1], ref_inclusion(1, 5), ref_mth(0, 5)),
        (1, 5, bytearray(LEAVES[1]), ref_inclusion(1, 5), ref_mth(0, 5)),
        (1, 5, LEAVES[1], (*tuple(ref_inclusion(1, 5)), b""), ref_mth(0, 5)),
        (1, 5, LEAVES[1], iter(ref_inclusion(1, 5)), ref_mth(0, 5)),
    ]:
        with pytest.raises(ProofError):
            merkle.verify_inclusion(*args)  # type: ignore[arg-type]


# --- garbage never escapes as anything but ProofError ------------------------------------------

garbage = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=40),
    st.binary(max_size=40),
    st.binary(min_size=32, max_size=32),
    st.lists(st.binary(max_size=40), max_size=6),
    st.lists(st.binary(min_size=32, max_size=32), max_size=70),
    st.lists(st.one_of(st.none(), st.integers(), st.text(max_size=4)), max_size=4),
    st.tuples(st.binary(max_size=33)),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=3),
    st.from_type(complex),
    st.from_type(bytearray),
    st.from_type(frozenset),
    st.just(object()),
    st.just(float("inf")),
    st.just(2**64),
    st.just(memoryview(LEAVES[0])),
)


def never_crashes(function: Callable[..., None], args: list[Any]) -> None:
    with contextlib.suppress(ProofError):
        function(*args)


@FAST
@given(n=sizes, position=st.integers(0, 4), junk=garbage, data=st.data())
def test_garbage_for_inclusion_raises_only_proof_error(
    n: int, position: int, junk: object, data: st.DataObject
) -> None:
    m = data.draw(st.integers(0, n - 1))
    args: list[Any] = [m, n, LEAVES[m], ref_inclusion(m, n), ref_mth(0, n)]
    args[position] = junk
    never_crashes(merkle.verify_inclusion, args)
    proof = ref_inclusion(m, n)
    if proof:
        args = [m, n, LEAVES[m], [*proof[:-1], junk], ref_mth(0, n)]
        never_crashes(merkle.verify_inclusion, args)


@FAST
@given(n=sizes, position=st.integers(0, 4), junk=garbage, data=st.data())
def test_garbage_for_consistency_raises_only_proof_error(
    n: int, position: int, junk: object, data: st.DataObject
) -> None:
    m = data.draw(st.integers(1, n))
    args: list[Any] = [m, n, ref_mth(0, m), ref_mth(0, n), ref_consistency(m, n)]
    args[position] = junk
    never_crashes(merkle.verify_consistency, args)
    args = [m, n, ref_mth(0, m), ref_mth(0, n), [junk, *ref_consistency(m, n)]]
    never_crashes(merkle.verify_consistency, args)


@FAST
@given(st.lists(garbage, min_size=5, max_size=5))
def test_all_garbage_raises_only_proof_error(args: list[Any]) -> None:
    never_crashes(merkle.verify_inclusion, args)
    never_crashes(merkle.verify_consistency, args)

"""The store conformance suite against `InProcessStore` and `ChromaStore` (ephemeral, persistent, server),
plus Chroma specifics (persistence, error wrapping, filter translation) and `open_store` URL parsing."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memagent import lexical
from memagent.errors import ConfigError, StoreError
from memagent.interfaces import MemoryStore
from memagent.stores import ChromaStore, InProcessStore, SqliteCatalog, _postings, open_store
from memagent.stores.chroma import DEFAULT_COLLECTION, catalog_file
from memagent.testing.conformance import StoreConformance, day, make_record
from memagent.testing.fakes import FakeEmbedder
from memagent.types import MemoryKind, MemoryRecord, RecordFilter

__all__: list[str] = []

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

_HOST = "127.0.0.1"
_SERVER_WAIT_S = 60.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        return int(sock.getsockname()[1])


def _heartbeat(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{_HOST}:{port}/api/v2/heartbeat", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A `chroma run` process on a free port, serving a temporary directory; yields (host, port)."""
    exe = Path(sys.executable).with_name("chroma")
    if not exe.exists():
        pytest.fail(f"the chroma executable is missing next to the interpreter: {exe}")
    root = tmp_path_factory.mktemp("chroma-server")
    port = _free_port()
    log_path = root / "server.log"
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    command = [str(exe), "run", "--path", str(root / "data"), "--host", _HOST, "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + _SERVER_WAIT_S
            while not _heartbeat(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    tail = log_path.read_text(errors="replace")[-2000:]
                    pytest.fail(
                        f"chroma server on port {port} did not come up (exit {process.poll()}):\n{tail}"
                    )
                time.sleep(0.1)
            yield _HOST, port
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# -- the conformance suite, once per backend -------------------------------------------------------


class TestInProcessStore(StoreConformance):
    @pytest.fixture
    def store(self) -> Iterator[MemoryStore]:
        with InProcessStore() as store:
            yield store


@pytest.mark.integration
class TestChromaEphemeral(StoreConformance):
    @pytest.fixture
    def store(self) -> Iterator[MemoryStore]:
        with ChromaStore.ephemeral() as store:
            yield store


@pytest.mark.integration
class TestChromaPersistent(StoreConformance):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[MemoryStore]:
        with ChromaStore.persistent(tmp_path / "chroma") as store:
            yield store


@pytest.mark.integration
@pytest.mark.server
class TestChromaServer(StoreConformance):
    @pytest.fixture
    def store(self, chroma_server: tuple[str, int], tmp_path: Path) -> Iterator[MemoryStore]:
        host, port = chroma_server
        prefix = f"test_{uuid.uuid4().hex}"
        with ChromaStore.http(host, port, prefix, catalog=tmp_path / "catalog.sqlite3") as store:
            yield store
            for user in store.users():
                store.delete_user(user)


# -- InProcessStore specifics ----------------------------------------------------------------------


def test_in_process_rejects_wrong_dimensions() -> None:
    store = InProcessStore()
    store.put([make_record("alice", "r1")], [[1.0, 0.0, 0.0]])
    with pytest.raises(StoreError, match="dimension"):
        store.put([make_record("bob", "r1")], [[1.0, 0.0]])
    with pytest.raises(StoreError, match="dimension"):
        store.search("alice", [1.0, 0.0, 0.0, 0.0], 1)
    with pytest.raises(StoreError, match="NaN"):
        store.put([make_record("alice", "r2")], [[float("nan"), 0.0, 0.0]])
    assert store.users() == ["alice"] and len(store) == 1


def test_in_process_similarity_ignores_vector_length() -> None:
    store = InProcessStore()
    store.put([make_record("alice", "r1"), make_record("alice", "r2")], [[3.0, 4.0], [0.0, 10.0]])
    hits = store.search("alice", [0.0, 0.5], 2)
    assert [(r.id, round(s, 6)) for r, s in hits] == [("r2", 1.0), ("r1", 0.8)]


# -- SqliteCatalog specifics -----------------------------------------------------------------------


def _put(catalog: SqliteCatalog, records: list[MemoryRecord]) -> None:
    """Store ``records`` with the fake embedder's vectors."""
    catalog.put(records, np.asarray(FakeEmbedder().embed([r.content for r in records]), dtype=np.float32))


def test_catalog_write_that_fails_midway_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = SqliteCatalog(tmp_path / "catalog.sqlite3")
    kept = make_record("alice", "r1", "User plays the violin")
    _put(catalog, [kept])
    original = _postings.append

    def crash_after_indexing(*args: Any) -> None:
        original(*args)  # the records and postings are written, the transaction is not committed
        raise sqlite3.OperationalError("disk I/O error (simulated)")

    monkeypatch.setattr(_postings, "append", crash_after_indexing)
    with pytest.raises(StoreError, match="failed to store 1 records"):
        _put(catalog, [make_record("alice", "r2", "User plays cello and piano")])
    monkeypatch.undo()
    assert catalog.get("alice", ["r1", "r2"]) == [kept] and catalog.count("alice") == 1
    assert catalog.lexical("alice", "cello piano", 5, RecordFilter()).hits == []
    [(hit, _)] = catalog.lexical("alice", "violin", 5, RecordFilter()).hits
    assert hit == kept
    catalog.close()
    reopened = SqliteCatalog(tmp_path / "catalog.sqlite3")
    assert reopened.get("alice", ["r1", "r2"]) == [kept]
    reopened.close()


def test_catalog_shared_by_two_connections(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    writer, reader = SqliteCatalog(path), SqliteCatalog(path)
    _put(writer, [make_record("alice", f"r{i}", f"User note {i} about kayaks") for i in range(600)])
    assert reader.count("alice") == 600
    assert len(reader.lexical("alice", "kayaks", 700, RecordFilter()).hits) == 600
    writer.close()
    reader.close()


def test_catalog_refuses_another_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    SqliteCatalog(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
    db.close()
    with pytest.raises(StoreError, match="schema version 99"):
        SqliteCatalog(path)


def test_catalog_index_merges_segments_in_tiers(tmp_path: Path) -> None:
    catalog = SqliteCatalog(tmp_path / "catalog.sqlite3")
    records = [
        make_record("alice", f"r{i:04d}", f"User likes kites {i % 7} and knots {i % 3}") for i in range(300)
    ]
    for record in records:  # one write each: 300 segments of one document before merging
        _put(catalog, [record])
    _put(catalog, [make_record("alice", "r0003", "User likes boats")])  # a removal from a merged segment
    with catalog._read() as db:
        (ukey,) = db.execute("SELECT ukey FROM users WHERE user_id = 'alice'").fetchone()
        levels = [level for (level,) in db.execute("SELECT level FROM segments WHERE ukey = ?", (ukey,))]
    assert max(levels) == 2 and all(levels.count(level) < _postings.FANOUT for level in set(levels))
    live = [r for r in records if r.id != "r0003"] + [make_record("alice", "r0003", "User likes boats")]
    for query in ("kites", "knots 2", "boats kites", "likes"):
        hits = catalog.lexical("alice", query, len(live), RecordFilter()).hits
        reference = StoreConformance.reference_lexical(live, query)
        StoreConformance.assert_ranking(hits, reference, len(live))
    catalog.close()


def _as_schema_2(db: sqlite3.Connection) -> None:
    """Rewrite a catalog in the layout of schema 2: no session column."""
    db.execute("DROP INDEX records_session")
    db.execute("ALTER TABLE records DROP COLUMN session")
    db.execute("UPDATE meta SET value = '2' WHERE key = 'schema'")


def _as_schema_1(path: Path) -> None:
    """Rewrite a catalog in the layout of schema 1: postings in per-term blocks, no vectors."""
    with sqlite3.connect(path) as db:
        _as_schema_2(db)
        db.execute(
            "CREATE TABLE postings (ukey INTEGER NOT NULL, term TEXT NOT NULL, block INTEGER NOT NULL, "
            "n INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (ukey, term, block)) WITHOUT ROWID"
        )
        for ukey, term, data in db.execute("SELECT ukey, term, data FROM term_postings").fetchall():
            half = len(data) // 16 * 8  # two blocks per term where it has two postings or more
            for block, piece in enumerate(p for p in (data[:half], data[half:]) if p):
                db.execute(
                    "INSERT INTO postings VALUES (?, ?, ?, ?, ?)", (ukey, term, block, len(piece) // 8, piece)
                )
        for table in ("term_postings", "segments", "vectors"):
            db.execute(f"DELETE FROM {table}")
        db.execute("UPDATE meta SET value = '1' WHERE key = 'schema'")
    db.close()


def test_catalog_upgrades_a_schema_1_index(tmp_path: Path) -> None:
    """A catalog of schema 1 (postings in per-term blocks, no vectors) is upgraded on open."""
    path = tmp_path / "catalog.sqlite3"
    records = [make_record("alice", f"r{i}", f"User likes kites {i % 5}") for i in range(40)]
    records += [make_record("bob", "b1", "User likes kites and chess")]
    records += [
        make_record("carol", f"t{i}", kind=MemoryKind.TURN, event_time=day(i), session_id="s")
        for i in range(3)
    ]
    catalog = SqliteCatalog(path)
    _put(catalog, records)
    expected = {
        (u, q): catalog.lexical(u, q, 50, RecordFilter()).hits
        for u in ("alice", "bob")
        for q in ("kites 3", "chess")
    }
    catalog.close()
    _as_schema_1(path)
    upgraded = SqliteCatalog(path)
    for (user, query), hits in expected.items():
        assert upgraded.lexical(user, query, 50, RecordFilter()).hits == hits
    assert upgraded.vectors_missing  # schema 1 kept no vectors: a ChromaStore copies them in
    _put(upgraded, [make_record("alice", "r40", "User likes kites 3 a lot")])
    assert "r40" in {r.id for r, _ in upgraded.lexical("alice", "kites 3", 50, RecordFilter()).hits}
    assert sorted(upgraded.adjacent("carol", ["t1"], RecordFilter())["t1"]) == ["t0", "t2"]
    upgraded.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == ("3",)
        assert db.execute("SELECT count(*) FROM sqlite_schema WHERE name = 'postings'").fetchone() == (0,)
    db.close()


def test_catalog_of_schema_2_finds_the_turns_of_a_session_once_upgraded(tmp_path: Path) -> None:
    """Schema 2 kept a turn's session only inside its JSON: the upgrade fills the indexed column."""
    path = tmp_path / "catalog.sqlite3"
    turns = [
        make_record("alice", f"t{i}", kind=MemoryKind.TURN, event_time=day(i), session_id=f"s{i % 2}")
        for i in range(6)
    ]
    catalog = SqliteCatalog(path)
    _put(catalog, turns)
    catalog.close()
    with sqlite3.connect(path) as db:
        _as_schema_2(db)
    db.close()
    upgraded = SqliteCatalog(path)
    around = upgraded.adjacent("alice", ["t2", "t5"], RecordFilter())
    assert {anchor: sorted(found) for anchor, found in around.items()} == {"t2": ["t0", "t4"], "t5": ["t3"]}
    upgraded.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == ("3",)
    db.close()


def test_catalog_update_moves_a_turn_to_its_new_session(tmp_path: Path) -> None:
    turns = [
        make_record("alice", f"t{i}", kind=MemoryKind.TURN, event_time=day(i), session_id="s")
        for i in range(4)
    ]
    catalog = SqliteCatalog(tmp_path / "catalog.sqlite3")
    _put(catalog, turns)
    catalog.put([], updated=[turns[1].model_copy(update={"session_id": "other"})])
    around = catalog.adjacent("alice", ["t0", "t2"], RecordFilter())
    assert {anchor: sorted(found) for anchor, found in around.items()} == {"t0": ["t2"], "t2": ["t0", "t3"]}
    catalog.close()


def test_catalog_looks_for_a_neighbour_among_the_nearest_turns_of_the_session_only(tmp_path: Path) -> None:
    """A filter that rejects the turns nearest to a turn does not send the lookup down the whole session."""
    from memagent.stores._catalog import NEAREST_TURNS

    last = NEAREST_TURNS + 1
    labels = {0: ["far", "near"], NEAREST_TURNS: ["near"], last: ["far"]}
    turns = [
        make_record(
            "alice",
            f"t{i}",
            kind=MemoryKind.TURN,
            event_time=day(i),
            session_id="s",
            source_turn_ids=labels.get(i, ["other"]),
        )
        for i in range(last + 1)
    ]
    catalog = SqliteCatalog(tmp_path / "catalog.sqlite3")
    _put(catalog, turns)
    near, far = RecordFilter(turn_ids=("near",)), RecordFilter(turn_ids=("far",))
    assert catalog.adjacent("alice", ["t0"], near) == {"t0": [f"t{NEAREST_TURNS}"]}  # the farthest looked at
    assert catalog.adjacent("alice", ["t0", f"t{last}"], far) == {"t0": [], f"t{last}": []}  # one too far
    catalog.close()


def test_catalog_indexed_by_another_analysis_is_indexed_again_on_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A catalog written before the analyzer was noted (words only, no stems, fewer stopwords) gets its
    postings, document lengths and statistics rebuilt when it opens, and says which analysis built them."""
    from collections import Counter

    from memagent.stores import _catalog

    path = tmp_path / "catalog.sqlite3"
    records = [
        make_record("alice", f"r{i}", f"She paints {'sunsets' if i % 3 else 'lakes'} and hikes")
        for i in range(30)
    ]
    records += [make_record("bob", "b1", "He painted what he liked")]
    with monkeypatch.context() as patch:
        patch.setattr(_catalog, "term_counts", lambda text: Counter(text.lower().split()))
        old = SqliteCatalog(path)
        _put(old, records)
        assert old.lexical("alice", "painted sunset", 50, RecordFilter()).hits == []  # no stems then
        old.close()
    with sqlite3.connect(path) as db:  # what a catalog of schema 2 looked like
        db.execute("DELETE FROM meta WHERE key = 'analyzer'")
        _as_schema_2(db)
    db.close()
    reopened = SqliteCatalog(path)
    for user, query in (("alice", "painted sunset"), ("alice", "hiking lakes"), ("bob", "paintings")):
        live = [r for r in records if r.user_id == user]
        hits = reopened.lexical(user, query, 50, RecordFilter()).hits
        assert hits, query
        StoreConformance.assert_ranking(hits, StoreConformance.reference_lexical(live, query), 50)
    reopened.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'analyzer'").fetchone() == (lexical.ANALYZER,)
        assert db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == ("3",)
    db.close()


# -- ChromaStore specifics -------------------------------------------------------------------------


@pytest.mark.integration
def test_persistent_store_survives_reopening(tmp_path: Path) -> None:
    embedder = FakeEmbedder(dimension=32)
    records = [
        make_record("alice", f"r{i}", f"User note {i} on gardening", event_time=day(i)) for i in range(5)
    ]
    with ChromaStore.persistent(tmp_path / "db") as store:
        store.put(records, embedder.embed([r.content for r in records]))
    assert (tmp_path / "db" / catalog_file(DEFAULT_COLLECTION)).is_file()
    with ChromaStore.persistent(tmp_path / "db") as reopened:
        assert list(reopened.scan("alice")) == records
        assert reopened.users() == ["alice"]
        [(best, score)] = reopened.search("alice", embedder.embed([records[3].content])[0], 1)
        assert best == records[3] and score == pytest.approx(1.0, abs=1e-5)
        assert [r.id for r, _ in reopened.lexical_search("alice", "note 3", 1).hits] == ["r3"]


@pytest.mark.integration
def test_each_user_has_collections_of_their_own(tmp_path: Path) -> None:
    with ChromaStore.persistent(tmp_path / "db", "notes") as store:
        store.put(
            [
                make_record("alice", "t1", kind=MemoryKind.TURN),
                make_record("alice", "f1"),
                make_record("bob", "f1"),
            ],
            [[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]],
        )
        names = sorted(c if isinstance(c, str) else c.name for c in store.client.list_collections())
        assert names == sorted(
            [store.vectors.name("alice", "turns"), store.vectors.name("alice", "memories"),
             store.vectors.name("bob", "memories")]
        )  # fmt: skip
        assert all(name.startswith("notes-") for name in names)
        store.delete_user("alice")
        left = [c if isinstance(c, str) else c.name for c in store.client.list_collections()]
        assert left == [store.vectors.name("bob", "memories")]


_MANY_USERS_SCRIPT = """
import sys, numpy as np
from memagent.stores import ChromaStore
store = ChromaStore.persistent(sys.argv[1], loaded_collections=16)
rng = np.random.default_rng(0)
legacy = store.client.create_collection(  # as earlier builds did: Chroma's default disk writes
    store.vectors.name("legacy", "turns"),
    embedding_function=None,
    configuration={"hnsw": {"space": "cosine"}},
)
legacy.upsert(ids=[f"r{i}" for i in range(5)], embeddings=rng.random((5, 8), dtype=np.float32))
ids = [f"r{i}" for i in range(12)]
for n in range(80):
    store.vectors.upsert(f"u{n}", "turns", ids, rng.random((12, 8), dtype=np.float32))
    store.vectors.query(f"u{n}", "turns", rng.random(8, dtype=np.float32), 3)
    store.vectors.upsert(f"u{n}", "turns", ["last"], rng.random((1, 8), dtype=np.float32))
found = [store.vectors.query(f"u{n}", "turns", rng.random(8, dtype=np.float32), 20) for n in range(80)]
old = store.vectors.query("legacy", "turns", rng.random(8, dtype=np.float32), 20)
print(min(len(hits) for hits in found), min("last" in dict(hits) for hits in found), len(old))
"""


@pytest.mark.integration
def test_unloaded_collections_answer_in_full(tmp_path: Path) -> None:
    """The store keeps about `loaded_collections` indexes loaded; the others are unloaded and reloaded
    from disk with every vector, the last write included (chromadb 1.5 loses what an unloaded
    collection had not written to disk), also for collections an earlier release created."""
    done = subprocess.run(
        [sys.executable, "-c", _MANY_USERS_SCRIPT, str(tmp_path / "db")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["13", "True", "5"]


@pytest.mark.integration
def test_a_0_1_store_is_migrated_on_open(tmp_path: Path) -> None:
    import chromadb
    from chromadb.config import Settings

    records = [
        make_record("alice", "f1", "User loves jazz", kind=MemoryKind.PREFERENCE, slot="pref:jazz"),
        make_record("alice", "t1", "User: I love jazz", kind=MemoryKind.TURN),
        make_record("bob", "f1", "User owns a kayak", valid_until=day(3)),
    ]
    vectors = [[1.0, 0.0, 0.0], [0.8, 0.6, 0.0], [0.0, 0.0, 1.0]]
    client = chromadb.PersistentClient(
        path=str(tmp_path / "db"), settings=Settings(anonymized_telemetry=False)
    )
    legacy = client.create_collection(DEFAULT_COLLECTION, embedding_function=None,
                                      configuration={"hnsw": {"space": "cosine"}})  # fmt: skip
    legacy.add(
        ids=[f"{r.user_id}::{r.id}" for r in records],
        embeddings=vectors,
        metadatas=[{"user_id": r.user_id, "record": r.model_dump_json()} for r in records],
    )
    client.close()
    with ChromaStore.persistent(tmp_path / "db") as store:
        assert store.users() == ["alice", "bob"]
        every = RecordFilter(current_only=False)
        assert store.get("alice", ["f1", "t1"]) == records[:2] and store.get("bob", ["f1"]) == [records[2]]
        [(hit, score)] = store.search("bob", [0.0, 0.0, 1.0], 1, every)
        assert hit == records[2] and score == pytest.approx(1.0, abs=1e-5)
        names = [c if isinstance(c, str) else c.name for c in store.client.list_collections()]
        assert DEFAULT_COLLECTION not in names
    with ChromaStore.persistent(tmp_path / "db") as again:  # nothing left to migrate
        assert again.count("alice") == 2


@pytest.mark.integration
def test_ephemeral_stores_are_isolated() -> None:
    with ChromaStore.ephemeral() as first, ChromaStore.ephemeral() as second:
        first.put([make_record("alice", "r1")], [[1.0, 0.0]])
        assert first.collection_name != second.collection_name
        assert second.users() == [] and second.get("alice", ["r1"]) == []
        assert first.count("alice") == 1


@pytest.mark.integration
def test_chroma_errors_become_store_errors() -> None:
    with ChromaStore.ephemeral() as store:
        store.put([make_record("alice", "r1")], [[1.0, 0.0, 0.0]])
        with pytest.raises(StoreError, match=r"Chroma failed to store 1 vectors.*dimension"):
            store.put([make_record("alice", "r2")], [[1.0, 0.0]])
        with pytest.raises(StoreError, match="Chroma failed to query the vectors"):
            store.vectors.query("alice", "memories", np.array([1.0, 0.0], dtype=np.float32), 3)
        with pytest.raises(StoreError, match="query embedding has dimension 2, the store holds dimension 3"):
            store.search("alice", [1.0, 0.0], 3)
        with pytest.raises(ConfigError, match="2 records but 1 embeddings"):
            store.put([make_record("alice", "r3"), make_record("alice", "r4")], [[1.0, 0.0, 0.0]])
        assert [r.id for r in store.scan("alice")] == ["r1"]


def test_missing_chromadb_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "chromadb", None)
    with pytest.raises(ConfigError, match=r"needs chromadb, a dependency of memagent: pip install memagent"):
        ChromaStore.ephemeral()


@pytest.mark.integration
@pytest.mark.server
def test_server_data_is_shared_between_clients(chroma_server: tuple[str, int], tmp_path: Path) -> None:
    host, port = chroma_server
    name = f"shared_{uuid.uuid4().hex}"
    catalog = tmp_path / "catalog.sqlite3"
    with ChromaStore.http(host, port, name, catalog=catalog) as writer:
        writer.put([make_record("alice", "r1", "User runs marathons")], [[0.6, 0.8]])
    with open_store(f"http://{host}:{port}?collection={name}&catalog={catalog}") as reader:
        assert isinstance(reader, ChromaStore) and reader.collection_name == name
        assert [r.content for r in reader.get("alice", ["r1"])] == ["User runs marathons"]
        [(hit, score)] = reader.search("alice", [0.6, 0.8], 1)
        assert hit.id == "r1" and score == pytest.approx(1.0, abs=1e-5)
        assert reader.delete_user("alice") == 1
        assert reader.vectors.query("alice", "memories", np.array([0.6, 0.8], dtype=np.float32), 5) == []


# -- open_store ------------------------------------------------------------------------------------


def test_open_store_memory() -> None:
    with open_store("memory://") as store:
        assert isinstance(store, InProcessStore)


@pytest.mark.integration
def test_open_store_chroma_locations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with open_store("chroma+ephemeral://") as store:
        assert isinstance(store, ChromaStore) and store.users() == []
    with open_store(f"chroma://{tmp_path}/db?collection=notes") as store:
        assert isinstance(store, ChromaStore) and store.collection_name == "notes"
        store.put([make_record("alice", "r1")], [[1.0, 0.0]])
    with open_store(f"chroma://{tmp_path}/db?collection=notes") as store:
        assert [r.id for r in store.scan("alice")] == ["r1"]
    with open_store(str(tmp_path / "db")) as store:  # a plain path: the default collection
        assert isinstance(store, ChromaStore) and store.users() == []
    monkeypatch.chdir(tmp_path)
    with open_store("relative-db") as store:
        assert isinstance(store, ChromaStore)
    assert (tmp_path / "relative-db").is_dir()


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "ftp://example.org/db",
        "memory://somewhere",
        "memory://?x=1",
        "chroma://relative/path",
        "chroma:///abs/path?bogus=1",
        "chroma:///abs/path?collection=",
        "chroma+ephemeral://host",
        "chroma+ephemeral://?collection=x",
        "http://:8000",
        "http://localhost:notaport",
        "http://localhost:8000/some/path",
        "http://localhost:8000",
        "http://localhost:8000?catalog=",
        "chroma:///abs/path?catalog=/tmp/c.sqlite3",
    ],
)
def test_open_store_rejects_bad_urls(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        open_store(url)
    assert repr(url.strip()) in str(caught.value)


def test_open_store_rejects_a_file(tmp_path: Path) -> None:
    target = tmp_path / "not-a-dir"
    target.write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        open_store(str(target))


@pytest.mark.integration
def test_open_store_unreachable_server_is_a_store_error(tmp_path: Path) -> None:
    port = _free_port()
    with pytest.raises(StoreError, match=f"reach the Chroma server at http://{_HOST}:{port}"):
        open_store(f"http://{_HOST}:{port}", catalog=tmp_path / "catalog.sqlite3")


@pytest.mark.integration
def test_a_store_with_a_schema_1_catalog_copies_the_vectors_in(tmp_path: Path) -> None:
    embedder = FakeEmbedder(dimension=32)
    records = [
        make_record(
            "alice", f"p{i}", f"User prefers tea number {i}", kind=MemoryKind.PREFERENCE, slot=f"pref:{i}"
        )
        for i in range(6)
    ] + [make_record("alice", f"t{i}", f"User: turn {i} about tea", kind=MemoryKind.TURN) for i in range(5)]
    with ChromaStore.persistent(tmp_path / "db") as store:
        store.put(records, embedder.embed([r.content for r in records]))
    _as_schema_1(tmp_path / "db" / catalog_file(DEFAULT_COLLECTION))
    query = embedder.embed([records[3].content])[0]
    with ChromaStore.persistent(tmp_path / "db") as reopened:
        assert not reopened.catalog.vectors_missing
        [(best, score)] = reopened.search("alice", query, 1, RecordFilter(slots=("pref:3",)))
        assert best == records[3] and score == pytest.approx(1.0, abs=1e-5)
        ranked = reopened.search("alice", query, 11, RecordFilter())
        assert sorted(r.id for r, _ in ranked) == sorted(r.id for r in records)


@pytest.mark.integration
def test_persistent_store_indexes_chromas_segment_lookups(tmp_path: Path) -> None:
    with ChromaStore.persistent(tmp_path / "db"):
        pass
    with sqlite3.connect(tmp_path / "db" / "chroma.sqlite3") as db:
        plan = db.execute("EXPLAIN QUERY PLAN SELECT id FROM segments WHERE collection = 'x'").fetchall()
    db.close()
    assert any("memagent_segments_by_collection" in str(row) for row in plan)


def test_catalog_ranks_exactly_and_declines_without_vectors(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    catalog = SqliteCatalog(tmp_path / "catalog.sqlite3")
    records = [make_record("alice", f"r{i}", f"User note {i}") for i in range(5)]
    _put(catalog, records)
    query = np.asarray(FakeEmbedder().embed([records[2].content])[0], dtype=np.float32)
    assert catalog.nearest("alice", RecordFilter(), query, 1, limit=10)[0][0] == "r2"  # type: ignore[index]
    assert catalog.nearest("alice", RecordFilter(), query, 1, limit=4) is None  # five pass
    with catalog._write() as db:
        db.execute("DELETE FROM vectors WHERE doc = (SELECT doc FROM records WHERE id = 'r3')")
    with caplog.at_level("WARNING", logger="memagent.stores._catalog"):
        assert catalog.nearest("alice", RecordFilter(), query, 1, limit=10) is None
        assert catalog.nearest("alice", RecordFilter(), query, 1, limit=10) is None
    assert [r.message.count("no stored vector") for r in caplog.records] == [1]  # said once
    assert catalog.nearest("alice", RecordFilter(slots=("none",)), query, 1, limit=10) == []
    catalog.close()


@pytest.mark.integration
def test_a_record_without_a_stored_vector_is_found_through_the_vector_index(tmp_path: Path) -> None:
    embedder = FakeEmbedder(dimension=32)
    records = [
        make_record("alice", f"p{i}", f"User prefers tea {i}", kind=MemoryKind.PREFERENCE, slot=f"pref:{i}")
        for i in range(4)
    ]
    with ChromaStore.persistent(tmp_path / "db") as store:
        store.put(records, embedder.embed([r.content for r in records]))
        with store.catalog._write() as db:
            db.execute("DELETE FROM vectors")
        query = embedder.embed([records[1].content])[0]
        [(best, score)] = store.search("alice", query, 1, RecordFilter(slots=("pref:1",)))
        assert best == records[1] and score == pytest.approx(1.0, abs=1e-5)
        ranked = store.search("alice", query, 4, RecordFilter(kinds=(MemoryKind.PREFERENCE,)))
        assert [r.id for r, _ in ranked][0] == "p1" and len(ranked) == 4


def test_chroma_calls_are_retried_while_its_database_is_locked() -> None:
    from memagent.stores.chroma import _patiently

    calls: list[int] = []

    def busy_twice(value: int) -> int:
        calls.append(value)
        if len(calls) < 3:
            raise RuntimeError("Database error: error returned from database: (code: 5) database is locked")
        return value * 2

    assert _patiently(busy_twice, 21) == 42 and calls == [21, 21, 21]

    def broken() -> None:
        calls.append(0)
        raise RuntimeError("no such table: collections")

    calls.clear()
    with pytest.raises(RuntimeError, match="no such table"):
        _patiently(broken)
    assert calls == [0]  # other errors are not retried


def test_chroma_collections_are_written_to_disk_at_every_write(tmp_path: Path, monkeypatch) -> None:
    from chromadb.api.models.Collection import Collection

    store = ChromaStore.persistent(tmp_path)
    try:
        embed = FakeEmbedder().embed
        store.put([make_record("ana", "a", "User likes tea")], embed(["User likes tea"]))
        name = store._chroma.name("bob", "memories")
        store.client.get_or_create_collection(name, embedding_function=None)  # made as Chroma's default
        store.put([make_record("bob", "b", "User likes jazz")], embed(["User likes jazz"]))
        hnsw = store.client.get_collection(name).configuration["hnsw"]
        assert hnsw["sync_threshold"] == 1  # reconfigured before its first write

        def refuse(*args: Any, **kwargs: Any) -> None:
            raise AssertionError("a collection memagent created is configured already")

        monkeypatch.setattr(Collection, "modify", refuse)
        reopened_vectors = type(store._chroma)(store.client, store.collection_name)
        reopened_vectors.upsert("ana", "memories", ["a2"], np.asarray(embed(["User likes milk"]), np.float32))
    finally:
        store.close()

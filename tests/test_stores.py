"""The store conformance suite against `InProcessStore` and `ChromaStore` (ephemeral, persistent, server),
plus Chroma specifics (persistence, error wrapping, filter translation) and `open_store` URL parsing."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from memagent.errors import ConfigError, StoreError
from memagent.interfaces import MemoryStore
from memagent.stores import ChromaStore, InProcessStore, open_store
from memagent.stores.chroma import OPEN_UNTIL, record_where
from memagent.testing.conformance import StoreConformance, day, make_record
from memagent.testing.fakes import FakeEmbedder
from memagent.types import MemoryKind, RecordFilter

__all__: list[str] = []

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

_HOST = "127.0.0.1"
_SERVER_WAIT_S = 60.0
_SMALL_PAGE = 7  # forces Chroma listing, deletion and users() through many pages


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
        with ChromaStore.ephemeral(page_size=_SMALL_PAGE) as store:
            yield store


@pytest.mark.integration
class TestChromaPersistent(StoreConformance):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[MemoryStore]:
        with ChromaStore.persistent(tmp_path / "chroma", page_size=_SMALL_PAGE) as store:
            yield store


@pytest.mark.integration
@pytest.mark.server
class TestChromaServer(StoreConformance):
    @pytest.fixture
    def store(self, chroma_server: tuple[str, int]) -> Iterator[MemoryStore]:
        host, port = chroma_server
        name = f"test_{uuid.uuid4().hex}"
        with ChromaStore.http(host, port, name, page_size=_SMALL_PAGE) as store:
            yield store
            store.client.delete_collection(name)


# -- InProcessStore specifics ----------------------------------------------------------------------


def test_in_process_rejects_wrong_dimensions() -> None:
    store = InProcessStore()
    store.put([make_record("alice", "r1")], [[1.0, 0.0, 0.0]])
    with pytest.raises(StoreError, match="dimension 2"):
        store.put([make_record("bob", "r1")], [[1.0, 0.0]])
    with pytest.raises(StoreError, match="dimension 4"):
        store.search("alice", [1.0, 0.0, 0.0, 0.0], 1)
    with pytest.raises(StoreError, match="NaN"):
        store.put([make_record("alice", "r2")], [[float("nan"), 0.0, 0.0]])
    assert store.users() == ["alice"] and len(store) == 1


def test_in_process_similarity_ignores_vector_length() -> None:
    store = InProcessStore()
    store.put([make_record("alice", "r1"), make_record("alice", "r2")], [[3.0, 4.0], [0.0, 10.0]])
    hits = store.search("alice", [0.0, 0.5], 2)
    assert [(r.id, round(s, 6)) for r, s in hits] == [("r2", 1.0), ("r1", 0.8)]


# -- ChromaStore specifics -------------------------------------------------------------------------


def test_record_where_always_pins_the_user() -> None:
    assert record_where("alice", RecordFilter(current_only=False)) == {"user_id": {"$eq": "alice"}}
    where = record_where("alice", RecordFilter(kinds=(MemoryKind.EVENT,), as_of=day(1), since=day(0)))
    assert where is not None
    clauses = where["$and"]
    assert clauses[0] == {"user_id": {"$eq": "alice"}}
    assert {"kind": {"$in": ["event"]}} in clauses
    assert {"valid_until": {"$gt": day(1).timestamp()}} in clauses
    assert {"event_time": {"$gte": day(0).timestamp()}} in clauses
    assert not any("current" in c for c in clauses)  # as_of replaces current_only
    assert record_where("alice", RecordFilter(kinds=())) is None
    assert OPEN_UNTIL > day(10**6).timestamp()


@pytest.mark.integration
def test_persistent_store_survives_reopening(tmp_path: Path) -> None:
    embedder = FakeEmbedder(dimension=32)
    records = [
        make_record("alice", f"r{i}", f"User note {i} on gardening", event_time=day(i)) for i in range(5)
    ]
    with ChromaStore.persistent(tmp_path / "db") as store:
        store.put(records, embedder.embed([r.content for r in records]))
    with ChromaStore.persistent(tmp_path / "db") as reopened:
        assert reopened.list("alice") == records
        assert reopened.users() == ["alice"]
        [(best, score)] = reopened.search("alice", embedder.embed([records[3].content])[0], 1)
        assert best == records[3] and score == pytest.approx(1.0, abs=1e-5)


@pytest.mark.integration
def test_ephemeral_stores_are_isolated() -> None:
    with ChromaStore.ephemeral() as first, ChromaStore.ephemeral() as second:
        first.put([make_record("alice", "r1")], [[1.0, 0.0]])
        assert first.collection_name != second.collection_name
        assert second.users() == [] and second.get("alice", ["r1"]) == []
        assert first.count() == 1


@pytest.mark.integration
def test_chroma_errors_become_store_errors() -> None:
    with ChromaStore.ephemeral() as store:
        store.put([make_record("alice", "r1")], [[1.0, 0.0, 0.0]])
        with pytest.raises(StoreError, match=r"Chroma failed to store 1 records in 'memagent_.*dimension"):
            store.put([make_record("alice", "r2")], [[1.0, 0.0]])
        with pytest.raises(StoreError, match="Chroma failed to search the records of user 'alice'"):
            store.search("alice", [1.0, 0.0], 3)
        with pytest.raises(ConfigError, match="2 records but 1 embeddings"):
            store.put([make_record("alice", "r3"), make_record("alice", "r4")], [[1.0, 0.0, 0.0]])
        assert [r.id for r in store.list("alice")] == ["r1"]


@pytest.mark.integration
def test_collection_in_another_space_is_refused() -> None:
    import chromadb
    from chromadb.config import Settings

    client = chromadb.EphemeralClient(settings=Settings(anonymized_telemetry=False))
    name = f"l2_{uuid.uuid4().hex}"
    client.create_collection(name, embedding_function=None, configuration={"hnsw": {"space": "l2"}})
    try:
        with pytest.raises(ConfigError, match="uses 'l2' distance"):
            ChromaStore(client, name)
    finally:
        client.delete_collection(name)
        client.close()


def test_missing_chromadb_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "chromadb", None)
    with pytest.raises(ConfigError, match=r"pip install 'memagent\[chroma\]'"):
        ChromaStore.ephemeral()


@pytest.mark.integration
@pytest.mark.server
def test_server_data_is_shared_between_clients(chroma_server: tuple[str, int]) -> None:
    host, port = chroma_server
    name = f"shared_{uuid.uuid4().hex}"
    with ChromaStore.http(host, port, name) as writer:
        writer.put([make_record("alice", "r1", "User runs marathons")], [[0.6, 0.8]])
    with open_store(f"http://{host}:{port}?collection={name}") as reader:
        assert isinstance(reader, ChromaStore) and reader.collection_name == name
        assert [r.content for r in reader.get("alice", ["r1"])] == ["User runs marathons"]
        assert reader.delete_user("alice") == 1
        reader.client.delete_collection(name)


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
        assert [r.id for r in store.list("alice")] == ["r1"]
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
def test_open_store_unreachable_server_is_a_store_error() -> None:
    port = _free_port()
    with pytest.raises(StoreError, match=f"reach the Chroma server at http://{_HOST}:{port}"):
        open_store(f"http://{_HOST}:{port}")

"""Fixtures of the release tests: small persona shard folders, and a recording fake of the Hub API.

The fake Hub implements the requests huggingface_hub 2.4 sends for `create_repo`, `list_repo_tree`,
`create_commit` (README YAML validation, preupload, the git-LFS batch API with basic transfers and
verify, and the NDJSON commit) when Xet is disabled, and records every request it receives.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pyarrow.parquet as pq
import yaml

from corpus.shards import parquet, schema

PD = "Public domain in the USA."
FORBIDDEN_NAMESPACE = "forbidden"  # the fake Hub refuses repos here, echoing the token like a careless server


@dataclass
class FakeBook:
    """A book of a test shard folder: its metadata, characters (slug, name) and number of lines."""

    book_id: str
    title: str | None
    author: str | None
    rights: str | None = PD
    characters: tuple[tuple[str, str], ...] = (("anne", "Anne"), ("ben", "Ben"), ("cora", "Cora"))
    lines: int = 9
    extra_utterances: list[dict] = field(default_factory=list)  # (text, context) overrides appended at the end
    source: str | None = None  # where the text was read from (default: its canonical Gutenberg page)


def utterance_row(book_id: str, quote_id: int, speaker: tuple[str, str] | None, text: str, context: str,
               lead_in_chars: int = 0) -> dict:
    start = 100 * quote_id + 10
    return {
        "book_id": book_id,
        "quote_id": quote_id,
        "chapter": quote_id // 4,
        "paragraph": 2 * quote_id + 1,
        "char_start": start,
        "char_end": start + len(text),
        "parts": [{"start": start, "end": start + len(text)}],
        "text": text,
        "speaker_id": schema.character_id(book_id, speaker[0]) if speaker else None,
        "speaker_name": speaker[1] if speaker else None,
        "addressee_ids": [],
        "quote_type": "explicit" if speaker else "implicit",
        "confidence": 0.9 if speaker else 0.0,
        "method": "test" if speaker else "none",
        "context": context,
        "lead_in_chars": lead_in_chars,
        "prev_speaker_id": None,
        "pipeline_version": schema.PIPELINE_VERSION,
    }


def book_utterances(book: FakeBook) -> list[dict]:
    """Utterance rows of a fake book: lines cycling through its characters, every fifth unattributed."""
    rows = []
    for i in range(book.lines):
        speaker = None if i % 5 == 4 else book.characters[i % len(book.characters)]
        text = f"Line {i} of book {book.book_id}, said with feeling."
        context = f"Chapter talk {i} before.\n\nThe narrator describes scene {i} of {book.book_id}."
        rows.append(utterance_row(book.book_id, i, speaker, text, context))
    for j, extra in enumerate(book.extra_utterances):
        rows.append(utterance_row(book.book_id, book.lines + j, book.characters[0], extra["text"], extra["context"],
                               extra.get("lead_in_chars", 0)))
    return rows


def write_run(shard_dir: Path, books: list[FakeBook]) -> Path:
    """Write utterance shards, characters.parquet and books.parquet of `books` into `shard_dir`."""
    characters, book_rows = [], []
    for book in books:
        utterances = book_utterances(book)
        parquet.write_rows(utterances, parquet.utterance_shard_path(shard_dir, book.book_id), schema.UTTERANCES)
        for slug, name in book.characters:
            cid = schema.character_id(book.book_id, slug)
            lines = [u for u in utterances if u["speaker_id"] == cid]
            characters.append(
                {
                    "book_id": book.book_id, "character_id": cid, "name": name, "aliases": [name[0]],
                    "gender": None, "mentions": 10, "lines": len(lines),
                    "words": sum(len(u["text"].split()) for u in lines),
                }
            )
        book_rows.append(
            {
                "book_id": book.book_id, "title": book.title, "author": book.author, "language": "en",
                "issued": None, "rights": book.rights, "source": book.source or f"https://www.gutenberg.org/ebooks/{book.book_id}",
                "text_sha256": hashlib.sha256(book.book_id.encode()).hexdigest(), "chars": 10_000,
                "quotations": len(utterances), "characters": len(book.characters),
                "pipeline_version": schema.PIPELINE_VERSION,
            }
        )
    parquet.write_rows(characters, Path(shard_dir) / schema.CHARACTERS_FILE, schema.CHARACTERS)
    parquet.write_rows(book_rows, Path(shard_dir) / schema.BOOKS_FILE, schema.BOOKS)
    return Path(shard_dir)


def rewrite_with_schema_version(path: Path, version: int) -> None:
    """Rewrite a shard as if an older (or newer) pipeline had written it."""
    table = pq.read_table(path)
    metadata = {**(table.schema.metadata or {}), schema.SCHEMA_VERSION_KEY: str(version).encode()}
    pq.write_table(table.replace_schema_metadata(metadata), path)


# ---------------------------------------------------------------- fake Hub


def git_blob_oid(content: bytes) -> str:
    """The git object id of a blob (what the Hub reports as `oid` of a regular file)."""
    return hashlib.sha1(b"blob %d\x00" % len(content) + content).hexdigest()


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeRepo:
    files: dict[str, bytes] = field(default_factory=dict)  # path -> content
    lfs_paths: set[str] = field(default_factory=set)
    private: bool = False
    commits: list[list[dict]] = field(default_factory=list)  # NDJSON lines of each commit


class FakeHub:
    """Just enough of the Hub API for dataset uploads; every request is kept in `requests`."""

    def __init__(self, token: str):
        self.token = token
        self.repos: dict[str, FakeRepo] = {}
        self.lfs_objects: dict[str, bytes] = {}  # sha256 -> content
        self.requests: list[RecordedRequest] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeHub":
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def requests_where(self, method: str, path_part: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and path_part in r.path]

    def _handler_class(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                self._dispatch("GET")

            def do_POST(self) -> None:
                self._dispatch("POST")

            def do_PUT(self) -> None:
                self._dispatch("PUT")

            def _dispatch(self, method: str) -> None:
                body = self._read_body()
                with hub.lock:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    hub.requests.append(RecordedRequest(method, self.path, headers, body))
                storage = self.path.startswith("/lfs-upload/")  # like a pre-signed storage URL: no Hub token
                if not storage and self.headers.get("Authorization") != f"Bearer {hub.token}":
                    return self._json(401, {"error": "Invalid credentials in Authorization header"})
                status, payload = hub.route(method, self.path, body)
                self._json(status, payload)

            def _read_body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        chunk = self.rfile.read(size)
                        self.rfile.readline()
                        if size == 0:
                            return b"".join(chunks)
                        chunks.append(chunk)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _json(self, status: int, payload: object) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    # -------------------------------------------------------------- routes

    def route(self, method: str, raw_path: str, body: bytes) -> tuple[int, object]:
        path = unquote(urlsplit(raw_path).path)
        query = parse_qs(urlsplit(raw_path).query)
        with self.lock:
            if method == "POST" and path == "/api/repos/create":
                return self._create_repo(json.loads(body))
            if method == "POST" and path == "/api/validate-yaml":
                return self._validate_yaml(json.loads(body))
            if method == "PUT" and path.startswith("/lfs-upload/"):
                return self._lfs_put(path.rsplit("/", 1)[1], body)
            if method == "POST" and path == "/lfs-verify":
                oid = json.loads(body)["oid"]
                return (200, {}) if oid in self.lfs_objects else (404, {"error": "object not uploaded"})
            if method == "POST" and path.endswith(".git/info/lfs/objects/batch"):
                return self._lfs_batch(json.loads(body))
            for prefix in ("/api/datasets/",):
                if path.startswith(prefix):
                    return self._repo_route(method, path[len(prefix):], query, body)
        return 404, {"error": f"no route {method} {path}"}

    def _create_repo(self, payload: dict) -> tuple[int, object]:
        repo_id = f"{payload['organization']}/{payload['name']}"
        if payload.get("type") != "dataset":
            return 400, {"error": "this fake only hosts datasets"}
        if payload["organization"] == FORBIDDEN_NAMESPACE:
            return 403, {"error": f"token {self.token} has no write access to {FORBIDDEN_NAMESPACE}"}
        if repo_id in self.repos:
            return 409, {"error": "You already created this dataset repo", "url": f"{self.url}/datasets/{repo_id}"}
        self.repos[repo_id] = FakeRepo(private=payload.get("visibility") == "private")
        return 200, {"url": f"{self.url}/datasets/{repo_id}", "name": repo_id}

    def _validate_yaml(self, payload: dict) -> tuple[int, object]:
        content = payload["content"]
        if not content.startswith("---\n"):
            return 400, {"errors": [{"message": "no YAML front matter"}]}
        metadata = yaml.safe_load(content.split("---\n")[1])
        missing = [k for k in ("license", "configs", "dataset_info") if k not in metadata]
        if missing:
            return 400, {"errors": [{"message": f"missing {missing}"}]}
        return 200, {"errors": [], "warnings": []}

    def _repo_route(self, method: str, rest: str, query: dict, body: bytes) -> tuple[int, object]:
        parts = rest.split("/")
        repo_id, action = "/".join(parts[:2]), parts[2] if len(parts) > 2 else ""
        repo = self.repos.get(repo_id)
        if repo is None:
            return 404, {"error": "Repository not found"}
        if method == "GET" and action == "tree":
            return 200, self._tree(repo)
        if method == "POST" and action == "preupload":
            return 200, self._preupload(repo, json.loads(body))
        if method == "POST" and action == "commit":
            return self._commit(repo_id, repo, body)
        if method == "GET" and action in ("", "revision"):
            return 200, {"id": repo_id, "sha": "0" * 40, "private": repo.private}
        return 404, {"error": f"no route {method} {rest}"}

    def _entry(self, repo: FakeRepo, path: str) -> dict:
        content = repo.files[path]
        if path in repo.lfs_paths:
            sha = hashlib.sha256(content).hexdigest()
            pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha}\nsize {len(content)}\n".encode()
            return {
                "type": "file", "oid": git_blob_oid(pointer), "size": len(content), "path": path,
                "lfs": {"oid": sha, "size": len(content), "pointerSize": len(pointer)},
            }
        return {"type": "file", "oid": git_blob_oid(content), "size": len(content), "path": path}

    def _tree(self, repo: FakeRepo) -> list[dict]:
        folders = sorted({"/".join(p.split("/")[:i]) for p in repo.files for i in range(1, p.count("/") + 1)})
        return [{"type": "directory", "oid": "0" * 40, "size": 0, "path": f} for f in folders] + [
            self._entry(repo, p) for p in sorted(repo.files)
        ]

    def _preupload(self, repo: FakeRepo, payload: dict) -> dict:
        files = []
        for item in payload["files"]:
            path = item["path"]
            mode = "lfs" if path.endswith(".parquet") else "regular"
            oid = None
            if path in repo.files:
                entry = self._entry(repo, path)
                oid = entry["lfs"]["oid"] if "lfs" in entry else entry["oid"]
            files.append({"path": path, "uploadMode": mode, "shouldIgnore": False, "oid": oid})
        return {"files": files, "commitOid": "0" * 40}

    def _lfs_batch(self, payload: dict) -> tuple[int, object]:
        objects = []
        for obj in payload["objects"]:
            entry = {"oid": obj["oid"], "size": obj["size"], "authenticated": True}
            if obj["oid"] not in self.lfs_objects:  # git-lfs: no actions for objects the server already has
                entry["actions"] = {
                    "upload": {"href": f"{self.url}/lfs-upload/{obj['oid']}"},
                    "verify": {"href": f"{self.url}/lfs-verify"},
                }
            objects.append(entry)
        return 200, {"transfer": "basic", "objects": objects}

    def _lfs_put(self, oid: str, body: bytes) -> tuple[int, object]:
        if hashlib.sha256(body).hexdigest() != oid:
            return 400, {"error": "sha256 mismatch"}
        self.lfs_objects[oid] = body
        return 200, {}

    def _commit(self, repo_id: str, repo: FakeRepo, body: bytes) -> tuple[int, object]:
        lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        for line in lines[1:]:
            value = line["value"]
            if line["key"] == "file":
                repo.files[value["path"]] = base64.b64decode(value["content"])
                repo.lfs_paths.discard(value["path"])
            elif line["key"] == "lfsFile":
                if value["oid"] not in self.lfs_objects:
                    return 422, {"error": f"LFS object {value['oid']} was never uploaded"}
                repo.files[value["path"]] = self.lfs_objects[value["oid"]]
                repo.lfs_paths.add(value["path"])
            elif line["key"] == "deletedFile":
                repo.files.pop(value["path"], None)
            else:
                return 400, {"error": f"unsupported commit operation {line['key']}"}
        repo.commits.append(lines)
        oid = hashlib.sha1(body).hexdigest()
        return 200, {"commitUrl": f"{self.url}/datasets/{repo_id}/commit/{oid}", "commitOid": oid, "success": True}

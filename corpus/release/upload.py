"""Push a release folder to a Hugging Face dataset repository, sending only the files that changed.

The remote tree is compared with the folder before anything is sent: a file is unchanged when its
LFS sha256 (or, for small files kept in git, its git blob id) equals the local one. Files the
release owns (`data/`, `reports/`) that are no longer in the folder are deleted in the same commit,
so a rerun after a change is one commit and a rerun without change sends nothing.

The token never leaves this module except in the Authorization header huggingface_hub builds: every
exception is turned into a CorpusError whose message has the token scrubbed out.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from corpus.errors import CorpusError
from corpus.release.types import CARD_FILE, MANAGED_PREFIXES, Release

if TYPE_CHECKING:
    from huggingface_hub.hf_api import RepoFile

REPO_TYPE = "dataset"
HASH_CHUNK = 1 << 20  # bytes read at a time when hashing a file
REDACTED = "***"
MAX_CAUSES = 3  # links of an exception chain quoted in an upload error


@dataclass
class UploadPlan:
    """Which release files to send, which the repository already has, and which to delete there."""

    send: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)


@dataclass
class UploadReport:
    """What an upload did."""

    repo_url: str
    plan: UploadPlan
    commit_url: str | None = None  # None when nothing changed and no commit was made


def check_repo_id(repo_id: str) -> None:
    """Raise CorpusError unless `repo_id` is a valid `namespace/name` Hub repository id."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if repo_id.count("/") != 1:
        raise CorpusError(f"invalid --repo-id {repo_id!r}: expected the form user/name or organisation/name")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise CorpusError(f"invalid --repo-id {repo_id!r}: {' '.join(str(exc).split())}") from None


def resolve_token() -> str:
    """The Hub token from HF_TOKEN or the login cache; CorpusError when there is none."""
    from huggingface_hub import get_token

    token = get_token()
    if not token:
        raise CorpusError(
            "no Hugging Face token: set HF_TOKEN or run `hf auth login` (or use --dry-run to build without uploading)"
        )
    return token


def default_commit_message(release: Release) -> str:
    """A commit message naming what the release holds."""
    tables = release.tables
    versions = ", ".join(sorted(set(tables.books.column("pipeline_version").to_pylist())))
    return (
        f"Release {tables.books.num_rows} books, {tables.characters.num_rows} characters, "
        f"{tables.utterances.num_rows} utterances (pipeline {versions})"
    )


def release_files(folder: Path) -> list[str]:
    """Repository paths of the files of a release folder: the card and everything under the owned folders."""
    folder = Path(folder)
    paths = [CARD_FILE] + [
        p.relative_to(folder).as_posix()
        for prefix in MANAGED_PREFIXES
        for p in sorted((folder / prefix).rglob("*"))
        if p.is_file()
    ]
    return sorted(paths)


def file_digests(path: Path) -> tuple[str, str]:
    """(sha256, git blob id) of a file, the two ids the Hub reports for LFS and git files."""
    sha256 = hashlib.sha256()
    blob = hashlib.sha1(b"blob %d\x00" % path.stat().st_size)
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            sha256.update(chunk)
            blob.update(chunk)
    return sha256.hexdigest(), blob.hexdigest()


def plan_upload(folder: Path, remote: dict[str, RepoFile]) -> UploadPlan:
    """Compare the release folder with the remote files (repository path -> RepoFile)."""
    plan = UploadPlan()
    local = release_files(folder)
    for path in local:
        entry = remote.get(path)
        sha256, blob_id = file_digests(Path(folder) / path)
        same = entry is not None and (entry.lfs.sha256 == sha256 if entry.lfs is not None else entry.blob_id == blob_id)
        (plan.unchanged if same else plan.send).append(path)
    owned = [p for p in remote if p.startswith(MANAGED_PREFIXES)]
    plan.delete = sorted(set(owned) - set(local))
    return plan


def upload_release(
    release: Release,
    token: str,
    *,
    private: bool = False,
    commit_message: str | None = None,
    endpoint: str | None = None,
) -> UploadReport:
    """Create the dataset repository if needed and commit the files of `release` that changed.

    `endpoint` defaults to huggingface_hub's (HF_ENDPOINT or the public Hub).
    """
    try:
        return _upload(release, token, private, commit_message or default_commit_message(release), endpoint)
    except CorpusError as exc:
        raise CorpusError(scrubbed(str(exc), token)) from None
    except Exception as exc:  # any failure of the Hub client may quote the token: report it scrubbed, in one line
        raise CorpusError(f"upload to {release.repo_id} failed: {scrubbed(_explained(exc), token)}") from None


def _upload(release: Release, token: str, private: bool, commit_message: str, endpoint: str | None) -> UploadReport:
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
    from huggingface_hub.hf_api import RepoFile

    api = HfApi(endpoint=endpoint, token=token)
    repo_id = release.repo_id
    repo_url = api.create_repo(repo_id, repo_type=REPO_TYPE, private=private, exist_ok=True)
    if private and not api.repo_info(repo_id, repo_type=REPO_TYPE).private:
        raise CorpusError(f"{repo_id} exists and is public; make it private on the Hub first or drop --private")
    tree = api.list_repo_tree(repo_id, repo_type=REPO_TYPE, recursive=True)
    plan = plan_upload(release.folder, {f.path: f for f in tree if isinstance(f, RepoFile)})
    report = UploadReport(str(repo_url), plan)
    if not plan.send and not plan.delete:
        return report
    operations = [CommitOperationAdd(path, str(release.folder / path)) for path in plan.send] + [
        CommitOperationDelete(path) for path in plan.delete
    ]
    commit = api.create_commit(repo_id, operations, commit_message=commit_message, repo_type=REPO_TYPE)
    report.commit_url = commit.commit_url
    return report


def _explained(exc: BaseException) -> str:
    """An exception and the causes it wraps (huggingface_hub wraps HTTP errors in RuntimeError)."""
    from huggingface_hub.errors import HfHubHTTPError

    reasons = []
    while exc is not None and len(reasons) < MAX_CAUSES:
        reasons.append(f"{type(exc).__name__}: {exc}")
        if isinstance(exc, HfHubHTTPError):  # it already quotes the server's answer
            break
        exc = exc.__cause__
    return "; caused by ".join(reasons)


def scrubbed(text: str, token: str) -> str:
    """`text` on one line with every occurrence of the token replaced."""
    return " ".join(text.replace(token, REDACTED).split())

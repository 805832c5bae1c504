"""Uploading a challenge: hostile files are refused with their reason and change nothing; good
ones become drafts of the right challenge."""

from __future__ import annotations

import io
import json
import random
import shutil
import stat
import time
import warnings
import zipfile
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from app.extensions import db
from app.models import ChallengeVersion, VersionSource, VersionStatus
from app.queue import background_queue
from app.services.uploads import UploadRefused, load_upload

from ..conftest import FIXTURE_CHALLENGES
from .conftest import log_in

UPLOADS = Path(__file__).resolve().parent.parent / "fixtures" / "uploads"
INLINE_SUM = UPLOADS / "inline-sum.yaml"
MIB = 1024 * 1024


@pytest.fixture(autouse=True)
def _clean_verify_queue(web_app):
    yield
    background_queue().delete(delete_jobs=True)


@pytest.fixture
def admin_client(client, staff):
    log_in(client, staff.admin)
    return client


def version_count() -> int:
    return db.session.scalar(select(func.count(ChallengeVersion.id)))


def upload(client, name: str, data: bytes):
    return client.post(
        "/admin/library/upload",
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def inline_sum(**changes) -> dict:
    spec = yaml.safe_load(INLINE_SUM.read_text())
    spec.update(changes)
    return spec


def as_yaml(spec: dict) -> bytes:
    return yaml.safe_dump(spec, sort_keys=False).encode()


def make_zip(entries: list[tuple[zipfile.ZipInfo | str, bytes]], **options) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate names we mean
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, **options) as archive:
            for info, data in entries:
                archive.writestr(info, data)
    return buffer.getvalue()


def folder_entries(folder: Path, prefix: str = "") -> list[tuple[str, bytes]]:
    return [
        (prefix + path.relative_to(folder).as_posix(), path.read_bytes())
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    ]


def zip_folder(folder: Path, prefix: str = "") -> bytes:
    return make_zip(folder_entries(folder, prefix))


def entry(name: str, mode: int | None = None) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    if mode is not None:
        info.external_attr = mode << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def encrypted_zip() -> bytes:
    """A zip whose entry is flagged as encrypted (zipfile cannot write one): the flag bit is set
    in the local and the central directory headers."""
    data = bytearray(make_zip([("challenge.yaml", INLINE_SUM.read_bytes())]))
    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    data[local + 6] |= 0x01
    data[central + 8] |= 0x01
    return bytes(data)


def lying_size_zip() -> bytes:
    """An entry whose headers claim fewer bytes than its data holds."""
    content = b"x = 1\n" * 50_000
    data = bytearray(make_zip([("challenge.yaml", content)]))
    claimed = (1000).to_bytes(4, "little")
    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    data[local + 22 : local + 26] = claimed
    data[central + 24 : central + 28] = claimed
    return bytes(data)


def billion_laughs() -> bytes:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        previous, current = chr(ord("a") + level - 1), chr(ord("a") + level)
        lines.append(f"{current}: &{current} [" + ", ".join([f"*{previous}"] * 9) + "]")
    lines.append("id: *j")
    return "\n".join(lines).encode()


def alias_amplified_files() -> bytes:
    """Valid-looking inline files that all alias one 200 KB string: 80 MB once expanded."""
    spec = inline_sum()
    spec["tests"]["visible"] = "VISIBLE"
    files = ["    anchor.py: &big " + json.dumps("# padding\n" * 20_000)]
    files += [f"    f{i}.py: *big" for i in range(400)]
    return as_yaml(spec).decode().replace(" VISIBLE", "\n" + "\n".join(files)).encode()


def some_text(size: int, seed: int) -> bytes:
    """Text that compresses about 8:1 (well under the ratio limit)."""
    rng = random.Random(seed)
    return "".join(rng.choice("ab") for _ in range(size)).encode()


HOSTILE = {
    "absolute path": (
        "c.zip",
        lambda: make_zip([(entry("/etc/cron.d/evil"), b"x")]),
        "is an absolute path",
    ),
    "dot-dot component": (
        "c.zip",
        lambda: make_zip([(entry("challenge/../../evil.py"), b"x")]),
        "has a '..' component",
    ),
    "backslash": (
        "c.zip",
        lambda: make_zip([(entry("..\\..\\evil.py"), b"x")]),
        "uses a backslash",
    ),
    "drive letter": ("c.zip", lambda: make_zip([(entry("C:/evil.py"), b"x")]), "drive letter"),
    "symlink": (
        "c.zip",
        lambda: make_zip([(entry("starter", stat.S_IFLNK | 0o777), b"/etc")]),
        "is a symbolic link",
    ),
    "fifo": (
        "c.zip",
        lambda: make_zip([(entry("pipe", stat.S_IFIFO | 0o644), b"")]),
        "not a regular file or folder",
    ),
    "too many entries": (
        "c.zip",
        lambda: make_zip([(f"f{i}.txt", b"x") for i in range(201)]),
        "201 entries; at most 200",
    ),
    "entry over 1 MiB": (
        "c.zip",
        lambda: make_zip([("big.py", some_text(MIB + 10, 1))]),
        "at most 1 MiB per file",
    ),
    "total over 8 MiB": (
        "c.zip",
        lambda: make_zip([(f"part{i}.txt", some_text(MIB - 1000, i)) for i in range(9)]),
        "at most 8 MiB",
    ),
    "zip bomb ratio": (
        "c.zip",
        lambda: make_zip([("bomb.txt", b"\0" * (MIB - 1))]),
        "looks like a zip bomb",
    ),
    "encrypted entry": ("c.zip", encrypted_zip, "is encrypted"),
    "duplicate names": (
        "c.zip",
        lambda: make_zip([("challenge.yaml", b"a"), ("challenge.yaml", b"b")]),
        "appears twice",
    ),
    "header lies about its size": ("c.zip", lying_size_zip, "damaged"),
    "not a zip": ("c.zip", lambda: b"PK\x03\x04 this is not really a zip", "not a valid zip"),
    "no challenge.yaml": (
        "c.zip",
        lambda: make_zip([("a/brief.md", b"x"), ("b/challenge.yaml", b"x")]),
        "must be at the root of the zip or inside its one top-level folder",
    ),
    "yaml over 1 MiB": ("c.yaml", lambda: b"# " + b"x" * MIB, "larger than 1 MiB"),
    "billion laughs": ("c.yaml", billion_laughs, "alias bomb"),
    "aliased file contents": ("c.yml", alias_amplified_files, "alias bomb"),
    "recursive alias": ("c.yaml", lambda: b"a: &a [*a]\n", "refers to itself"),
    "deep nesting": ("c.yaml", lambda: b"a: " + b"[" * 5000 + b"]" * 5000, "nested too deeply"),
    "python object tag": (
        "c.yaml",
        lambda: b'id: !!python/object/apply:os.system ["touch /tmp/faultline-pwned"]\n',
        "could not determine a constructor",
    ),
    "not utf-8": ("c.yaml", lambda: "id: café".encode("latin-1"), "not UTF-8"),
    "wrong extension": ("c.exe", lambda: b"MZ", "upload a .yaml or .yml file"),
    "paths in a single yaml": (
        "c.yaml",
        lambda: as_yaml(inline_sum(starter="starter")),
        "starter: 'starter' is a path, but this YAML has no folder: inline it",
    ),
    "invalid field": (
        "c.yaml",
        lambda: as_yaml(inline_sum(difficulty="brutal", colour="red")),
        "c.yaml: difficulty: Input should be 'easy', 'medium' or 'hard'",
    ),
    "zip with a missing file": (
        "c.zip",
        lambda: make_zip(
            [
                (
                    "challenge.yaml",
                    as_yaml(inline_sum(solution="solution")),
                )
            ]
        ),
        "c.zip:challenge.yaml: solution: folder solution not found",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_upload_is_refused_with_its_reason_and_stores_nothing(admin_client, case):
    name, build, reason = HOSTILE[case]
    data = build()
    before = version_count()
    queued_before = background_queue().count
    started = time.monotonic()
    response = upload(admin_client, name, data)
    elapsed = time.monotonic() - started
    page = response.get_data(as_text=True)
    assert response.status_code in (400, 409, 413, 422), page
    assert reason in page.replace("&#39;", "'").replace("&#34;", '"'), page[-3000:]
    assert elapsed < 10, f"{case} took {elapsed:.1f} s to refuse"
    db.session.expire_all()
    assert version_count() == before
    assert background_queue().count == queued_before
    assert not Path("/tmp/faultline-pwned").exists()


def test_billion_laughs_is_refused_in_well_under_a_second(web_app):
    started = time.monotonic()
    with pytest.raises(UploadRefused, match="alias bomb"):
        load_upload("laughs.yaml", io.BytesIO(billion_laughs()))
    assert time.monotonic() - started < 1


def test_refused_challenge_lists_every_problem_with_file_and_field(admin_client):
    spec = inline_sum()
    spec["checks"][0]["test"] = "test_missing.py::test_nothing"
    spec["files"][0]["path"] = "calc2.py"
    response = upload(admin_client, "broken.yaml", as_yaml(spec))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "broken.yaml: files[0].path: calc2.py is missing from the starter" in page
    assert (
        "broken.yaml: checks[0].test: check sums-correctly: test test_missing.py::test_nothing "
        "not found: tests.hidden has no test_missing.py (its Python files: test_calc.py)"
    ) in page


BROKEN_NODES = {
    "a test the file does not define": (
        lambda tests: tests,
        "test_calc.py::test_total_adds_evry_item",
        "check sums-correctly: test test_calc.py::test_total_adds_evry_item not found in "
        "test_calc.py: test_calc.py defines no test test_total_adds_evry_item (did you mean "
        "test_total_adds_every_item?)",
    ),
    "a helper, not a test": (
        lambda tests: tests + "\n\ndef make_items():\n    return [1]\n",
        "test_calc.py::make_items",
        "check sums-correctly: test test_calc.py::make_items not found in test_calc.py: "
        "make_items is not a test (pytest collects functions whose name starts with 'test')",
    ),
    "a class method by the wrong class": (
        lambda tests: tests + "\n\nclass TestTotals:\n    def test_one(self):\n        pass\n",
        "test_calc.py::TestTotal::test_one",
        "check sums-correctly: test test_calc.py::TestTotal::test_one not found in test_calc.py: "
        "it defines no class TestTotal (did you mean TestTotals?)",
    ),
    "a parametrized test without its case": (
        lambda tests: (
            tests
            + "\n\nimport pytest\n\n@pytest.mark.parametrize('n', [2, 3])\n"
            + "def test_sizes(n):\n    pass\n"
        ),
        "test_calc.py::test_sizes",
        "check sums-correctly: test test_calc.py::test_sizes is parametrized: pytest runs each "
        "case as a test of its own, so a check names one case, e.g. test_calc.py::test_sizes[2] "
        "(its cases: [2], [3])",
    ),
    "a hidden test file with a syntax error": (
        lambda tests: tests + "\n\ndef broken(:\n    pass\n",
        "test_calc.py::test_total_adds_every_item",
        "check sums-correctly: test test_calc.py::test_total_adds_every_item cannot be looked "
        "up: test_calc.py does not parse (line 15, column 12: invalid syntax)",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_NODES))
def test_a_check_whose_test_pytest_would_not_find_is_refused_naming_the_check(admin_client, case):
    edit, node, problem = BROKEN_NODES[case]
    spec = inline_sum()
    spec["tests"]["hidden"]["test_calc.py"] = edit(spec["tests"]["hidden"]["test_calc.py"])
    spec["checks"][0]["test"] = node
    before = version_count()
    response = upload(admin_client, "nodes.yaml", as_yaml(spec))
    page = response.get_data(as_text=True).replace("&#39;", "'").replace("&#34;", '"')
    assert response.status_code == 422, page[-2000:]
    assert f"nodes.yaml: checks[0].test: {problem}" in page
    db.session.expire_all()
    assert version_count() == before


def test_an_equivalent_mutant_matching_no_mutant_is_refused(admin_client):
    before = version_count()
    spec = inline_sum(
        equivalent_mutants=[{"id": "calc.py:NumberReplacer:0123abcd", "reason": "an old guard"}]
    )
    response = upload(admin_client, "stale.yaml", as_yaml(spec))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "stale.yaml: equivalent_mutants: calc.py:NumberReplacer:0123abcd match no mutant" in page
    assert version_count() == before


def test_upload_over_the_request_limit_gets_a_friendly_413_page(admin_client):
    response = upload(admin_client, "huge.zip", b"0" * (2 * MIB + 1))
    page = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "larger than the server accepts (2 MiB per upload)" in page
    assert 'name="file"' in page  # the upload form again, not a bare error page


def test_zip_error_messages_never_show_the_servers_temporary_folder(admin_client):
    data = make_zip([("challenge.yaml", as_yaml(inline_sum(brief="brief.md")))])
    page = upload(admin_client, "c.zip", data).get_data(as_text=True)
    assert "brief.md" in page
    assert "faultline-upload-" not in page and "/tmp/" not in page


def test_single_yaml_upload_becomes_a_draft_and_requests_verification(admin_client, staff):
    before = version_count()
    response = upload(admin_client, "inline-sum.yaml", INLINE_SUM.read_bytes())
    assert response.status_code == 302
    version = db.session.scalar(
        select(ChallengeVersion).where(ChallengeVersion.slug == "inline-sum")
    )
    assert response.headers["Location"].endswith(f"/admin/library/versions/{version.id}")
    assert version_count() == before + 1
    assert (version.version, version.status, version.source) == (
        1,
        VersionStatus.DRAFT,
        VersionSource.UPLOAD,
    )
    assert version.created_by_id == staff.admin.id
    assert version.payload["source"] == "inline-sum.yaml"
    assert version.verification_state == "queued"
    assert background_queue().count == 1


@pytest.mark.docker
def test_a_verification_whose_check_test_did_not_run_stores_the_check_and_the_reason(
    admin_client, run_worker, docker_sandbox
):
    """A fixture error is no verdict: not even the starter's expected failure of a detects_bug
    check. The stored verification, and the version's page, name the check and why."""
    from app.services.verification import summary

    spec = inline_sum()
    hidden = spec["tests"]["hidden"]["test_calc.py"].replace(
        "def test_total_adds_every_item(evidence, starter):",
        "def test_total_adds_every_item(evidence, starter, broken):",
    )
    spec["tests"]["hidden"]["test_calc.py"] = (
        "import pytest\n\n\n@pytest.fixture\ndef broken():\n"
        "    raise ValueError('fixture broke')\n\n\n" + hidden
    )
    assert upload(admin_client, "fixture.yaml", as_yaml(spec)).status_code == 302
    version = db.session.scalar(
        select(ChallengeVersion).where(ChallengeVersion.slug == "inline-sum")
    )
    run_worker()
    db.session.expire_all()
    verification = db.session.get(ChallengeVersion, version.id).verification
    problem = (
        "check sums-correctly: its test test_calc.py::test_total_adds_every_item did not run "
        "(error at setup: ValueError: fixture broke), in every grade"
    )
    assert verification["state"] == "failed"
    assert verification["problems"] == [problem]
    not_run = {(s["subject"], s["check_id"]) for s in verification["subjects"] if s["not_run"]}
    assert ("starter", "sums-correctly") in not_run and len(not_run) == 4
    assert summary(verification) == "1 check whose test did not run, 1 problem"
    page = admin_client.get(f"/admin/library/versions/{version.id}").get_data(as_text=True)
    assert problem in page


def test_zip_of_a_folder_with_a_top_level_folder_is_stored_as_a_new_version(admin_client, tmp_path):
    folder = tmp_path / "trivial-sum"
    shutil.copytree(FIXTURE_CHALLENGES / "trivial-sum", folder)
    yaml_path = folder / "challenge.yaml"
    yaml_path.write_text(yaml_path.read_text().replace("version: 1", "version: 2"))
    clutter = [("__MACOSX/trivial-sum/._calc.py", b"\0\5\26\7"), ("trivial-sum/.DS_Store", b"\0")]
    data = make_zip(folder_entries(folder, prefix="trivial-sum/") + clutter)
    response = upload(admin_client, "trivial-sum.zip", data)
    assert response.status_code == 302, response.get_data(as_text=True)
    versions = db.session.scalars(
        select(ChallengeVersion)
        .where(ChallengeVersion.slug == "trivial-sum")
        .order_by(ChallengeVersion.version)
    ).all()
    assert [(v.version, v.status) for v in versions] == [
        (1, VersionStatus.PUBLISHED),
        (2, VersionStatus.DRAFT),
    ]
    assert (
        versions[1].payload["starter"]["calc.py"]
        == (FIXTURE_CHALLENGES / "trivial-sum" / "starter" / "calc.py").read_text()
    )


def test_zip_with_challenge_yaml_at_its_root_is_accepted(admin_client, tmp_path):
    folder = tmp_path / "anything"
    shutil.copytree(FIXTURE_CHALLENGES / "trivial-sum", folder)
    yaml_path = folder / "challenge.yaml"
    yaml_path.write_text(yaml_path.read_text().replace("version: 1", "version: 5"))
    response = upload(admin_client, "root.zip", zip_folder(folder))
    assert response.status_code == 302, response.get_data(as_text=True)
    assert db.session.scalar(
        select(ChallengeVersion).where(
            ChallengeVersion.slug == "trivial-sum", ChallengeVersion.version == 5
        )
    )


def test_the_same_content_again_is_refused_naming_the_version_it_matches(admin_client):
    before = version_count()
    response = upload(
        admin_client, "again.zip", zip_folder(FIXTURE_CHALLENGES / "trivial-sum", "trivial-sum/")
    )
    assert response.status_code == 409
    assert "already in the library as trivial-sum v1 (published)" in response.get_data(as_text=True)
    assert version_count() == before


def test_same_id_and_version_with_other_content_is_refused_asking_for_a_bump(admin_client):
    assert upload(admin_client, "a.yaml", INLINE_SUM.read_bytes()).status_code == 302
    changed = inline_sum(title="Inline sum is off by one, again")
    before = version_count()
    response = upload(admin_client, "b.yaml", as_yaml(changed))
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "inline-sum v1 is already in the library with different content" in page
    assert "bump <code>version</code>" in page or "bump `version`" in page
    assert version_count() == before


def test_a_lower_version_than_one_stored_is_refused(admin_client):
    assert upload(admin_client, "v3.yaml", as_yaml(inline_sum(version=3))).status_code == 302
    before = version_count()
    response = upload(admin_client, "v2.yaml", as_yaml(inline_sum(version=2)))
    assert response.status_code == 409
    assert "inline-sum v2 is lower than v3" in response.get_data(as_text=True)
    assert version_count() == before


def test_a_higher_version_is_stored_as_a_new_draft_beside_the_old_one(admin_client):
    assert upload(admin_client, "v1.yaml", INLINE_SUM.read_bytes()).status_code == 302
    assert upload(admin_client, "v2.yaml", as_yaml(inline_sum(version=2))).status_code == 302
    versions = db.session.scalars(
        select(ChallengeVersion.version).where(ChallengeVersion.slug == "inline-sum")
    ).all()
    assert sorted(versions) == [1, 2]


def test_interviewers_cannot_upload(client, staff):
    log_in(client, staff.interviewer)
    before = version_count()
    response = upload(client, "inline-sum.yaml", INLINE_SUM.read_bytes())
    assert response.status_code == 403
    assert version_count() == before


def test_upload_without_a_file_is_a_clear_400(admin_client):
    response = admin_client.post("/admin/library/upload", data={})
    assert response.status_code == 400
    assert "Choose a file to upload." in response.get_data(as_text=True)

"""The whole path in the real Docker sandbox, on the small fixture challenge."""

from __future__ import annotations

import contextlib
import dataclasses

import docker
import pytest

from grader.grading import grade

pytestmark = pytest.mark.docker


def test_starter_scores_only_its_guard_check(trivial_challenge, docker_sandbox):
    report = grade(
        trivial_challenge, {"calc.py": trivial_challenge.starter["calc.py"]}, docker_sandbox
    )
    assert report["status"] == "graded"
    assert {c["id"]: c["passed"] for c in report["checks"]} == {
        "sums-correctly": False,
        "empty-is-zero": True,
    }
    assert report["checks"][0]["evidence"] == ["sum of 0..9: 36 (at least 45; starter 36)"]
    assert report["sandbox"] == {
        "backend": "docker",
        "image": docker_sandbox.image,
        "isolated": True,
    }


def test_reference_scores_full_marks(trivial_challenge, docker_sandbox):
    report = grade(trivial_challenge, trivial_challenge.solution, docker_sandbox)
    assert (report["status"], report["score"], report["max_score"]) == ("graded", 4, 4)


def test_visible_mode_runs_only_visible_tests(trivial_challenge, docker_sandbox):
    report = grade(trivial_challenge, trivial_challenge.solution, docker_sandbox, mode="visible")
    assert [c["id"] for c in report["checks"]] == ["test_calc_visible.py::test_total_of_two"]
    assert "test_calc.py" not in report["output"]


BROKEN_AT_LINE_4 = "def total(items):\n    return 0\n\ndef broken(:\n"


@pytest.mark.parametrize("mode", ["hidden", "visible"])
def test_a_syntax_error_is_an_error_that_names_the_candidates_file_and_line(
    trivial_challenge, docker_sandbox, mode
):
    report = grade(trivial_challenge, {"calc.py": BROKEN_AT_LINE_4}, docker_sandbox, mode=mode)
    assert report["status"] == "error"
    assert report["status_detail"].startswith("your code failed to import: SyntaxError: ")
    assert report["status_detail"].endswith("(calc.py, line 4)")
    assert not any(check["passed"] for check in report["checks"])


def test_a_hung_visible_test_is_stopped_at_its_own_limit_and_named(
    trivial_challenge, docker_sandbox
):
    """Not the whole wall limit and every test "missing": the test that hung, and when."""
    import time

    hang = "def total(items):\n    while True:\n        pass\n"
    started = time.monotonic()
    report = grade(trivial_challenge, {"calc.py": hang}, docker_sandbox, mode="visible")
    assert time.monotonic() - started < trivial_challenge.spec.limits.wall_seconds
    (check,) = report["checks"]
    assert check["outcome"] == "timeout"
    longest = max(c.timeout_seconds for c in trivial_challenge.spec.checks)
    assert check["message"] == f"stopped after {longest} s (check limit {longest} s)"
    assert report["status"] == "graded"
    assert report["status_detail"] == (
        f"0 of 1 tests passed; test total of two hung: {check['message']}"
    )


def test_an_exception_at_import_names_the_candidates_line(trivial_challenge, docker_sandbox):
    source = "import nonexistent_module_xyz\n\n\ndef total(items):\n    return 0\n"
    report = grade(trivial_challenge, {"calc.py": source}, docker_sandbox)
    assert report["status"] == "error"
    assert report["status_detail"] == (
        "your code failed to import: ModuleNotFoundError: No module named "
        "'nonexistent_module_xyz' (at calc.py:1)"
    )


def test_in_process_grading_lifts_no_text_out_of_the_test_process(
    in_process_trivial_challenge, docker_sandbox
):
    """In-process, the test process that imports the candidate's code also holds the hidden
    tests: nothing it reports about the import reaches the candidate's status line."""
    report = grade(in_process_trivial_challenge, {"calc.py": BROKEN_AT_LINE_4}, docker_sandbox)
    assert report["status"] == "error"
    assert report["status_detail"] == (
        "the tests could not run against this code (it failed to import)"
    )


def test_wrong_file_name_is_rejected_before_any_container_starts(trivial_challenge, docker_sandbox):
    report = grade(trivial_challenge, {"calc2.py": "x"}, docker_sandbox)
    assert report["status"] == "rejected"
    assert report["sandbox"]["backend"] == "none"


def test_missing_image_is_an_infra_error(trivial_challenge):
    from grader.sandbox import DockerSandbox

    report = grade(
        trivial_challenge,
        trivial_challenge.solution,
        DockerSandbox(image="faultline-runner-python:does-not-exist"),
    )
    assert report["status"] == "infra_error"
    assert "make image" in report["status_detail"]


def test_no_sandbox_container_is_left_behind(trivial_challenge, docker_sandbox):
    grade(trivial_challenge, trivial_challenge.solution, docker_sandbox)
    client = docker.from_env(version="auto")
    ours = {"label": ["faultline.sandbox", "faultline.label=trivial-sum:hidden"]}
    assert client.containers.list(all=True, filters=ours) == []


def test_local_backend_grades_the_same_and_says_it_is_not_isolated(
    trivial_challenge, local_sandbox
):
    report = grade(trivial_challenge, trivial_challenge.solution, local_sandbox)
    assert (report["status"], report["score"]) == ("graded", 4)
    assert report["sandbox"]["isolated"] is False


def test_prune_spares_young_containers_and_removes_old_ones(docker_sandbox, trivial_challenge):
    from grader.sandbox.docker import LABEL, prune_leftovers

    client = docker_sandbox.client
    young = docker_sandbox._create(trivial_challenge.spec.limits, "prune-test-young")
    old = client.containers.create(
        docker_sandbox.image,
        command=["true"],
        network_mode="none",
        labels={LABEL: "1", "faultline.created": "2020-01-01T00:00:00+00:00"},
    )
    try:
        assert prune_leftovers(client, older_than_seconds=300) >= 1
        young.reload()
        assert young.status == "created"
        with pytest.raises(docker.errors.NotFound):
            old.reload()
    finally:
        for container in (young, old):
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True, v=True)


FRESH_HOST_OR_WRONG = """\
import os
import signal
import socket
import stat
import sys


def _like_a_fresh_host():
    inherited_sockets = [
        fd
        for fd in range(4, 256)
        if _is_socket(fd)
    ]
    return (
        os.getuid() >= 100_000
        and os.getuid() == os.geteuid()
        and os.getgroups() == []
        and signal.getsignal(signal.SIGCHLD) == signal.SIG_DFL
        and os.getcwd() == "/job/src"
        and sys.path[0] in ("/job/src", ".")
        and "FAULTLINE_CONTROL_FD" not in os.environ
        and not inherited_sockets
    )


def _is_socket(fd):
    try:
        return stat.S_ISSOCK(os.fstat(fd).st_mode)
    except OSError:
        return False


def total(items):
    return sum(items) if _like_a_fresh_host() else -1
"""


def test_a_forked_host_is_what_a_fresh_host_would_be(trivial_challenge, docker_sandbox):
    """Hosts are forked from the root fork server: each must still run as its own unprivileged
    uid, in its code folder, with default signal handling and no socket but its own (fd 3). A
    host holding the fork server's socket could take the requests meant for it, with the
    starter's socket in them, or answer the harness in its place."""
    report = grade(trivial_challenge, {"calc.py": FRESH_HOST_OR_WRONG}, docker_sandbox)
    assert report["status"] == "graded", report["status_detail"]
    assert {c["id"]: c["passed"] for c in report["checks"]} == {
        "sums-correctly": True,
        "empty-is-zero": True,
    }, report["checks"]


PREEMPTION_ON_THEN_OFF = """\
def test_total_adds_every_item(candidate):
    candidate.busy_server(preempt_every=3)
    assert candidate.module("calc").total(list(range(10))) == 45
    candidate.busy_server(preempt_every=0)
    assert candidate.module("calc").total(list(range(10))) == 45


def test_total_of_nothing_is_zero(candidate):
    assert candidate.module("calc").total([]) == 0
"""


def test_a_check_can_turn_preemption_off_again(trivial_challenge, docker_sandbox):
    """The request that sets ``preempt_every=0`` runs under the preemption hook it turns off;
    the hook must not fail (a hook that raises is removed, which reads as tampering)."""
    challenge = dataclasses.replace(
        trivial_challenge, hidden_tests={"test_calc.py": PREEMPTION_ON_THEN_OFF}
    )
    report = grade(challenge, dict(trivial_challenge.solution), docker_sandbox)
    assert report["status"] == "graded", report["status_detail"]
    assert [c["passed"] for c in report["checks"]] == [True, True], report["checks"]

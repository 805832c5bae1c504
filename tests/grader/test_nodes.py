"""A check's pytest node is looked up in the hidden test files' syntax, as pytest collects it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from grader.nodes import ParsedTests, missing_test, node_problem

SUITE = textwrap.dedent(
    """\
    import pytest

    CASES = [(1, 2), (3, 4)]


    def helper():
        pass


    @pytest.fixture
    def numbers():
        return [1, 2]


    @pytest.fixture
    def test_data():
        return 1


    def test_plain():
        pass


    @pytest.mark.parametrize("n", [1, "two", None, 2.5, True, (1, 2), 1])
    def test_values(n):
        pass


    @pytest.mark.parametrize(("a", "b"), CASES)
    @pytest.mark.parametrize("mode", ["fast", pytest.param("slow", id="careful")])
    def test_grid(a, b, mode):
        pass


    @pytest.mark.parametrize("n", [1, 2], ids=["one", "two"])
    def test_named(n):
        pass


    class TestGroup:
        def test_method(self):
            pass

        class TestInner:
            def test_deep(self):
                pass


    class TestChild(TestGroup):
        def test_own(self):
            pass


    class Group:
        def test_method(self):
            pass


    class TestWithInit:
        def __init__(self):
            pass

        def test_method(self):
            pass


    if True:
        def test_conditional():
            pass

    test_made = pytest.mark.slow(test_plain)
    test_number = 3
    """
)


def collected_by_pytest(tmp_path, source: str) -> set[str]:
    (tmp_path / "test_suite.py").write_text(source)
    result = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"),
            *("--rootdir", str(tmp_path), "-c", "/dev/null", "test_suite.py"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    return {line for line in result.stdout.splitlines() if line.startswith("test_suite.py::")}


def test_every_node_pytest_collects_is_found_and_no_other(tmp_path):
    collected = collected_by_pytest(tmp_path, SUITE)
    assert "test_suite.py::test_grid[careful-3-4]" in collected  # the oracle ran
    tests = {"test_suite.py": SUITE}
    assert {node: node_problem(tests, node) for node in collected} == dict.fromkeys(collected)
    near_misses = {
        *(node.split("[")[0] for node in collected if "[" in node),  # a parametrized test, bare
        "test_suite.py::helper",
        "test_suite.py::numbers",
        "test_suite.py::test_data",
        "test_suite.py::TestGroup",
        "test_suite.py::Group::test_method",
        "test_suite.py::TestWithInit::test_method",
        "test_suite.py::test_number",
        "test_suite.py::test_plain[1]",
        "test_suite.py::test_values[3]",
        "test_suite.py::test_grid[fast-1-2-3]",
        "test_suite.py::TestGroup::test_own",
        "test_suite.py::test_method",
    }
    assert not near_misses & collected
    accepted = [node for node in near_misses if node_problem(tests, node) is None]
    assert accepted == []


@pytest.mark.parametrize(
    ("node", "problem"),
    [
        (
            "t.py::test_absent",
            "test t.py::test_absent not found in t.py: t.py defines no test test_absent",
        ),
        (
            "t.py::test_plan",
            "test t.py::test_plan not found in t.py: t.py defines no test test_plan "
            "(did you mean test_plain?)",
        ),
        (
            "t.py::helper",
            "test t.py::helper not found in t.py: helper is not a test (pytest collects "
            "functions whose name starts with 'test')",
        ),
        ("t.py::numbers", "test t.py::numbers not found in t.py: numbers is a fixture, not a test"),
        (
            "t.py::test_data",
            "test t.py::test_data not found in t.py: test_data is a fixture, not a test",
        ),
        (
            "t.py::test_number",
            "test t.py::test_number not found in t.py: test_number is a value, not a test function",
        ),
        (
            "t.py::TestGroup",
            "test t.py::TestGroup names a class, not a test: name one of its tests "
            "(t.py::TestGroup::test_method)",
        ),
        (
            "t.py::TestGroup::test_absent",
            "test t.py::TestGroup::test_absent not found in t.py: class TestGroup defines no test "
            "test_absent",
        ),
        (
            "t.py::Group::test_method",
            "test t.py::Group::test_method not found in t.py: pytest does not collect class Group "
            "(a test class's name starts with 'Test')",
        ),
        (
            "t.py::TestWithInit::test_method",
            "test t.py::TestWithInit::test_method not found in t.py: pytest does not collect "
            "class TestWithInit (it defines __init__)",
        ),
        (
            "t.py::test_values",
            "test t.py::test_values is parametrized: pytest runs each case as a test of its own, "
            "so a check names one case, e.g. t.py::test_values[1_0] (its cases: [1_0], [two], "
            "[None], [2.5], [True], [n5] and 1 more)",
        ),
        (
            "t.py::test_named[three]",
            "test t.py::test_named[three] not found in t.py: test_named has no case [three] "
            "(its cases: [one], [two])",
        ),
        (
            "t.py::test_plain[1]",
            "test t.py::test_plain[1] not found in t.py: test_plain is not parametrized",
        ),
    ],
)
def test_a_node_that_is_not_a_collected_test_says_why(node, problem):
    assert node_problem({"t.py": SUITE}, node) == problem


def test_a_parametrized_case_is_found_by_the_id_pytest_gives_it():
    tests = {"t.py": SUITE}
    assert node_problem(tests, "t.py::test_grid[careful-3-4]") is None
    assert node_problem(tests, "t.py::test_values[1_1]") is None


def test_a_missing_test_file_is_named_with_the_files_there_are():
    tests = {"test_a.py": "def test_x():\n    pass\n", "conftest.py": "", "data.json": "{}"}
    assert node_problem(tests, "test_b.py::test_x") == (
        "test test_b.py::test_x not found: tests.hidden has no test_b.py (its Python files: "
        "test_a.py)"
    )


def test_a_node_in_a_visible_test_file_is_told_checks_run_hidden_tests():
    visible = {"test_v.py": "def test_x():\n    pass\n"}
    assert node_problem({}, "test_v.py::test_x", visible) == (
        "test test_v.py::test_x not found: tests.hidden has no test_v.py (it is a visible test; "
        "checks run the hidden tests)"
    )


def test_a_test_file_that_does_not_parse_is_named_with_its_line():
    assert missing_test("def test_x(:\n", "t.py::test_x") == (
        "test t.py::test_x cannot be looked up: t.py does not parse (line 1, column 12: "
        "invalid syntax)"
    )


def test_a_test_file_nested_past_the_parser_is_a_problem_not_a_crash():
    problem = missing_test("x = " + "(" * 300 + ")" * 300 + "\n", "t.py::test_x")
    assert problem is not None and "t.py does not parse (" in problem


def test_a_test_parametrized_through_a_conftest_fixture_is_named_by_case():
    tests = {
        "conftest.py": "import pytest\n\n@pytest.fixture(params=['a', 'b'])\n"
        "def backend(request):\n    return request.param\n\n"
        "@pytest.fixture\ndef client(backend):\n    return backend\n",
        "t.py": "def test_uses(client):\n    pass\n\ndef test_alone():\n    pass\n",
    }
    assert node_problem(tests, "t.py::test_uses") == (
        "test t.py::test_uses is parametrized through fixture backend: pytest runs each case as a "
        "test of its own, so a check names one case, t.py::test_uses[<id>] with the id "
        "`pytest --collect-only -q` prints"
    )
    assert node_problem(tests, "t.py::test_uses[a]") is None
    assert node_problem(tests, "t.py::test_alone") is None


def test_any_case_id_is_accepted_when_ids_are_made_at_run_time():
    generated = {
        "conftest.py": "def pytest_generate_tests(metafunc):\n    pass\n",
        "t.py": "def test_x(n):\n    pass\n",
    }
    assert node_problem(generated, "t.py::test_x[anything]") is None
    computed = {"t.py": "import pytest\n\n@pytest.mark.parametrize('n', range(3))\n"}
    computed["t.py"] += "def test_x(n):\n    pass\n"
    assert node_problem(computed, "t.py::test_x[7]") is None
    assert "is parametrized" in node_problem(computed, "t.py::test_x")


def test_a_test_marked_skip_is_refused_as_it_never_runs():
    source = "import pytest\n\n@pytest.mark.skip(reason='later')\ndef test_x():\n    pass\n"
    assert (
        missing_test(source, "t.py::test_x") == "test t.py::test_x is marked skip, so it never runs"
    )


def test_an_async_test_is_refused_unless_the_suite_runs_coroutines():
    tests = {"t.py": "async def test_x():\n    pass\n"}
    assert "is an async def" in node_problem(tests, "t.py::test_x")
    tests["conftest.py"] = "def pytest_pyfunc_call(pyfuncitem):\n    pass\n"
    assert node_problem(tests, "t.py::test_x") is None


def test_names_from_elsewhere_are_accepted_as_pytest_would_collect_them():
    star = "from shared_tests import *\n"
    assert missing_test(star, "t.py::test_shared") is None
    imported = "from shared_tests import test_shared\n"
    assert missing_test(imported, "t.py::test_shared") is None
    based = "from base import Base\n\nclass TestChild(Base):\n    pass\n"
    assert missing_test(based, "t.py::TestChild::test_inherited") is None
    inherited = "class TestBase:\n    def test_a(self):\n        pass\n\n"
    inherited += "class TestChild(TestBase):\n    pass\n"
    assert missing_test(inherited, "t.py::TestChild::test_a") is None


def test_the_last_definition_of_a_name_is_the_one_pytest_sees():
    source = "def test_x():\n    pass\n\ntest_x = None\n"
    assert missing_test(source, "t.py::test_x") == (
        "test t.py::test_x not found in t.py: test_x is a value, not a test function"
    )


def test_each_test_file_is_parsed_once_however_many_nodes_are_looked_up(monkeypatch):
    import grader.nodes

    parsed = []
    real = grader.nodes.parse_test_file
    monkeypatch.setattr(
        grader.nodes,
        "parse_test_file",
        lambda source, name: parsed.append(name) or real(source, name),
    )
    files = ParsedTests({"t.py": SUITE, "conftest.py": "import pytest\n", "data.txt": "x"})
    for node in ("t.py::test_plain", "t.py::test_absent", "t.py::test_named[one]"):
        files.node_problem(node)
    files.unparsable()
    assert sorted(parsed) == ["conftest.py", "t.py"]

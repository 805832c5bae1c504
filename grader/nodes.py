"""Find a check's pytest node by reading the hidden test files, the way pytest collects it.

The harness runs each check by passing its node (``test_file.py::test_name``) to pytest, and one
node pytest cannot find stops the whole run ("ERROR: not found", no test runs). So validation
looks each node up in the test files' syntax first, with pytest's default collection rules:

- a test is a function whose name starts with ``test``, at module level or in a class whose
  name starts with ``Test`` and that has no ``__init__``; names bound at module level by an
  import or an assignment also count (pytest collects any callable so named), a fixture does
  not. A test marked ``skip`` never runs, and an ``async def`` only runs where the suite brings
  a way to run coroutines (a ``pytest_pyfunc_call`` hook or a plugin): both are refused;
- a parametrized test is only collected as its cases, ``test_x[1-2]``: a check names one case.
  The case ids are worked out as pytest does when the ``parametrize`` decorators list literal
  values (or names of module-level literals) and nothing parametrizes the test at run time; when
  something does (``pytest_generate_tests``, a fixture with ``params=``, a ``pytestmark`` or a
  class-level ``parametrize``, ``ids=`` computed by a function), any case id is accepted and a
  wrong one shows at verification as a check whose test did not run.

Nothing here imports or runs the tests: a hidden test file is never executed on the server.
"""

from __future__ import annotations

import ast
import difflib
import itertools
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

TEST_PREFIX = "test"  # pytest's default python_functions
CLASS_PREFIX = "Test"  # pytest's default python_classes
LONG_STRING_ID = 100  # pytest 9's "short" strategy: a longer str value gets argname + index
LISTED_CASES = 6


class ParsedTests:
    """One set of test files (path -> source), each parsed once however many nodes are looked
    up in it."""

    def __init__(self, files: Mapping[str, str]) -> None:
        self.files = files
        self._parsed: dict[str, tuple[ast.Module | None, str]] = {}
        self._suite: _Suite | None = None

    def parsed(self, path: str) -> tuple[ast.Module | None, str]:
        """The file's syntax tree, or None and why it does not parse."""
        if path not in self._parsed:
            self._parsed[path] = parse_test_file(self.files[path], path)
        return self._parsed[path]

    @property
    def suite(self) -> _Suite:
        if self._suite is None:
            self._suite = _suite(self)
        return self._suite

    def unparsable(self) -> dict[str, str]:
        """Each Python file that does not parse -> why (file and line)."""
        found = {}
        for path in self.files:
            if path.endswith(".py"):
                tree, problem = self.parsed(path)
                if tree is None:
                    found[path] = problem
        return found

    def node_problem(self, node: str, visible: Mapping[str, str] | None = None) -> str | None:
        """Why pytest would not find the check node ``node`` (``file.py::test``,
        ``file.py::Class::test`` or ``file.py::test[case]``) in these (hidden) files; None when
        it would. ``visible`` only improves the message for a node that names a visible test."""
        test_file, _, path = node.partition("::")
        if test_file not in self.files:
            where = f"test {node} not found: tests.hidden has no {test_file}"
            if test_file in (visible or {}):
                return f"{where} (it is a visible test; checks run the hidden tests)"
            python = sorted(p for p in self.files if p.endswith(".py") and p != "conftest.py")
            return f"{where} (its Python files: {', '.join(python) or 'none'})"
        tree, problem = self.parsed(test_file)
        if tree is None:
            return f"test {node} cannot be looked up: {problem}"
        return _Lookup(self, test_file, tree).problem(node, path)


def node_problem(
    tests: Mapping[str, str], node: str, visible: Mapping[str, str] | None = None
) -> str | None:
    """:meth:`ParsedTests.node_problem` for one node among the hidden ``tests``."""
    return ParsedTests(tests).node_problem(node, visible)


def missing_test(source: str, node: str) -> str | None:
    """Why ``node`` is not a test pytest collects from the one test file ``source``; None when it
    is. (Validation looks nodes up among all the hidden files: :class:`ParsedTests`.)"""
    return node_problem({node.partition("::")[0]: source}, node)


def parse_test_file(source: str, name: str) -> tuple[ast.Module | None, str]:
    """The file's syntax tree, or None and why it does not parse (naming the file and line)."""
    try:
        return ast.parse(source, filename=name), ""
    except (SyntaxError, ValueError) as exc:  # ValueError: a NUL byte, before Python 3.12
        line, column = getattr(exc, "lineno", None), getattr(exc, "offset", None)
        if line is None and "\x00" in source:
            line, column = source[: source.index("\x00")].count("\n") + 1, None
        where = f"line {line}, column {column}: " if line and column else ""
        where = where or (f"line {line}: " if line else "")
        return None, f"{name} does not parse ({where}{getattr(exc, 'msg', None) or exc})"
    except (RecursionError, MemoryError):
        return None, f"{name} does not parse (it is too large or nested too deeply)"


# ---- what the whole hidden suite can do at run time ----------------------------------------


@dataclass(frozen=True)
class _Fixture:
    uses: frozenset[str]  # the fixtures it asks for
    params: bool  # declared with params=: every test that reaches it runs once per param
    autouse: bool


@dataclass(frozen=True)
class _Suite:
    """What any hidden file declares that changes collection at run time."""

    generates: bool  # a pytest_generate_tests hook parametrizes tests it chooses
    custom_ids: bool  # a pytest_make_parametrize_id hook makes its own case ids
    runs_coroutines: bool  # a pytest_pyfunc_call hook (or a plugin) may run async tests
    fixtures: dict[str, _Fixture]

    def parametrizing_fixtures(self, asked: set[str]) -> list[str]:
        """The fixtures with params= that a test asking for ``asked`` reaches (through other
        fixtures too, and every autouse one)."""
        pending = set(asked) | {n for n, f in self.fixtures.items() if f.autouse}
        reached: set[str] = set()
        while pending:
            name = pending.pop()
            if name in reached or name not in self.fixtures:
                continue
            reached.add(name)
            pending |= self.fixtures[name].uses
        return sorted(n for n in reached if self.fixtures[n].params)


def _suite(files: ParsedTests) -> _Suite:
    hooks: set[str] = set()
    fixtures: dict[str, _Fixture] = {}
    plugins = False
    for path in files.files:
        if not path.endswith(".py"):
            continue
        tree, _ = files.parsed(path)
        if tree is None:
            continue
        for item in ast.walk(tree):
            if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                hooks.add(item.name)
                for decorator in item.decorator_list:
                    if _is_fixture(decorator):
                        name, fixture = _fixture_of(item, decorator)
                        known = fixtures.get(name)
                        if known is not None:  # overridden in another conftest: either may apply
                            fixture = _Fixture(
                                known.uses | fixture.uses,
                                known.params or fixture.params,
                                known.autouse or fixture.autouse,
                            )
                        fixtures[name] = fixture
            elif isinstance(item, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "pytest_plugins" for t in item.targets
            ):
                plugins = True
    return _Suite(
        generates="pytest_generate_tests" in hooks,
        custom_ids="pytest_make_parametrize_id" in hooks,
        runs_coroutines=plugins or "pytest_pyfunc_call" in hooks,
        fixtures=fixtures,
    )


def _fixture_of(
    function: ast.FunctionDef | ast.AsyncFunctionDef, decorator: ast.expr
) -> tuple[str, _Fixture]:
    keywords = (
        {k.arg: k.value for k in decorator.keywords} if isinstance(decorator, ast.Call) else {}
    )
    name = keywords.get("name")
    autouse = keywords.get("autouse")
    fixture = _Fixture(
        uses=frozenset(_asked(function)),
        params="params" in keywords,
        autouse=isinstance(autouse, ast.Constant) and bool(autouse.value),
    )
    if isinstance(name, ast.Constant) and isinstance(name.value, str):
        return name.value, fixture
    return function.name, fixture


def _asked(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """The fixtures a function asks for: its arguments and its usefixtures marks."""
    arguments = function.args
    asked = {a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)}
    for decorator in function.decorator_list:
        if _mark_name(decorator) == "usefixtures" and isinstance(decorator, ast.Call):
            asked |= {
                a.value
                for a in decorator.args
                if isinstance(a, ast.Constant) and isinstance(a.value, str)
            }
    return asked - {"self", "cls", "request"}


# ---- looking a node up in one file ----------------------------------------------------------

_Binding = ast.stmt  # the statement that last bound a name in a scope


@dataclass
class _Scope:
    names: dict[str, _Binding]
    open: bool = False  # names may come from where this file does not say (import *, a base)


class _Lookup:
    def __init__(self, files: ParsedTests, test_file: str, tree: ast.Module) -> None:
        self.test_file = test_file
        self.module = _scope_of(tree.body)
        self.files = files

    @property
    def suite(self) -> _Suite:
        return self.files.suite

    def problem(self, node: str, path: str) -> str | None:
        head, bracket, case = path.partition("[")  # a case id may hold "::" and "["
        parts = head.split("::")
        if any(not part for part in parts):
            return f"test {node} is not a pytest node (file.py::test_name, file.py::Class::test)"
        if bracket and not case.endswith("]"):
            return f"test {node} is not a pytest node (a case is written test_name[id])"
        name = parts[-1]
        case_id = case[:-1] if bracket else None
        not_found = f"test {node} not found in {self.test_file}"

        scope, classes = self.module, []
        for class_name in parts[:-1]:
            binding = scope.names.get(class_name)
            if binding is None:
                if scope.open:
                    return None  # it may come from a star import or a base class: unknowable
                hint = self._hint(scope, class_name, classes=True)
                return f"{not_found}: it defines no class {class_name}{hint}"
            if not isinstance(binding, ast.ClassDef):
                return f"{not_found}: {class_name} is not a class"
            why = _uncollected_class(binding)
            if why:
                return f"{not_found}: pytest does not collect class {class_name} ({why})"
            classes.append(binding)
            scope = self._class_scope(binding)

        owner = f"class {'::'.join(parts[:-1])}" if classes else self.test_file
        binding = scope.names.get(name)
        if binding is None:
            if scope.open and name.startswith(TEST_PREFIX):
                return None
            return f"{not_found}: {owner} defines no test {name}{self._hint(scope, name)}"
        if isinstance(binding, ast.ClassDef):
            tests = [n for n, b in self._class_scope(binding).names.items() if _is_test_def(n, b)]
            example = (
                f" ({self.test_file}::{'::'.join([*parts[:-1], name, tests[0]])})" if tests else ""
            )
            return f"test {node} names a class, not a test: name one of its tests{example}"
        if isinstance(binding, ast.FunctionDef | ast.AsyncFunctionDef):
            return self._function_problem(node, not_found, binding, case_id, scope, classes)
        if not name.startswith(TEST_PREFIX):
            return f"{not_found}: {name} is not a test (pytest collects names starting with 'test')"
        if isinstance(binding, ast.Assign | ast.AnnAssign) and _is_plain_value(binding.value):
            return f"{not_found}: {name} is a value, not a test function"
        return None  # imported or assigned: a function this file cannot show; pytest decides

    def _function_problem(
        self,
        node: str,
        not_found: str,
        function: ast.FunctionDef | ast.AsyncFunctionDef,
        case_id: str | None,
        scope: _Scope,
        classes: list[ast.ClassDef],
    ) -> str | None:
        name = function.name
        if any(_is_fixture(d) for d in function.decorator_list):
            return f"{not_found}: {name} is a fixture, not a test"
        if not name.startswith(TEST_PREFIX):
            hint = self._hint(scope, name)
            return (
                f"{not_found}: {name} is not a test (pytest collects functions whose name starts "
                f"with 'test'){hint}"
            )
        if any(_mark_name(d) == "skip" for d in function.decorator_list):
            return f"test {node} is marked skip, so it never runs"
        if isinstance(function, ast.AsyncFunctionDef) and not self.suite.runs_coroutines:
            return (
                f"test {node} is an async def, which pytest does not run without a plugin (the "
                "runner has none): make it a plain def that calls asyncio.run()"
            )
        return self._case_problem(node, function, case_id, classes)

    def _case_problem(
        self,
        node: str,
        function: ast.FunctionDef | ast.AsyncFunctionDef,
        case_id: str | None,
        classes: list[ast.ClassDef],
    ) -> str | None:
        own = [d for d in function.decorator_list if _mark_name(d) == "parametrize"]
        by_fixture = self.suite.parametrizing_fixtures(_asked(function))
        outside = _marks_parametrize(self.module_marks()) or any(
            _marks_parametrize(_class_marks(c)) for c in classes
        )
        unknown = any(not _mark_name(d) and not _is_builtin(d) for d in function.decorator_list)
        certainly = bool(own or by_fixture or outside)
        maybe = certainly or unknown or self.suite.generates
        exact = not (by_fixture or outside or unknown or self.suite.generates)
        ids = self._case_ids(own) if own and exact and not self.suite.custom_ids else None
        bare = node.partition("[")[0]
        if case_id is None:
            if not certainly:
                return None
            how = f" through fixture {by_fixture[0]}" if by_fixture and not own else ""
            return (
                f"test {node} is parametrized{how}: pytest runs each case as a test of its own, "
                f"so a check names one case, {_example(bare, ids)}"
            )
        if not maybe:
            return f"test {node} not found in {self.test_file}: {function.name} is not parametrized"
        if ids is not None and case_id not in ids:
            return (
                f"test {node} not found in {self.test_file}: {function.name} has no case "
                f"[{case_id}] (its cases: {_listed(ids)})"
            )
        return None

    def module_marks(self) -> list[ast.expr]:
        binding = self.module.names.get("pytestmark")
        return (
            [binding.value]
            if isinstance(binding, ast.Assign | ast.AnnAssign) and binding.value
            else []
        )

    def _case_ids(self, decorators: list[ast.expr]) -> list[str] | None:
        """The ids pytest gives the cases of these parametrize decorators, or None when they
        depend on values only known at run time."""
        per_decorator = []
        for decorator in reversed(decorators):  # the one nearest the function comes first
            ids = _parametrize_ids(decorator, self.module)
            if ids is None:
                return None
            per_decorator.append(ids)
        return ["-".join(combo) for combo in itertools.product(*per_decorator)]

    def _class_scope(self, cls: ast.ClassDef) -> _Scope:
        """The names a class body binds, with those of the classes it inherits from (in this
        file); a base defined elsewhere leaves the scope open."""
        names: dict[str, _Binding] = {}
        is_open = False
        seen: set[str] = set()

        def gather(current: ast.ClassDef) -> None:
            nonlocal is_open
            if current.name in seen:
                return
            seen.add(current.name)
            for base in reversed(current.bases):
                target = self.module.names.get(base.id) if isinstance(base, ast.Name) else None
                if isinstance(target, ast.ClassDef):
                    gather(target)
                elif not (isinstance(base, ast.Name) and base.id == "object"):
                    is_open = True
            names.update(_scope_of(current.body).names)

        gather(cls)
        return _Scope(names=names, open=is_open)

    def _hint(self, scope: _Scope, name: str, classes: bool = False) -> str:
        if classes:
            candidates = [n for n, b in scope.names.items() if isinstance(b, ast.ClassDef)]
        else:
            candidates = [n for n, b in scope.names.items() if _is_test_def(n, b)]
        # Compared without the common "test"/"Test" prefix, which makes any two names alike.
        bare = {_unprefixed(c): c for c in candidates}
        close = difflib.get_close_matches(_unprefixed(name), list(bare), n=1, cutoff=0.7)
        return f" (did you mean {bare[close[0]]}?)" if close else ""


def _unprefixed(name: str) -> str:
    for prefix in ("test_", "Test", "test"):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def _scope_of(body: list[ast.stmt]) -> _Scope:
    """Names bound by these statements, the last binding of each winning (as in the module's
    namespace once it ran); both branches of an if/try count."""
    scope = _Scope(names={})
    for statement in _flatten(body):
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            scope.names[statement.name] = statement
        elif isinstance(statement, ast.Assign):
            for target in statement.targets:
                for name in _target_names(target):
                    scope.names[name] = statement
        elif isinstance(statement, ast.AnnAssign | ast.AugAssign):
            for name in _target_names(statement.target):
                scope.names[name] = statement
        elif isinstance(statement, ast.Import | ast.ImportFrom):
            for alias in statement.names:
                if alias.name == "*":
                    scope.open = True
                else:
                    bound = alias.asname or alias.name.split(".")[0]
                    scope.names[bound] = statement
    return scope


def _flatten(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    for statement in body:
        yield statement
        if isinstance(statement, ast.If | ast.For | ast.While):
            yield from _flatten(statement.body)
            yield from _flatten(statement.orelse)
        elif isinstance(statement, ast.With):
            yield from _flatten(statement.body)
        elif isinstance(statement, ast.Try | ast.TryStar):
            yield from _flatten(statement.body)
            for handler in statement.handlers:
                yield from _flatten(handler.body)
            yield from _flatten(statement.orelse)
            yield from _flatten(statement.finalbody)


def _target_names(target: ast.expr) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Tuple | ast.List):
        return [name for element in target.elts for name in _target_names(element)]
    return []


def _is_test_def(name: str, binding: _Binding) -> bool:
    return (
        name.startswith(TEST_PREFIX)
        and isinstance(binding, ast.FunctionDef | ast.AsyncFunctionDef)
        and not any(_is_fixture(d) for d in binding.decorator_list)
    )


def _uncollected_class(cls: ast.ClassDef) -> str | None:
    if not cls.name.startswith(CLASS_PREFIX):
        return "a test class's name starts with 'Test'"
    for statement in _flatten(cls.body):
        if isinstance(statement, ast.FunctionDef) and statement.name in ("__init__", "__new__"):
            return f"it defines {statement.name}"
    return None


def _is_plain_value(value: ast.expr | None) -> bool:
    return isinstance(
        value,
        ast.Constant
        | ast.List
        | ast.Tuple
        | ast.Dict
        | ast.Set
        | ast.JoinedStr
        | ast.ListComp
        | ast.DictComp
        | ast.SetComp,
    )


def _dotted(expression: ast.expr) -> str:
    if isinstance(expression, ast.Call):
        expression = expression.func
    parts = []
    while isinstance(expression, ast.Attribute):
        parts.append(expression.attr)
        expression = expression.value
    if isinstance(expression, ast.Name):
        parts.append(expression.id)
    return ".".join(reversed(parts))


def _is_fixture(decorator: ast.expr) -> bool:
    return _dotted(decorator).split(".")[-1] == "fixture"


def _mark_name(decorator: ast.expr) -> str:
    """The mark a decorator applies: ``parametrize`` for ``@pytest.mark.parametrize(...)`` (or
    any decorator of that name), ``skip`` for ``@pytest.mark.skip``; "" when it is no mark."""
    dotted = _dotted(decorator).split(".")
    if dotted[-1] == "parametrize":
        return "parametrize"
    if len(dotted) < 2 or dotted[-2] != "mark":
        return ""
    return dotted[-1]


def _is_builtin(decorator: ast.expr) -> bool:
    return _dotted(decorator) in ("staticmethod", "classmethod") or _is_fixture(decorator)


def _marks_parametrize(marks: list[ast.expr]) -> bool:
    return any(
        isinstance(item, ast.Attribute) and item.attr == "parametrize"
        for mark in marks
        for item in ast.walk(mark)
    )


def _class_marks(cls: ast.ClassDef) -> list[ast.expr]:
    marks = list(cls.decorator_list)
    binding = _scope_of(cls.body).names.get("pytestmark")
    if isinstance(binding, ast.Assign | ast.AnnAssign) and binding.value is not None:
        marks.append(binding.value)
    return marks


# ---- parametrize ids, as pytest 9 makes them ------------------------------------------------

_UNKNOWN = object()


def _parametrize_ids(decorator: ast.expr, module: _Scope) -> list[str] | None:
    if not isinstance(decorator, ast.Call):
        return None
    arguments = {k.arg: k.value for k in decorator.keywords if k.arg}
    positional = list(decorator.args)
    names_node = positional[0] if positional else arguments.get("argnames")
    values_node = positional[1] if len(positional) > 1 else arguments.get("argvalues")
    ids_node = positional[2] if len(positional) > 2 else arguments.get("ids")
    names = _literal(names_node, module)
    if isinstance(names, str):
        argnames = [n.strip() for n in names.split(",") if n.strip()]
    elif isinstance(names, list | tuple) and all(isinstance(n, str) for n in names):
        argnames = list(names)
    else:
        return None
    cases = _cases(values_node, module, len(argnames))
    if not cases:
        return None  # computed at run time, or no cases at all (pytest then skips the test)
    given: list[object] | None = None
    if ids_node is not None:
        listed = _literal(ids_node, module)
        if not isinstance(listed, list | tuple):
            return None  # a function makes the ids
        given = list(listed)
    resolved = []
    for index, (values, case_id) in enumerate(cases):
        if case_id is not None:
            resolved.append(_escaped(case_id) if isinstance(case_id, str) else None)
        elif given is not None and index < len(given) and given[index] is not None:
            resolved.append(_value_id(given[index]))
        else:
            parts = [
                _auto_id(value, name, index) for value, name in zip(values, argnames, strict=False)
            ]
            resolved.append(None if None in parts else "-".join(parts))  # type: ignore[arg-type]
        if resolved[-1] is None:
            return None
    return _unique(resolved)  # type: ignore[arg-type]


def _cases(
    values_node: ast.expr | None, module: _Scope, width: int
) -> list[tuple[list[object], object]] | None:
    """Each case's values and its explicit id (``pytest.param(..., id=...)``), or None."""
    if isinstance(values_node, ast.Name):
        binding = module.names.get(values_node.id)
        if not isinstance(binding, ast.Assign) or len(binding.targets) != 1:
            return None
        values_node = binding.value
    if not isinstance(values_node, ast.List | ast.Tuple):
        return None
    cases: list[tuple[list[object], object]] = []
    for element in values_node.elts:
        if isinstance(element, ast.Call) and _dotted(element).split(".")[-1] == "param":
            values = [_literal(a, module) for a in element.args]
            case_id = None
            for keyword in element.keywords:
                if keyword.arg == "id":
                    case_id = _literal(keyword.value, module)
                    if case_id is _UNKNOWN:
                        return None
        else:
            value = _literal(element, module)
            if width == 1:
                values = [value]
            elif isinstance(value, list | tuple):
                values = list(value)
            elif isinstance(element, ast.Tuple | ast.List):
                values = [_literal(e, module) for e in element.elts]
            else:
                return None
            case_id = None
        if len(values) != width:
            return None
        cases.append((values, case_id))
    return cases


def _literal(node: ast.expr | None, module: _Scope) -> object:
    if node is None:
        return _UNKNOWN
    if isinstance(node, ast.Name) and node.id not in ("None", "True", "False"):
        binding = module.names.get(node.id)
        if isinstance(binding, ast.Assign) and len(binding.targets) == 1:
            node = binding.value
        else:
            return _UNKNOWN
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _UNKNOWN


def _escaped(text: str | bytes) -> str:
    if isinstance(text, bytes):
        return text.decode("ascii", "backslashreplace")
    return text.encode("unicode_escape").decode("ascii")


def _value_id(value: object) -> str | None:
    if isinstance(value, str | bytes):
        return _escaped(value)
    if value is None or isinstance(value, bool | int | float | complex):
        return str(value)
    return None


def _auto_id(value: object, argname: str, index: int) -> str | None:
    if value is _UNKNOWN:
        return None  # a name, a call: its id depends on what it is at run time
    if isinstance(value, str | bytes) and len(value) > LONG_STRING_ID:
        return f"{argname}{index}"
    text = _value_id(value)
    return f"{argname}{index}" if text is None else text


def _unique(ids: list[str]) -> list[str]:
    """pytest's suffixes for repeated ids: ``1_0``, ``1_1``; ``a0``, ``a1``."""
    counts = Counter(ids)
    if len(counts) == len(ids):
        return ids
    suffixes: dict[str, int] = defaultdict(int)
    unique = list(ids)
    for index, case_id in enumerate(ids):
        if counts[case_id] > 1:
            joint = "_" if case_id and case_id[-1].isdigit() else ""
            candidate = f"{case_id}{joint}{suffixes[case_id]}"
            while candidate in set(unique):
                suffixes[case_id] += 1
                candidate = f"{case_id}{joint}{suffixes[case_id]}"
            unique[index] = candidate
            suffixes[case_id] += 1
    return unique


def _listed(ids: list[str]) -> str:
    shown = ", ".join(f"[{case}]" for case in ids[:LISTED_CASES])
    return shown + (f" and {len(ids) - LISTED_CASES} more" if len(ids) > LISTED_CASES else "")


def _example(bare: str, ids: list[str] | None) -> str:
    if not ids:
        return f"{bare}[<id>] with the id `pytest --collect-only -q` prints"
    return f"e.g. {bare}[{ids[0]}] (its cases: {_listed(ids)})"

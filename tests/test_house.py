"""The house rules that keep the code easy to read: short functions, small files, nothing outside the repo."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "classicfy"
MAX_FUNCTION_LINES = 80
MAX_FILE_LINES = 450


def _sources() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_no_function_is_longer_than_80_lines():
    long = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, "split these into named steps: " + ", ".join(long)


def test_no_source_file_is_longer_than_450_lines():
    long = [
        f"{p.relative_to(SRC)} ({n})" for p in _sources() if (n := len(p.read_text().splitlines())) > MAX_FILE_LINES
    ]
    assert not long, "split these by job: " + ", ".join(long)


def test_neither_code_nor_tests_read_outside_the_repository():
    root = SRC.parents[1]
    beside = "sha" + "red"  # the folder beside the checkout, spelled so that this file does not match itself
    patterns = (f'"{beside}"', f"../{beside}")
    offenders = [
        str(path.relative_to(root))
        for folder in (root / "src", root / "tests")
        for path in folder.rglob("*.py")
        if any(pattern in path.read_text() for pattern in patterns)
    ]
    assert not offenders


def test_every_public_function_that_takes_a_path_takes_a_string_too():
    only_path = []
    for path in _sources():
        tree = ast.parse(path.read_text())
        outer = [*tree.body, *(n for c in tree.body if isinstance(c, ast.ClassDef) for n in c.body)]
        for node in outer:  # module functions and methods: a closure inside a function is no API
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                for arg in node.args.args + node.args.kwonlyargs:
                    if arg.annotation is not None and ast.unparse(arg.annotation) == "Path":
                        only_path.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name}({arg.arg})")
    assert not only_path, "annotate these `str | Path` and convert: " + ", ".join(only_path)


def test_the_type_stub_names_every_lazy_export():
    import classicfy

    stub = (SRC / "__init__.pyi").read_text()
    for name, module in classicfy._EXPORTS.items():
        assert f"from {module} import" in stub and f"{name} as {name}" in stub, name

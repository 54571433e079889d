"""The main window's attributes are all made while it is built: none appears later, and no other module sets one
(menus and tabs get what they need passed in, they do not write onto the window)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONSTRUCTION = ("__init__", "_build_ui")  # _build_ui lays the widgets out; only __init__ calls it


def window_class() -> ast.ClassDef:
    tree = ast.parse((ROOT / "viewer" / "main_window.py").read_text(encoding="utf-8"))
    return next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "MainWindow")


def assigned_on(node: ast.AST, owner: str) -> set[str]:
    """Attribute names assigned on the name ``owner`` inside ``node`` (``=``, ``: T =``, ``+=``, tuple targets,
    ``setattr(owner, "name", ...)``)."""
    names: set[str] = set()
    for child in ast.walk(node):
        targets: list[ast.expr] = []
        if isinstance(child, ast.Assign):
            targets = list(child.targets)
        elif isinstance(child, ast.AnnAssign | ast.AugAssign):
            targets = [child.target]
        elif (isinstance(child, ast.Call) and isinstance(child.func, ast.Name) and child.func.id == "setattr"
              and isinstance(child.args[0], ast.Name) and child.args[0].id == owner
              and isinstance(child.args[1], ast.Constant)):
            names.add(child.args[1].value)
        for target in targets:
            for leaf in ast.walk(target):
                if isinstance(leaf, ast.Attribute) and isinstance(leaf.value, ast.Name) and leaf.value.id == owner:
                    names.add(leaf.attr)
    return names


def test_every_window_attribute_is_made_while_the_window_is_built() -> None:
    methods = {node.name: node for node in window_class().body if isinstance(node, ast.FunctionDef)}
    built = set().union(*(assigned_on(methods[name], "self") for name in CONSTRUCTION))
    later = {f"{name}: {attribute}" for name, method in methods.items() if name not in CONSTRUCTION
             for attribute in assigned_on(method, "self") - built}
    assert not later, f"attributes first made after construction (declare them in __init__): {sorted(later)}"
    callers = {name for name, method in methods.items() for call in ast.walk(method)
               if isinstance(call, ast.Attribute) and call.attr == "_build_ui"}
    assert callers == {"__init__"}


def test_no_other_module_writes_onto_the_window() -> None:
    writers = [f"{path.relative_to(ROOT)}: {sorted(names)}" for path in sorted((ROOT / "viewer").rglob("*.py"))
               if (names := assigned_on(ast.parse(path.read_text(encoding="utf-8")), "window"))]
    assert not writers, f"modules that set attributes on a window: {writers}"

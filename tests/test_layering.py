"""The package's import graph: stages import in one direction (no circle between subpackages) and no internal
import is hidden inside a function, except the optional MJX backend (mujoco-mjx is heavy; C MuJoCo serves CPU)."""
import ast
import pathlib

import dexvlg_jax

ROOT = pathlib.Path(dexvlg_jax.__file__).parent
ALLOWED_LATE_IMPORTS = {("sim/__init__.py", "dexvlg_jax.sim.mjx_backend")}


def _imports():
    """(file relative to the package, importing unit, imported module names, at module level) per internal import
    statement (`from a.b import c` names both a.b and a.b.c)."""
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        unit = rel.split("/")[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            names = tuple(n for n in names if n.startswith("dexvlg_jax."))
            if names:
                yield rel, unit, names, node.col_offset == 0


def _unit(module: str) -> str:
    return module.split(".")[1]


def test_subpackages_import_in_one_direction():
    edges: dict[str, set[str]] = {}
    for _, unit, names, _ in _imports():
        for name in names:
            if _unit(name) != unit and ((ROOT / _unit(name)).exists() or (ROOT / f"{_unit(name)}.py").exists()):
                edges.setdefault(unit, set()).add(_unit(name))

    def reachable(start):
        seen, todo = set(), [start]
        while todo:
            for nxt in edges.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    circles = sorted(u for u in edges if u in reachable(u))
    assert not circles, f"subpackages in an import circle: {circles} (edges {edges})"
    assert "eval" not in reachable("data") | reachable("sim") | reachable("models") | reachable("viz")


def test_no_internal_import_hidden_in_a_function():
    late = [(rel, names) for rel, _, names, top in _imports() if not top]
    hidden = [(rel, names) for rel, names in late if not any((rel, n) in ALLOWED_LATE_IMPORTS for n in names)]
    assert not hidden, hidden

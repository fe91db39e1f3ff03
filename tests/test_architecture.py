"""The shape of the code (docs/architecture.md): layers that import only downwards, no
import circle, imports at the top except for heavy or optional dependencies (each with a
comment saying why), argparse and rich only in the command line, modules a newcomer can
read in one sitting.

The import graph is read from the source (AST), so the test sees imports inside
functions as well as at the top, and needs nothing imported to run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SIM = Path(__file__).resolve().parent.parent / "sim"

#: the layers, lowest first; a module may import its own layer and those below it
LAYERS: tuple[tuple[str, ...], ...] = (
    ("sim.errors", "sim.files", "sim.i18n"),
    ("sim.analytic",),
    ("sim.model",),
    ("sim.reforms",),
    # the record types the engines write (RepResult, visit kinds) and the tables made of
    # them sit with the inputs, below the engines: both are the engines' contract
    ("sim.inputs", "sim.streams", "sim.arrivals", "sim.results.records",
     "sim.results.stages"),
    ("sim.engines",),
    ("sim.results",),
    ("sim.logs",),
    ("sim.calibrate",),
    ("sim.present",),
    ("sim.experiments",),
    ("sim.api",),
    ("sim.serve",),
    ("sim.cli",),
    ("sim", "sim.__main__"),
)
#: imports only the command line may make
CLI_ONLY = ("argparse", "rich")
#: what may be imported inside a function: heavy or optional dependencies
LAZY_OK = ("matplotlib", "distributed", "dask", "sim.present", "sim.engines.des",
           "sim.engines.vector", "simpy", "numba", "pyarrow", "scipy.stats",
           "log_distance_measures",
           # govsim serve's web stack (the serve extra): uvicorn, and sim.serve, which
           # imports starlette and jinja2; the other commands never load them
           "uvicorn", "sim.serve",
           # the installed version, read only when --version or sim.__version__ asks
           # (importlib.metadata costs every process ~20 ms at import)
           "importlib.metadata")
MAX_LINES = 500
#: modules allowed past MAX_LINES, and why
LONG_OK: dict[str, str] = {
    "sim.engines.vector.loop": "the compiled event loop is one numba function; split, it "
                               "would cost speed (docs/performance.md)",
    "sim.engines.vector.feedforward": "the compiled station-by-station pass and its plan "
                                      "(533 lines; kernel code left as it is)",
    "sim.engines.des": "the reference engine reads like docs/model.md in one module; with "
                       "review sessions (#14 item 5) it passed 500 lines",
}


@dataclass(frozen=True)
class Import:
    source: str        # the importing module
    target: str        # what it imports (a sim module, or a top-level package name)
    line: int
    in_function: bool
    type_only: bool    # under ``if TYPE_CHECKING:``
    commented: bool    # a comment on its line or the line above


def module_name(path: Path, root: Path = SIM) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path = SIM) -> dict[str, Path]:
    return {module_name(p, root): p for p in sorted(root.rglob("*.py"))}


def _resolve(node: ast.ImportFrom, name: str, is_pkg: bool) -> str:
    if not node.level:
        return node.module or ""
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imports(root: Path = SIM) -> Iterator[Import]:
    """Every import statement of every module under ``root``."""
    mods = modules(root)
    for name, path in mods.items():
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        tree = ast.parse(text)
        parents: dict[ast.AST, ast.AST] = {}
        for parent in ast.walk(tree):
            for child in ast.iter_child_nodes(parent):
                parents[child] = parent
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            in_function = type_only = False
            up: ast.AST | None = parents.get(node)
            while up is not None:
                if isinstance(up, ast.FunctionDef | ast.AsyncFunctionDef):
                    in_function = True
                if isinstance(up, ast.If) and "TYPE_CHECKING" in ast.unparse(up.test):
                    type_only = True
                up = parents.get(up)
            lo = node.lineno - 1
            commented = "#" in lines[lo] or (lo > 0 and lines[lo - 1].strip().startswith("#"))
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                mod = _resolve(node, name, path.name == "__init__.py")
                # ``from sim import reforms`` imports the module sim.reforms
                subs = [f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in mods]
                targets = subs or [mod]
            for t in targets:
                if t.split(".")[0] == "sim" and t not in mods:
                    t = max((m for m in mods if t.startswith(m + ".")), key=len, default=t)
                yield Import(name, t, node.lineno, in_function, type_only, commented)


def layer_of(module: str) -> int:
    best, found = -1, -1
    for k, prefixes in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best:
                best, found = len(p), k
    return found


def graph(root: Path = SIM) -> dict[str, set[str]]:
    """Module -> the sim modules it imports when it runs (type-only imports left out)."""
    g: dict[str, set[str]] = {m: set() for m in modules(root)}
    for imp in imports(root):
        if imp.target in g and imp.target != imp.source and not imp.type_only:
            g[imp.source].add(imp.target)
    return g


def circles(g: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def _is_own_package_init(imp: Import) -> bool:
    # a package's __init__ gathering its own submodules is not an upward import
    return imp.target.startswith(imp.source + ".")


# ---------------------------------------------------------------------------------- tests


def test_every_module_is_in_a_layer() -> None:
    assert not [m for m in modules() if layer_of(m) < 0]


def test_no_import_circle() -> None:
    assert circles(graph()) == []


def test_no_upward_import() -> None:
    bad = [f"{i.source}:{i.line} imports {i.target}" for i in imports()
           if i.target in modules() and not _is_own_package_init(i)
           and layer_of(i.target) > layer_of(i.source)]
    assert not bad, "\n".join(bad)


def test_imports_inside_functions_are_for_heavy_or_optional_dependencies() -> None:
    bad = [f"{i.source}:{i.line} imports {i.target}" for i in imports() if i.in_function
           and not (i.target.startswith(LAZY_OK) and i.commented)]
    assert not bad, ("imports inside functions only for heavy or optional dependencies, "
                     "each with a comment saying which:\n" + "\n".join(bad))


def test_only_the_command_line_imports_argparse_and_rich() -> None:
    bad = [f"{i.source}:{i.line} imports {i.target}" for i in imports()
           if i.target.split(".")[0] in CLI_ONLY and layer_of(i.source) < layer_of("sim.cli")]
    assert not bad, "\n".join(bad)


def test_modules_are_short() -> None:
    long = {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in modules().items()}
    bad = {m: n for m, n in long.items() if n > MAX_LINES and m not in LONG_OK}
    assert not bad, f"modules over {MAX_LINES} lines: {bad}"


def test_the_checks_see_what_they_forbid(tmp_path: Path) -> None:
    """The graph test fails on a circle, an upward import and an unexplained lazy one."""
    pkg = tmp_path / "sim"
    (pkg / "model").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "errors.py").write_text("import sim.model.a\n")
    (pkg / "model" / "__init__.py").write_text("")
    (pkg / "model" / "a.py").write_text("from sim.model import b\n")
    (pkg / "model" / "b.py").write_text(
        "def f():\n    from sim.model.a import x\n    import matplotlib  # drawing\n")
    g = graph(pkg)
    assert circles(g) == [["sim.model.a", "sim.model.b"]]
    found = list(imports(pkg))
    up = [i for i in found if i.source == "sim.errors"]
    assert up and layer_of(up[0].target) > layer_of(up[0].source)
    lazy = {i.target: i.commented for i in found if i.in_function}
    assert lazy == {"sim.model.a": False, "matplotlib": True}


@pytest.mark.parametrize("name", ["sim.load", "sim.run", "sim.compare", "sim.sweep",
                                  "sim.staff", "sim.plots", "sim.cli.main"])
def test_public_names_are_kept(name: str) -> None:
    import importlib

    module, _, attr = name.rpartition(".")
    assert callable(getattr(importlib.import_module(module), attr)) or attr == "plots"
    if attr == "plots":
        import sim

        assert hasattr(sim.plots, "lead_time_cdf")
    from sim.engines import vector

    assert callable(vector.simulate)

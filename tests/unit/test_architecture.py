"""The shape of the code, as the layout promises it (the import contracts are in pyproject.toml).

The public API for engine authors is ``lifecycle``'s ``__all__``, pinned here: a change to it is a
change to what third-party engines may rely on, and must be made on purpose. The other checks keep
the tree readable: no import cycles, no imports hidden inside functions, no facade imports from
inside the package, and no module so long that it hides its design.
"""

from __future__ import annotations

import ast
from pathlib import Path

import lifecycle

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = [p for pkg in ("lifecycle", "engines") for p in sorted((ROOT / pkg).rglob("*.py"))
           if "standin" not in p.parts]  # the stand-in CLIs are a program of their own, standard library only
MAX_LINES = 400

PUBLIC_API = [
    "REDACTED", "redact",
    # data operations: the models engines build Jobs for, and the optional contract
    "JOB", "TOOL_POD_ANNOTATION", "DataBackup", "DataLoad", "DataMigrate", "DataProcess", "Operation",
    "OperationWork", "Unsupported", "job_manifest", "job_state",
    "APIGatewayStatus", "ApiError", "Background", "BuildImplement", "CONFIG_MAP", "CREATED_BY", "CleanCachePolicy",
    "ComponentPhase", "Condition", "Conflict", "DAEMON_SET", "DATASET", "DATASET_ID_LABEL", "DATASET_LABEL",
    "DATASET_NUM_LABEL", "DEFAULT_PORT_RANGE", "Dataset", "DatasetSpec", "DatasetStatus", "ENTRY_POINT_GROUP",
    "EXCLUSIVE_LABEL", "EncryptOption", "EngineContext", "ExecResult", "FINISHED_POD_PHASES", "FieldError",
    "Forbidden", "FuseSpec", "Gateway", "HCFSStatus", "IMPLEMENT_HOOKS", "Implement", "ImplementBase", "Invalid",
    "InvalidSpec", "KEY_ANNOTATION", "Level", "MANAGED_BY_LABEL", "MANAGER", "Mount", "NETWORK_MODES", "NODE",
    "NotFound", "OWNER_LABEL", "Obj", "ObjectInTheWay", "ObjectMeta", "Objs", "Owner", "PLACEMENT_LABEL", "POD", "PV",
    "PVC", "ParseError", "PodMetadata", "Registry", "Resource", "Runtime", "RuntimeInfo", "RuntimeKind",
    "RuntimeSpec", "RuntimeStatus", "SECRET", "SERVICE", "SHORT_LANE", "STATEFUL_SET", "SecretKeySelector",
    "TieredStore",
    "UnknownRuntimeKind", "User", "VersionSpec", "Volume", "VolumeInUse", "VolumeRef", "capacity_label", "clone",
    "common_label", "component_phase", "create_volume", "dataset_id", "delete_volume", "entry_point",
    "exclusive_value", "extra_field", "field", "find_condition", "find_volume", "format_bytes", "format_ratio",
    "from_json", "fuse_label", "is_ours", "marked", "marker", "owner_reference", "parse_port_range", "parse_quantity",
    "parse_tool_size", "pods_using_claim", "pv_name", "pvc_name", "recorded_key", "reference_key", "runtime_label",
    "runtime_ready", "scheme_of", "set_condition", "shortened", "to_json", "version_of", "workload_name",
]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[ast.stmt, str]]:
    """Every import statement of a module with the module it names (``from . import`` resolved)."""
    tree = ast.parse(path.read_text())
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found: list[tuple[ast.stmt, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.append((node, base))
            found += [(node, f"{base}.{a.name}") for a in node.names]
    return found


def test_the_public_api_is_pinned() -> None:
    assert sorted(lifecycle.__all__) == sorted(PUBLIC_API), "a change of lifecycle.__all__ changes the engine API"
    for name in lifecycle.__all__:
        assert getattr(lifecycle, name, None) is not None, name


def test_engines_need_nothing_but_the_public_api() -> None:
    for path in (ROOT / "engines").rglob("*.py"):
        for node, target in imports(path):
            if target.startswith("lifecycle.") and isinstance(node, ast.ImportFrom) and node.module != "lifecycle":
                raise AssertionError(f"{path.relative_to(ROOT)}:{node.lineno} imports {node.module}")


def test_modules_inside_lifecycle_never_import_its_facade() -> None:
    for path in (ROOT / "lifecycle").rglob("*.py"):
        if path == ROOT / "lifecycle" / "__init__.py":
            continue
        for node, _target in imports(path):
            assert not (isinstance(node, ast.ImportFrom) and node.module == "lifecycle" and not node.level), \
                f"{path.relative_to(ROOT)}:{node.lineno} imports the facade; import the module that defines it"


def test_no_module_imports_inside_a_function() -> None:
    for path in PRODUCT:
        tree = ast.parse(path.read_text())
        for func in ast.walk(tree):
            if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                for node in ast.walk(func):
                    assert not isinstance(node, ast.Import | ast.ImportFrom), \
                        f"{path.relative_to(ROOT)}:{node.lineno} imports inside {func.name}()"


def test_there_are_no_import_cycles() -> None:
    known = {module_name(p): p for p in PRODUCT}
    graph = {name: sorted({t for _, t in imports(path) if t in known and t != name}) for name, path in known.items()}
    # Tarjan's strongly connected components: a component of more than one module is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for succ in graph[node]:
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for name in graph:
        if name not in index:
            visit(name)
    # A package's __init__ importing its own modules is how a package exports; that is no cycle.
    real = [c for c in cycles if not all(m == c[0] or m.startswith(c[0] + ".") for m in c)]
    assert real == [], f"import cycles: {real}"


def test_no_module_hides_its_design_in_length() -> None:
    long = {str(p.relative_to(ROOT)): n for p in PRODUCT if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}, f"split these by concern (at most {MAX_LINES} lines): {long}"

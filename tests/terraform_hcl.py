"""A reader of our Terraform for the checks that need no cloud: what each module declares and
what its expressions refer to, parsed with python-hcl2."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2

META = {"__is_block__", "__comments__", "__inline_comments__", "__start_line__", "__end_line__"}
MODULE_META = {"source", "version", "count", "for_each", "providers", "depends_on"}
BLOCK_KINDS = ("resource", "data", "variable", "output", "module", "locals")

REF_PATTERNS = {
    "var": re.compile(r"(?<![\w.])var\.(\w+)"),
    "local": re.compile(r"(?<![\w.])local\.(\w+)"),
    "module": re.compile(r"(?<![\w.])module\.(\w+)(?:\.(\w+))?"),
    "data": re.compile(r"(?<![\w.])data\.(\w+)\.(\w+)"),
    "resource": re.compile(r"(?<![\w.])((?:azurerm|azapi|fabric|terraform)_\w+)\.(\w+)"),
}


def unquote(text: Any) -> Any:
    """``'"name"'`` -> ``'name'``; anything else unchanged."""
    if isinstance(text, str) and len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    return text


def plain(value: Any) -> Any:
    """A parsed value without parser bookkeeping, with string literals unquoted."""
    if isinstance(value, dict):
        return {unquote(k): plain(v) for k, v in value.items() if k not in META}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return unquote(value)


def strings(value: Any) -> list[str]:
    """Every string inside a parsed value (comments left out)."""
    if isinstance(value, dict):
        return [s for k, v in value.items() if k not in META for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return [value] if isinstance(value, str) else []


@dataclass
class Module:
    """The blocks of one Terraform module folder."""

    path: Path
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)  # "type.name" -> body
    data: dict[str, dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    duplicates: list[str] = field(default_factory=list)
    bodies: list[Any] = field(default_factory=list)  # every parsed file

    @property
    def children(self) -> dict[str, Module]:
        return {
            name: read_module(self.path / plain(call)["source"])
            for name, call in self.modules.items()
        }


def read_module(path: Path) -> Module:
    """Parse every ``*.tf`` file of the folder ``path`` (raises on a syntax error)."""
    module = Module(path.resolve())
    seen: Counter[str] = Counter()
    for file in sorted(path.glob("*.tf")):
        with file.open(encoding="utf-8") as handle:
            parsed = hcl2.load(handle)
        module.bodies.append(parsed)
        for kind in BLOCK_KINDS:
            for block in parsed.get(kind, []):
                _add(module, kind, block, seen)
    module.duplicates = sorted(address for address, n in seen.items() if n > 1)
    return module


def _add(module: Module, kind: str, block: dict[str, Any], seen: Counter[str]) -> None:
    if kind == "locals":
        for name, value in block.items():
            if name not in META:
                seen[f"local.{name}"] += 1
                module.locals[name] = value
        return
    for label, body in block.items():
        if kind in ("resource", "data"):
            for name, inner in body.items():
                address = f"{unquote(label)}.{unquote(name)}"
                seen[f"{kind}.{address}"] += 1
                (module.resources if kind == "resource" else module.data)[address] = inner
        else:
            seen[f"{kind}.{unquote(label)}"] += 1
            getattr(module, {"variable": "variables", "output": "outputs"}.get(kind, "modules"))[
                unquote(label)
            ] = body


def undeclared_references(module: Module) -> list[str]:
    """References to variables, locals, resources, data sources, modules or module outputs
    that the module does not declare; and module calls whose arguments do not match."""
    problems = []
    children = module.children
    texts = [s for body in module.bodies for s in strings(body)]
    for text in texts:
        for name in REF_PATTERNS["var"].findall(text):
            if name not in module.variables:
                problems.append(f"var.{name}")
        for name in REF_PATTERNS["local"].findall(text):
            if name not in module.locals:
                problems.append(f"local.{name}")
        for kind, name in REF_PATTERNS["data"].findall(text):
            if f"{kind}.{name}" not in module.data:
                problems.append(f"data.{kind}.{name}")
        for kind, name in REF_PATTERNS["resource"].findall(text):
            if f"{kind}.{name}" not in module.resources:
                problems.append(f"{kind}.{name}")
        for name, output in REF_PATTERNS["module"].findall(text):
            if name not in children:
                problems.append(f"module.{name}")
            elif output and output not in children[name].outputs:
                problems.append(f"module.{name}.{output}")
    for name, call in module.modules.items():
        child = children[name]
        given = set(plain(call)) - MODULE_META
        required = {v for v, body in child.variables.items() if "default" not in body}
        problems += [
            f"module.{name}: unknown argument {a}" for a in sorted(given - set(child.variables))
        ]
        problems += [f"module.{name}: missing argument {a}" for a in sorted(required - given)]
    return sorted(set(problems))


def all_modules(root: Path) -> list[Module]:
    """The root module and, recursively, every module it calls."""
    found: dict[Path, Module] = {}
    todo = [read_module(root)]
    while todo:
        module = todo.pop()
        if module.path not in found:
            found[module.path] = module
            todo.extend(module.children.values())
    return list(found.values())


def read_tfvars(path: Path) -> dict[str, Any]:
    """A ``.tfvars`` (or ``.tfvars.example``) file as plain values."""
    with path.open(encoding="utf-8") as handle:
        return plain(hcl2.load(handle))

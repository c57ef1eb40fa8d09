"""Every dict in a model config, with its path, bounded: each rule sees each node once."""

from __future__ import annotations

from typing import Any, Iterator

from bot.analysis.security.config_rules import RULES
from bot.report import SecurityFinding

# A real config has a few thousand dicts (a 100-layer Functional: ~6,000 measured on the fixtures); a
# config that is deeper or larger is itself suspicious and is reported, never walked without end.
MAX_NODES = 500_000
MAX_DEPTH = 400


def nodes(config: Any, root: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, dict) for every dict in `config`, paths like `config.layers[3].config`."""
    stack: list[tuple[str, Any, int]] = [(root, config, 0)]
    seen = 0
    while stack:
        path, node, depth = stack.pop()
        seen += 1
        if seen > MAX_NODES or depth > MAX_DEPTH:
            raise ConfigTooLarge(path)
        if isinstance(node, dict):
            yield path, node
            items = list(node.items())
            for k, v in reversed(items):
                if isinstance(v, (dict, list)):
                    stack.append((f"{path}.{k}" if path else str(k), v, depth + 1))
        elif isinstance(node, list):
            for i in range(len(node) - 1, -1, -1):
                if isinstance(node[i], (dict, list)):
                    stack.append((f"{path}[{i}]", node[i], depth + 1))


class ConfigTooLarge(Exception):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def config_findings(config: Any) -> list[SecurityFinding]:
    """All rule findings in a model config (the root of config.json or an H5 `model_config`)."""
    out: list[SecurityFinding] = []
    try:
        for path, node in nodes(config):
            for rule in RULES:
                out.extend(rule(node, path or "(root)"))
    except ConfigTooLarge as exc:
        out.append(SecurityFinding("config-too-large", [], exc.path,
                                   f"The config is deeper than {MAX_DEPTH} levels or holds more than "
                                   f"{MAX_NODES:,} objects; I stopped checking it there.", []))
    return out


def custom_object_findings(custom_objects: list[Any]) -> list[SecurityFinding]:
    """Custom classes the config walk found without a `module` (Keras 2 / legacy `.h5` `Pkg>Class` names)."""
    return [SecurityFinding("custom-class", [], f"layer {o.path}",
                            f"Custom {o.kind} class `{o.registered_name or o.class_name}`: loading needs its "
                            "code, which runs with your permissions. Trust it only if you know where it comes "
                            "from.", []) for o in custom_objects]

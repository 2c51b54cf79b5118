"""Every third-party package the code imports is declared in setup.cfg (issue 12)."""

from __future__ import annotations

import ast
import configparser
import re
import sys
from importlib.metadata import packages_distributions

from community.config import PROJECT_ROOT


def declared() -> set[str]:
    config = configparser.ConfigParser()
    config.read(PROJECT_ROOT / "setup.cfg")
    lines = config["options"]["install_requires"].splitlines()
    names = {re.split(r"[\[<>=!~ ]", line.strip(), maxsplit=1)[0] for line in lines
             if line.strip() and not line.strip().startswith("#")}
    return {name.lower().replace("_", "-") for name in names}


def imported_top_level() -> set[str]:
    names = set()
    for path in list((PROJECT_ROOT / "community").rglob("*.py")) + [PROJECT_ROOT / "wsgi.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.partition(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.partition(".")[0])
    return names - set(sys.stdlib_module_names) - {"community", "__future__"}


def test_every_imported_package_is_declared():
    distributions = packages_distributions()
    wanted = declared()
    missing = []
    for module in sorted(imported_top_level()):
        owners = {name.lower().replace("_", "-") for name in distributions.get(module, [])}
        if not owners & wanted:
            missing.append(f"{module} (from {', '.join(sorted(owners)) or 'nowhere'})")
    assert not missing, "imported but not in install_requires: " + "; ".join(missing)


def test_gunicorn_is_at_least_23_and_zone_data_is_declared():
    config = (PROJECT_ROOT / "setup.cfg").read_text(encoding="utf-8")
    assert re.search(r"^\s*gunicorn>=2[3-9]", config, re.MULTILINE)
    assert "tzdata" in declared()

"""Build hook: a wheel carries the top-level templates/, translations/ (with
compiled catalogues) and migrations/ as ``community/_data``, so an installed
Harbour finds them without the checkout (community/config.py looks there).

Editable installs skip the copy: they use the checkout's folders directly.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
DATA_FOLDERS = ("templates", "translations", "migrations")


def compile_catalogues(translations: Path) -> None:
    """messages.po -> messages.mo beside it (the .mo files are not committed)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po_path in translations.glob("*/LC_MESSAGES/*.po"):
        with po_path.open("rb") as po_file:
            catalogue = read_po(po_file)
        with po_path.with_suffix(".mo").open("wb") as mo_file:
            write_mo(mo_file, catalogue)


class BuildWithData(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "community" / "_data"
        for name in DATA_FOLDERS:
            destination = target / name
            if destination.exists():
                shutil.rmtree(destination)
            shutil.copytree(ROOT / name, destination,
                            ignore=shutil.ignore_patterns("__pycache__", "*.py[co]", "*.mo"))
        compile_catalogues(target / "translations")


setup(cmdclass={"build_py": BuildWithData})

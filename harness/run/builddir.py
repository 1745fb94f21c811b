"""Which CMake build folder the driver uses for {build}.

`--build DIR` names it. Left at its default (`build`), the driver also
knows the folders of the CMake presets (CMakePresets.json: `default` ->
build/, `dev` -> build-dev/, `ci` -> build-ci/): when build/ holds no
configured build but a preset's folder does, that one is used, and the
driver says so. Either way, a missing build is reported with every folder
it looked in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

DEFAULT = "build"
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Choice:
    path: Path
    note: str | None  # what to tell the user (a fallback or nothing found), or None


def preset_dirs(root: Path = ROOT) -> list[tuple[str, Path]]:
    """(preset name, binary folder) of CMakePresets.json's configure presets,
    in file order; [] without the file."""
    try:
        data = json.loads((root / "CMakePresets.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    out = []
    for p in data.get("configurePresets", []):
        d = p.get("binaryDir")
        if isinstance(d, str) and p.get("name"):
            out.append((p["name"], Path(d.replace("${sourceDir}", str(root)))))
    return out


def _configured(d: Path) -> bool:
    return (d / "CMakeCache.txt").is_file()


def resolve(arg: str | None, root: Path = ROOT, cwd: Path | None = None) -> Choice:
    """The build folder for --build arg (None or DEFAULT: the default)."""
    cwd = cwd or Path.cwd()
    given = Path(arg or DEFAULT)
    path = given if given.is_absolute() else cwd / given
    if arg not in (None, DEFAULT) or _configured(path):
        return Choice(path, None)
    found = [(name, d) for name, d in preset_dirs(root) if _configured(d) and d != path]
    looked = ", ".join(dict.fromkeys([str(path)] + [str(d) for _, d in preset_dirs(root)]))
    if found:
        name, d = max(found, key=lambda nd: (nd[1] / "CMakeCache.txt").stat().st_mtime)
        return Choice(d, f"using {d} (CMake preset {name!r}): {path} holds no build "
                         f"(looked in {looked}; --build DIR chooses)")
    return Choice(path, f"no CMake build found (looked in {looked}): build first with "
                        f"`cmake --preset default && cmake --build --preset default`, or "
                        f"name one with --build DIR")

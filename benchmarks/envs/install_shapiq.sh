#!/usr/bin/env bash
# Install shapiq (default 1.6.0, which declares Python >= 3.12) into the *benchmark* venv on 3.11.
#
#   source /work/venv-bench/bin/activate
#   bash benchmarks/envs/install_shapiq.sh [VERSION] [GIT_DIR]
#
# Source: the sdist from PyPI (`pip download --no-binary shapiq --ignore-requires-python`; not
# `--no-binary :all:`, which builds numpy, cmake, ... from source as well), or, when GIT_DIR (a
# bare clone of mmschlk/shapiq) is given, `git archive v$VERSION` of it.
#
# Respelling, done on the unpacked source only (never copied into fastspex):
#   - pyproject.toml: requires-python ">=3.12" -> ">=3.11";
#   - PEP 695 aliases `type X = ...` -> `X = ...` (all are Literal/Union aliases used in
#     annotations, which these modules evaluate lazily);
#   - `from typing import ..., override` -> the name dropped from the import and
#     `override = getattr(typing, "override", lambda f: f)` added (a decorator that only marks);
#   - src/shapiq_benchmark (shapiq's own benchmark suite, PEP 695 generic classes) is not installed:
#     nothing here uses it.
# Then every remaining file must byte-compile under the running interpreter, else the script stops.
# Fallback if a version cannot be made to work: `pip install shapiq==1.4.1` (declares 3.11).
set -euo pipefail
VERSION="${1:-1.6.0}"
GIT_DIR="${2:-}"
PY="${PYTHON:-python}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/src"
if [[ -n "$GIT_DIR" ]]; then
    # only the package (the repo's data/ folder holds LFS objects a mirror may lack)
    git --git-dir="$GIT_DIR" archive "v$VERSION" pyproject.toml setup.py src README.md LICENSE MANIFEST.in \
        2>/dev/null | tar -x -C "$WORK/src" || true
else
    "$PY" -m pip download -q "shapiq==$VERSION" --no-deps --no-binary shapiq \
        --ignore-requires-python -d "$WORK/dl"
    tar -xzf "$WORK"/dl/shapiq-*.tar.gz -C "$WORK/src" --strip-components=1
fi
cd "$WORK/src"
"$PY" - <<'PYEOF'
import pathlib, re, shutil

root = pathlib.Path(".")
pp = root / "pyproject.toml"
text = pp.read_text()
new = re.sub(r'requires-python = ">=3\.1[2-9]"', 'requires-python = ">=3.11"', text)
assert new != text or 'requires-python = ">=3.11"' in text, "requires-python line not found"
pp.write_text(new)
shutil.rmtree(root / "src" / "shapiq_benchmark", ignore_errors=True)

changed = []
for path in sorted((root / "src").rglob("*.py")):
    src = path.read_text()
    out = re.sub(r"(?m)^(\s*)type ([A-Za-z_]\w*) = ", r"\1\2 = ", src)
    def drop_override(m: re.Match) -> str:
        names = [s.strip() for s in m.group(2).split(",") if s.strip() and s.strip() != "override"]
        line = f"{m.group(1)}from typing import {', '.join(names)}\n" if names else ""
        return line + f'{m.group(1)}override = getattr(__import__("typing"), "override", lambda f: f)\n'
    out = re.sub(r"(?m)^(\s*)from typing import ([^()\n]*\boverride\b[^()\n]*)\n", drop_override, out)
    if out != src:
        path.write_text(out)
        changed.append(str(path))
print(f"respelled {len(changed)} files:", *changed, sep="\n  ")
PYEOF
if grep -rnE '^\s*(async )?def [A-Za-z_]\w*\[|^\s*class [A-Za-z_]\w*\[|itertools\.batched|import[^#]*\bbatched\b' src; then
    echo "3.12-only constructs above: add their respelling to this script" >&2
    exit 1
fi
"$PY" -m compileall -q src >/dev/null || { echo "a file does not compile under $("$PY" -V)" >&2; exit 1; }

# setuptools_scm needs a version when there is no git metadata
SETUPTOOLS_SCM_PRETEND_VERSION="$VERSION" SETUPTOOLS_SCM_PRETEND_VERSION_FOR_SHAPIQ="$VERSION" \
    "$PY" -m pip install -q .
cd /
"$PY" -c "import shapiq, sys; print('shapiq', shapiq.__version__, 'on Python', sys.version.split()[0])"

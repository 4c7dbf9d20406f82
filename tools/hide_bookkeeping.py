"""Keep glue bookkeeping out of the code a reader reads on the site.

    python tools/hide_bookkeeping.py [NOTEBOOK ...]      # default: every notebook in book/

A page states its measured numbers through myst-nb's ``glue``; the calls that store them
are bookkeeping, not the idea. This tool moves the glue calls that end a code cell into a
cell of their own, right after it, tagged ``remove-cell`` (the site shows neither its code
nor output; a live kernel still runs it), and tags cells that hold nothing but glue calls
the same way. Glue calls in the middle of a cell or inside a loop are left where they are.
``tests/test_notebooks.py`` checks that no shown cell ends in glue calls.
"""
from __future__ import annotations

import ast
import pathlib
import sys

import nbformat

ROOT = pathlib.Path(__file__).resolve().parents[1]
TAG = "remove-cell"


def is_glue(stmt: ast.stmt) -> bool:
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
            and isinstance(stmt.value.func, ast.Name) and stmt.value.func.id == "glue")


def trailing_glue_line(source: str) -> int | None:
    """The first line (0-based) of the glue calls that end ``source``, if any."""
    try:
        body = ast.parse(source).body
    except SyntaxError:                 # IPython magics: leave such a cell alone
        return None
    k = len(body)
    while k > 0 and is_glue(body[k - 1]):
        k -= 1
    if k == len(body):
        return None
    first = body[k]
    line = first.lineno - 1
    # comments right above the first glue call belong to it
    lines = source.splitlines()
    while line > 0 and lines[line - 1].lstrip().startswith("#"):
        line -= 1
    return line


def displays_a_value(source: str) -> bool:
    """Whether the cell's last statement is an expression whose value Jupyter would show."""
    body = ast.parse(source).body
    if not body or not isinstance(body[-1], ast.Expr):
        return False
    value = body[-1].value
    quiet = {"print", "display", "show", "glue"}
    if isinstance(value, ast.Call):
        f = value.func
        name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
        return name not in quiet
    return True


def shown(cell) -> bool:
    return cell.cell_type == "code" and not {TAG, "remove-input"} & set(cell.metadata.get("tags", []))


def fix(nb) -> int:
    changed = 0
    cells = []
    for cell in nb.cells:
        cells.append(cell)
        if not shown(cell):
            continue
        line = trailing_glue_line(cell.source)
        if line is None:
            continue
        lines = cell.source.splitlines()
        head, tail = "\n".join(lines[:line]).rstrip(), "\n".join(lines[line:]).strip()
        if not head.strip() or all(l.strip().startswith(("#", "from myst_nb", "import"))
                                   or not l.strip() for l in head.splitlines()):
            cell.metadata.setdefault("tags", []).append(TAG)     # nothing but bookkeeping
        elif displays_a_value(head):
            continue        # moving the glue away would make the cell print that value
        else:
            cell.source = head
            extra = nbformat.v4.new_code_cell(tail, metadata={"tags": [TAG]})
            cells.append(extra)
        changed += 1
    nb.cells = cells
    return changed


def main(paths: list[str]) -> int:
    notebooks = ([pathlib.Path(p) for p in paths] if paths
                 else sorted((ROOT / "book").rglob("*.ipynb")))
    for path in notebooks:
        if ".ipynb_checkpoints" in path.parts:
            continue
        nb = nbformat.read(path, as_version=4)
        n = fix(nb)
        if n:
            nbformat.validator.normalize(nb)
            nbformat.write(nb, path)
            print(f"{path.relative_to(ROOT)}: {n} cell(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

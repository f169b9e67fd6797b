"""No import circle between two files of vestis, type-only imports included (`make lint`).

`lint-imports` (pyproject.toml) checks the layers and circles between the files and folders of
one folder; this adds the circles it does not look at, between a package's `__init__` and a
module inside it. Every import `a -> b` with a way back from `b` to `a` is a circle. Exits 1 and
prints each circle once, as the files it runs through."""

from __future__ import annotations

import sys

import grimp


def circles(graph: grimp.ImportGraph) -> list[tuple[str, ...]]:
    found: dict[frozenset[str], tuple[str, ...]] = {}
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back and frozenset(back) not in found:
                found[frozenset(back)] = (importer, *back)
    return list(found.values())


def main() -> int:
    found = circles(grimp.build_graph("vestis", cache_dir=None))
    for circle in found:
        print("import circle: " + " -> ".join(circle))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

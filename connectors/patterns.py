"""Inclusion / exclusion glob patterns of a data source (Kendra's ``inclusionPatterns`` and
``exclusionPatterns``): an item is taken when it matches an inclusion pattern (or there are none)
and no exclusion pattern. ``*`` does not cross ``/``; ``**`` does."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


@lru_cache(maxsize=256)
def _compile(glob: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return re.compile("".join(out))


@dataclass(frozen=True, slots=True)
class Patterns:
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def allows(self, path: str) -> bool:
        def hit(globs: tuple[str, ...]) -> bool:
            return any(_compile(g).fullmatch(path) or _compile(g).fullmatch(path.rsplit("/", 1)[-1])
                       for g in globs)

        return (not self.include or hit(self.include)) and not hit(self.exclude)

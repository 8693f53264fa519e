"""Did-you-mean: the closest known spelling and whether replacing it is safe."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass

_NON_ALNUM = re.compile(r"[^0-9a-z]")


@dataclass(frozen=True)
class Suggestion:
    value: str
    safe: bool  # the spelling is unambiguous: same letters ignoring case/punctuation, or one typo


def _squash(text: str) -> str:
    return _NON_ALNUM.sub("", text.lower())


def _ratio(word: str, candidate: str, cutoff: float) -> float:
    """difflib's similarity, or 0 when its cheap upper bound already misses `cutoff` (a long
    word against short candidates costs a length comparison, not a quadratic match)."""
    matcher = difflib.SequenceMatcher(None, word, candidate)
    if matcher.real_quick_ratio() < cutoff or matcher.quick_ratio() < cutoff:
        return 0.0
    return matcher.ratio()


def closest(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> Suggestion | None:
    """The best candidate for `word`, or None when nothing is close enough to suggest."""
    options = list(candidates)
    squashed = _squash(word)
    same = [c for c in options if _squash(c) == squashed]
    if len(same) == 1:
        return Suggestion(same[0], safe=True)
    scored = sorted(((_ratio(word.lower(), c.lower(), cutoff), c) for c in options), reverse=True)
    if not scored or scored[0][0] < cutoff:
        return None
    best_score, best = scored[0]
    runner_up = scored[1][0] if len(scored) > 1 else 0.0
    return Suggestion(best, safe=best_score >= 0.88 and runner_up < 0.8)


def did_you_mean(words: Iterable[str], candidates: Iterable[str]) -> str:
    """The words' closest candidates as "did you mean padding, threshold?", or "" when none
    resembles a candidate."""
    options = list(candidates)
    guesses = [s.value for word in words if (s := closest(word, options)) is not None]
    return f"did you mean {', '.join(dict.fromkeys(guesses))}?" if guesses else ""

"""Star ratings as criticism evidence.

1-2 stars are criticism on their own; 3 stars add weight to critical words but
do not fire alone; 4-5 stars add nothing (a 5-star review can still be
sarcastic, which the sarcasm rules catch).
"""
from __future__ import annotations

from .base import Analysis, Hit

RATING_SCORES = {1: 0.9, 2: 0.8, 3: 0.3}


class RatingDetector:
    name = "rating"
    labels = ("criticism",)

    def detect(self, analysis: Analysis) -> list[Hit]:
        score = RATING_SCORES.get(analysis.rating or 0)
        if not score:
            return []
        # evidence with no span: the stars are not words to highlight
        return [Hit(self.name, f"stars_{analysis.rating}", "criticism", 0, 0, score,
                    "medium" if analysis.rating <= 2 else "low",
                    f"a {analysis.rating}-star review", 0, len(analysis.tokens))]

"""RFM and eRFM customer scoring and the ten standard RFM segments."""

from __future__ import annotations

from personalize.rfm.scoring import (
    SEGMENTS,
    RFMScore,
    engagement_scores,
    score_customers,
    segment_for,
)

__all__ = ["SEGMENTS", "RFMScore", "engagement_scores", "score_customers", "segment_for"]

"""Rankers: every ranker returns list[Hit], best first."""

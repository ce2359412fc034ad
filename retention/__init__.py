"""Retention: each area's policy, the review queue, legal holds, and destruction."""

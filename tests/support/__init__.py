"""Helpers shared by the test tiers (model builders, cluster pollers, tool paths)."""

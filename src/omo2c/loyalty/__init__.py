"""Tiers and points: the membership programme across POS, web shop and LINE."""

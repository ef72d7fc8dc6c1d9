"""Coupons: templates, codes issued to members (welcome, tier, campaign, admin, staff), redemptions, reports."""

"""Dispute mediation (矛盾纠纷多元化解): disputes, risk, mediators, sessions, agreements, referrals,
follow-up visits and statistics."""

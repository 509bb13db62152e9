"""The pages of dispute mediation: the centre desk, the mediator's workspace, the staff dispute page
and the parties' pages (see docs/mediation.md)."""

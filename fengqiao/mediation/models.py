"""Models of dispute mediation."""

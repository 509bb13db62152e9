"""The API operations of dispute mediation, mounted by fengqiao.api.root."""

from ninja import Router

router = Router(tags=["mediation"])

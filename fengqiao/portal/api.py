"""The API operations of resident portal, mounted by fengqiao.api.root."""

from ninja import Router

router = Router(tags=["portal"])

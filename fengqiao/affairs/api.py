"""The API operations of village affairs, mounted by fengqiao.api.root."""

from ninja import Router

router = Router(tags=["affairs"])

"""The REST API under /api/v1 (django-ninja): the root (`root.api`), authentication (session or
personal bearer tokens, `auth`, `tokens`) and the structured error answers (`errors`).

Each app owns its router (e.g. `fengqiao.cases.api`); the root mounts them.
"""

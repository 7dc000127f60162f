"""Server-side sessions in Redis: the one owner of their key layout, ids and scripts.

The control plane creates, lists and revokes sessions (the admin API the user-management
service calls); the auth service checks them on every request that presents one. Both go
through this package, so the layout cannot drift between them.
"""

"""Repositories: one module per aggregate, each a set of units of work for ``Database.run``.

A unit of work is ``async def fn(conn, ...)`` run on the storage thread inside one transaction
(see ``storage.database``); repositories return frozen row dataclasses, never asyncpg records, and
raise ``storage.errors`` (``NotFoundError`` for a missing row; database errors are translated by
``Database.run``). They hold no policy: who may do what is decided by the caller.

Modules:
  identity  users, OAuth2 clients, login sessions, refresh tokens (rotation, reuse), revoked access tokens
  login_failures  failed logins per keyed-hash throttle key: record, n-th latest in the window, clear, sweep
  revocation  what a built-in CA revoked and its stored CRL (the per-request view, the claim to re-sign,
            storing the next), revocation status of certificates by fingerprint
  ocsp      status of a CA's certificates by serial (the OCSP responder)

Siblings are imported by name (``from storage.repos import identity``); this map imports none of them.
"""

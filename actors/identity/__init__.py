"""Identity: accounts, passwords, OAuth2 clients and tokens — the domain every endpoint relies on.

Modules:
  errors        the identity error tree (each class with a stable ``code`` and an OAuth2 ``oauth_error``)
  principal     ``Role`` (user < operator < admin) and ``Principal``, the authenticated caller
  service       ``Identity``: the per-process parts (database, hasher, codec, sealer, throttle, cache)
  passwords     argon2id in worker threads behind a limiter; dummy verification; the password policy
  tokens        access tokens (HS256 JWT, RFC 9068 claims) and opaque credentials (SHA-256 at rest)
  server_secret the server secret (configured, or generated once under ``home``) and callback-secret sealing
  grants        the ``password``, ``client_credentials`` and ``refresh_token`` grants (rotation, reuse)
  bearer        ``authenticate_bearer``: access token → ``Principal`` (signature, then database state)
  revocation    RFC 7009 revocation of access and refresh tokens; logout of every session
  accounts      create/read/list/change accounts with the rules of who may do what
  clients       OAuth2 clients: creation (secrets shown once), authentication, callback secrets
  throttle      failed-login counters per username, address and client (PostgreSQL, every worker)
  state_cache   per-process cache of per-token database checks, cleared everywhere through NOTIFY
  audit         ``audit(event, **fields)``: the one exit of security events

Storage lives in ``storage.repos.identity``; HTTP in ``edge.auth`` and ``edge.users``.
"""

from actors.identity.principal import Principal, Role
from actors.identity.service import Identity

__all__ = ["Identity", "Principal", "Role"]

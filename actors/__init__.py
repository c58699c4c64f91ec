"""Klyuch actors layer: the trio actor runtime and, on top of it, the server's actors.

Modules:
  errors    the layer's error tree (``ActorError`` and subclasses, each with a stable ``code``)
  runtime/  trio actors with bounded mailboxes, ``ActorRef`` (tell/send/ask/stop), registry,
            OTP supervisors (child specs, one_for_one/one_for_all/rest_for_one, intensity, backoff)
  hsm/        the HSM unit process (``klyuch hsm-unit``): RPC, pykka slot workers, soft and PKCS#11
              backends, sealed KEK, key blobs; and the trio client and launcher for one unit
  hsmpool/    the server side: UnitClient actors, HsmSupervisor, Balancer, metrics (one pool per worker)
  identity/   accounts, argon2id passwords, OAuth2 grants, bearer tokens, revocation, audit events
  keys/       keys in HSM units, CSRs, the built-in CA, certificates; signing material for operations
  sessions/   UserSession actors: device sockets, live pushes and verified device decisions
  operations/ PendingOperation actors: the persisted state machine of signing operations
  callbacks/  the persisted outbox and dispatcher of asynchronous-operation callbacks

Imports point inward: this layer may use ``config``, ``signing`` and ``storage``, never ``edge``.
"""

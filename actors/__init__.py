"""Klyuch actors layer: the trio actor runtime and, on top of it, the server's actors.

Modules:
  errors    the layer's error tree (``ActorError`` and subclasses, each with a stable ``code``)
  runtime/  trio actors with bounded mailboxes, ``ActorRef`` (tell/send/ask/stop), registry,
            OTP supervisors (child specs, one_for_one/one_for_all/rest_for_one, intensity, backoff)
  hsm/      (to come) the HSM unit process and its pykka slot workers, unit clients, balancer
  ...       (to come) domain actors: UserSession, PendingOperation, Notifier, Callbacks, Audit, Storage

Imports point inward: this layer may use ``config``, ``signing`` and ``storage``, never ``edge``.
"""

"""Errors of the actors layer.

::

    ActorError                        code
     ├─ MailboxFullError              mailbox_full         (full mailbox: the message was not accepted)
     ├─ AskTimeoutError               ask_timeout          (also a ``TimeoutError``: the outcome is unknown)
     ├─ ActorStoppedError             actor_stopped        (not running: the request was not handled)
     │   └─ ActorRestartingError      actor_restarting     (registered, not running yet: try again later)
     ├─ ActorStartError               actor_start_failed   (``on_start`` or the factory raised: ``__cause__``)
     ├─ UnknownMessageError           unknown_message      (an actor got a message type it does not handle)
     ├─ ActorNotFoundError            actor_not_found      (also a ``LookupError``: no actor has that id)
     ├─ ActorIdTakenError             actor_id_taken       (an id is already registered)
     └─ SupervisorError               supervisor_error
         ├─ RestartIntensityError     restart_intensity    (too many restarts within the period: escalated)
         ├─ ChildNotFoundError        child_not_found      (also a ``LookupError``)
         └─ InvalidSpecError          invalid_spec         (also a ``ValueError``: an impossible spec/option)

Each class has a stable ``code``; callers dispatch on type or code, never on message text. This is
the runtime's tree. Each domain package of the layer keeps its tree in its own ``errors.py`` (drawn
there): ``hsm`` and ``hsmpool`` (``HsmError``), ``identity`` (``IdentityError``), ``keys``
(``KeysError``), ``sessions`` (``SessionError``), ``operations`` and ``callbacks``; ``edge.problems``
maps every one of them to HTTP in one table.
"""

from __future__ import annotations


class ActorError(Exception):
    """Base of every error raised by the actor runtime."""

    code = "actor_error"


class MailboxFullError(ActorError):
    """A ``tell`` or ``ask`` found the bounded mailbox full; the message was not accepted (nothing lost)."""

    code = "mailbox_full"

    def __init__(self, actor_id: str) -> None:
        super().__init__(f"mailbox of actor {actor_id!r} is full")
        self.actor_id = actor_id


class AskTimeoutError(ActorError, TimeoutError):
    """No answer to an ``ask`` within its timeout; the actor may or may not have handled the message."""

    code = "ask_timeout"

    def __init__(self, actor_id: str, timeout: float) -> None:
        super().__init__(f"actor {actor_id!r} did not answer within {timeout} s")
        self.actor_id = actor_id
        self.timeout = timeout


class ActorStoppedError(ActorError):
    """The actor is not running (stopped, crashed or never started); the request was not handled.

    An ask that was being handled when the actor was cancelled also gets this error: it was interrupted.
    """

    code = "actor_stopped"

    def __init__(self, actor_id: str, detail: str = "is not running") -> None:
        super().__init__(f"actor {actor_id!r} {detail}")
        self.actor_id = actor_id


class ActorRestartingError(ActorStoppedError):
    """The actor is registered but has no incarnation right now (a restart is pending, or it is launching).

    Try again later.
    """

    code = "actor_restarting"

    def __init__(self, actor_id: str) -> None:
        super().__init__(actor_id, "is (re)starting")


class ActorStartError(ActorError):
    """An actor could not start: its factory or ``on_start`` raised (the original is the ``__cause__``)."""

    code = "actor_start_failed"

    def __init__(self, actor_id: str) -> None:
        super().__init__(f"actor {actor_id!r} failed to start")
        self.actor_id = actor_id


class UnknownMessageError(ActorError):
    """An actor received a message type it does not handle."""

    code = "unknown_message"

    def __init__(self, actor_id: str, message: object) -> None:
        super().__init__(f"actor {actor_id!r} does not handle {type(message).__name__}")
        self.actor_id = actor_id


class ActorNotFoundError(ActorError, LookupError):
    """No actor is registered under this id."""

    code = "actor_not_found"

    def __init__(self, actor_id: str) -> None:
        super().__init__(f"no actor is registered as {actor_id!r}")
        self.actor_id = actor_id


class ActorIdTakenError(ActorError):
    """Another actor is already registered under this id."""

    code = "actor_id_taken"

    def __init__(self, actor_id: str) -> None:
        super().__init__(f"an actor is already registered as {actor_id!r}")
        self.actor_id = actor_id


class SupervisorError(ActorError):
    """Base of the errors raised by supervisors."""

    code = "supervisor_error"


class RestartIntensityError(SupervisorError):
    """A supervisor saw more than ``intensity`` restarts within ``period`` seconds and gave up.

    It has stopped its children; the error crashes the supervisor, so its own parent sees it.
    """

    code = "restart_intensity"

    def __init__(self, supervisor_id: str, *, intensity: int, period: float) -> None:
        super().__init__(
            f"supervisor {supervisor_id!r} gave up: more than {intensity} restarts within {period} s"
        )
        self.supervisor_id = supervisor_id
        self.intensity = intensity
        self.period = period


class ChildNotFoundError(SupervisorError, LookupError):
    """A supervisor has no child with this id."""

    code = "child_not_found"

    def __init__(self, supervisor_id: str, child_id: str) -> None:
        super().__init__(f"supervisor {supervisor_id!r} has no child {child_id!r}")
        self.supervisor_id = supervisor_id
        self.child_id = child_id


class InvalidSpecError(SupervisorError, ValueError):
    """A child spec or a supervisor option is impossible (negative timeout, duplicate id, ...)."""

    code = "invalid_spec"

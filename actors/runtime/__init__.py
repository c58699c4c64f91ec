"""The trio actor runtime: actors as tasks with bounded mailboxes, refs, a registry and OTP supervisors.

Modules:
  actor       ``Actor`` base class (receive + on_start/on_stop/on_failure hooks, background tasks)
  ref         ``ActorRef`` protocol (tell / send / ask / stop) and ``LocalRef``, stable across restarts
  runner      ``run_actor``: one incarnation from ``on_start`` to the last answered ask
  cell        ``Cell``: one running incarnation's mailbox, kill switch and stopped event
  mailbox     ``Mailbox``: bounded memory channel with typed errors; rejects what it cannot deliver
  reply       ``Reply``: the one-shot answer slot of an ask
  messages    ``Envelope`` and the supervisor commands (``StartChild``, ``TerminateChild``, ``WhichChildren``)
  spec        supervision as data: ``ChildSpec``, ``Restart``, ``Strategy``, ``ChildInfo``
  restart     pure bookkeeping: ``Backoff`` delays, ``RestartIntensity`` window
  supervisor  ``Supervisor`` actor and its typed ``SupervisorRef``
  registry    ``Registry``/``Registration``: ids to refs, one per system
  system      ``ActorSystem``: registry, defaults and logger of one worker process

Errors live in ``actors.errors`` (one tree for the layer).
"""

from actors.runtime.actor import Actor, ActorContext
from actors.runtime.messages import StartChild, TerminateChild, WhichChildren
from actors.runtime.ref import DEFAULT_ASK_TIMEOUT, ActorRef, LocalRef
from actors.runtime.registry import Registration, Registry
from actors.runtime.restart import Backoff, RestartIntensity
from actors.runtime.spec import ChildInfo, ChildSpec, Restart, Strategy
from actors.runtime.supervisor import Supervisor, SupervisorRef
from actors.runtime.system import DEFAULT_MAILBOX_SIZE, ActorSystem

__all__ = [
    "DEFAULT_ASK_TIMEOUT",
    "DEFAULT_MAILBOX_SIZE",
    "Actor",
    "ActorContext",
    "ActorRef",
    "ActorSystem",
    "Backoff",
    "ChildInfo",
    "ChildSpec",
    "LocalRef",
    "Registration",
    "Registry",
    "Restart",
    "RestartIntensity",
    "StartChild",
    "Strategy",
    "Supervisor",
    "SupervisorRef",
    "TerminateChild",
    "WhichChildren",
]

"""OTP-style supervisor: an actor that starts children from specs and restarts them by policy.

Children start in order and stop in reverse. A child that must be restarted counts against the
intensity limit (more than ``intensity`` restarts within ``period`` seconds: the supervisor stops its
children and crashes with ``RestartIntensityError``, so its own parent sees the failure), waits its
backoff delay, and comes back with a fresh mailbox behind the same registry id and ref.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

import trio

from actors.errors import (
    ActorStartError,
    ActorStoppedError,
    ChildNotFoundError,
    InvalidSpecError,
    RestartIntensityError,
)
from actors.runtime.actor import Actor, TrackedStatus
from actors.runtime.messages import Envelope, StartChild, TerminateChild, WhichChildren
from actors.runtime.ref import DEFAULT_ASK_TIMEOUT, ActorRef
from actors.runtime.restart import Backoff, RestartIntensity
from actors.runtime.runner import run_actor
from actors.runtime.spec import ChildInfo, ChildSpec, Restart, Strategy

if TYPE_CHECKING:
    from actors.runtime.registry import Registration


@dataclass(frozen=True, slots=True)
class _ChildExited:
    """Posted by a child's runner task when an incarnation ends."""

    child_id: str
    """Which child."""
    generation: int
    """Which incarnation (stale notes are ignored)."""
    failure: BaseException | None
    """The crash, or None for a normal stop."""


@dataclass(frozen=True, slots=True)
class _RestartDue:
    """Posted by a backoff timer: restart these children if the schedule is still current."""

    child_ids: tuple[str, ...]
    """Children to start, in start order."""
    token: int
    """Schedule token; a newer schedule supersedes this one."""


@dataclass(slots=True, eq=False)
class _Child:
    """A supervisor's bookkeeping for one child (mutated only by the supervisor's own task)."""

    spec: ChildSpec
    registration: Registration
    generation: int = 0
    running: bool = False
    started_at: float = 0.0
    restarts: int = 0
    in_a_row: int = 0
    pending: int | None = None


def _wants_restart(restart: Restart, failure: BaseException | None) -> bool:
    if restart is Restart.PERMANENT:
        return True
    return restart is Restart.TRANSIENT and failure is not None


class Supervisor(Actor):
    """Starts ``children`` in order, restarts them per ``strategy``, stops them in reverse order.

    Messages it answers: ``StartChild``, ``TerminateChild``, ``WhichChildren`` (see ``SupervisorRef``).
    A nested supervisor is a child like any other (``Supervisor.child_spec``).
    """

    mailbox_size: ClassVar[int | None] = 1024
    # Children get their own grace when cancelled at the same time; this covers waiting for them.
    stop_grace: ClassVar[float] = 5.0

    def __init__(
        self,
        children: Sequence[ChildSpec] = (),
        *,
        strategy: Strategy = Strategy.ONE_FOR_ONE,
        intensity: int = 3,
        period: float = 5.0,
        backoff: Backoff | None = None,
    ) -> None:
        ids = [spec.id for spec in children]
        if len(set(ids)) != len(ids):
            raise InvalidSpecError(f"duplicate child ids in {ids}")
        self._specs = tuple(children)
        self._strategy = Strategy(strategy)
        self._limit = RestartIntensity(intensity, period)
        self._backoff = backoff if backoff is not None else Backoff()
        self._reset_after = self._backoff.reset_after if self._backoff.reset_after is not None else period
        self._children: dict[str, _Child] = {}
        self._tokens = itertools.count(1)

    @classmethod
    def child_spec(
        cls,
        id: str,
        children: Sequence[ChildSpec],
        *,
        restart: Restart = Restart.PERMANENT,
        shutdown: float | None = None,
        strategy: Strategy = Strategy.ONE_FOR_ONE,
        intensity: int = 3,
        period: float = 5.0,
        backoff: Backoff | None = None,
    ) -> ChildSpec:
        """A ``ChildSpec`` that runs a nested supervisor (shutdown ``None``: its children bound it)."""

        def start() -> Actor:
            return cls(children, strategy=strategy, intensity=intensity, period=period, backoff=backoff)

        return ChildSpec(id=id, start=start, restart=restart, shutdown=shutdown)

    # -- lifecycle -------------------------------------------------------------------------------

    async def on_start(self) -> None:
        """Start the children in order; if one fails, stop the started ones in reverse and fail."""
        try:
            for spec in self._specs:
                await self._add(spec)
        except Exception:
            await self._stop_all()
            raise

    async def on_stop(self) -> None:
        """Stop every child in reverse start order and unregister them."""
        await self._stop_all()

    async def receive(self, message: Any) -> Any:
        """Handle supervision commands and the runtime's own notes."""
        match message:
            case _ChildExited():
                await self._on_exit(message)
            case _RestartDue(child_ids=child_ids, token=token):
                await self._restart(child_ids, token)
            case StartChild(spec=spec):
                return await self._add(spec)
            case TerminateChild(child_id=child_id):
                await self._terminate(child_id)
            case WhichChildren():
                return [self._info(child) for child in self._children.values()]
            case _:
                return await super().receive(message)
        return None

    # -- starting ----------------------------------------------------------------------------------

    async def _add(self, spec: ChildSpec) -> ActorRef:
        registration = self.context.system.registry.register(spec.id)
        child = _Child(spec, registration)
        self._children[spec.id] = child
        try:
            await self._start(child)
        except BaseException:
            self._forget(child)
            raise
        return registration.ref

    async def _start(self, child: _Child) -> None:
        child.generation += 1
        child.pending = None
        child.started_at = trio.current_time()
        await self.start(self._run_child, child, child.generation)
        child.running = True

    async def _run_child(
        self, child: _Child, generation: int, *, task_status: trio.TaskStatus[ActorRef]
    ) -> None:
        spec = child.spec
        system = self.context.system
        try:
            actor = spec.start()
        except Exception as exc:
            raise ActorStartError(spec.id) from exc
        status = TrackedStatus(task_status)
        failure: BaseException | None = None
        try:
            await run_actor(
                actor,
                system=system,
                registration=child.registration,
                mailbox_size=system.mailbox_size_for(actor, spec.mailbox_size),
                task_status=status,
            )
        except Exception as exc:
            if not status.called:
                raise
            failure = exc
        # A stopping supervisor has closed its mailbox: it no longer needs the note.
        with contextlib.suppress(ActorStoppedError):
            note = _ChildExited(spec.id, generation, failure)
            await self.context.cell.mailbox.put(Envelope(note, None))

    # -- failures and restarts ----------------------------------------------------------------------

    async def _on_exit(self, note: _ChildExited) -> None:
        child = self._children.get(note.child_id)
        if child is None or not child.running or child.generation != note.generation:
            return  # a stop this supervisor asked for, or an incarnation already replaced
        child.running = False
        if self.context.cell.mailbox.closed:
            return  # this supervisor is stopping: on_stop will forget the child, no restarts now
        await self._handle_exit(child, note.failure)

    async def _handle_exit(self, child: _Child, failure: BaseException | None) -> None:
        spec = child.spec
        if not _wants_restart(spec.restart, failure):
            self.log.info(
                "child_exited", child=spec.id, restart=str(spec.restart), crashed=failure is not None
            )
            self._forget(child)
            return
        now = trio.current_time()
        if not self._limit.record(now):
            await self._give_up(spec.id, failure)
        if now - child.started_at >= self._reset_after:
            child.in_a_row = 0
        delay = self._backoff.delay(child.in_a_row)
        child.in_a_row += 1
        group = self._group_of(child)
        for sibling in reversed(group):
            if sibling is not child:
                await self._stop_child(sibling, restarting=True)
        ids = tuple(c.spec.id for c in group if c.spec.id in self._children)
        self.log.warning(
            "child_restarting",
            child=spec.id,
            error_type=None if failure is None else type(failure).__name__,
            delay_s=delay,
            group=list(ids),
        )
        token = next(self._tokens)
        for child_id in ids:
            self._children[child_id].pending = token
        if delay == 0:
            await self._restart(ids, token)
        else:
            self.start_soon(self._restart_later, ids, token, delay)

    def _group_of(self, child: _Child) -> list[_Child]:
        if self._strategy is Strategy.ONE_FOR_ONE:
            return [child]
        children = list(self._children.values())
        if self._strategy is Strategy.ONE_FOR_ALL:
            return children
        return children[children.index(child) :]

    async def _restart_later(self, ids: tuple[str, ...], token: int, delay: float) -> None:
        await trio.sleep(delay)
        with contextlib.suppress(ActorStoppedError):
            await self.context.cell.mailbox.put(Envelope(_RestartDue(ids, token), None))

    async def _restart(self, ids: tuple[str, ...], token: int) -> None:
        if self.context.cell.mailbox.closed:
            return  # stopping
        for child_id in ids:
            child = self._children.get(child_id)
            if child is None or child.pending != token:
                continue  # removed meanwhile, or superseded by a newer schedule
            try:
                await self._start(child)
            except ActorStartError as exc:
                # A failed restart is one more failure: it counts, backs off, and may give up.
                child.pending = None
                await self._handle_exit(child, exc)
                return
            child.restarts += 1
            self.log.info("child_restarted", child=child_id, restarts=child.restarts)

    async def _give_up(self, child_id: str, failure: BaseException | None) -> NoReturn:
        limit = self._limit
        self.log.error("supervisor_gave_up", child=child_id, intensity=limit.intensity, period_s=limit.period)
        await self._stop_all()
        raise RestartIntensityError(self.id, intensity=limit.intensity, period=limit.period) from failure

    # -- stopping ------------------------------------------------------------------------------------

    async def _stop_child(self, child: _Child, *, restarting: bool = False) -> None:
        """Stop the child's incarnation (drain, then cancel after its shutdown time)."""
        child.pending = None
        if child.running:
            child.running = False
            cell = child.registration.cell
            if cell is not None:
                await cell.stop(drain=True, timeout=child.spec.shutdown)
        if restarting and child.spec.restart is Restart.TEMPORARY:
            self._forget(child)

    async def _stop_all(self) -> None:
        for child in reversed(list(self._children.values())):
            await self._stop_child(child)
            self._forget(child)

    async def _terminate(self, child_id: str) -> None:
        child = self._children.get(child_id)
        if child is None:
            raise ChildNotFoundError(self.id, child_id)
        await self._stop_child(child)
        self._forget(child)

    def _forget(self, child: _Child) -> None:
        child.pending = None
        child.registration.close()
        if self._children.get(child.spec.id) is child:
            del self._children[child.spec.id]

    def _info(self, child: _Child) -> ChildInfo:
        spec = child.spec
        return ChildInfo(spec.id, child.registration.ref, spec.restart, child.running, child.restarts)


class SupervisorRef:
    """Typed access to a supervisor through its ``ActorRef`` (every call is an ``ask``)."""

    __slots__ = ("ref",)

    def __init__(self, ref: ActorRef) -> None:
        self.ref = ref
        """The supervisor's own ref."""

    @property
    def id(self) -> str:
        """Registry id of the supervisor."""
        return self.ref.id

    async def start_child(self, spec: ChildSpec, *, timeout: float | None = DEFAULT_ASK_TIMEOUT) -> ActorRef:  # noqa: ASYNC109
        """Add and start a child; ``ActorIdTakenError`` / ``ActorStartError`` if that is impossible."""
        ref: ActorRef = await self.ref.ask(StartChild(spec), timeout=timeout)
        return ref

    async def terminate_child(self, child_id: str, *, timeout: float | None = DEFAULT_ASK_TIMEOUT) -> None:  # noqa: ASYNC109
        """Stop a child for good and forget it; ``ChildNotFoundError`` if there is none."""
        await self.ref.ask(TerminateChild(child_id), timeout=timeout)

    async def which_children(self, *, timeout: float | None = DEFAULT_ASK_TIMEOUT) -> list[ChildInfo]:  # noqa: ASYNC109
        """The children in start order."""
        children: list[ChildInfo] = await self.ref.ask(WhichChildren(), timeout=timeout)
        return children

    async def stop(self, *, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Stop the supervisor: its children stop in reverse order first."""
        await self.ref.stop(timeout=timeout)

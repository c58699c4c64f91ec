"""Runs one incarnation of an actor: start, announce, serve the mailbox, stop, answer what is left."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog
import trio

from actors.errors import ActorStartError, ActorStoppedError
from actors.runtime.actor import Actor, ActorContext
from actors.runtime.cell import Cell
from actors.runtime.ref import ActorRef

if TYPE_CHECKING:
    from actors.runtime.registry import Registration
    from actors.runtime.system import ActorSystem


async def run_actor(
    actor: Actor,
    *,
    system: ActorSystem,
    registration: Registration,
    mailbox_size: int,
    task_status: trio.TaskStatus[ActorRef] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run ``actor`` as one incarnation under ``registration`` until it stops.

    The mailbox accepts messages from the start, so messages sent during ``on_start`` (also by the
    actor to itself) wait and are handled right after it; ``task_status.started(ref)`` is called only
    after ``on_start`` succeeded. Returns after a stop (also one that ended in a kill); raises
    ``ActorStartError`` if it could not start and the crash exception after a crash. Cancellation
    propagates. Whatever happens, every queued ask gets an answer.
    """
    cell = Cell(registration.id, mailbox_size)
    cell.task = trio.lowlevel.current_task()
    actor._context = ActorContext(registration.id, registration.ref, system, cell)
    # An actor outlives the request that spawned it: start from a clean logging context.
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(actor=registration.id)
    start_error: BaseException | None = None
    failure: BaseException | None = None
    started = False
    try:
        # The nursery's own cancel scope doubles as the kill switch: it absorbs the Cancelled it causes,
        # so a killed incarnation ends like a stopped one.
        async with trio.open_nursery() as nursery:
            cell.nursery = nursery
            registration.attach(cell)
            start_error = await _start(actor)
            if start_error is None:
                task_status.started(registration.ref)
                started = True
                system.log.debug("actor_started")
                failure = await _live(actor, cell)
            nursery.cancel_scope.cancel()
    finally:
        registration.detach(cell)
        cell.mailbox.seal(lambda: _not_handled(cell, start_error))
        cell.stopped.set()
    if not started:
        # Killed during on_start (a stop whose timeout ran out) also counts as a failed start.
        cause = start_error or ActorStoppedError(registration.id, "was stopped while starting")
        raise ActorStartError(registration.id) from cause
    if failure is not None:
        raise failure


async def _start(actor: Actor) -> Exception | None:
    # Returned, not raised: raising inside the nursery would wrap it in an ExceptionGroup.
    try:
        await actor.on_start()
    except Exception as exc:
        return exc
    return None


async def _live(actor: Actor, cell: Cell) -> BaseException | None:
    try:
        failure = await _serve(actor, cell)
    except BaseException:
        await _end(actor, cell, None, cancelled=True)
        raise
    return await _end(actor, cell, failure, cancelled=False)


async def _serve(actor: Actor, cell: Cell) -> Exception | None:
    """The message loop; returns the exception that crashed the actor, or None after a stop."""
    receive = actor.receive
    actor_id = cell.actor_id
    bound_op_id: object = None
    with cell.loop_scope:
        async for envelope in cell.mailbox.receiver:
            message = envelope.message
            op_id = getattr(message, "op_id", None)
            if op_id != bound_op_id:
                # Context does not cross channels: rebind per message, but only when it changes.
                _bind_op_id(op_id)
                bound_op_id = op_id
            reply = envelope.reply
            if reply is None:
                try:
                    await receive(message)
                except Exception as exc:
                    return exc
            elif not reply.abandoned:
                try:
                    result = await receive(message)
                except Exception as exc:
                    reply.fail(exc)
                except BaseException:
                    reply.fail(ActorStoppedError(actor_id, "was cancelled while handling the request"))
                    raise
                else:
                    reply.succeed(result)
    return cell.background_failure


def _not_handled(cell: Cell, cause: BaseException | None) -> ActorStoppedError:
    error = cell.not_handled_error()
    error.__cause__ = cause
    return error


def _bind_op_id(op_id: object) -> None:
    if op_id is None:
        structlog.contextvars.unbind_contextvars("op_id")
    else:
        structlog.contextvars.bind_contextvars(op_id=op_id)


async def _end(
    actor: Actor, cell: Cell, failure: Exception | None, *, cancelled: bool
) -> BaseException | None:
    """Refuse new messages, answer queued asks, run the hooks; return the incarnation's failure.

    The sealed cell stays attached until the incarnation has finished: meanwhile callers get
    ``ActorStoppedError`` from it, not ``ActorRestartingError``.
    """
    log = actor.context.system.log
    structlog.contextvars.unbind_contextvars("op_id")

    dropped = cell.dropped_tells + cell.mailbox.seal(lambda: _not_handled(cell, failure))
    if failure is not None:
        log.error("actor_crashed", error_type=type(failure).__name__, exc_info=failure)
    if dropped:
        log.warning("actor_dropped_tells", count=dropped)
    if cancelled:
        # A cancelled actor still gets to release its resources, but only for a bounded time.
        with trio.move_on_after(actor.stop_grace, shield=True):
            return await _run_hooks(actor, failure)
        log.warning("actor_hooks_timed_out", grace_s=actor.stop_grace)
        return failure
    result = await _run_hooks(actor, failure)
    log.debug("actor_stopped")
    return result


async def _run_hooks(actor: Actor, failure: BaseException | None) -> BaseException | None:
    log = actor.context.system.log
    if failure is not None:
        try:
            await actor.on_failure(failure)
        except Exception:
            log.exception("actor_on_failure_failed")
    try:
        await actor.on_stop()
    except Exception as exc:
        log.exception("actor_on_stop_failed")
        if failure is None:
            return exc
    return failure

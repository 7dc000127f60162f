"""What request handlers share: the database, the publisher told about every write, and the
registry of connected nodes."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Protocol

from fastapi import Depends, Request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from controlplane.api.errors import Conflict, PreconditionFailed
from controlplane.store import Database
from controlplane.store.repositories import revision
from controlplane.xds.nodes import NodeRegistry

log = logging.getLogger(__name__)


class ConfigPublisher(Protocol):
    def changed(self) -> None:
        """The store changed: rebuild soon. Called from worker threads; must not block."""


class AdminContext:
    def __init__(
        self,
        database: Database,
        publisher: ConfigPublisher,
        nodes: NodeRegistry,
        xds_started_at: float | None = None,
    ) -> None:
        self.database = database
        self.publisher = publisher
        self.nodes = nodes
        # When (time.monotonic()) the xDS server started serving; readiness waits a little
        # after it (controlplane.api.ops). None: no xDS server to wait for.
        self.xds_started_at = xds_started_at

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self.database.snapshot() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction; once it commits a change, the publisher hears about it."""
        try:
            with self.database.session() as session:
                yield session
                wrote = revision.bumped(session)
        except IntegrityError as error:
            # The checks before each write make this a race with another writer.
            raise Conflict(
                "the change conflicts with one made at the same time; read the current "
                "state and retry"
            ) from error
        except StaleDataError as error:
            raise PreconditionFailed(
                "the resource changed while this request was processed; GET it again and retry"
            ) from error
        if wrote:
            self._notify()

    def _notify(self) -> None:
        try:
            self.publisher.changed()
        except Exception:
            # The write is committed; the publisher's revision poll will still catch it.
            log.exception("config publisher failed to take a change notification")


def _admin_context(request: Request) -> AdminContext:
    context = request.app.state.admin
    assert isinstance(context, AdminContext)
    return context


Admin = Annotated[AdminContext, Depends(_admin_context)]

"""The latest snapshot of every node group, and a way to wait for the next one."""

import asyncio

from controlplane.xds.snapshot import Snapshot


class SnapshotCache:
    """Lives on the event loop. All nodes of a group share one snapshot object."""

    def __init__(self) -> None:
        self._snapshots: dict[str, Snapshot] = {}
        self._changed: dict[str, asyncio.Event] = {}

    def get(self, group: str) -> Snapshot:
        snapshot = self._snapshots.get(group)
        if snapshot is None:
            # A group nobody declared anything for serves nothing, but still gets answers.
            snapshot = self._snapshots[group] = Snapshot.empty()
        return snapshot

    def groups(self) -> list[str]:
        return sorted(self._snapshots)

    def set(self, group: str, snapshot: Snapshot) -> bool:
        """Store `snapshot`; wake the group's streams only if its content changed."""
        current = self._snapshots.get(group)
        if current is not None and current.version == snapshot.version:
            return False
        self._snapshots[group] = snapshot
        event = self._changed.pop(group, None)
        if event is not None:
            event.set()
        return True

    def changed_event(self, group: str) -> asyncio.Event:
        """An event that fires the next time the group's snapshot changes."""
        event = self._changed.get(group)
        if event is None:
            event = self._changed[group] = asyncio.Event()
        return event

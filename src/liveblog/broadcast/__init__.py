"""Fan-out of committed events to connected readers, behind the `Hub` interface."""

"""The embedded broker: kombu's filesystem transport, made safe for many writers and readers.

kombu's own transport creates a message file and then writes it, and a reader moves it away
with ``shutil.move`` (a copy when the temporary folder is another file system): a reader that
lists the folder between the two reads an empty or half-written file, raises
``JSONDecodeError`` and the worker exits (celery/kombu#1551). Here a message only appears
under its final name once it is whole (written aside, then ``os.rename``), and a reader
claims a message with an ``os.rename`` into a folder on the same file system, which exactly
one reader wins. Messages of one queue keep their order: names start with the monotonic
clock in milliseconds, as kombu's do. The exchange tables (which queue a message goes to) are
replaced the same way, under a lock: kombu truncated and rewrote them in place, so a publisher
could read an empty table while a process started.
"""

from __future__ import annotations

import fcntl
import os
import uuid
from functools import cached_property
from pathlib import Path
from queue import Empty
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem, virtual
from kombu.transport.filesystem import exchange_queue_t
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

# Files being written start with this; a reader never looks at them.
_PARTIAL_PREFIX = ".partial-"


class Channel(filesystem.Channel):
    @cached_property
    def claim_folder(self) -> str:
        folder = Path(self.data_folder_in).parent / "claimed"
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder)

    def _put(self, queue, payload, **kwargs):
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, _PARTIAL_PREFIX + name)
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.rename(partial, final)
        except OSError as exc:
            try:
                os.unlink(partial)
            except OSError:
                pass
            raise ChannelError(f"Cannot add a message to queue {queue!r}") from exc

    def _get(self, queue):
        wanted = f"{queue}.msg"
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.startswith(_PARTIAL_PREFIX) or name.partition(".")[2] != wanted:
                continue
            # A reader that dies between the claim and the read loses the message: on embedded
            # defaults the queues carry webhooks and housekeeping only, whose state is in the
            # database (deliver_due re-queues what is due), never a verification.
            claimed = os.path.join(self.claim_folder, f"{uuid.uuid4().hex}-{name}")
            try:
                os.rename(os.path.join(self.data_folder_in, name), claimed)
            except FileNotFoundError:
                continue  # another reader won it
            try:
                with open(claimed, "rb") as handle:
                    payload = handle.read()
            finally:
                os.unlink(claimed)
            return loads(bytes_to_str(payload))
        raise Empty()

    def get_table(self, exchange):
        try:
            with self._exchange_file(exchange).open("rb") as handle:
                return [exchange_queue_t(*q) for q in loads(bytes_to_str(handle.read()))]
        except FileNotFoundError:
            return []

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        entry = exchange_queue_t(routing_key or "", pattern or "", queue or "")
        self._change_table(exchange, lambda queues: queues if entry in queues else [entry, *queues])

    def _delete(self, queue, exchange, routing_key, pattern, *args, **kwargs):
        virtual.Channel._delete(self, queue, exchange, routing_key, pattern, *args, **kwargs)
        entry = exchange_queue_t(routing_key or "", pattern or "", queue or "")
        self._change_table(exchange, lambda queues: [q for q in queues if q != entry])

    def _change_table(self, exchange, change):
        """Read, change and replace an exchange table, one process at a time."""
        table = self._exchange_file(exchange)
        self.control_folder.mkdir(exist_ok=True)
        with open(table.with_suffix(".lock"), "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            queues = self.get_table(exchange)
            changed = change(queues)
            if changed == queues and table.exists():
                return
            partial = table.with_name(f"{_PARTIAL_PREFIX}{uuid.uuid4().hex}-{table.name}")
            partial.write_bytes(str_to_bytes(dumps(changed)))
            os.rename(partial, table)


class Transport(filesystem.Transport):
    Channel = Channel
    driver_type = "filesystem"
    driver_name = "filesystem"

"""The embedded broker: kombu's filesystem transport, made safe for many writers and readers.

kombu's own transport creates a message file and then writes it, and a reader moves it away
with ``shutil.move`` (a copy when the temporary folder is another file system): a reader that
lists the folder between the two reads an empty or half-written file, raises
``JSONDecodeError`` and the worker exits (celery/kombu#1551). Here a message only appears
under its final name once it is whole (written aside, then ``os.rename``), and a reader
claims a message with an ``os.rename`` to a hidden name in the same folder, which exactly one
reader wins. Messages of one queue keep their order: names start with the monotonic clock.
Safe for the processes of one host on a local file system (not NFS: renames and listings
are not reliable there). The exchange tables (which queue a message goes to) are
replaced the same way, under a lock: kombu truncated and rewrote them in place, so a publisher
could read an empty table while a process started.
"""

from __future__ import annotations

import fcntl
import itertools
import logging
import os
import uuid
from queue import Empty
from time import monotonic_ns

from kombu.exceptions import ChannelError
from kombu.transport import filesystem, virtual
from kombu.transport.filesystem import exchange_queue_t
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

# Files being written, and files a reader has claimed; readers skip every name with a dot.
_PARTIAL_PREFIX = ".partial-"
_CLAIMED_PREFIX = ".claimed-"
_sequence = itertools.count()
logger = logging.getLogger(__name__)


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        # Zero-padded nanoseconds sort as numbers do (kombu's unpadded milliseconds jump back in
        # order at each power of ten), and the counter orders messages of the same instant.
        name = f"{monotonic_ns():020d}_{next(_sequence):012d}_{uuid.uuid4().hex}.{queue}.msg"
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
            if name.startswith(".") or name.partition(".")[2] != wanted:
                continue  # partial and claimed files start with a dot
            # The claim is a rename within the folder: exactly one reader wins it, and no other
            # folder (which could be missing or on another file system) is involved. A reader
            # that dies between the claim and the read loses the message: on embedded defaults
            # the queues carry webhooks and housekeeping only, whose state is in the database
            # (deliver_due re-queues what is due).
            claimed = os.path.join(self.data_folder_in, f"{_CLAIMED_PREFIX}{uuid.uuid4().hex}-{name}")
            try:
                os.rename(os.path.join(self.data_folder_in, name), claimed)
            except FileNotFoundError:
                continue  # another reader won it
            try:
                with open(claimed, "rb") as handle:
                    payload = handle.read()
            finally:
                os.unlink(claimed)
            try:
                return loads(bytes_to_str(payload))
            except ValueError:  # e.g. emptied by a power loss: drop it, never stop the worker
                logger.error("Dropped an unreadable message of queue %s (%d bytes)", queue, len(payload))
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

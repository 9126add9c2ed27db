"""The embedded broker: kombu's filesystem transport, made safe for many writers and readers.

kombu's own transport creates a message file and then writes it, and a reader moves it away
with ``shutil.move`` (a copy when the temporary folder is another file system): a reader that
lists the folder between the two reads an empty or half-written file, raises
``JSONDecodeError`` and the worker exits (celery/kombu#1551). Here a message only appears
under its final name once it is whole (written aside, then ``os.rename``), and a reader
claims a message with an ``os.rename`` into a folder on the same file system, which exactly
one reader wins. Messages of one queue keep their order: names start with the monotonic
clock in milliseconds, as kombu's do.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from queue import Empty
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

# Files being written start with this; a reader never looks at them.
_PARTIAL_PREFIX = ".partial-"


class Channel(filesystem.Channel):
    @property
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


class Transport(filesystem.Transport):
    Channel = Channel
    driver_type = "filesystem"
    driver_name = "filesystem"

"""The embedded broker: kombu's filesystem transport, made safe for concurrent processes.

kombu's own filesystem transport (kombu 5.x) races between writer and reader: the producer
creates the message file and then writes it, so a consumer that lists the folder in between
moves and reads an empty or half-written file and dies with ``JSONDecodeError``; its exchange
tables are rewritten in place (``open("wb")`` truncates before the lock is taken), so a reader
can see an empty table too; and a consumer "claims" a message with ``shutil.move`` into the
system temporary folder, which on another filesystem is copy-then-delete, so two consumers can
both get the same message.

This transport keeps kombu's folder layout and file names, and changes how files move:

- a message is written to a temporary file in a hidden folder on the same filesystem, flushed
  and fsynced, then ``os.replace``d into the queue folder: a reader sees a whole file or none;
- a consumer claims a message by ``os.rename`` into its own claim folder on the same filesystem
  (atomic: exactly one consumer wins; the others get ``FileNotFoundError`` and move on), then
  reads and deletes it;
- exchange tables are replaced the same way, under an exclusive lock on a separate lock file,
  so readers never see a partial table.

Registered as the ``chorusfs://`` broker URL (config/settings.py maps ``filesystem://`` to it).
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from queue import Empty
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

ALIAS = "chorusfs"
TMP_DIR = ".tmp"


def atomic_write(folder: Path, name: str, data: bytes) -> Path:
    """Write `data` to `folder/name` so that no reader ever sees a partial file."""
    tmp_dir = folder / TMP_DIR
    tmp_dir.mkdir(parents=True, exist_ok=True)
    tmp = tmp_dir / f"{name}.{os.getpid()}.{uuid.uuid4().hex}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    target = folder / name
    try:
        os.replace(tmp, target)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    return target


class Channel(filesystem.Channel):
    """Atomic writes, claim-by-rename reads, atomically replaced exchange tables."""

    @contextmanager
    def _table_lock(self, exchange: str) -> Iterator[Path]:
        file = self._exchange_file(exchange)
        self.control_folder.mkdir(parents=True, exist_ok=True)
        with open(file.with_name(file.name + ".lock"), "a") as lock_file:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
            try:
                yield file
            finally:
                fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)

    def _read_table(self, file: Path) -> list[filesystem.exchange_queue_t]:
        try:
            data = file.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ChannelError(f"Cannot open {file}") from exc
        return [filesystem.exchange_queue_t(*q) for q in loads(bytes_to_str(data))] if data else []

    def get_table(self, exchange: str) -> list[filesystem.exchange_queue_t]:
        return self._read_table(self._exchange_file(exchange))

    def _write_table(self, file: Path, queues: list[Any]) -> None:
        try:
            atomic_write(file.parent, file.name, str_to_bytes(dumps(queues)))
        except OSError as exc:
            raise ChannelError(f"Cannot write {file}") from exc

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        value = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        with self._table_lock(exchange) as file:
            queues = self._read_table(file)
            if value not in queues:
                self._write_table(file, [value, *queues])

    def _delete(
        self, queue: str, exchange: str, routing_key: str, pattern: str, *args: Any, **kwargs: Any
    ) -> None:
        filesystem.virtual.Channel._delete(
            self, queue, exchange, routing_key, pattern, *args, **kwargs
        )
        value = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        with self._table_lock(exchange) as file:
            queues = self._read_table(file)
            if value in queues:
                self._write_table(file, [q for q in queues if q != value])

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        # Zero-padded so that names sort in publication order.
        name = f"{int(monotonic() * 1000):015d}_{uuid.uuid4()}.{queue}.msg"
        try:
            atomic_write(Path(self.data_folder_out), name, str_to_bytes(dumps(payload)))
        except OSError as exc:
            raise ChannelError(f"Cannot add file {name!r} to directory") from exc

    @property
    def _claim_folder(self) -> Path:
        folder = Path(self.processed_folder) / "claimed"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _get(self, queue: str, timeout: Any = None) -> Any:
        suffix = f"{queue}.msg"
        folder = Path(self.data_folder_in)
        for filename in sorted(os.listdir(folder)):
            if filename.startswith(".") or filename.partition(".")[2] != suffix:
                continue
            claimed = self._claim_folder / f"{filename}.{os.getpid()}.{uuid.uuid4().hex}"
            try:
                os.rename(folder / filename, claimed)  # atomic: exactly one consumer wins
            except FileNotFoundError:
                continue  # another consumer took it
            except OSError as exc:
                raise ChannelError(f"Cannot claim {filename!r} from queue.") from exc
            try:
                payload = claimed.read_bytes()
                if self.store_processed:
                    os.replace(claimed, Path(self.processed_folder) / filename)
                else:
                    claimed.unlink()
            except OSError as exc:
                raise ChannelError(f"Cannot read file {filename!r} from queue.") from exc
            return loads(bytes_to_str(payload))
        raise Empty()

    def _purge(self, queue: str) -> int:
        suffix = f"{queue}.msg"
        count = 0
        for filename in os.listdir(self.data_folder_in):
            if filename.startswith(".") or filename.partition(".")[2] != suffix:
                continue
            try:
                os.remove(os.path.join(self.data_folder_in, filename))
                count += 1
            except OSError:
                pass
        return count

    def _size(self, queue: str) -> int:
        suffix = f"{queue}.msg"
        return sum(
            1
            for filename in os.listdir(self.data_folder_in)
            if not filename.startswith(".") and filename.partition(".")[2] == suffix
        )


class Transport(filesystem.Transport):
    Channel = Channel
    driver_type = ALIAS
    driver_name = ALIAS


TRANSPORT_ALIASES.setdefault(ALIAS, "config.broker:Transport")

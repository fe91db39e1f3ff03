"""Event logs, real and simulated: reading (XES, CSV, Parquet), checking and writing.

``sim.logs.read(path, ...)`` gives an :class:`EventLog` (one canonical shape for every
source); ``sim.logs.write(frame, path)`` writes a log by its suffix, streamed. Bad input
is a :class:`LogError` naming the file, the row and the column.
"""

from sim.logs.eventlog import EventLog, LogError
from sim.logs.read import log_format, read
from sim.logs.write import write

__all__ = ["EventLog", "LogError", "log_format", "read", "write"]

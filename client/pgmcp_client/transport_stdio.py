"""transport_stdio.py: a persistent MCP server subprocess spoken to over its pipes.

Newline-delimited JSON-RPC on stdin/stdout. Three threads, no select() (so Windows works):
a writer drains a queue into stdin (a full pipe never blocks a caller, whose timeout keeps
running), a reader parses stdout line by line (noise is logged and skipped), and a drainer
reads stderr so the server can never block on it (the last lines are kept for error
messages). close() closes stdin, waits, then terminates, then kills, and always reaps.
"""
import collections
import json
import logging
import os
import queue
import shlex
import subprocess
import sys
import threading

from .session import Transport, TransportClosed

log = logging.getLogger("pgmcp_client")
server_log = logging.getLogger("pgmcp_client.server")

_STOP = object()


def split_command(command):
    """A command given as a string becomes an argument list (POSIX shell quoting)."""
    if isinstance(command, (list, tuple)):
        return list(command)
    if os.name == "nt":
        return command          # CreateProcess parses the string itself
    return shlex.split(command)


class StdioTransport(Transport):
    name = "stdio"

    def __init__(self, command, env=None, cwd=None, stderr_lines=50, terminate_timeout=3.0):
        self.command = split_command(command)
        self.env = env
        self.cwd = cwd
        self.terminate_timeout = terminate_timeout
        self.proc = None
        self.stderr_tail = collections.deque(maxlen=stderr_lines)
        self._queue = queue.Queue()
        self._threads = []
        self._dead = None           # the TransportClosed once the pipes are gone
        self._lock = threading.Lock()
        self._closing = False
        self.sink = None

    def describe(self):
        prog = self.command[0] if isinstance(self.command, list) else self.command.split()[0]
        return "stdio:%s%s" % (os.path.basename(prog), " pid %d" % self.proc.pid
                               if self.proc else "")

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def open(self, sink):
        self.sink = sink
        kwargs = {}
        if os.name == "nt":
            kwargs["creationflags"] = getattr(subprocess, "CREATE_NO_WINDOW", 0)
        try:
            self.proc = subprocess.Popen(self.command, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         env=self.env, cwd=self.cwd, **kwargs)
        except OSError as e:
            prog = self.command[0] if isinstance(self.command, list) else self.command
            raise TransportClosed("cannot start the server %r: %s" % (prog, e.strerror or e))
        for target, name in ((self._write_loop, "writer"), (self._read_loop, "reader"),
                             (self._drain_stderr, "stderr")):
            t = threading.Thread(target=target, name="pgmcp-stdio-%s-%d" % (name, self.proc.pid),
                                 daemon=True)
            t.start()
            self._threads.append(t)

    # outgoing ----------------------------------------------------------------------------

    def send(self, msg):
        if self._dead is not None:
            raise TransportClosed(str(self._dead))
        if self._closing:
            raise TransportClosed("session closed")
        line = json.dumps(msg, ensure_ascii=False, separators=(",", ":")) + "\n"
        self._queue.put(line.encode("utf-8"))

    def _write_loop(self):
        stdin = self.proc.stdin
        while True:
            data = self._queue.get()
            if data is _STOP:
                break
            try:
                stdin.write(data)
                stdin.flush()
            except (OSError, ValueError) as e:     # broken pipe, or closed by close()
                self._gone("cannot write to the server (%s)" % (getattr(e, "strerror", None)
                                                                 or e))
                break
        try:
            stdin.close()
        except (OSError, ValueError):
            pass

    # incoming ----------------------------------------------------------------------------

    def _read_loop(self):
        try:
            for raw in self.proc.stdout:
                try:
                    self.sink.line(raw)
                except Exception:
                    log.exception("error while handling a message from the server")
        except (OSError, ValueError) as e:
            log.debug("reading the server's stdout failed: %s", e)
        self._gone("the server closed its stdout")

    def _drain_stderr(self):
        try:
            for raw in self.proc.stderr:
                text = raw.decode("utf-8", "replace").rstrip("\r\n")
                self.stderr_tail.append(text)
                server_log.debug("%s", text)
        except (OSError, ValueError):
            pass

    def _gone(self, why):
        with self._lock:
            if self._dead is not None:
                return
            status = None
            if self.proc is not None:
                try:                          # the exit status usually follows EOF at once
                    status = self.proc.wait(timeout=1.0)
                except subprocess.TimeoutExpired:
                    pass
            text = why
            if status is not None:
                text += "; it exited with status %s" % status
                drainer = self._threads[2] if len(self._threads) > 2 else None
                if drainer is not None and drainer is not threading.current_thread():
                    drainer.join(timeout=0.5)     # so its last words are in the tail
            tail = [line for line in list(self.stderr_tail)[-5:] if line.strip()]
            if tail and not self._closing:
                text += "; its last messages: " + " | ".join(tail)
            self._dead = TransportClosed(text)
        self._queue.put(_STOP)
        if self.sink is not None and not self._closing:
            self.sink.closed(self._dead)

    # shutdown ----------------------------------------------------------------------------

    def close(self, timeout=5.0):
        """Closes stdin, waits up to timeout for the server to exit, then terminates it, then
        kills it; the process is always reaped (no zombie)."""
        self._closing = True
        proc = self.proc
        if proc is None:
            return
        self._queue.put(_STOP)        # the writer finishes what is queued, then closes stdin
        writer = self._threads[0] if self._threads else None
        if writer is not None:
            writer.join(timeout=min(timeout, 1.0))
        if writer is None or writer.is_alive():
            try:                      # the pipe is full and the server is not reading
                proc.stdin.close()
            except (OSError, ValueError):
                pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log.debug("server pid %d still running %gs after stdin closed: terminating",
                      proc.pid, timeout)
            proc.terminate()
            try:
                proc.wait(timeout=self.terminate_timeout)
            except subprocess.TimeoutExpired:
                log.debug("server pid %d ignored SIGTERM: killing", proc.pid)
                proc.kill()
                proc.wait()
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(timeout=2.0)
        # A grandchild may still hold a pipe open; a stream whose reader is still blocked in
        # it is left to the garbage collector (closing it under the reader could hang).
        for stream, t in ((proc.stdout, self._threads[1]), (proc.stderr, self._threads[2])):
            if not t.is_alive():
                try:
                    stream.close()
                except (OSError, ValueError):
                    pass
        if self._dead is None:
            self._dead = TransportClosed("session closed")

    @property
    def returncode(self):
        return self.proc.returncode if self.proc else None


if sys.version_info < (3, 8):  # pragma: no cover
    raise ImportError("pgmcp_client needs Python 3.8 or newer")

"""Client of crd_validate.mjs: one Node.js process, started on first use, reused for all docs."""
import itertools
import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import threading

SCRIPT = pathlib.Path(__file__).with_name("crd_validate.mjs")


class NodeValidatorError(RuntimeError):
    pass


class NodeValidator:
    def __init__(self, node=None):
        self._node = node or os.environ.get("NODE") or shutil.which("node")
        self._lock = threading.Lock()  # one request in flight: the protocol is strictly request/answer
        self._proc = None
        self._stderr = None
        self._ids = itertools.count(1)

    def _start(self):
        if not self._node:
            raise NodeValidatorError("node not found (set NODE or put node on PATH)")
        # stderr goes to a file, not a pipe: nobody reads a pipe, and a full one would hang node.
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            [self._node, str(SCRIPT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._stderr, cwd=SCRIPT.parent, text=True, encoding="utf-8", bufsize=1)

    def _died(self, why):
        self._stderr.seek(0)
        tail = self._stderr.read()[-4000:].decode("utf-8", "replace")
        self._proc = None
        raise NodeValidatorError("%s (node stderr: %s)" % (why, tail.strip() or "empty"))

    def validate(self, docs):
        """One error list per doc, same order."""
        if not docs:
            return []
        with self._lock:
            if self._proc is None:
                self._start()
            req_id = next(self._ids)
            # default=str: YAML may have produced dates/timestamps, which JSON cannot carry.
            line = json.dumps({"id": req_id, "docs": docs}, default=str)
            try:
                self._proc.stdin.write(line + "\n")
                self._proc.stdin.flush()
                answer = self._proc.stdout.readline()
            except (BrokenPipeError, OSError) as e:
                self._died("crd_validate.mjs is gone: %s" % e)
            if not answer:
                self._died("crd_validate.mjs exited")
            reply = json.loads(answer)
            if reply.get("id") != req_id:
                self._died("crd_validate.mjs answered out of turn: %r" % answer[:200])
            if "error" in reply:
                raise NodeValidatorError("crd_validate.mjs failed: %s" % reply["error"])
            return reply["results"]

    def close(self):
        with self._lock:
            proc, self._proc = self._proc, None
            if proc is not None:
                proc.stdin.close()  # EOF ends the read loop, node exits on its own
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                proc.stdout.close()
            if self._stderr is not None:
                self._stderr.close()
                self._stderr = None

"""Git's smart HTTP protocol on 127.0.0.1: `git http-backend` (CGI) behind a small threaded HTTP server.

Run as its own process (``python tests/git_http_backend.py ROOT PORT``) so that tests/gitserver.py can kill it,
and every `git http-backend` it started, as one process group, the way a server dies. Standard library only: it
starts in a few tens of milliseconds.

Both bodies are streamed: the request body goes to the CGI's stdin as it arrives (de-chunked when the client
sends ``Transfer-Encoding: chunked``, left compressed when it sends ``Content-Encoding: gzip``, which
http-backend inflates itself), and the CGI's output goes back in chunks as it is written. A client that drops
the connection midway closes the CGI's stdin early: receive-pack then sees a truncated pack, as behind a real
server.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO, Any
from urllib.parse import unquote


class GitHttpHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    root = ""

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write("http: " + (format % args) + "\n")

    def do_GET(self) -> None:  # noqa: N802 - the http.server protocol
        self._cgi()

    def do_POST(self) -> None:  # noqa: N802
        self._cgi()

    def _cgi(self) -> None:
        path, _, query = self.path.partition("?")
        env = {
            **os.environ,
            "GIT_PROJECT_ROOT": self.root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": self.request_version,
            "SERVER_SOFTWARE": "gitbench-tests",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": unquote(path),
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "REMOTE_USER": "tester",
            "REMOTE_ADDR": self.client_address[0],
        }
        for key, value in self.headers.items():
            env["HTTP_" + key.upper().replace("-", "_")] = value
        if self.headers.get("Content-Length") is not None:
            env["CONTENT_LENGTH"] = self.headers["Content-Length"]
        for header in ("Content-Encoding", "Transfer-Encoding"):
            if self.headers.get(header):
                self.log_message("%s %s: %s", self.command, header, self.headers[header])
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        proc = subprocess.Popen(
            ["git", "http-backend"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=sys.stderr, env=env
        )
        assert proc.stdin is not None and proc.stdout is not None
        feeder = threading.Thread(target=self._feed, args=(proc.stdin,), daemon=True)
        feeder.start()
        try:
            self._answer(proc.stdout)
        finally:
            feeder.join()
            proc.stdout.close()
            proc.wait()

    def _feed(self, sink: IO[bytes]) -> None:
        """Copy the request body to the CGI as it arrives; on a dropped client, close the CGI's stdin early."""
        try:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                while True:
                    size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        line = self.rfile.readline()
                        while line not in (b"\r\n", b"\n", b""):  # the chunked body's trailers: read past them
                            line = self.rfile.readline()
                        break
                    self._copy(size, sink)
                    self.rfile.readline()
            else:
                self._copy(int(self.headers.get("Content-Length") or 0), sink)
        except (OSError, ValueError):
            self.close_connection = True
        finally:
            with contextlib.suppress(OSError):  # the CGI's stdin is closed already when it stopped reading
                sink.close()

    def _copy(self, size: int, sink: IO[bytes]) -> None:
        while size > 0:
            data = self.rfile.read1(min(size, 65536))
            if not data:
                raise OSError("the client closed the connection mid-body")
            size -= len(data)
            # The CGI may stop reading (it refused the request): keep draining the body all the same.
            with contextlib.suppress(BrokenPipeError):
                sink.write(data)
                sink.flush()

    def _answer(self, out: IO[bytes]) -> None:
        status, headers = "200 OK", []
        while True:
            line = out.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            key, _, value = line.decode("latin-1").partition(":")
            if key.lower() == "status":
                status = value.strip()
            else:
                headers.append((key.strip(), value.strip()))
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason or None)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        while True:
            data = out.read1(65536)  # type: ignore[attr-defined]
            if not data:
                break
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def main() -> None:
    root, port = sys.argv[1], int(sys.argv[2])
    GitHttpHandler.root = root
    httpd = ThreadingHTTPServer(("127.0.0.1", port), GitHttpHandler)
    httpd.daemon_threads = True
    sys.stderr.write(f"http: serving {root} on 127.0.0.1:{port}\n")
    sys.stderr.flush()
    httpd.serve_forever()


if __name__ == "__main__":
    main()

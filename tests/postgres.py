"""A real PostgreSQL server on loopback for the tests (Debian's ``postgresql`` package).

``postgres_server`` (session scope) runs initdb into a temporary directory, starts the server on
a free port of 127.0.0.1 with trust authentication, and stops it at the end of the session. Tests
ask it for a fresh database: ``postgres_server.new_database()`` returns a SQLAlchemy URL.
PostgreSQL refuses to run as root, so when the tests run as root the server runs as ``postgres``.
"""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile

import pytest


def _binaries():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        pytest.fail("PostgreSQL is not installed: apt-get install postgresql (listed in .ci/system-packages)")
    return os.path.dirname(found[-1])


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """A throw-away server: ``url(db)``, ``new_database()``, ``stop()``."""

    def __init__(self):
        self.bin = _binaries()
        self.root = tempfile.mkdtemp(prefix="rnn-postgres-")
        self.port = _free_port()
        self.data = os.path.join(self.root, "data")
        self.user = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        if self.user:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        self._run("initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync", "--no-instructions")
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   f"-c synchronous_commit=off -c full_page_writes=off")
        self._run("pg_ctl", "start", "-w", "-t", "60", "-D", self.data, "-o", options,
                  "-l", os.path.join(self.root, "server.log"))
        self._count = 0

    def _run(self, tool, *args):
        kwargs = {}
        if self.user:
            uid, gid = self.user.pw_uid, self.user.pw_gid
            kwargs["preexec_fn"] = lambda: (os.setgid(gid), os.setuid(uid))
        done = subprocess.run([os.path.join(self.bin, tool), *args], capture_output=True, text=True,
                              cwd=self.root, **kwargs)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def url(self, database="postgres"):
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self):
        """Create an empty database and return its SQLAlchemy URL."""
        self._count += 1
        name = f"gradebook_{self._count}"
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return self.url(name)

    def stop(self):
        try:
            self._run("pg_ctl", "stop", "-D", self.data, "-m", "immediate", "-w")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server():
    server = PostgresServer()
    yield server
    server.stop()

"""A private, real IMAP server for the polling tests: Debian's dovecot on a free local port.

The server lives in a directory of its own under /tmp rather than in pytest's tmp_path:
its sockets need a short path, and when the tests run as root dovecot refuses to log in
or open mail as root, so its unprivileged users must be able to reach the directory.
"""

import grp
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

DOVECOT = Path("/usr/sbin/dovecot")


@dataclass
class ImapAccount:
    host: str
    port: int
    username: str
    password: str


class Dovecot:
    def __init__(self, root: Path):
        self.root = root
        self.port = _free_port()
        # Any user name logs in with this password: each test takes a fresh, empty mailbox.
        self.password = secrets.token_urlsafe(12)
        self.log = root / "dovecot.log"
        if os.geteuid() == 0:
            # dovecot runs neither login processes nor mail access as root.
            internal, login = "dovecot", "dovenull"
        else:  # a rootless instance: every process runs as the current user
            internal = login = pwd.getpwuid(os.getuid()).pw_name
        mail_user = pwd.getpwnam(internal)
        self.mail_uid, self.mail_gid = mail_user.pw_uid, mail_user.pw_gid
        (root / "mail").mkdir()
        os.chown(root / "mail", self.mail_uid, self.mail_gid)
        self.config = root / "dovecot.conf"
        self.config.write_text(f"""
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
instance_name = switchboard-test-{self.port}
log_path = {self.log}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# No delay after the wrong-password test: neither on the failure nor the per-IP penalty
# (anvil's penalty socket, unusable, is dovecot's documented way to turn that one off).
auth_failure_delay = 0
default_internal_user = {internal}
default_internal_group = {grp.getgrgid(mail_user.pw_gid).gr_name}
default_login_user = {login}
first_valid_uid = 1
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = static
  args = password={self.password}
}}
userdb {{
  driver = static
  args = uid={self.mail_uid} gid={self.mail_gid} home={root}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
""")
        self.process = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [str(DOVECOT), "-F", "-c", str(self.config)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.process.stdout.read().decode()}"
                                   f"{self._log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    if conn.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"dovecot did not answer on port {self.port}{self._log()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)

    def account(self) -> ImapAccount:
        """A new user, whose mailbox dovecot creates empty on first login."""
        return ImapAccount("127.0.0.1", self.port, f"u{secrets.token_hex(4)}", self.password)

    def _log(self) -> str:
        return f"\n{self.log.read_text()}" if self.log.exists() else ""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def dovecot():
    if not DOVECOT.exists():
        pytest.skip(f"{DOVECOT} is missing: apt-get install dovecot-imapd (.ci/run does)")
    root = Path(tempfile.mkdtemp(prefix="sb-dovecot-"))
    root.chmod(0o755)
    server = Dovecot(root)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def imap_account(dovecot) -> ImapAccount:
    return dovecot.account()


@pytest.fixture
def unused_port() -> int:
    return _free_port()


@pytest.fixture
def private_cache(settings):
    """The configured cache (file or Redis) under a key prefix of this test's own: what it
    remembers (poll locks, webhook tokens) is invisible to other tests and test runs."""
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}
    }

"""Email ingest throughput and threading: Switchboard's `ingest_email` against
django-helpdesk's `get_email`, on the same messages, in the same run.

    .venv/bin/python bench/email_ingest.py --messages 5000

The corpus is built from the shared email fixtures ($SWITCHBOARD_FIXTURES/email) into
bench/out/email-corpus/: the fixtures repeated to N messages, each copy with its own
Message-ID, plus two synthetic reply chains per repetition; the expected ticket grouping
goes to bench/out/email-corpus.json. django-helpdesk is installed into its own venv
(bench/out/helpdesk-venv, pinned below) with a settings module this script writes.
Each run times both whole commands as subprocesses, each on a freshly created and migrated
PostgreSQL database, alternating which goes first; then reads threading from each database.
Both commands run with their defaults: Switchboard's `--jobs` is the number of CPUs (at
most 4), get_email is one process.
"""

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

from common import OUT_DIR, ROOT, database_recreate

CORPUS_DIR = OUT_DIR / "email-corpus"
EXPECTED_PATH = OUT_DIR / "email-corpus.json"
FIXTURES_DIR = Path(os.environ.get("SWITCHBOARD_FIXTURES", ROOT.parent / "shared" / "fixtures"))

# Database names; `--database NAME` uses NAME and NAME_helpdesk instead.
SWITCHBOARD_DB = "switchboard_bench_email"
INBOX_SLUG = "bench-email"
SUPPORT_ADDRESS = "support@bench.example"

HELPDESK_DB = "switchboard_bench_helpdesk"
HELPDESK_VENV = OUT_DIR / "helpdesk-venv"
HELPDESK_PROJECT = OUT_DIR / "helpdesk-project"
HELPDESK_MAILDIR = OUT_DIR / "helpdesk-maildir"
# The newest release when this benchmark was written, with a Django it supports (5.2 LTS).
HELPDESK_REQUIREMENTS = ["django-helpdesk==2.6.1", "Django==5.2.19", "psycopg[binary]==3.3.9"]
QUEUE_SLUG = "bench"

# Replies among the fixtures whose parent is also a fixture (SOURCES.md): reply -> parent.
FIXTURE_REPLIES = {"chatwoot_in_reply_to.eml": "chatwoot_support_thread_parent.eml"}
_MESSAGE_ID_FIELD = re.compile(rb"(?im)^message-id:[^\n]*\n(?:[ \t][^\n]*\n)*")
_THREAD_FIELDS = re.compile(rb"(?im)^(?:in-reply-to|references):[^\n]*\n(?:[ \t][^\n]*\n)*")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5000, help="Corpus size.")
    parser.add_argument("--runs", type=int, default=3,
                        help="Timed runs of each command, each on a fresh database.")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432",
                        help="PostgreSQL server URL, without database name.")
    parser.add_argument("--helpdesk-as-shipped", action="store_true",
                        help="Run get_email without the shim that lets it go past a message "
                             "that raises (see HELPDESK_SHIM).")
    parser.add_argument("--profile", type=int, metavar="N", default=0,
                        help="Instead of the comparison: cProfile Switchboard's command on "
                             "the first N messages (in one process, --jobs 1) and write the "
                             "top functions to bench/out/.")
    parser.add_argument("--database", metavar="NAME",
                        help="Use databases NAME and NAME_helpdesk (both dropped and "
                             "recreated) instead of the defaults.")
    args = parser.parse_args()
    if args.database:
        global SWITCHBOARD_DB, HELPDESK_DB
        SWITCHBOARD_DB, HELPDESK_DB = args.database, f"{args.database}_helpdesk"
    OUT_DIR.mkdir(exist_ok=True)
    expected = corpus_build(FIXTURES_DIR / "email", args.messages)
    print(f"corpus: {len(expected['messages'])} messages, {len(expected['pairs'])} "
          f"reply->parent pairs in {CORPUS_DIR.relative_to(ROOT)}", flush=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    if args.profile:
        print(switchboard_profile(args.server, sorted(CORPUS_DIR.iterdir())[:args.profile],
                                  OUT_DIR / f"email_ingest-profile-{stamp}.txt"))
        return
    helpdesk_install()
    runs = []
    for number in range(args.runs):
        systems = [
            ("switchboard", lambda: switchboard_run(args.server, expected)),
            ("helpdesk", lambda: helpdesk_run(args.server, expected,
                                              shim=not args.helpdesk_as_shipped)),
        ]
        if number % 2:  # alternate the order, so drift and warm caches favour neither
            systems.reverse()
        results = {}
        for name, run in systems:
            results[name] = run()
            print(f"run {number + 1} {name}: {results[name]['wall_s']:.1f} s, "
                  f"{results[name]['threading']['accuracy']:.1%} threaded", flush=True)
        runs.append(results)
    summary = summarize(runs, len(expected["messages"]))
    report_data = {"messages": len(expected["messages"]), "pairs": len(expected["pairs"]),
                   "helpdesk": HELPDESK_REQUIREMENTS, "helpdesk_shim": not args.helpdesk_as_shipped,
                   "summary": summary, "runs": runs,
                   "cpus": os.cpu_count()}
    (OUT_DIR / f"email_ingest-{stamp}.json").write_text(json.dumps(report_data, indent=2))
    print(report(report_data))


# --- corpus -----------------------------------------------------------------------------

def corpus_build(fixtures: Path, count: int) -> dict:
    """Write `count` messages to CORPUS_DIR, named so that sorting puts every parent before
    its replies, and return (and save) the expected grouping."""
    names = sorted(p.name for p in fixtures.glob("*.eml"))
    if not names:
        raise SystemExit(f"no .eml fixtures in {fixtures} (set SWITCHBOARD_FIXTURES)")
    for reply, parent in FIXTURE_REPLIES.items():  # a reply right after its parent
        names.remove(reply)
        names.insert(names.index(parent) + 1, reply)
    fixtures = [(name, (fixtures / name).read_bytes(), FIXTURE_REPLIES.get(name))
                for name in names]
    shutil.rmtree(CORPUS_DIR, ignore_errors=True)
    CORPUS_DIR.mkdir(parents=True)
    messages, pairs = [], []
    for repetition in range(count):  # bounded by `count`; stops once there are enough
        items = fixtures + synthetic_chains(repetition)
        parents = {name: parent for name, _, parent in items}
        old_ids = {name: _message_id_of(raw) for name, raw, parent in items
                   if name in parents.values()}
        new_ids = {}
        for position, (name, raw, parent) in enumerate(items[:count - len(messages)]):
            new_ids[name] = f"<bench.{repetition:05d}.{position:02d}@switchboard-bench.example>"
            if parent:
                pairs.append([new_ids[name], new_ids[parent]])
            ancestor = parent
            while ancestor:  # In-Reply-To / References: this repetition's copies
                raw = thread_refs_rewrite(raw, old_ids[ancestor], new_ids[ancestor])
                ancestor = parents[ancestor]
            raw = message_id_set(raw, new_ids[name])
            file = f"{repetition:05d}-{position:02d}-{name}"
            (CORPUS_DIR / file).write_bytes(raw)
            messages.append({"file": file, "message_id": new_ids[name],
                             "group": f"{repetition}:{_thread_root(name, parents)}"})
        if len(messages) == count:
            break
    expected = {"messages": messages, "pairs": pairs,
                "pairs_note": "[reply Message-ID, parent Message-ID]: expected on one ticket"}
    EXPECTED_PATH.write_text(json.dumps(expected, indent=1))
    return expected


def _thread_root(name: str, parents: dict) -> str:
    """Messages with one root belong on one ticket; every other message on its own."""
    while parents[name]:
        name = parents[name]
    return name


def _header_end(raw: bytes) -> int:
    match = re.search(rb"\r?\n\r?\n", raw)
    return match.end() if match else len(raw)


def _message_id_of(raw: bytes) -> bytes:
    match = _MESSAGE_ID_FIELD.search(raw, 0, _header_end(raw))
    return re.search(rb"<[^>]*>", match.group()).group()


def message_id_set(raw: bytes, message_id: str) -> bytes:
    """Replace the value of the Message-ID field (or add the field in front), keeping every
    other byte as it was."""
    match = _MESSAGE_ID_FIELD.search(raw, 0, _header_end(raw))
    if match:
        field = match.group()
        eol = b"\r\n" if field.endswith(b"\r\n") else b"\n"
        name = field.split(b":", 1)[0]
        return raw[:match.start()] + name + b": " + message_id.encode() + eol + raw[match.end():]
    eol = b"\r\n" if re.match(rb"[^\n]*\r\n", raw) else b"\n"
    return b"Message-ID: " + message_id.encode() + eol + raw


def thread_refs_rewrite(raw: bytes, old_id: bytes, new_id: str) -> bytes:
    """Point In-Reply-To / References at `new_id` wherever they name `old_id`."""
    end = _header_end(raw)
    head = _THREAD_FIELDS.sub(lambda m: m.group().replace(old_id, new_id.encode()), raw[:end])
    return head + raw[end:]


def synthetic_chains(repetition: int) -> list[tuple[str, bytes, str | None]]:
    """Two conversations, as mail clients write them: a customer's question and a follow-up
    (In-Reply-To, References, "Re:"); a question, a follow-up and a cc'd colleague's answer
    to the follow-up. (name, bytes, name of the parent)"""
    customer = f"Customer {repetition} <customer{repetition}@shop.example>"
    colleague = f"Colleague {repetition} <colleague{repetition}@shop.example>"
    order = f"Order {10000 + repetition} has not arrived"
    invoice = f"Invoice {20000 + repetition}: wrong VAT number"
    specs = [  # name, parent, From, Subject, text, with an HTML alternative
        ("synthetic_a1.eml", None, customer, order,
         f"Hello,\n\nmy order {10000 + repetition} was due last week and has not arrived.\n"
         "Could you check where it is?\n\nThanks\n", False),
        ("synthetic_a2.eml", "synthetic_a1.eml", customer, f"Re: {order}",
         "Any news? The tracking page still says 'label created'.\n\n"
         "> my order was due last week and has not arrived.\n", False),
        ("synthetic_b1.eml", None, customer, invoice,
         "Hi,\n\nthe VAT number on the invoice is our old one. Please reissue it.\n", True),
        ("synthetic_b2.eml", "synthetic_b1.eml", customer, f"Re: {invoice}",
         "The new number is EU123456789, sorry for leaving it out.\n\n"
         "> the VAT number on the invoice is our old one.\n", True),
        ("synthetic_b3.eml", "synthetic_b2.eml", colleague, f"RE: {invoice}",
         "Adding our accounts team's address for the corrected invoice: "
         "accounts@shop.example\n", False),
    ]
    at = datetime(2024, 1, 1, 9, tzinfo=UTC) + timedelta(days=repetition)
    items, ids, references = [], {}, {}
    for offset, (name, parent, sender, subject, text, with_html) in enumerate(specs):
        ids[name] = f"<{name}@switchboard-bench.example>"  # replaced per copy
        message = EmailMessage(policy=default_policy.clone(linesep="\n"))
        message["From"] = sender
        message["To"] = SUPPORT_ADDRESS
        if sender == colleague:
            message["Cc"] = customer
        message["Subject"] = subject
        message["Date"] = (at + timedelta(hours=offset)).strftime("%a, %d %b %Y %H:%M:%S +0000")
        message["Message-ID"] = ids[name]
        references[name] = [*references[parent], ids[parent]] if parent else []
        if parent:
            message["In-Reply-To"] = ids[parent]
            message["References"] = " ".join(references[name])
        message.set_content(text)
        if with_html:
            message.add_alternative("<p>" + text.replace("\n", "<br>") + "</p>", subtype="html")
            message.set_boundary(f"bench-{repetition}-{offset}")  # the same corpus every run
        items.append((name, message.as_bytes(), parent))
    return items


# --- Switchboard ------------------------------------------------------------------------

def switchboard_prepare(server: str, var_dir: str) -> dict:
    """A fresh, migrated database with one email inbox; the environment to run against it."""
    database_recreate(server, SWITCHBOARD_DB)
    env = {**os.environ, "DATABASE_URL": f"{server}/{SWITCHBOARD_DB}",
           "DJANGO_SETTINGS_MODULE": "config.settings.dev", "DEBUG": "0", "REDIS_URL": "",
           "SWITCHBOARD_VAR_DIR": var_dir}
    env.pop("MEDIA_ROOT", None)  # media under the temporary var dir
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--verbosity", "0"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([*manage, "shell", "-c", (
        "from inbox.models import Inbox; "
        f"Inbox.objects.create(kind='email', name='Bench', slug='{INBOX_SLUG}', "
        f"config={{'address': '{SUPPORT_ADDRESS}'}})")], cwd=ROOT, env=env, check=True,
        stdout=subprocess.DEVNULL)
    return env


def switchboard_run(server: str, expected: dict) -> dict:
    with tempfile.TemporaryDirectory(prefix="switchboard-bench-") as var_dir:
        env = switchboard_prepare(server, var_dir)
        command = [sys.executable, "manage.py", "ingest_email", "--inbox", INBOX_SLUG,
                   str(CORPUS_DIR)]
        result = timed(command, cwd=ROOT, env=env, log=OUT_DIR / "email_ingest-switchboard.log")
    result.pop("stderr")
    counts = dict(re.findall(r"(\w+)=(\d+)", result.pop("stdout").strip().splitlines()[-1]))
    with psycopg.connect(f"{server}/{SWITCHBOARD_DB}") as connection:
        rows = connection.execute(
            "SELECT external_id, ticket_id, id FROM inbox_message WHERE direction = 'inbound'"
        ).fetchall()
        tickets = connection.execute("SELECT count(*) FROM inbox_ticket").fetchone()[0]
    return {**result, "counts": {k: int(v) for k, v in counts.items()}, "tickets": tickets,
            "threading": threading_score(expected, rows)}


def switchboard_profile(server: str, files: list[Path], out: Path) -> str:
    import pstats

    with tempfile.TemporaryDirectory(prefix="switchboard-bench-") as var_dir:
        env = switchboard_prepare(server, var_dir)
        profile = out.with_suffix(".prof")
        # One process: cProfile sees only the process it runs in.
        command = [sys.executable, "-m", "cProfile", "-o", str(profile), "manage.py",
                   "ingest_email", "--inbox", INBOX_SLUG, "--jobs", "1", *map(str, files)]
        result = timed(command, cwd=ROOT, env=env, log=OUT_DIR / "email_ingest-profile.log")
        with out.open("w") as stream:
            stream.write(f"{len(files)} messages, {result['wall_s']:.1f} s under cProfile\n")
            for order in ("cumulative", "tottime"):
                pstats.Stats(str(profile), stream=stream).sort_stats(order).print_stats(40)
    return f"{len(files)} messages in {result['wall_s']:.1f} s under cProfile; see {out}"


# --- django-helpdesk --------------------------------------------------------------------

HELPDESK_SETTINGS = """\
# Written by bench/email_ingest.py: a minimal project around django-helpdesk for get_email.
import os

SECRET_KEY = "bench"
DEBUG = False
ALLOWED_HOSTS = ["localhost"]
INSTALLED_APPS = [
    "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
    "django.contrib.sessions", "django.contrib.messages", "django.contrib.staticfiles",
    "django.contrib.sites", "django.contrib.humanize", "rest_framework", "helpdesk",
    "bench_helpdesk_shim.ShimConfig",
]
SITE_ID = 1
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "bench_helpdesk_urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
DATABASES = {"default": {
    "ENGINE": "django.db.backends.postgresql", "NAME": os.environ["HELPDESK_DB_NAME"],
    "HOST": os.environ["HELPDESK_DB_HOST"], "PORT": os.environ["HELPDESK_DB_PORT"],
    "USER": os.environ["HELPDESK_DB_USER"], "PASSWORD": os.environ["HELPDESK_DB_PASSWORD"],
}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "/static/"
MEDIA_ROOT = os.environ["HELPDESK_MEDIA_ROOT"]
MEDIA_URL = "/media/"
# Nothing leaves the machine; Switchboard's side sends no acknowledgements either.
EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
HELPDESK_TEAMS_MODE_ENABLED = False
LOGGING = {  # failures (a queue run that ended, a message the shim skipped) to stderr
    "version": 1, "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"django.helpdesk": {"handlers": ["stderr"], "level": "ERROR"},
                "bench_helpdesk_shim": {"handlers": ["stderr"], "level": "WARNING"}},
}
"""

HELPDESK_URLS = """\
from django.urls import include, path

urlpatterns = [path("helpdesk/", include("helpdesk.urls", namespace="helpdesk"))]
"""

# get_email ends the whole queue run at the first message that raises, leaving every later
# file unread; on these fixtures that happens within the first few files. Two changes make
# it go through the corpus, so that its throughput can be measured at all:
# - it reads each file with open(path, "r") before its own force_str(..., errors="replace"),
#   so a file that is not valid UTF-8 raises: the read is made to replace, as intended;
# - any other exception from one message leaves that file in the directory (logged), as
#   get_email already does for a message it could not turn into a ticket.
# --helpdesk-as-shipped runs it without them.
HELPDESK_SHIM = """\
import functools
import logging

from django.apps import AppConfig

logger = logging.getLogger("bench_helpdesk_shim")


class ShimConfig(AppConfig):
    name = "bench_helpdesk_shim"

    def ready(self):
        import os

        import helpdesk.email
        from helpdesk.exceptions import DeleteIgnoredTicketException, IgnoreTicketException

        if os.environ.get("HELPDESK_SHIM") != "1":
            return
        helpdesk.email.open = functools.partial(open, encoding="utf-8", errors="replace")
        extract = helpdesk.email.extract_email_metadata

        def extract_one(message, queue, logger):
            try:
                return extract(message=message, queue=queue, logger=logger)
            except (IgnoreTicketException, DeleteIgnoredTicketException):
                raise
            except Exception as exc:
                logging.getLogger("bench_helpdesk_shim").warning("message failed: %r", exc)
                return None

        helpdesk.email.extract_email_metadata = extract_one
"""

HELPDESK_MANAGE = """\
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench_helpdesk_settings")
from django.core.management import execute_from_command_line

execute_from_command_line(sys.argv)
"""


def helpdesk_install() -> None:
    """Create the helpdesk venv once (pinned), and (re)write its project every run."""
    python = HELPDESK_VENV / "bin" / "python"
    marker = HELPDESK_VENV / "bench-requirements.txt"
    wanted = "\n".join(HELPDESK_REQUIREMENTS)
    if not marker.exists() or marker.read_text() != wanted:
        print(f"installing {', '.join(HELPDESK_REQUIREMENTS)} into {HELPDESK_VENV}", flush=True)
        shutil.rmtree(HELPDESK_VENV, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(HELPDESK_VENV)], check=True)
        done = subprocess.run([str(python), "-m", "pip", "install", *HELPDESK_REQUIREMENTS],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if done.returncode:
            raise SystemExit(f"pip install failed:\n{done.stdout}")
        marker.write_text(wanted)
    HELPDESK_PROJECT.mkdir(exist_ok=True)
    (HELPDESK_PROJECT / "bench_helpdesk_settings.py").write_text(HELPDESK_SETTINGS)
    (HELPDESK_PROJECT / "bench_helpdesk_urls.py").write_text(HELPDESK_URLS)
    (HELPDESK_PROJECT / "bench_helpdesk_shim.py").write_text(HELPDESK_SHIM)
    (HELPDESK_PROJECT / "manage.py").write_text(HELPDESK_MANAGE)


def helpdesk_run(server: str, expected: dict, *, shim: bool) -> dict:
    database_recreate(server, HELPDESK_DB)
    server_parts = urlsplit(server)
    python = str(HELPDESK_VENV / "bin" / "python")
    with tempfile.TemporaryDirectory(prefix="helpdesk-bench-") as media:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench_helpdesk_settings",
               "HELPDESK_DB_NAME": HELPDESK_DB, "HELPDESK_DB_HOST": server_parts.hostname,
               "HELPDESK_DB_PORT": str(server_parts.port or 5432),
               "HELPDESK_DB_USER": server_parts.username or "",
               "HELPDESK_DB_PASSWORD": server_parts.password or "",
               "HELPDESK_MEDIA_ROOT": media, "HELPDESK_SHIM": "1" if shim else "0"}
        subprocess.run([python, "manage.py", "migrate", "--verbosity", "0"],
                       cwd=HELPDESK_PROJECT, env=env, check=True, stdout=subprocess.DEVNULL)
        shutil.rmtree(HELPDESK_MAILDIR, ignore_errors=True)  # get_email deletes what it took
        shutil.copytree(CORPUS_DIR, HELPDESK_MAILDIR)
        subprocess.run([python, "manage.py", "shell", "-c", (
            "from helpdesk.models import Queue; "
            f"Queue.objects.create(title='Bench', slug='{QUEUE_SLUG}', "
            f"email_address='{SUPPORT_ADDRESS}', allow_email_submission=True, "
            f"email_box_type='local', email_box_local_dir='{HELPDESK_MAILDIR}', "
            # errors (a failed queue run) reach stderr; per-message info stays off
            "logging_type='error')")], cwd=HELPDESK_PROJECT, env=env, check=True,
            stdout=subprocess.DEVNULL)
        result = timed([python, "manage.py", "get_email"], cwd=HELPDESK_PROJECT, env=env,
                       log=OUT_DIR / "email_ingest-helpdesk.log")
    result.pop("stdout")
    stderr = result.pop("stderr")
    failures = Counter(re.findall(r"message failed: (\w+)", stderr))
    left = sorted(p.name for p in HELPDESK_MAILDIR.iterdir())
    with psycopg.connect(f"{server}/{HELPDESK_DB}") as connection:
        rows = connection.execute(
            "SELECT message_id, ticket_id, id FROM helpdesk_followup").fetchall()
        tickets = connection.execute("SELECT count(*) FROM helpdesk_ticket").fetchone()[0]
    rows = [((key or "").strip(), ticket, order) for key, ticket, order in rows]
    return {**result, "counts": {"processed": len(expected["messages"]) - len(left),
                                 "left_in_maildir": len(left), "followups": len(rows)},
            "failed": dict(failures), "queue_run_ended": "Queue processing failed" in stderr,
            "left_by_fixture": dict(Counter(name.split("-", 2)[2] for name in left)),
            "tickets": tickets, "threading": threading_score(expected, rows)}


# --- shared -----------------------------------------------------------------------------

def timed(command: list[str], *, cwd: Path, env: dict, log: Path) -> dict:
    """Run one whole command; wall time from start to exit, and its CPU time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          errors="replace")
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    log.write_text(f"$ {' '.join(command)}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}")
    if done.returncode:
        raise SystemExit(f"{command[2:]} failed ({done.returncode}); see {log}")
    return {"wall_s": wall, "cpu_s": (after.ru_utime - before.ru_utime)
            + (after.ru_stime - before.ru_stime), "stdout": done.stdout, "stderr": done.stderr,
            "stderr_lines": done.stderr.count("\n")}


def threading_score(expected: dict, rows: list[tuple[str, int, int]]) -> dict:
    """`rows`: (Message-ID, ticket id, insertion order) per stored message. A pair counts
    when reply and parent are on one ticket; a message is wrongly merged when its ticket
    holds a message that belongs to another expected group."""
    group = {m["message_id"]: m["group"] for m in expected["messages"]}
    stored = {key: (ticket, order) for key, ticket, order in rows if key in group}
    groups_of_ticket = defaultdict(set)
    for key, (ticket, _) in stored.items():
        groups_of_ticket[ticket].add(group[key])
    pairs = expected["pairs"]
    both = [(r, p) for r, p in pairs if r in stored and p in stored]
    parent_first = [(r, p) for r, p in both if stored[p][1] < stored[r][1]]

    def same_ticket(pair):
        return stored[pair[0]][0] == stored[pair[1]][0]

    return {
        "pairs": len(pairs),
        "threaded": sum(map(same_ticket, both)),
        "accuracy": sum(map(same_ticket, both)) / len(pairs),
        "pairs_stored": len(both),
        "pairs_parent_first": len(parent_first),
        "threaded_parent_first": sum(map(same_ticket, parent_first)),
        "messages_found": len(stored),
        "wrongly_merged": sum(len(groups_of_ticket[t]) > 1 for t, _ in stored.values()),
    }


def summarize(runs: list[dict], messages: int) -> dict:
    summary = {}
    for name in ("switchboard", "helpdesk"):
        walls = [run[name]["wall_s"] for run in runs]
        summary[name] = {"wall_s_min": min(walls), "wall_s_median": statistics.median(walls),
                         "msgs_per_s_median": messages / statistics.median(walls),
                         "msgs_per_s_best": messages / min(walls)}
    ratios = [run["helpdesk"]["wall_s"] / run["switchboard"]["wall_s"] for run in runs]
    summary["ratio"] = {"median": statistics.median(ratios), "min": min(ratios),
                        "max": max(ratios), "per_run": ratios}
    return summary


def report(data: dict) -> str:
    s, runs = data["summary"], data["runs"]
    last = runs[-1]
    sb, hd = last["switchboard"], last["helpdesk"]

    def threading(t):
        return f"{t['threaded']}/{t['pairs']} = {t['accuracy']:.1%}"

    def threading_detail(t):
        return (f"{t['pairs_stored']} / {t['pairs_parent_first']} / "
                f"{t['threaded_parent_first']}")

    def counts(result):
        return " ".join(f"{k}={v}" for k, v in result["counts"].items())

    left = ", ".join(f"{name} x{n}" for name, n in hd.get("left_by_fixture", {}).items())
    failed = ", ".join(f"{name} x{n}" for name, n in hd.get("failed", {}).items())
    lines = [
        f"{data['messages']} messages, {data['pairs']} reply->parent pairs, "
        f"{len(runs)} runs per command (fresh database each), {data['cpus']} CPUs",
        "",
        "| | Switchboard `ingest_email` | django-helpdesk `get_email` |",
        "|---|---|---|",
        f"| wall s, min / median | {s['switchboard']['wall_s_min']:.1f} / "
        f"{s['switchboard']['wall_s_median']:.1f} | {s['helpdesk']['wall_s_min']:.1f} / "
        f"{s['helpdesk']['wall_s_median']:.1f} |",
        f"| messages/s (median run) | {s['switchboard']['msgs_per_s_median']:.1f} | "
        f"{s['helpdesk']['msgs_per_s_median']:.1f} |",
        f"| CPU s of the command process (last run) | {sb['cpu_s']:.1f} | {hd['cpu_s']:.1f} |",
        f"| threading accuracy (last run) | {threading(sb['threading'])} | "
        f"{threading(hd['threading'])} |",
        f"| pairs: both stored / parent stored first / of those threaded | "
        f"{threading_detail(sb['threading'])} | {threading_detail(hd['threading'])} |",
        f"| messages wrongly merged | {sb['threading']['wrongly_merged']} | "
        f"{hd['threading']['wrongly_merged']} |",
        f"| tickets | {sb['tickets']} | {hd['tickets']} |",
        f"| outcomes (last run) | {counts(sb)} | {counts(hd)} |",
        "",
        f"Throughput ratio Switchboard / helpdesk (pair by pair): median "
        f"{s['ratio']['median']:.2f}x (min {s['ratio']['min']:.2f}x, max "
        f"{s['ratio']['max']:.2f}x). {', '.join(data['helpdesk'])}"
        f"{'' if data['helpdesk_shim'] else ', as shipped (no shim)'}.",
        f"helpdesk left in its directory: {left or 'nothing'}; exceptions: {failed or 'none'}"
        f"{'; its queue run ended early' if hd.get('queue_run_ended') else ''}.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""tests/frontend/status_page.py: drives headless Chromium through GET /status
for tests/frontend/status_page_test.cpp (CTest frontend.status_page).

  status_page.py --chromium PATH --url URL --pid BROKER_PID
                 --artifacts DIR --profile DIR [--deadline SECONDS]

Steps, each bounded (the whole run by --deadline):
  1. Negative control: a page that calls console.error and throws must be
     caught by the console-error detector (else the later "no console
     errors" would prove nothing).
  2. URL loads; #broker-pid shows BROKER_PID, <body> is not "down" and
     #rate shows a rate above zero (the test drives /get-key meanwhile),
     #ranges the broker's current range size.
     Screenshot DIR/status-page.png, then prints "UP" on stdout: the test
     kills the broker now.
  3. The page turns down: <body> has class "down", #banner is visible, red
     and says "broker down". Screenshot DIR/status-page-down.png.
  4. No console error, console.assert failure, uncaught exception or failed
     load (Chrome's Log domain) was reported by the status page.
Exit 0 when all hold; else 1 with one line per problem on stderr. A
Chromium that cannot start is a failure (exit 1), never a skip.

Driver choice: the Chrome DevTools Protocol over --remote-debugging-pipe
(NUL-separated JSON on fds 3 and 4, as Puppeteer's pipe mode). It needs
only the python3 standard library: no websocket client to hand-write, no
debugging port to pick or leave open, and Chromium exits when the pipe
closes. --dump-dom/--screenshot alone cannot see console errors nor wait
for the page's own polling to change it.
"""

import argparse
import base64
import fcntl
import json
import os
import select
import subprocess
import sys
import time

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
    "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
    "--remote-debugging-pipe", "--window-size=1100,900",
]

# A page that makes one console error and one uncaught exception.
CONTROL_PAGE = ("data:text/html,<title>control</title><script>"
                "console.error('control console error');"
                "throw new Error('control exception');</script>")


class Failure(Exception):
    pass


START = time.monotonic()


def say(text):
    """One progress line on stdout, with the seconds since the start."""
    print(f"[{time.monotonic() - START:5.1f} s] {text}", flush=True)


class Browser:
    """Chromium with a CDP session on one page; collects console errors."""

    def __init__(self, chromium, profile, deadline):
        self.deadline = deadline
        self.errors = []
        self.next_id = 0
        self.buffer = b""
        cmd_r, self.cmd_w = os.pipe()
        self.resp_r, resp_w = os.pipe()

        def pipe_fds():  # runs in the child: its fd 3 reads, fd 4 writes
            high_r = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10)
            high_w = fcntl.fcntl(resp_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self.log_path = os.path.join(profile, "chromium.log")
        try:
            with open(self.log_path, "wb") as log:
                self.proc = subprocess.Popen(
                    [chromium, *CHROMIUM_FLAGS, "--user-data-dir=" + profile,
                     "about:blank"],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                    pass_fds=(3, 4), preexec_fn=pipe_fds)
        except OSError as e:
            raise Failure(f"chromium cannot start ({chromium}: {e}); install "
                          "Debian's chromium (scripts/install-deps.sh test)")
        os.close(cmd_r)
        os.close(resp_w)
        try:
            target = self.call("Target.createTarget", {"url": "about:blank"})
        except Failure as e:
            raise Failure(f"chromium did not answer on its DevTools pipe: {e}"
                          f"; its log: {self.log_tail()}")
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": target["targetId"],
                                  "flatten": True})["sessionId"]
        for method in ("Runtime.enable", "Log.enable", "Page.enable"):
            self.call(method, session=True)

    def exit_text(self):
        try:
            return f"exit code {self.proc.wait(2)}"
        except subprocess.TimeoutExpired:
            return "still running"

    def log_tail(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return " | ".join(f.read().strip().splitlines()[-5:])
        except OSError:
            return "(none)"

    def close(self):
        if self.proc.poll() is None:
            try:
                self.send("Browser.close", {}, False)
            except OSError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        os.close(self.cmd_w)
        os.close(self.resp_r)

    def send(self, method, params, session):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        return self.next_id

    def call(self, method, params=None, session=False):
        try:
            want = self.send(method, params or {}, session)
        except OSError as e:  # the browser is gone: EPIPE
            raise Failure(f"chromium exited ({self.exit_text()}): {e}")
        while True:
            msg = self.receive()
            if msg.get("id") == want:
                if "error" in msg:
                    raise Failure(f"{method}: {msg['error'].get('message')}")
                return msg.get("result", {})

    def receive(self):
        while b"\0" not in self.buffer:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise Failure("deadline passed waiting for chromium")
            ready, _, _ = select.select([self.resp_r], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.resp_r, 1 << 16)
            if not chunk:
                raise Failure(f"chromium exited ({self.exit_text()})")
            self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        msg = json.loads(raw)
        if "method" in msg:
            self.on_event(msg["method"], msg.get("params", {}))
        return msg

    def on_event(self, method, p):
        if method == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            text = d.get("exception", {}).get("description") or d.get("text")
            self.errors.append("uncaught exception: " + str(text))
        elif method == "Runtime.consoleAPICalled" and p["type"] in ("error",
                                                                    "assert"):
            args = [str(a.get("value", a.get("description", "")))
                    for a in p.get("args", [])]
            self.errors.append(f"console.{p['type']}: " + " ".join(args))
        elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
            e = p["entry"]
            self.errors.append(f"{e['source']} error: {e['text']} "
                               f"({e.get('url', '')})")

    def navigate(self, url):
        self.call("Page.navigate", {"url": url}, session=True)

    def evaluate(self, expression):
        r = self.call("Runtime.evaluate",
                      {"expression": expression, "returnByValue": True},
                      session=True)
        return r.get("result", {}).get("value")

    def wait_for(self, what, expression, seconds):
        """Polls `expression` until truthy; Failure naming `what` if not."""
        until = min(self.deadline, time.monotonic() + seconds)
        while time.monotonic() < until:
            value = self.evaluate(expression)
            if value:
                return value
            self.pump(0.1)
        raise Failure(f"{what} within {seconds} s; the page says: "
                      f"{self.evaluate(PAGE_TEXT)!r}")

    def pump(self, seconds):
        """Reads events for `seconds` (the page keeps logging meanwhile)."""
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            if b"\0" in self.buffer or select.select(
                    [self.resp_r], [], [], until - time.monotonic())[0]:
                self.receive()

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", {"format": "png"},
                         session=True)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))


PAGE_TEXT = "document.body ? document.body.innerText.slice(0, 300) : ''"


def text_of(element_id):
    return (f"(document.getElementById('{element_id}') || {{}})"
            ".textContent")


def check(args):
    browser = Browser(args.chromium, args.profile,
                      time.monotonic() + args.deadline)
    say("chromium started")
    try:
        run_steps(browser, args)
    finally:
        browser.close()


def run_steps(browser, args):
    # 1. The detector sees a console error and an exception.
    browser.navigate(CONTROL_PAGE)
    browser.wait_for("the control page loads", "document.title === 'control'",
                     5)
    until = time.monotonic() + 5
    while len(browser.errors) < 2 and time.monotonic() < until:
        browser.pump(0.1)
    caught = " ".join(browser.errors)
    if "control console error" not in caught or "control exception" not in caught:
        raise Failure("the console-error detector missed the control page's "
                      f"console.error or exception (caught: {browser.errors})")
    say(f"control page: the detector caught {len(browser.errors)} errors")
    browser.errors.clear()

    # 2. Up: the broker's pid, a rate above zero.
    browser.navigate(args.url)
    pid = str(args.pid)
    browser.wait_for(f"#broker-pid shows the broker's pid {pid}",
                     f"{text_of('broker-pid')} === '{pid}' && "
                     "!document.body.classList.contains('down')", 10)
    rate = browser.wait_for("#rate shows keys/s above zero under load",
                            f"parseFloat({text_of('rate')}) > 0 && "
                            f"{text_of('rate')}", 10)
    ranges = browser.wait_for("#ranges shows the range size",
                              f"/^range size [1-9]/.test({text_of('ranges')})"
                              f" && {text_of('ranges')}", 10)
    state = browser.evaluate(text_of("broker-state"))
    say(f"up: broker pid {pid}, state {state!r}, rate {rate!r}, {ranges!r}")
    browser.screenshot(os.path.join(args.artifacts, "status-page.png"))
    print("UP", flush=True)

    # 3. Down once the test killed the broker.
    banner = ("(() => { const b = document.getElementById('banner');"
              " const s = getComputedStyle(b);"
              " const [r, g, bl] = s.backgroundColor.match(/\\d+/g).map(Number);"
              " return document.body.classList.contains('down') &&"
              " s.display !== 'none' && b.getBoundingClientRect().height > 0 &&"
              " b.textContent.includes('broker down') && r > 150 && g < 100 &&"
              " bl < 100 && b.textContent; })()")
    shown = browser.wait_for("the page turns down (body.down, red #banner "
                             "saying 'broker down')", banner, 10)
    say(f"down: banner {shown.strip()!r}")
    browser.screenshot(os.path.join(args.artifacts, "status-page-down.png"))

    # 4. No console errors from the status page.
    browser.pump(0.2)
    if browser.errors:
        raise Failure("the status page reported console errors: " +
                      "; ".join(browser.errors))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--chromium", default="chromium")
    p.add_argument("--url", required=True)
    p.add_argument("--pid", required=True, type=int)
    p.add_argument("--artifacts", required=True)
    p.add_argument("--profile", required=True)
    p.add_argument("--deadline", type=float, default=40)
    args = p.parse_args()
    os.makedirs(args.artifacts, exist_ok=True)
    try:
        check(args)
    except Failure as e:
        print("status_page.py: " + str(e), file=sys.stderr)
        return 1
    say("status page ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())

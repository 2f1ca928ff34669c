"""Headless Chromium through the DevTools protocol: open pages, evaluate scripts, capture, print.

Used by the book's build (the PDF, in ``book/_ext/book_pdf.py``) and by the browser test
(``tests/test_book_browser.py``). One browser process, one websocket per page, so pages can be
driven from several threads at once. Needs the Debian package ``chromium`` and the
``websocket-client`` package (a Jupyter dependency).

    with Browser() as browser:
        page = browser.new_page(width=390, height=844)
        page.goto("http://127.0.0.1:8000/index.html")
        page.evaluate("document.title")
"""

import base64
import json
import re
import shutil
import subprocess
import tempfile
import threading
import time

import websocket

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--hide-scrollbars", "--mute-audio", "--remote-debugging-port=0",
         # pages in background tabs must run their timers (MathJax) at full speed
         "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
         "--disable-backgrounding-occluded-windows"]


def chromium_path():
    """The system Chromium, or None when it is not installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


class DevToolsError(RuntimeError):
    pass


class Page:
    """One tab: send commands, collect events (requests that failed, exceptions, console)."""

    def __init__(self, ws_url, timeout=60):
        self.ws = websocket.create_connection(ws_url, timeout=timeout, suppress_origin=True)
        self.next_id = 0
        self.events = []
        self.timeout = timeout

    def send(self, method, timeout=None, **params):
        self.next_id += 1
        call_id = self.next_id
        self.ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                message = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                raise DevToolsError(f"{method}: no answer within {timeout or self.timeout} s") from None
            if message.get("id") == call_id:
                if "error" in message:
                    raise DevToolsError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def evaluate(self, expression, timeout=None):
        """The JSON value of a JavaScript expression (promises are awaited)."""
        result = self.send("Runtime.evaluate", timeout=timeout, expression=expression,
                           returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise DevToolsError(f"script failed: {text}")
        return result["result"].get("value")

    def set_viewport(self, width, height, dark=False):
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=width < 600)
        self.set_dark(dark)

    def set_dark(self, dark):
        self.send("Emulation.setEmulatedMedia", media="",
                  features=[{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}])

    def goto(self, url, timeout=60):
        """Load url and wait until the document and its subresources are loaded."""
        self.events.clear()
        self.send("Page.navigate", url=url)
        deadline = time.monotonic() + timeout
        while self.evaluate("document.readyState") != "complete":
            if time.monotonic() > deadline:
                raise DevToolsError(f"{url} did not finish loading in {timeout} s")
            time.sleep(0.05)

    def wait_for_mathjax(self, timeout=120):
        """Wait until MathJax 2 (if the page loads it) has typeset everything queued so far."""
        script = """new Promise(resolve => {
          if (!document.querySelector('script[src*="MathJax.js"]')) { resolve('none'); return; }
          const start = Date.now();
          (function poll() {
            if (window.MathJax && MathJax.Hub && MathJax.isReady) {
              MathJax.Hub.Queue(() => resolve('done'));
            } else if (Date.now() - start > %d) { resolve('timeout'); }
            else { setTimeout(poll, 50); }
          })();
        })""" % (timeout * 1000)
        state = self.evaluate(script, timeout=timeout + 5)
        if state == "timeout":
            raise DevToolsError("MathJax did not start")
        return state

    def failed_requests(self):
        """URLs that failed to load or answered with an HTTP error, since the last goto."""
        failed, urls = [], {}
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Network.requestWillBeSent" and (
                    params["request"]["url"].startswith("about:") or params["request"]["url"].endswith("/favicon.ico")):
                continue  # the tab's blank start page, and the icon the browser asks for on its own
            if method == "Network.requestWillBeSent":
                urls[params["requestId"]] = params["request"]["url"]
            elif (method == "Network.responseReceived" and params["response"]["status"] >= 400
                  and params["requestId"] in urls):
                failed.append(f"{params['response']['status']} {params['response']['url']}")
            elif (method == "Network.loadingFailed" and not params.get("canceled")
                  and params["requestId"] in urls):
                failed.append(f"{params.get('errorText')} {urls.get(params['requestId'], '?')}")
        return failed

    def exceptions(self):
        return [e["params"]["exceptionDetails"].get("exception", {}).get("description", "")
                or e["params"]["exceptionDetails"].get("text", "")
                for e in self.events if e["method"] == "Runtime.exceptionThrown"]

    def screenshot(self, path, full_page=True, quality=70):
        """Save a JPEG of the viewport, or of the whole page."""
        params = {"format": "jpeg", "quality": quality}
        if full_page:
            width, height = self.evaluate(
                "[document.documentElement.clientWidth, Math.min(document.documentElement.scrollHeight, 30000)]")
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": width, "height": height, "scale": 1})
        data = self.send("Page.captureScreenshot", timeout=120, **params)["data"]
        path.write_bytes(base64.b64decode(data))

    def print_pdf(self, path, **options):
        """Print the page to a PDF file (A4, backgrounds, page numbers in the footer)."""
        params = {"printBackground": True, "paperWidth": 8.27, "paperHeight": 11.69,
                  "marginTop": 0.6, "marginBottom": 0.7, "marginLeft": 0.6, "marginRight": 0.6,
                  "displayHeaderFooter": True, "headerTemplate": "<span></span>",
                  "footerTemplate": '<div style="font-size:8px;width:100%;text-align:center">'
                                    '<span class="pageNumber"></span></div>',
                  "generateDocumentOutline": True, **options}
        data = self.send("Page.printToPDF", timeout=600, **params)["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self):
        try:
            self.ws.close()
        except OSError:
            pass


class Browser:
    """A headless Chromium process with a fresh profile, driven over the DevTools protocol."""

    def __init__(self, executable=None):
        self.executable = executable or chromium_path()
        if self.executable is None:
            raise DevToolsError("Chromium is not installed (Debian package chromium)")
        self.profile = tempfile.TemporaryDirectory(prefix="chromium-profile-", ignore_cleanup_errors=True)
        self.process = subprocess.Popen(
            [self.executable, *FLAGS, f"--user-data-dir={self.profile.name}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.endpoint = self._read_endpoint()
        self.lock = threading.Lock()
        self.pages = []

    def _read_endpoint(self):
        deadline = time.monotonic() + 60
        for line in self.process.stderr:
            match = re.search(r"DevTools listening on (ws://[^\s]+)", line)
            if match:
                threading.Thread(target=self.process.stderr.read, daemon=True).start()  # drain
                return match.group(1)
            if time.monotonic() > deadline:
                break
        self.close()
        raise DevToolsError("Chromium did not open its DevTools port")

    def new_page(self, width=1280, height=800, dark=False):
        with self.lock:
            browser = websocket.create_connection(self.endpoint, timeout=60, suppress_origin=True)
            try:
                browser.send(json.dumps({"id": 1, "method": "Target.createTarget",
                                         "params": {"url": "about:blank", "newWindow": True}}))
                while True:
                    message = json.loads(browser.recv())
                    if message.get("id") == 1:
                        break
            finally:
                browser.close()
        if "error" in message:
            raise DevToolsError(str(message["error"]))
        target = message["result"]["targetId"]
        host = self.endpoint.split("/devtools/")[0]
        page = Page(f"{host}/devtools/page/{target}")
        for domain in ("Page", "Runtime", "Network"):
            page.send(f"{domain}.enable")
        page.set_viewport(width, height, dark)
        self.pages.append(page)
        return page

    def close(self):
        for page in getattr(self, "pages", []):
            page.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.profile.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

"""The built documentation, as a reader's browser shows it.

Every page of the HTML build is opened in headless Chromium, driven through
the DevTools protocol over a pipe (``--remote-debugging-pipe``: no extra
package), at two window widths over HTTP from a local server and once from
``file://``, as someone reading a downloaded copy would. On every page:

* the formulas are typeset: every ``.math`` element holds MathJax output, and
  no raw TeX delimiter (``\\(``, ``\\)``, ``\\[``, ``\\]``, ``$$``) is left in
  the text;
* the page requests nothing from outside the machine: every URL it asks for
  (scripts, style sheets, fonts, images) is on 127.0.0.1 or a ``file://``
  path, and none of them fails;
* no code block runs past its column: no ``pre`` scrolls horizontally or
  sticks out of the page body (nor does any image);
* every piece of text in code (``pre`` and ``code``) has a WCAG 2 contrast
  ratio of at least 4.5:1 against the background it is drawn on, computed
  from the browser's computed styles.

Two checks need no browser: no page's HTML or style sheet references a
remote resource, and the code colours of the shipped style sheets reach
4.5:1 against the code background.

The site is ``$REFUPS_DOCS_HTML`` when set (``.ci/run`` builds the docs
first and sets it), otherwise a fresh build. Without Chromium the browser
tests skip, unless ``REFUPS_BROWSER_REQUIRED=1`` (set by ``.ci/run`` once it
has installed Chromium), where they fail instead. ``$REFUPS_CHROMIUM`` names
the browser executable (default: ``chromium`` on the PATH).
"""

import functools
import html.parser
import json
import os
import pathlib
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"
MIN_CONTRAST = 4.5
#: (how the site is reached, window width in CSS pixels): a desktop, a phone, a local copy.
VIEWS = (("http", 1280), ("http", 480), ("file", 1280))


# -- the site ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The built HTML: ``$REFUPS_DOCS_HTML``, or a build made here."""
    given = os.environ.get("REFUPS_DOCS_HTML")
    if given:
        path = pathlib.Path(given).resolve()
        if not (path / "index.html").is_file():
            pytest.fail(f"REFUPS_DOCS_HTML={given} holds no index.html")
        return path
    for module in ("sphinx", "myst_parser", "sphinx-mathjax-offline"):
        pytest.importorskip(module, reason=f"building the docs needs {module} (the docs extra)")
    out = tmp_path_factory.mktemp("html")
    subprocess.run([sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", str(DOCS), str(out)],
                   check=True)
    return out


def pages(site):
    """Every page of the site, as a path relative to it (Sphinx's own folders, ``_*``, excluded)."""
    return sorted(path.relative_to(site).as_posix() for path in site.rglob("*.html")
                  if not any(part.startswith("_") for part in path.relative_to(site).parts))


# -- checks without a browser ---------------------------------------------------------

#: Attributes that make the browser fetch something (links <a href> are not fetched).
FETCHING = {"script": ("src",), "img": ("src", "srcset"), "iframe": ("src",), "source": ("src", "srcset"),
            "video": ("src", "poster"), "audio": ("src",), "embed": ("src",), "object": ("data",),
            "input": ("src",), "track": ("src",)}
FETCHING_LINKS = {"stylesheet", "icon", "shortcut", "preload", "modulepreload", "prefetch",
                  "manifest", "apple-touch-icon", "mask-icon"}
REMOTE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.I)
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)|@import\s+['"]([^'"]+)""", re.I)


class _Resources(html.parser.HTMLParser):
    """The URLs a page makes the browser fetch: attributes, inline styles, <style> blocks."""

    def __init__(self):
        super().__init__()
        self.urls, self._in_style = [], False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        names = FETCHING.get(tag, ())
        if tag == "link" and FETCHING_LINKS & set((attrs.get("rel") or "").lower().split()):
            names = ("href",)
        for name in names:
            for url in (attrs.get(name) or "").split(","):
                if url.strip():
                    self.urls.append(url.strip().split()[0])
        self.urls += [a or b for a, b in CSS_URL.findall(attrs.get("style") or "")]
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.urls += [a or b for a, b in CSS_URL.findall(data)]


def test_no_page_or_style_sheet_references_a_remote_resource(site):
    remote = []
    for name in pages(site):
        parser = _Resources()
        parser.feed((site / name).read_text(encoding="utf-8"))
        remote += [f"{name}: {url}" for url in parser.urls if REMOTE.match(url)]
    for sheet in site.glob("_static/**/*.css"):
        urls = [a or b for a, b in CSS_URL.findall(sheet.read_text(encoding="utf-8", errors="replace"))]
        remote += [f"{sheet.relative_to(site)}: {url}" for url in urls if REMOTE.match(url)]
    assert not remote, "\n".join(remote)
    assert (site / "_static" / "mathjax" / "tex-chtml.js").is_file()


def _luminance(rgb):
    def linear(c):
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (linear(float(c)) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a, b):
    """WCAG 2 contrast ratio of two opaque sRGB colours given as (r, g, b) in 0..255.

    >>> round(contrast((0x88, 0x88, 0x88), (0xFA, 0xF3, 0xE8)), 2)
    3.22
    >>> contrast((0, 0, 0), (255, 255, 255))
    21.0
    """
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _hex(colour):
    colour = colour.lstrip("#")
    if len(colour) == 3:
        colour = "".join(c * 2 for c in colour)
    return tuple(int(colour[i:i + 2], 16) for i in (0, 2, 4))


CSS_RULE = re.compile(r"([^{}]+)\{([^}]*)\}")


def _declarations(sheets):
    """``{selector: {property: value}}`` over the sheets in load order (later rules win)."""
    rules = {}
    for text in sheets:
        text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
        for selectors, body in CSS_RULE.findall(text):
            declarations = dict(
                (key.strip().lower(), value.strip())
                for key, _, value in (item.partition(":") for item in body.split(";")) if value)
            for selector in selectors.split(","):
                rules.setdefault(" ".join(selector.split()), {}).update(declarations)
    return rules


def test_shipped_code_colours_reach_4_5_to_1(site):
    """Every ``.highlight .<token>`` colour of the style sheets the pages load, in
    their load order, against the code background (``.highlight``'s)."""
    static = site / "_static"
    rules = _declarations((static / name).read_text() for name in
                          ("basic.css", "pygments.css", "alabaster.css", "custom.css"))
    background = rules[".highlight"]["background"]
    assert re.fullmatch(r"#[0-9A-Fa-f]{3,6}", background), background
    ratios = {}
    for selector, declarations in rules.items():
        match = re.fullmatch(r"\.highlight \.([a-z0-9]+)", selector)
        if match and "color" in declarations and match.group(1) != "w":  # .w: white space only
            ratios[match.group(1)] = contrast(_hex(declarations["color"]), _hex(background))
    ratios["text"] = contrast(_hex(rules["body"]["color"]), _hex(background))
    assert len(ratios) > 50
    low = {token: round(ratio, 2) for token, ratio in ratios.items() if ratio < MIN_CONTRAST}
    assert low == {}, f"below {MIN_CONTRAST}:1 on {background}"
    assert round(ratios["go"], 2) >= 6  # doctest output, the commonest grey text


# -- the browser -----------------------------------------------------------------------

class Browser:
    """Headless Chromium driven by the DevTools protocol over a pipe.

    The browser reads JSON commands, each ended by a NUL byte, from its file
    descriptor 3 and writes answers and events to its descriptor 4; a shell
    ``exec`` points those at this process's pipes. Every proxied request is
    sent to a port where nothing listens, so nothing the browser does (pages
    or its own background services) can leave the machine; loopback
    addresses are not proxied.
    """

    def __init__(self, executable, timeout=60):
        self.timeout = timeout
        self._profile = tempfile.mkdtemp(prefix="refups-chromium-")
        self._closed_port = socket.socket()  # bound, never listening: connections are refused
        self._closed_port.bind(("127.0.0.1", 0))
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-extensions",
                 f"--proxy-server=http://127.0.0.1:{self._closed_port.getsockname()[1]}",
                 f"--user-data-dir={self._profile}", "--remote-debugging-pipe", "about:blank"]
        self._process = subprocess.Popen(
            ["sh", "-c", 'exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>/dev/null 2>/dev/null',
             executable, *flags],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._buffer, self._id, self._events = b"", 0, []

    def _message(self):
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._process.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError(f"no answer from the browser in {self.timeout} s")
            chunk = os.read(self._process.stdout.fileno(), 1 << 20)
            if not chunk:
                raise RuntimeError("the browser closed its DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method, params=None, session=None):
        self._id += 1
        command = {"id": self._id, "method": method, "params": params or {}}
        if session:
            command["sessionId"] = session
        self._process.stdin.write(json.dumps(command).encode() + b"\0")
        self._process.stdin.flush()
        while True:
            message = self._message()
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            self._events.append(message)

    def wait_for(self, method, session):
        while True:
            for i, event in enumerate(self._events):
                if event.get("method") == method and event.get("sessionId") == session:
                    return self._events.pop(i)
            self._events.append(self._message())

    def take_events(self, session):
        mine = [event for event in self._events if event.get("sessionId") == session]
        self._events = [event for event in self._events if event.get("sessionId") != session]
        return mine

    def visit(self, url, width, script):
        """Open ``url`` in a new tab ``width`` pixels wide, run ``script`` (an
        expression giving a promise of a JSON string) once the page has loaded;
        return its value and every URL the page requested, failed or not."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        try:
            self.send("Network.enable", session=session)
            self.send("Page.enable", session=session)
            self.send("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
                      session=session)
            self.send("Page.navigate", {"url": url}, session=session)
            self.wait_for("Page.loadEventFired", session)
            result = self.send("Runtime.evaluate", {"expression": script, "awaitPromise": True,
                                                    "returnByValue": True}, session=session)
            if "exceptionDetails" in result:
                raise RuntimeError(f"{url}: {result['exceptionDetails']}")
            value = json.loads(result["result"]["value"])
        finally:
            self.send("Target.closeTarget", {"targetId": target})
        requests, failures = {}, []
        for event in self.take_events(session):
            params = event.get("params", {})
            if event.get("method") == "Network.requestWillBeSent":
                requests[params["requestId"]] = params["request"]["url"]
            elif event.get("method") == "Network.loadingFailed" and not params.get("canceled"):
                failures.append(f"{requests.get(params['requestId'])}: {params.get('errorText')}")
            elif event.get("method") == "Network.responseReceived" and params["response"]["status"] >= 400:
                # /favicon.ico: the browser's own probe, not a request of the page
                if urllib.parse.urlsplit(params["response"]["url"]).path != "/favicon.ico":
                    failures.append(f"{params['response']['url']}: HTTP {params['response']['status']}")
        return value, sorted(set(requests.values())), failures

    def close(self):
        try:
            self.send("Browser.close")
        except (OSError, RuntimeError, TimeoutError):
            self._process.kill()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._closed_port.close()
        shutil.rmtree(self._profile, ignore_errors=True)


# Runs in the page once it has loaded: waits for MathJax's first typesetting
# and for the fonts, then measures. Returns a JSON string.
PAGE_CHECK = r"""
(async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  await document.fonts.ready;

  const rgba = (text) => {
    const m = text.match(/rgba?\(([^)]*)\)/);
    if (!m) return [0, 0, 0, 0];
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, below) => [0, 1, 2].map((i) => top[3] * top[i] + (1 - top[3]) * below[i]);
  const background = (el) => {
    const layers = [];
    for (let node = el; node; node = node.parentElement) {
      const c = rgba(getComputedStyle(node).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    return layers.reverse().reduce((below, top) => over(top, below), [255, 255, 255]);
  };
  const luminance = (c) => {
    const [r, g, b] = c.map((v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a, b) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  const snippet = (text) => text.replace(/\s+/g, " ").trim().slice(0, 60);

  const math = [...document.querySelectorAll(".math")];
  const typeset = math.filter((el) => el.querySelector("mjx-container"));

  // Raw TeX in the visible text outside code.
  const rawTex = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (parent.closest("script, style, pre, code, mjx-container, textarea")) continue;
    const m = node.data.match(/\\\(|\\\)|\\\[|\\\]|\$\$|\$\\[A-Za-z]/);
    if (m) rawTex.push(snippet(node.data.slice(Math.max(0, m.index - 20))));
  }

  // Code blocks and images inside the page body.
  const column = (document.querySelector("div.body") || document.body).getBoundingClientRect();
  const overflow = [];
  for (const el of document.querySelectorAll("div.body pre, div.body img")) {
    const box = el.getBoundingClientRect();
    if (box.width === 0) continue;
    const scrolls = el.tagName === "PRE" && el.scrollWidth > el.clientWidth + 1;
    const sticksOut = box.right > column.right + 1 || box.left < column.left - 1;
    if (scrolls || sticksOut) {
      overflow.push(`${el.tagName.toLowerCase()} ${Math.round(box.left)}..${Math.round(box.right)} ` +
        `(column ${Math.round(column.left)}..${Math.round(column.right)}, ` +
        `scroll ${el.scrollWidth} > ${el.clientWidth}): ${snippet(el.textContent || el.src)}`);
    }
  }

  // Contrast of every piece of text in code.
  let lowest = null;
  const lowContrast = [];
  const seen = new Set();
  for (const el of document.querySelectorAll("pre, pre *, code, code *")) {
    const own = [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.data).join("");
    if (!own.trim() || seen.has(el)) continue;
    seen.add(el);
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || style.display === "none") continue;
    const bg = background(el);
    const fg = over(rgba(style.color), bg);
    const r = ratio(fg, bg);
    if (lowest === null || r < lowest.ratio) {
      lowest = { ratio: r, color: style.color, background: `rgb(${bg.map(Math.round).join(", ")})`,
                 class: el.className, text: snippet(own) };
    }
    if (r < %(minimum)s) {
      lowContrast.push(`${r.toFixed(2)}: ${style.color} on rgb(${bg.map(Math.round).join(", ")}) ` +
        `(.${el.className}) "${snippet(own)}"`);
    }
  }
  return JSON.stringify({ math: math.length, typeset: typeset.length, rawTex, overflow,
                          lowest, lowContrast: lowContrast.slice(0, 20) });
})()
""".replace("%(minimum)s", str(MIN_CONTRAST))


def _executable():
    name = os.environ.get("REFUPS_CHROMIUM") or "chromium"
    return shutil.which(name) or (shutil.which("chromium-browser") if name == "chromium" else None)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def visits(site):
    """``{(page, how, width): (measurements, requested URLs, failed requests)}`` for every page and view."""
    executable = _executable()
    if executable is None:
        reason = ("Chromium is not installed (Debian: apt-get install chromium; or set REFUPS_CHROMIUM "
                  "to a Chromium or Chrome executable)")
        if os.environ.get("REFUPS_BROWSER_REQUIRED") == "1":
            pytest.fail(reason + ", and REFUPS_BROWSER_REQUIRED=1")
        pytest.skip(reason)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    bases = {"http": f"http://127.0.0.1:{server.server_address[1]}/", "file": site.as_uri() + "/"}
    browser = Browser(executable)
    try:
        return {(page, how, width): browser.visit(bases[how] + page, width, PAGE_CHECK)
                for page in pages(site) for how, width in VIEWS}
    finally:
        browser.close()
        server.shutdown()
        server.server_close()


def _local(url):
    parts = urllib.parse.urlsplit(url)
    if parts.scheme in ("file", "data", "blob", "about"):
        return True
    return parts.scheme in ("http", "https") and parts.hostname in ("127.0.0.1", "localhost", "::1")


def test_every_page_was_visited(site, visits):
    assert {page for page, _, _ in visits} == set(pages(site))
    assert {"index.html", "spec.html", "tutorial.html", "api.html"} <= set(pages(site))


def test_math_is_typeset_without_a_network(visits):
    problems = []
    for (page, how, width), (measured, requests, _) in visits.items():
        if measured["typeset"] != measured["math"]:
            problems.append(f"{page} ({how}, {width}px): {measured['typeset']} of {measured['math']} "
                            "formulas typeset")
        problems += [f"{page} ({how}, {width}px): raw TeX '{text}'" for text in measured["rawTex"]]
        if measured["math"]:
            fonts = [url for url in requests if url.endswith(".woff")]
            if not any("_static/mathjax/" in url for url in requests) or not fonts:
                problems.append(f"{page} ({how}): MathJax or its fonts were not loaded from the site")
    assert not problems, "\n".join(problems)
    maths = {page: measured["math"] for (page, how, width), (measured, _, _) in visits.items()}
    assert maths["spec.html"] >= 20 and maths["semantics.html"] >= 10


def test_no_page_requests_anything_off_the_machine(visits):
    remote, failed = [], []
    for (page, how, width), (_, requests, failures) in visits.items():
        remote += [f"{page} ({how}): {url}" for url in requests if not _local(url)]
        failed += [f"{page} ({how}): {failure}" for failure in failures]
    assert not remote, "\n".join(remote)
    assert not failed, "\n".join(failed)


def test_code_blocks_and_images_fit_their_column(visits):
    overflow = [f"{page} ({how}, {width}px): {item}"
                for (page, how, width), (measured, _, _) in visits.items() for item in measured["overflow"]]
    assert not overflow, "\n".join(overflow)


def test_code_text_contrast_is_at_least_4_5_to_1(visits):
    low = [f"{page}: {item}" for (page, how, width), (measured, _, _) in visits.items()
           if (how, width) == VIEWS[0] for item in measured["lowContrast"]]
    assert not low, "\n".join(low)
    lowest = min((measured["lowest"] for measured, _, _ in visits.values() if measured["lowest"]),
                 key=lambda item: item["ratio"])
    assert lowest["ratio"] >= MIN_CONTRAST, lowest

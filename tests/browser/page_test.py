"""The web page (GET /) in a real browser: the distribution's Chromium, headless, driven
by Selenium through the distribution's chromedriver (nothing downloads a browser),
against the local API that scripts/browser_test.sh starts. Run by scripts/test.sh.

Each test loads the page as a user would and checks it against the API's own answer to
the same request: the page's numbers are the API's. The screenshots at phone and
desktop widths are kept in docs/screenshots/; what fails is a change of
the page's structure (docs/screenshots/page-structure.json: its headings, controls,
table headers, landmarks and layout at each width), never pixel noise.
PAGE_STRUCTURE_UPDATE=1 rewrites it and the committed screenshots; every run leaves its
own screenshots in target/page-screenshots/.
"""

import json
import os
import pathlib
import shlex
import unittest
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

BASE = os.environ["PAGE_URL"].rstrip("/")
AXE = pathlib.Path(os.environ["AXE_JS"]).read_text()
ROOT = pathlib.Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
STRUCTURE = SHOTS / "page-structure.json"
WAIT = 60


def browser(width, height=1000):
    options = Options()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--hide-scrollbars", "--force-device-scale-factor=1", "--lang=en-US",
                f"--window-size={width},{height}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_window_size(width, height)
    return driver


def post(path, body):
    request = urllib.request.Request(BASE + path, data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=WAIT) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


class Page:
    """One browser on the page, with the steps a user takes."""

    def __init__(self, driver):
        self.d = driver

    def open(self, url=None):
        self.d.get(url or BASE + "/")
        self.wait(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")

    def wait(self, condition):
        return WebDriverWait(self.d, WAIT).until(condition)

    def view(self, name):
        self.d.find_element(By.CSS_SELECTOR, f'input[name="view"][value="{name}"]').click()

    def fill(self, **values):
        for name, value in values.items():
            element = self.d.find_element(By.ID, name)
            if element.tag_name == "select":
                Select(element).select_by_value(str(value))
            else:
                element.clear()
                element.send_keys(str(value))

    def submitted(self, submit):
        """Submits with `submit` and waits until the page has taken that request's answer
        (the page counts requests and answers, so an earlier table never passes)."""
        body = self.d.find_element(By.TAG_NAME, "body")
        asked = int(body.get_attribute("data-requests") or 0) + 1
        submit()
        self.wait(lambda d: body.get_attribute("data-answered") == str(asked))

    def run(self):
        self.submitted(lambda: self.d.find_element(By.ID, "run").click())

    def answered(self):
        """Waits for the answer of a request the page made by itself (a shared link)."""
        self.wait(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-answered"))

    def result(self, table_id):
        return self.d.find_element(By.ID, table_id)

    def breakdown(self):
        """`{component: (memory text, bytes)}` of the memory table."""
        table = self.result("breakdown")
        rows = {}
        for tr in table.find_elements(By.CSS_SELECTOR, "tbody tr"):
            cells = tr.find_elements(By.TAG_NAME, "td")
            # textContent: the bytes column is hidden on phones.
            text = [c.get_attribute("textContent") for c in cells]
            rows[tr.get_attribute("data-part")] = (text[0], int(text[1].replace(",", "")))
        return rows

    def errors(self):
        return self.d.execute_script(
            "return [...document.querySelectorAll('.error')].filter(e => e.textContent).map(e => [e.id, e.textContent])")

    def axe(self):
        self.d.execute_script(AXE)
        return self.d.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations.map("
            "v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}))));")

    def severe_console(self):
        return [e for e in self.d.get_log("browser") if e["level"] == "SEVERE"]

    def structure(self):
        return self.d.execute_script("""
            const text = (e) => e.textContent.replace(/\\s+/g, ' ').trim();
            const label = (c) => { const l = document.querySelector(`label[for="${c.id}"]`);
              return l ? text(l) : (c.closest('label') ? text(c.closest('label')) : c.getAttribute('aria-label')); };
            return {
              landmarks: [...document.querySelectorAll('header, main, footer, section[aria-labelledby], form')]
                .map(e => e.tagName.toLowerCase()),
              headings: [...document.querySelectorAll('h1, h2, h3')].map(h => h.tagName.toLowerCase() + ': ' + text(h)),
              controls: [...document.querySelectorAll('input, select, textarea, button')]
                .filter(c => c.type !== 'hidden')
                .map(c => (c.id || c.name || c.dataset.sort) + ': ' + (label(c) || text(c))),
              table_headers: [...document.querySelectorAll('th[scope="col"]')].map(text),
              // The layout: fields side by side, and the table columns shown.
              field_columns: getComputedStyle(document.getElementById('fields'))
                .gridTemplateColumns.split(' ').length,
              visible_columns: [...document.querySelectorAll('th[scope="col"]')]
                .filter(th => th.offsetParent !== null).map(text),
            };""")

    def overflows(self):
        return self.d.execute_script(
            "return document.documentElement.scrollWidth > window.innerWidth + 1")


MEMORY = {"model_name": "Qwen3-8B", "batch_size": 2, "sequence_length": 2048}


class PageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.driver = browser(1280)
        cls.page = Page(cls.driver)

    @classmethod
    def tearDownClass(cls):
        cls.driver.quit()

    def setUp(self):
        self.page.open()

    def memory(self, view, **values):
        self.page.view(view)
        self.page.fill(**values)
        self.page.run()
        return self.page.breakdown()

    def test_the_page_loads_with_its_options(self):
        self.driver.get_log("browser")  # what earlier tests left (their refused requests)
        self.page.open()
        self.assertEqual(self.driver.title, "LLM GPU memory and cost")
        # The choices come from /api/config/options.
        options = json.load(urllib.request.urlopen(BASE + "/api/config/options"))
        precisions = [o.get_attribute("value") for o in
                      self.driver.find_elements(By.CSS_SELECTOR, "#precision option") if o.get_attribute("value")]
        self.assertEqual(precisions, [d["name"] for d in options["data_types"]])
        hint = self.driver.find_element(By.ID, "batch_size-hint").text
        self.assertIn(str(options["limits"]["batch_size"]), hint)
        self.assertEqual(self.page.severe_console(), [])

    def test_inference_bars_are_the_apis_numbers(self):
        rows = self.memory("inference", **MEMORY)
        status, answer = post("/api/memory/inference", MEMORY)
        self.assertEqual(status, 200)
        for key in ("model_weights", "kv_cache", "activation_memory", "runtime_overhead", "inference_memory"):
            self.assertEqual(rows[key], (answer["memory_requirements"][key], answer["memory_bytes"][key]), key)
        # Each segment of the bar is its component's share of the total.
        total = answer["memory_bytes"]["inference_memory"]
        widths = self.driver.execute_script(
            "return [...document.querySelectorAll('#bars .bar .seg')].map(s => [s.className, parseFloat(s.style.width)])")
        self.assertEqual(len(widths), 4)
        for cls, width in widths:
            key = cls.split()[-1]
            self.assertAlmostEqual(width, 100 * answer["memory_bytes"][key] / total, places=3)

    def test_training_bars_are_the_apis_numbers(self):
        values = dict(MEMORY, method="lora", gradient_checkpointing="full")
        rows = self.memory("training", **values)
        status, answer = post("/api/memory/training", values)
        self.assertEqual(status, 200)
        for key in ("model_weights", "gradients_memory", "optimizer_memory", "activation_memory",
                    "runtime_overhead", "training_memory"):
            self.assertEqual(rows[key], (answer["memory_requirements"][key], answer["memory_bytes"][key]), key)

    def test_a_hub_model_says_where_it_was_read(self):
        # A repo id the registry does not hold, read from the stand-in Hub.
        values = dict(MEMORY, model_name="Qwen/Qwen2-7B-Instruct")
        rows = self.memory("inference", **values)
        status, answer = post("/api/memory/inference", values)
        self.assertEqual(status, 200, answer)
        self.assertEqual(rows["inference_memory"], (answer["memory_requirements"]["inference_memory"],
                                                   answer["memory_bytes"]["inference_memory"]))
        hub = answer["model"]["hub"]
        said = self.driver.find_element(By.ID, "hub-source").text
        self.assertIn(hub["commit"][:12], said)
        self.assertIn(f'{hub["checkpoint"]["weights"]:,} weights in 4 safetensors files (their headers)', said)
        self.assertTrue(self.driver.find_element(By.ID, "summary").text.startswith("Qwen/Qwen2-7B-Instruct:"))

    def test_submitting_from_the_keyboard(self):
        self.page.view("inference")
        self.page.fill(**MEMORY)
        field = self.driver.find_element(By.ID, "batch_size")
        field.clear()
        field.send_keys("3")
        self.page.submitted(lambda: field.send_keys(Keys.ENTER))
        status, answer = post("/api/memory/inference", dict(MEMORY, batch_size=3))
        self.assertEqual(self.page.breakdown()["inference_memory"][1], answer["memory_bytes"]["inference_memory"])
        # The answer is announced, and the sort buttons of a plan are reachable by Tab.
        self.assertIn(answer["memory_requirements"]["inference_memory"],
                      self.driver.find_element(By.ID, "status").text)

    def test_what_was_typed_reaches_the_api(self):
        # Not a number: sent as typed, and the API's error names the field.
        self.page.view("inference")
        self.page.fill(batch_size="12-")
        self.page.run()
        self.assertIn("batch_size", self.driver.find_element(By.ID, "batch_size-error").text)

    def test_a_plan_lists_the_apis_candidates_and_sorts_them(self):
        self.page.view("plan")
        values = {"mode": "inference", "model_name": "Llama-3.1-8B", "batch_size": 1, "sequence_length": 4096}
        self.page.fill(**values)
        self.page.run()
        table = self.page.result("candidates")
        status, answer = post("/api/plan", values)
        priced = [c for c in answer["candidates"] if c["usd_per_hour"] is not None]
        self.assertGreater(len(priced), 2)
        self.assertEqual(status, 200)
        trs = table.find_elements(By.CSS_SELECTOR, "tbody tr")
        self.assertEqual(len(trs), len(answer["candidates"]))
        shown = [tr.find_element(By.CSS_SELECTOR, 'td[data-col="instance"]').text for tr in trs]
        self.assertEqual(shown, [c["instance"] or "(your GPUs)" for c in answer["candidates"]])
        first = answer["candidates"][0]
        self.assertEqual(trs[0].find_element(By.CSS_SELECTOR, 'td[data-col="fits"]').text,
                         "yes" if first["fits"] else "no")
        self.assertEqual(trs[0].find_element(By.CSS_SELECTOR, 'td[data-col="memory"]').text,
                         first["memory_per_gpu"])

        def hourly():
            cells = self.driver.find_elements(By.CSS_SELECTOR, '#candidates td[data-col="hour"]')
            return [float(c.text) for c in cells if c.text != "–"]

        self.driver.find_element(By.CSS_SELECTOR, 'button[data-sort="hour"]').click()
        self.assertEqual(hourly(), sorted(hourly()))
        header = self.driver.find_element(By.CSS_SELECTOR, 'button[data-sort="hour"]').find_element(By.XPATH, "..")
        self.assertEqual(header.get_attribute("aria-sort"), "ascending")
        self.driver.find_element(By.CSS_SELECTOR, 'button[data-sort="hour"]').click()
        self.assertEqual(hourly(), sorted(hourly(), reverse=True))
        # $ per million tokens: rows without a figure (those that do not fit) last.
        self.driver.find_element(By.CSS_SELECTOR, 'button[data-sort="million"]').click()
        cells = [c.text for c in self.driver.find_elements(By.CSS_SELECTOR, '#candidates td[data-col="million"]')]
        known = [float(c) for c in cells if c != "–"]
        self.assertGreater(len(known), 1)
        self.assertEqual(known, sorted(known))
        self.assertEqual(cells, [c for c in cells if c != "–"] + [c for c in cells if c == "–"])

    def test_a_crafted_or_mixed_link_still_loads(self):
        for query in ("?view=toString", '?view=x"]', "?view=plan&lora_rank=64&model_name=Qwen3-8B&mode=inference&batch_size=1&sequence_length=1024"):
            self.page.open(BASE + "/" + query)
            self.assertEqual(self.page.errors(), [], query)
        self.page.answered()
        self.assertEqual(self.driver.find_element(By.ID, "model_name").get_attribute("value"), "Qwen3-8B")
        self.assertTrue(self.driver.find_elements(By.ID, "candidates"))

    def test_an_api_error_appears_beside_its_field(self):
        self.page.view("inference")
        self.page.fill(batch_size=0)
        self.page.run()
        slot = self.page.wait(lambda d: d.find_element(By.ID, "batch_size-error")
                              if d.find_element(By.ID, "batch_size-error").text else False)
        status, answer = post("/api/memory/inference", dict(MEMORY, batch_size=0, model_name="Llama-3.1-8B",
                                                            sequence_length=4096))
        self.assertEqual(status, 400)
        self.assertEqual(slot.text, answer["error"])
        field = self.driver.find_element(By.ID, "batch_size")
        self.assertEqual(field.get_attribute("aria-invalid"), "true")
        self.assertIn("batch_size-error", field.get_attribute("aria-describedby"))
        # An unknown model: its error beside the model field.
        self.page.fill(batch_size=1, model_name="Llama-9.9-1B")
        self.page.run()
        self.page.wait(lambda d: d.find_element(By.ID, "model_name-error").text)
        self.assertIn("not found", self.driver.find_element(By.ID, "model_name-error").text)

    def test_a_shared_link_restores_the_state_and_the_answer(self):
        rows = self.memory("training", model_name="Llama-3.2-3B", batch_size=4, sequence_length=1024,
                           method="full", optimizer="AdamW")
        link = self.driver.current_url
        self.assertIn("view=training", link)
        other = Page(browser(1280))
        try:
            other.open(link)
            other.answered()
            self.assertEqual(other.breakdown(), rows)
            self.assertEqual(other.d.find_element(By.ID, "model_name").get_attribute("value"), "Llama-3.2-3B")
            self.assertTrue(other.d.find_element(By.CSS_SELECTOR, 'input[value="training"]').is_selected())
        finally:
            other.d.quit()

    def test_copy_as_curl_gives_the_same_request(self):
        # A pasted config with a quote in it: the command must still parse.
        config = json.load(urllib.request.urlopen(BASE + "/api/models/Llama-3.2-1B"))["config"]
        config["_name_or_path"] = "it's mine"
        self.page.view("inference")
        self.driver.find_element(By.ID, "config-box").click()
        self.driver.find_element(By.ID, "config").send_keys(json.dumps(config))
        rows = self.memory("inference", batch_size=2, sequence_length=2048)
        self.driver.find_element(By.ID, "copy-curl").click()
        curl = self.page.wait(lambda d: d.find_element(By.ID, "curl").text)
        words = shlex.split(curl)
        self.assertEqual(words[:3], ["curl", "-s", BASE + "/api/memory/inference"])
        body = json.loads(words[words.index("-d") + 1])
        self.assertEqual(body["config"]["_name_or_path"], "it's mine")
        self.assertNotIn("model_name", body)
        status, answer = post("/api/memory/inference", body)
        self.assertEqual(status, 200)
        self.assertEqual(rows["inference_memory"][1], answer["memory_bytes"]["inference_memory"])
        # The link keeps the config, and opens with it shown.
        link = self.driver.current_url
        other = Page(browser(1280))
        try:
            other.open(link)
            other.answered()
            self.assertEqual(other.breakdown(), rows)
            self.assertTrue(other.d.find_element(By.ID, "config-box").get_attribute("open"))
        finally:
            other.d.quit()

    def test_no_serious_accessibility_violations(self):
        for view, run in (("inference", True), ("training", True), ("plan", True)):
            self.page.open()
            self.page.view(view)
            if run:
                self.page.run()
                self.page.result("candidates" if view == "plan" else "breakdown")
            serious = [v for v in self.page.axe() if v["impact"] in ("serious", "critical")]
            self.assertEqual(serious, [], view)

    def test_phone_and_desktop_screenshots_and_structure(self):
        update = bool(os.environ.get("PAGE_STRUCTURE_UPDATE"))
        # Every run's screenshots are test artifacts; the committed ones in docs/ are
        # replaced with the structure, when it is updated.
        artifacts = ROOT / "target" / "page-screenshots"
        artifacts.mkdir(parents=True, exist_ok=True)
        query = "?view=inference&model_name=Llama-3.1-8B&batch_size=8&sequence_length=8192"
        structure = {}
        for name, width in (("phone", 390), ("desktop", 1280)):
            driver = browser(width, 2200 if name == "phone" else 1400)
            try:
                page = Page(driver)
                page.open(BASE + "/" + query)
                page.answered()
                page.breakdown()
                self.assertFalse(page.overflows(), f"{name}: wider than the screen")
                serious = [v for v in page.axe() if v["impact"] in ("serious", "critical")]
                self.assertEqual(serious, [], name)
                for folder in [artifacts] + ([SHOTS] if update else []):
                    driver.save_screenshot(str(folder / f"page-{name}.png"))
                structure[name] = page.structure()
            finally:
                driver.quit()
        # 360 px, the narrowest phone the page is for: nothing runs off the side.
        narrow = browser(360)
        try:
            page = Page(narrow)
            page.open(BASE + "/" + query)
            page.answered()
            page.breakdown()
            self.assertFalse(page.overflows(), "360 px: wider than the screen")
        finally:
            narrow.quit()
        if update:
            STRUCTURE.write_text(json.dumps(structure, indent=1) + "\n")
        self.assertEqual(structure, json.loads(STRUCTURE.read_text()),
                         "the page's structure changed: check the screenshots, then rerun with PAGE_STRUCTURE_UPDATE=1")


if __name__ == "__main__":
    unittest.main(verbosity=2)

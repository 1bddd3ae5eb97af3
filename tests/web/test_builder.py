"""The segment builder in a real browser: build a segment with the controls, see the
preview count equal `segmentql eval` of the same expression on the same store, save it,
find it in the list, open its text and JSON views, break the text and see the diagnostic."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import Select, WebDriverWait

from dsl.formatter import format_expression
from dsl.json_codec import from_json, to_json
from dsl.parser import parse

SEGMENTQL = Path(sys.executable).with_name("segmentql")


def segmentql_eval(web, expression: str) -> int:
    """The first line of `segmentql eval` on the server's own store."""
    env = {**os.environ, "SEGMENTQL_MONGO_DB": web.settings.db_name}
    done = subprocess.run([str(SEGMENTQL), "eval", expression, "--mongo-uri", web.settings.mongo_uri],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.splitlines()[0])


def sign_in(browser, web, wait) -> None:
    browser.open("/")
    key = wait.until(ready.element_to_be_clickable((By.ID, "api-key")))
    key.send_keys(web.admin_key + Keys.ENTER)
    wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "table[aria-label=Segments]")))


def rows(driver):
    return driver.find_elements(By.CSS_SELECTOR, "#builder .cond")


def add_condition(driver, kind: str):
    before = len(rows(driver))
    root = driver.find_element(By.CSS_SELECTOR, "#builder > section.group")
    add = root.find_elements(By.CSS_SELECTOR, ":scope > .add")[0]
    Select(add.find_element(By.TAG_NAME, "select")).select_by_visible_text(kind)
    add.find_element(By.TAG_NAME, "button").click()
    WebDriverWait(driver, 10).until(lambda d: len(rows(d)) == before + 1)
    return rows(driver)[-1]


def settled_count(driver, wait, text: str) -> int:
    """The preview's exact count once the text view shows `text` and the preview is done."""
    wait.until(lambda d: d.find_element(By.ID, "expression-text").get_attribute("value") == text)
    wait.until(lambda d: d.find_element(By.ID, "preview-count").get_attribute("aria-busy") is None
               and d.find_element(By.ID, "preview-count").get_attribute("data-expression") == text)
    return int(driver.find_element(By.ID, "preview-count").get_attribute("data-count"))


def test_build_preview_save_list_views_and_diagnostics(web, browser):
    driver = browser.driver
    wait = WebDriverWait(driver, 30)
    sign_in(browser, web, wait)
    driver.find_element(By.LINK_TEXT, "+ New segment").click()
    wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#builder > section.group")))

    # City equals "krakow" (a contact field), any of that or in list "VIP".
    city = add_condition(driver, "Contact field")
    Select(city.find_element(By.CSS_SELECTOR, "select[aria-label=Field]")).select_by_value("City")
    city = rows(driver)[-1]
    assert [option.get_attribute("value") for option in Select(
        city.find_element(By.CSS_SELECTOR, "select[aria-label=Operator]")).options][:3] \
        == ["equals", "not_equals", "contains"]
    city.find_element(By.CSS_SELECTOR, "input[aria-label=Value]").send_keys("krakow")
    add_condition(driver, "List")
    mode = driver.find_element(By.CSS_SELECTOR, "#builder > section.group > .group-head select")
    Select(mode).select_by_value("or")
    # and, nested: a group with an event condition: MailClick occurred at least 2 times.
    add_condition(driver, "Group of conditions")
    group = driver.find_elements(By.CSS_SELECTOR, "#builder section.group section.group")[-1]
    Select(group.find_element(By.CSS_SELECTOR, ".add select")).select_by_visible_text("System event")
    group.find_element(By.CSS_SELECTOR, ".add button").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#builder section.group section.group select[aria-label='Event type']"))
    event = driver.find_elements(By.CSS_SELECTOR, "#builder section.group section.group .cond")[-1]
    Select(event.find_element(By.CSS_SELECTOR, "select[aria-label='How many times']")).select_by_value("at_least")
    event = driver.find_elements(By.CSS_SELECTOR, "#builder section.group section.group .cond")[-1]
    times = event.find_element(By.CSS_SELECTOR, "input[aria-label=Times]")
    times.clear()
    times.send_keys("2")
    event = driver.find_elements(By.CSS_SELECTOR, "#builder section.group section.group .cond")[-1]
    Select(event.find_element(By.CSS_SELECTOR, "select[aria-label=When]")).select_by_value("")

    text = driver.find_element(By.ID, "expression-text").get_attribute("value")
    assert text.startswith('City equals "krakow" or in list "VIP" or ('), text
    count = settled_count(driver, wait, text)
    browser.screenshot("builder-built")
    assert count == segmentql_eval(web, text)
    assert count >= 3  # c1, c3 (krakow, any letter case), c4 (VIP)

    driver.find_element(By.ID, "segment-name").send_keys("Krakow or VIP")
    driver.find_element(By.ID, "save").click()
    wait.until(lambda d: "#/segment/" in d.current_url)
    wait.until(ready.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Krakow or VIP"))

    # Found in the list.
    browser.open("/#/")
    search = wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, "input[type=search]")))
    search.send_keys("krakow")
    wait.until(ready.presence_of_element_located(
        (By.CSS_SELECTOR, """table[data-shown='["krakow","",false]']""")))
    link = wait.until(ready.element_to_be_clickable((By.LINK_TEXT, "Krakow or VIP")))
    browser.screenshot("builder-list")
    link.click()

    # Its text and JSON views.
    wait.until(ready.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Krakow or VIP"))
    driver.find_element(By.ID, "tab-text").click()
    area = driver.find_element(By.ID, "expression-text")
    assert area.is_displayed()
    saved = web.run('query($s: String) { segments(search: $s) { edges { node { expression json } } } }',
                    {"s": "Krakow or VIP"})["segments"]["edges"][0]["node"]
    assert area.get_attribute("value") == saved["expression"] == text
    driver.find_element(By.ID, "tab-json").click()
    shown = json.loads(driver.find_element(By.ID, "expression-json").get_attribute("value"))
    assert shown == saved["json"]
    browser.screenshot("builder-json")

    # Break the text: the diagnostic names the place.
    driver.find_element(By.ID, "tab-text").click()
    area.send_keys(Keys.END, " and Age >")
    wait.until(lambda d: "Error" in d.find_element(By.ID, "diagnostics").text)
    diagnostic = driver.find_element(By.ID, "diagnostics").text
    assert "line 1, column" in diagnostic and "expected" in diagnostic.lower()
    driver.find_element(By.ID, "tab-builder").click()
    assert "The text has errors" in driver.find_element(By.CSS_SELECTOR, "#panel-builder p.warn").text
    browser.screenshot("builder-diagnostic")
    assert browser.foreign_requests() == []
    assert browser.console_errors() == []


def test_completion_and_explain(web, browser):
    driver = browser.driver
    wait = WebDriverWait(driver, 30)
    sign_in(browser, web, wait)
    browser.open("/#/new")
    wait.until(ready.element_to_be_clickable((By.ID, "tab-text"))).click()
    area = driver.find_element(By.ID, "expression-text")
    area.send_keys("Cit")
    wait.until(lambda d: any(item.text.startswith("City") for item in
                             d.find_elements(By.CSS_SELECTOR, "[role=listbox] [role=option]")))
    area.send_keys(Keys.ENTER)
    wait.until(lambda d: d.find_element(By.ID, "expression-text").get_attribute("value") == "City")
    area.send_keys(' equals "Warsaw"')
    count = settled_count(driver, wait, 'City equals "Warsaw"')
    assert count == 1
    # the builder followed the text
    driver.find_element(By.ID, "tab-builder").click()
    assert Select(driver.find_element(By.CSS_SELECTOR, "#builder select[aria-label=Field]")) \
        .first_selected_option.get_attribute("value") == "City"
    driver.find_element(By.CSS_SELECTOR, "button[aria-label='Why is c2 in?']").click()
    wait.until(ready.text_to_be_present_in_element((By.ID, "explanation"), "c2 is in the segment"))
    explain = driver.find_element(By.ID, "explain-id")
    explain.clear()
    explain.send_keys("c1" + Keys.ENTER)
    wait.until(ready.text_to_be_present_in_element((By.ID, "explanation"), "c1 is not in the segment"))
    assert "Krakow" in driver.find_element(By.ID, "explanation").text
    browser.screenshot("builder-explain")
    assert browser.foreign_requests() == []
    assert browser.console_errors() == []


EXPRESSIONS = [
    'City equals "Krakow" and (Age > 18 or Newsletter is true)',
    'not (City equals "Krakow") or Age between 18 and 65.5',
    'City not in ("Krakow", "Warsaw") and `Customer Status` has no value',
    "Signup in last 30 days and Signup between 3 days ago and today",
    "Signup after 2024-05-01T10:00:00.123Z or Signup before 2024-05-01",
    "event MailClick occurred at least 3 times in last 30 days",
    "event MailOpen did not occur since 2024-01-01",
    'event Purchase occurred exactly 1 time between 2024-01-01 and 2024-02-01 where (price > 50 and category equals "shoes")',
    'visited url contains "/pricing" in last 7 days and not in list "VIP"',
    'in segment "Active users" and City doesn\'t contain "x\\"y" or Age != 3',
    'event `order placed` occurred where not (total < 10)',
]


def test_the_builders_formatter_writes_the_canonical_text(web, browser):
    browser.open("/")
    forms = [to_json(parse(text)) for text in EXPRESSIONS]
    driver = browser.driver
    driver.set_script_timeout(30)
    written = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "import('/static/builder/format.js').then(m => done(arguments[0].map(f => m.formatExpression(f))))"
        ".catch(e => done(String(e)));", forms)
    assert written == [format_expression(from_json(form)) for form in forms]


def test_the_charts_draw_sizes_and_entries_and_exits(web, browser):
    browser.open("/")
    driver = browser.driver
    driver.set_script_timeout(30)
    drawn = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        import('/static/builder/chart.js').then(m => {
          const sizes = m.sizeChart([{at: '2026-11-01T00:00:00Z', count: 10},
                                     {at: '2026-11-02T00:00:00Z', count: 30},
                                     {at: '2026-11-04T00:00:00Z', count: 20}]);
          const changes = m.changesChart([
            {change: 'ENTERED', at: '2026-11-01T10:00:00Z'}, {change: 'ENTERED', at: '2026-11-01T11:00:00Z'},
            {change: 'LEFT', at: '2026-11-03T10:00:00Z'}]);
          done({points: sizes.querySelectorAll('circle').length, sizeLabel: sizes.getAttribute('aria-label'),
                bars: changes.querySelectorAll('rect').length, changesLabel: changes.getAttribute('aria-label'),
                titles: [...changes.querySelectorAll('title')].map(t => t.textContent),
                empty: [m.sizeChart([]), m.changesChart([])]});
        }).catch(e => done(String(e)));""")
    assert drawn["points"] == 3
    assert "between 10 and 30 contacts; the latest 20" in drawn["sizeLabel"]
    assert drawn["bars"] == 4  # two days, one bar up and one down each
    assert drawn["titles"] == ["2026-11-01: 2 entered", "2026-11-01: 0 left",
                               "2026-11-03: 0 entered", "2026-11-03: 1 left"]
    assert "2 entered, 1 left" in drawn["changesLabel"]
    assert drawn["empty"] == [None, None]


def test_a_condition_the_builder_cannot_draw_stays_editable(web, browser):
    """A form from a newer server (here a made-up node) is shown as its JSON, editable."""
    browser.open("/")
    driver = browser.driver
    driver.set_script_timeout(30)
    result = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        Promise.all([import('/static/builder/conditions.js'), import('/static/builder/format.js')]).then(([c, f]) => {
          const box = document.createElement('div');
          document.body.append(box);
          const root = c.toRoot({and: [{field: 'City', op: 'equals', value: 'x'}, {can_receive: 'email'}]});
          let changed = null;
          c.renderBuilder(box, root, {fields: [{name: 'City', type: 'TEXT'}], eventTypes: [], lists: [], segments: []},
                          (next) => { changed = c.fromRoot(next); });
          const area = box.querySelector('textarea[aria-label="Condition in the JSON form"]');
          const shown = area.value;
          area.value = '{"can_receive": "sms"}';
          area.dispatchEvent(new Event('change'));
          let formatted;
          try { f.formatExpression({version: 1, condition: changed}); formatted = 'no error'; }
          catch (error) { formatted = error instanceof f.UnknownNode; }
          done({shown, changed, formatted, rows: box.querySelectorAll('.cond').length});
        }).catch(e => done(String(e)));""")
    assert result["shown"] == '{"can_receive":"email"}'
    assert result["changed"] == {"and": [{"field": "City", "op": "equals", "value": "x"},
                                         {"can_receive": "sms"}]}
    assert result["formatted"] is True and result["rows"] == 2

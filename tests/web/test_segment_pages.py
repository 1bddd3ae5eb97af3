"""A saved segment's pages in a real browser: size over time, versions with a diff,
dependents, campaigns created and sent, the bin and restore."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.graph import seed
from tests.web.test_builder import sign_in

UPDATE = """mutation($id: ID!, $input: SegmentInput!) {
  updateSegment(id: $id, input: $input) { segment { version } errors { message } } }"""


def test_saved_segment_panels(web, browser):
    krakow = seed.create_segment(web, "Krakow people", 'City equals "krakow"', tags=["geo"])
    data = web.run(UPDATE, {"id": krakow["id"], "input": {"expression": 'City equals "krakow" or Age > 50'}})
    assert data["updateSegment"]["segment"]["version"] == 2
    user = seed.create_segment(web, "Uses Krakow people", 'in segment "Krakow people"')
    for _ in range(2):
        web.run('query($id: ID!) { segment(id: $id) { count } }', {"id": krakow["id"]})

    driver = browser.driver
    wait = WebDriverWait(driver, 30)
    sign_in(browser, web, wait)
    # the list: counts and a tag filter
    wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, "button.tag"))).click()
    wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, """table[data-shown='["","geo",false]']""")))
    assert [link.text for link in driver.find_elements(By.CSS_SELECTOR, "table[aria-label=Segments] td a")] \
        == ["Krakow people"]
    driver.find_element(By.LINK_TEXT, "Krakow people").click()
    wait.until(ready.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Krakow people"))

    # size over time: the two counts; dependents
    wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "section[aria-labelledby=size-title] svg.chart")))
    assert "Uses Krakow people" in driver.find_element(By.CSS_SELECTOR, "section[aria-labelledby=dependents-title]").text
    assert driver.find_element(By.CSS_SELECTOR, "section[aria-labelledby=changes-title]").text

    # versions: compare 1 with 2
    Select(driver.find_element(By.ID, "diff-from")).select_by_value("1")
    Select(driver.find_element(By.ID, "diff-to")).select_by_value("2")
    driver.find_element(By.XPATH, "//button[text()='Compare versions']").click()
    wait.until(ready.text_to_be_present_in_element((By.ID, "version-diff"), "enter"))
    diff = web.run('query($id: ID!) { segmentDiff(id: $id, fromVersion: 1, toVersion: 2) { diff { entered left } } }',
                   {"id": krakow["id"]})["segmentDiff"]["diff"]
    assert f"{diff['entered']} enter, {diff['left']} leave" in driver.find_element(By.ID, "version-diff").text
    assert [word.text for word in driver.find_elements(By.CSS_SELECTOR, "#version-diff ins")] \
        == ["or", "Age", ">", "50"]

    # campaigns: create and send
    driver.find_element(By.ID, "campaign-name").send_keys("Spring news")
    driver.find_element(By.XPATH, "//button[text()='Create campaign']").click()
    send = wait.until(ready.element_to_be_clickable((By.XPATH, "//button[text()='Send Spring news']")))
    send.click()
    wait.until(ready.text_to_be_present_in_element(
        (By.CSS_SELECTOR, "section[aria-labelledby=campaigns-title]"), "sent to"))
    campaigns = web.run('query($id: ID!) { segment(id: $id) { campaigns { name status recipientCount } } }',
                        {"id": krakow["id"]})["segment"]["campaigns"]
    assert campaigns[0]["status"] == "SENT"
    assert f"sent to {campaigns[0]['recipientCount']} recipients" in driver.find_element(
        By.CSS_SELECTOR, "section[aria-labelledby=campaigns-title]").text
    browser.screenshot("segment-panels")

    # the bin: refused while used, then the user goes to the bin and comes back
    driver.find_element(By.XPATH, "//button[text()='Move to the bin']").click()
    wait.until(ready.text_to_be_present_in_element((By.ID, "notice"), "Uses Krakow people"))
    assert "bad" in driver.find_element(By.ID, "notice").get_attribute("class")
    browser.open(f"/#/segment/{user['id']}")
    wait.until(ready.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Uses Krakow people"))
    driver.find_element(By.XPATH, "//button[text()='Move to the bin']").click()
    wait.until(ready.text_to_be_present_in_element((By.ID, "notice"), "is in the bin"))
    wait.until(ready.element_to_be_clickable((By.ID, "show-bin"))).click()
    restore = wait.until(ready.element_to_be_clickable((By.XPATH, "//button[text()='Restore Uses Krakow people']")))
    restore.click()
    wait.until(ready.text_to_be_present_in_element((By.ID, "notice"), "back from the bin"))
    assert browser.foreign_requests() == []
    assert browser.console_errors() == []

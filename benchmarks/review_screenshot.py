"""The screenshot of ``curator review`` in docs/review.md and the README.

Serves the review of a scores file on a free local port, opens it in Debian's headless
Chromium (through ``chromium-driver`` and Selenium; nothing is downloaded) and saves the page
as it first shows: the most likely wrong label. The corrections file goes to a temporary
folder, so nothing is answered.

    curator score --data fashion-mnist --label-noise 0.15 --epochs 4 --seeds 1 --out fm15.h5
    python benchmarks/review_screenshot.py fm15.h5 --out docs/img/review.png
    python examples/hf_text.py --out text.h5 --save-texts texts.txt   # text, recorded by
    python benchmarks/review_screenshot.py text.h5 --texts texts.txt  # the Trainer
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from curator.review import Review, serve  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scores", type=Path)
    parser.add_argument("--out", type=Path, default=Path("review.png"))
    parser.add_argument("--size", default="1300,800", help="the window, width,height")
    parser.add_argument("--texts", help="show the samples as text (curator review --texts)")
    parser.add_argument("--grid", action="store_true", help="the grid view")
    args = parser.parse_args()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not browser or not driver_path:
        sys.exit("needs Debian's chromium and chromium-driver: apt-get install chromium "
                 "chromium-driver")
    with tempfile.TemporaryDirectory() as tmp:
        review = Review.open(args.scores, Path(tmp) / "corrections.csv", texts=args.texts)
        server = serve(review, port=0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        options = webdriver.ChromeOptions()
        options.binary_location = browser
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                    f"--window-size={args.size}"):
            options.add_argument(arg)
        driver = webdriver.Chrome(service=Service(executable_path=driver_path),
                                  options=options)
        try:
            driver.get(server.url)
            wait = WebDriverWait(driver, 30)
            wait.until(lambda d: d.find_element(By.ID, "index").text.strip() != "")
            if args.grid:
                from selenium.webdriver.support.ui import Select

                Select(driver.find_element(By.ID, "view")).select_by_value("grid")
                wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#grid .cell"))
            wait.until(lambda d: d.execute_script(  # the images in view (the grid's
                "return [...document.images].filter((i) => i.getBoundingClientRect().top < "
                "innerHeight).every((i) => !i.src || i.complete)"))  # others load lazily
            driver.save_screenshot(str(args.out))
        finally:
            driver.quit()
            server.shutdown()
            server.server_close()
            review.answers.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

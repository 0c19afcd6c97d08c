"""`make screenshots`: refresh the README's pictures in docs/ from a browser run.

Runs notebooks 01, 06 and 07 in JupyterLab (as the browser run does) and keeps three
pictures, reduced to a 256-colour palette so they stay small in git. Not run by tests.
"""

from __future__ import annotations

import shutil
import sys

from PIL import Image

from browser.__main__ import main as browser_run
from browser.workspace import BUILD, ROOT

DOCS = ROOT / "docs"
# picture in docs/ <- screenshot of the browser run
PICTURES = {
    "lab-01-hello-tornado.png": "01-hello-tornado-top.png",
    "lab-06-missing-prerequisite.png": "06-deploy-to-a-cluster-prereq.png",
    "lab-07-plot.png": "07-measure-it-cell*-plot1.png",
}


def main() -> int:
    shots = BUILD / "shots"
    if shots.exists():
        shutil.rmtree(shots)
    status = browser_run(["01-hello-tornado.ipynb", "06-deploy-to-a-cluster.ipynb",
                          "07-measure-it.ipynb"])
    DOCS.mkdir(exist_ok=True)
    for picture, pattern in PICTURES.items():
        found = sorted(shots.glob(pattern))
        if not found:
            print(f"no screenshot {pattern}: {picture} not refreshed", file=sys.stderr)
            status = 1
            continue
        image = Image.open(found[0]).convert("RGB")
        image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(
            DOCS / picture, optimize=True)
        print(f"docs/{picture} <- {found[0].name} ({(DOCS / picture).stat().st_size // 1024} KiB)")
    return status


if __name__ == "__main__":
    sys.exit(main())

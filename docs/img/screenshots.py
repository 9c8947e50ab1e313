"""Take the report screenshots in docs/img/ from a report written by ``make demo`` (headless Chromium).

``python docs/img/screenshots.py [demo-out/report.html]``

Each shot shows some sections of the page (the others hidden by a style rule) at 1100 px width;
the background below the last section is trimmed. Needs Debian's ``chromium`` (as the report test)
and Pillow (installed with matplotlib).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
WIDTH = 1100
#: file -> (section ids shown, page title shown)
SHOTS = {
    "report-mapping.png": (("gain", "utilization", "mesh"), True),
    "report-quantization.png": (("quantization",), False),
    "report-rates.png": (("rates",), False),
}


def shot(exe: str, html: str, sections: tuple[str, ...], title: bool, out: str, tmp: str) -> None:
    hide = "main > section" + "".join(f":not(#{s})" for s in sections) + " { display: none !important; }"
    if not title:
        hide += " main > h1, main > p.sub { display: none !important; }"
    page = os.path.join(tmp, "shot.html")
    with open(page, "w", encoding="utf-8") as f:
        f.write(html.replace("</head>", f"<style>{hide}</style></head>", 1))
    raw = os.path.join(tmp, "raw.png")
    subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--virtual-time-budget=10000", f"--window-size={WIDTH},6000", f"--user-data-dir={tmp}/profile",
                    f"--screenshot={raw}", "file://" + page], check=True, capture_output=True, timeout=120)
    from PIL import Image, ImageChops
    img = Image.open(raw).convert("RGB")
    bg = Image.new("RGB", img.size, img.getpixel((img.width - 1, img.height - 1)))
    box = ImageChops.difference(img, bg).getbbox()
    bottom = min(img.height, (box[3] if box else img.height) + 16)
    img.crop((0, 0, img.width, bottom)).save(out, optimize=True)


def main(report: str) -> int:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        print("headless Chromium is not installed (Debian: apt-get install -y chromium)", file=sys.stderr)
        return 2
    with open(report, encoding="utf-8") as f:
        html = f.read()
    with tempfile.TemporaryDirectory() as tmp:
        for name, (sections, title) in SHOTS.items():
            out = os.path.join(HERE, name)
            shot(exe, html, sections, title, out, tmp)
            print(f"wrote {os.path.relpath(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "demo-out/report.html"))

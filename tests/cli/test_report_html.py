"""``neuromap report`` (neuromap/report_html.py): one self-contained HTML page per image.

The page is checked as text (sections, inlined PNGs, nothing fetched from elsewhere) and rendered in
headless Chromium (Debian's ``chromium``), where every figure must decode (naturalWidth > 0) and
nothing may stick out horizontally at a narrow and a wide window.
"""
from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess

import pytest

from neuromap.cli import main as cli_main
from neuromap.report_html import SECTIONS

PNG = b"\x89PNG\r\n\x1a\n"
SMALL = "examples/spatial_balanced_ei.py:small"


@pytest.fixture(scope="module")
def report(tmp_path_factory, small_sheet_build):
    """(html text, path, build, results) for the small spatial E/I sheet with results and network."""
    build, results = small_sheet_build
    out = tmp_path_factory.mktemp("report") / "report.html"
    with pytest.raises(SystemExit) as e:
        cli_main(["report", str(build), "--results", str(results), "--network", SMALL, "-o", str(out), "-q"])
    assert e.value.code == 0
    return out.read_text(encoding="utf-8"), out, build, results


def _images(text: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)]


def test_report_is_self_contained(report):
    text = report[0]
    for sid, title in SECTIONS:
        assert f'<section id="{sid}">' in text and title in text
    imgs = _images(text)
    # utilization, mesh, quantization errors, rates, raster
    assert len(imgs) == 5 and all(b[:8] == PNG and len(b) > 5000 for b in imgs)
    assert text.count("<img ") == len(imgs)
    # nothing is fetched: no external URL, stylesheet link or script
    assert not re.search(r'(src|href)="(?!data:|#)', text)
    assert "<script" not in text and "<link" not in text
    # every figure carries its one-line explanation
    assert text.count("<figcaption>") == len(imgs)


def test_report_numbers_match_the_image(report, capsys):
    from neuromap.image import load_image
    text, out, build, results = report
    rep = load_image(str(build)).options["placement"]
    assert f"{rep['hop_weighted_traffic']:.4g} packet-hops/step" in text
    assert f"sequential fill: {rep['sequential_n_cores']}" in text
    with pytest.raises(SystemExit) as e:
        cli_main(["report", str(build), "--results", str(results), "-o", str(out.parent / "r2.html"), "--json"])
    assert e.value.code == 0
    s = json.loads(capsys.readouterr().out)
    assert s["figures"] == 3  # no --network: no weight-error histograms, no float rates
    assert s["rates"]["E"]["float_hz"] is None and s["rates"]["E"]["chip_hz"] > 0
    assert s["placement"]["hop_weighted_traffic"] == rep["hop_weighted_traffic"]


def test_report_without_results_says_what_is_missing(small_sheet_build, tmp_path):
    build, _ = small_sheet_build
    out = tmp_path / "r.html"
    with pytest.raises(SystemExit) as e:
        cli_main(["report", str(build), "-o", str(out), "-q"])
    assert e.value.code == 0
    text = out.read_text()
    assert "Give --results" in text and "Give --network" in text and len(_images(text)) == 2


def test_report_bad_output(small_sheet_build, tmp_path, capsys):
    build, _ = small_sheet_build
    with pytest.raises(SystemExit) as e:
        cli_main(["report", str(build), "-o", str(tmp_path / "r.png")])
    assert e.value.code == 2
    assert "must be an .html file" in capsys.readouterr().err


CHECK = """<script>window.addEventListener('load', () => {
  const cw = document.documentElement.clientWidth;
  const imgs = [...document.images];
  const r = {n: imgs.length, loaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
             scroll: document.documentElement.scrollWidth, client: cw,
             wide: [...document.querySelectorAll('main *')].filter(e => e.closest('.scroll') === null
                    && e.getBoundingClientRect().right > cw + 0.5).map(e => e.tagName)};
  const d = document.createElement('pre'); d.id = 'neuromap-check'; d.textContent = JSON.stringify(r);
  document.body.appendChild(d);
});</script>"""


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("headless Chromium is not installed (Debian: apt-get install -y chromium; "
                    "`make test` installs it when run as root)")
    return exe


@pytest.mark.parametrize("width", [760, 1280])
def test_report_renders_in_chromium(report, tmp_path, width):
    exe = _chromium()
    page = tmp_path / "check.html"
    page.write_text(report[0].replace("</body>", CHECK + "</body>"), encoding="utf-8")
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=10000",
           f"--window-size={width},1000", f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    m = re.search(r'<pre id="neuromap-check">(.*?)</pre>', dom)
    assert m, f"the check script did not run: {dom[:500]!r}"
    r = json.loads(m.group(1).replace("&quot;", '"'))
    assert r["n"] == 5 and r["loaded"] == r["n"], r
    assert r["scroll"] <= r["client"], r       # the page never scrolls sideways
    assert r["wide"] == [], r                   # no element sticks out (wide tables scroll inside their box)

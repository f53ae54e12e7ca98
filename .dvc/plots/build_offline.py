"""Write .dvc/plots/offline.html: the page `dvc plots show` fills, with the charting library
inside it, so the plots render with no network (DVC's default page loads Vega from a CDN).

`.dvc/config` names it as `plots.html_template`. The page has DVC's `{plot_divs}` placeholder
and no `{scripts}` one, so DVC adds no CDN script tags. The library is Vega, Vega-Lite (v5,
the schema DVC's templates use) and Vega-Embed (all BSD-3-Clause), bundled by vl-convert.
Regenerate (only when changing versions):

    pip install -c constraints.txt vl-convert-python
    python .dvc/plots/build_offline.py
"""

from pathlib import Path

import vl_convert as vlc

VEGA_LITE = "5.21"
HERE = Path(__file__).resolve().parent

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>synth-pipeline: DVC plots</title>
<!-- Vega {vega}, Vega-Lite {vega_lite}, Vega-Embed {embed} (BSD-3-Clause), bundled by
     vl-convert {vlc}: no network needed. Written by .dvc/plots/build_offline.py. -->
<script>
(function () {{  // own scope: the bundle's names cannot clash with DVC's `var spec`
{bundle}
}})();
</script>
<style>
body {{ font-family: system-ui, sans-serif; margin: 16px; }}
table {{ border-spacing: 15px; }}
</style>
</head>
<body>
{{plot_divs}}
</body>
</html>
"""


def main() -> None:
    bundle = vlc.javascript_bundle(
        "window.vegaEmbed = vegaEmbed; window.vega = vega; window.vegaLite = vegaLite;",
        vl_version=VEGA_LITE)
    if "</script" in bundle.lower():  # would end the inline script early
        raise SystemExit("bundle contains </script; cannot inline it")
    page = PAGE.format(vega=vlc.get_vega_version(), vega_lite=VEGA_LITE,
                       embed=vlc.get_vega_embed_version(), vlc=vlc.__version__, bundle=bundle)
    (HERE / "offline.html").write_text(page, encoding="utf-8")
    print(f"wrote {HERE / 'offline.html'} ({len(page) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()

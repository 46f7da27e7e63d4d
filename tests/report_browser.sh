#!/usr/bin/env bash
# report_browser.sh — `deepc report` checked in a real (headless) browser.
#   bash tests/report_browser.sh            (after `make`; uses ./build/deepc)
# Trains a tiny run (LeNet-5, three epochs on 11,000 images), writes its report, opens it in Debian's
# chromium and checks: the page loads, every <img> decodes (naturalWidth > 0) and every inline
# <svg> has drawn content, the counts match what `deepc report` says it wrote, nothing is loaded
# from outside the file, and the expected sections are there.  A screenshot is kept as
# build/artifacts/report.png (and the report itself as build/artifacts/report.html).
# Skips (exit 0) with a message when chromium is not installed: `bash scripts/setup.sh --browser`.
# Environment: DEEPC (binary, default ./build/deepc), DC_DATA (MNIST-format dir), MODEL (lenet5).
set -euo pipefail
cd "$(dirname "$0")/.."
DEEPC=${DEEPC:-./build/deepc}
DATA=${DC_DATA:-/usr/share/datasets/fashion-mnist}
MODEL=${MODEL:-lenet5}
ART=build/artifacts

browser=""
for b in chromium chromium-browser; do
    if command -v "$b" >/dev/null 2>&1; then browser=$b; break; fi
done
if [[ -z "$browser" ]]; then
    echo "report_browser: SKIPPED: chromium is not installed (bash scripts/setup.sh --browser installs it)"
    exit 0
fi
[[ -x "$DEEPC" ]] || { echo "report_browser: FAIL: $DEEPC not built (run make)"; exit 1; }

tmp=$(mktemp -d /tmp/deepc-report-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
run="$tmp/run"
mkdir -p "$ART"

fail() { echo "report_browser: FAIL: $*"; exit 1; }

"$DEEPC" train --model "$MODEL" --epochs 3 --lr 0.01 --limit 12000 --val 1000 --test-limit 500 --data "$DATA" \
    --threads 2 --quiet --out "$run" > "$tmp/train.log" 2>&1 || { cat "$tmp/train.log"; fail "training failed"; }
out=$("$DEEPC" report "$run" --data "$DATA" --test-limit 500 --samples 6 --out "$tmp/report.html") \
    || fail "deepc report failed"
echo "$out"
figures=$(sed -n 's/.*(\([0-9]*\) figures.*/\1/p' <<< "$out")
[[ -n "$figures" ]] || fail "deepc report did not say how many figures it wrote"
cp "$tmp/report.html" "$ART/report.html"

# Self-contained: no scripts, style sheets or images from elsewhere (the SVG namespace is a name, not a load).
if grep -Eo '(src|href)="[a-z]+://[^"]*"|<link |<script' "$tmp/report.html" | grep -v 'http://www.w3.org/2000/svg' | head -3 | grep -q .; then
    fail "the report loads something from outside the file"
fi
sections="run curves model confusion samples misclassified"
[[ "$MODEL" == mlp ]] || sections="$sections filters" # conv models show their first-layer kernels
for id in $sections; do
    grep -q "<h2 id=\"$id\"" "$tmp/report.html" || fail "section '$id' missing"
done

# The browser's own verdict: a copy of the page with a check that runs after everything loaded.
sed 's#</body>#<script>addEventListener("load",function(){var im=[].slice.call(document.images),bad=im.filter(function(i){return !(i.complete\&\&i.naturalWidth>0\&\&i.src.indexOf("data:image/png;base64,")==0\&\&i.src.length>200)});var sv=[].slice.call(document.querySelectorAll("body svg")),empty=sv.filter(function(s){var b=s.getBBox();return !(b.width>0\&\&b.height>0\&\&s.querySelectorAll("polyline,rect,text").length>0)});var r=document.createElement("pre");r.id="check";r.textContent="CHECK imgs="+im.length+" badimgs="+bad.length+" svgs="+sv.length+" badsvgs="+empty.length+" END";document.body.appendChild(r)});</script></body>#' \
    "$tmp/report.html" > "$tmp/check.html"
dom=$(timeout 120 "$browser" --headless --disable-gpu --no-sandbox --virtual-time-budget=10000 --dump-dom \
      "file://$tmp/check.html" 2> "$tmp/chromium.log") || { tail -5 "$tmp/chromium.log"; fail "chromium --dump-dom failed"; }
check=$(grep -o 'CHECK imgs=[0-9]* badimgs=[0-9]* svgs=[0-9]* badsvgs=[0-9]* END' <<< "$dom" || true)
[[ -n "$check" ]] || fail "the page did not finish loading in chromium (no check result in the DOM)"
echo "chromium: $check"
read -r imgs bad svgs badsvg < <(sed 's/CHECK imgs=\([0-9]*\) badimgs=\([0-9]*\) svgs=\([0-9]*\) badsvgs=\([0-9]*\) END/\1 \2 \3 \4/' <<< "$check")
((bad == 0)) || fail "$bad of $imgs images did not decode in the browser"
((badsvg == 0)) || fail "$badsvg of $svgs inline SVG figures are empty"
((imgs + svgs == figures)) || fail "the browser sees $imgs images + $svgs SVG figures, the report says $figures"
((svgs >= 2)) || fail "the loss and accuracy curves (inline SVG) are missing"
# The JS-free DOM too: every <img> has a non-empty data URI.
empty_src=$(timeout 120 "$browser" --headless --disable-gpu --no-sandbox --dump-dom "file://$tmp/report.html" 2>/dev/null \
            | grep -o '<img[^>]*>' | grep -vc 'src="data:image/png;base64,[A-Za-z0-9+/]\{100,\}' || true)
((empty_src == 0)) || fail "$empty_src <img> elements without PNG data"

timeout 120 "$browser" --headless --disable-gpu --no-sandbox --hide-scrollbars --window-size=1200,6000 \
    --screenshot="$ART/report.png" "file://$tmp/report.html" > "$tmp/shot.log" 2>&1 || { tail -5 "$tmp/shot.log"; fail "screenshot failed"; }
[[ -s "$ART/report.png" ]] || fail "no screenshot written"
echo "report_browser: ok: $figures figures ($imgs PNG, $svgs SVG) render in $browser; screenshot $ART/report.png"

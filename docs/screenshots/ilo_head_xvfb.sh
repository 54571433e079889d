#!/bin/bash
# How docs/screenshots/ilo_suggestions.png was taken: the real app (python main.py, the model in its own process)
# under Xvfb with the ILO phantom head as the Settings' head folder, read-first off, on a held-out phantom film;
# Ctrl+I opens the ILO form, the wheel scrolls it to the zones and profusion, `import -window root` grabs the screen.
# Settings and data go to a throw-away folder (never the user's). Needs Xvfb, xdotool and ImageMagick.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d)
mkdir -p "$WORK/config/PneumoLLM" "$WORK/data"
printf '[model]\nhead_folder=%s\n\n[viewer]\nread_first=false\n' "$ROOT/resources/heads/ilo-phantom" \
    > "$WORK/config/PneumoLLM/PneumoLLM Viewer.conf"
export XDG_CONFIG_HOME="$WORK/config" PNEUMOLLM_DATA="$WORK/data" PYTHONPATH="$ROOT" DISPLAY=:77
Xvfb :77 -screen 0 1600x1000x24 >"$WORK/xvfb.log" 2>&1 & XVFB=$!
sleep 2
cd "$ROOT"
.venv/bin/python main.py ../shared/data/ilo-phantom/images/ilo_sim_JPCNN003_6.png >"$WORK/app.log" 2>&1 & APP=$!
sleep 45  # start, the model process, the diagnosis
WINDOW=$(xdotool search --name "PneumoLLM Viewer" | tail -1)
xdotool windowsize "$WINDOW" 1600 1000; xdotool windowmove "$WINDOW" 0 0
xdotool mousemove 1000 600 click 1; sleep 1; xdotool key ctrl+i
sleep 12
xdotool mousemove 1360 560; for _ in 1 2 3 4; do xdotool click 5; sleep 0.3; done; sleep 2
import -window root "${1:-$ROOT/docs/screenshots/ilo_suggestions.png}"
kill "$APP"; sleep 3; kill -9 "$APP" 2>/dev/null || true; kill "$XVFB"

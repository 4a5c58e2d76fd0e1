#!/usr/bin/env bash
# Build the one-folder Linux bundle with PyInstaller, then smoke-run it from another folder: --version, a headless
# generate with the bundled model (no network), and the window opening offscreen. Run from an environment where
# DDPM Studio is installed (the README's first command). Prints the bundle's size last.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
python -m pip install --quiet "pyinstaller>=6.10"
python -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath build/bundle/dist --workpath build/bundle/work packaging/ddpm-studio.spec
app="$root/build/bundle/dist/ddpm-studio/ddpm-studio"

echo "== smoke: --version"
"$app" --version
echo "== smoke: generate with the bundled model, offline, from another folder"
work=$(mktemp -d)
(cd "$work" && HF_HUB_OFFLINE=1 "$app" generate --steps 5 --batch 2 --seed 1 --out out --device cpu)
test "$(ls "$work"/out/*.png | wc -l)" -eq 2
"$app" info "$work"/out/00000-1.png | tail -n 1
echo "== smoke: the window opens (offscreen) and the sampler starts"
QT_QPA_PLATFORM=offscreen "$app" gui --exit-when-ready --device cpu
echo "== bundle size"
du -sh build/bundle/dist/ddpm-studio

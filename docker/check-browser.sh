#!/usr/bin/env bash
# Build-time gate for the Lambda image's browser: fail the build, not the first invoke.
# 1. ldd over every ELF file under /opt/chrome and the two executables' real paths: a library that is
#    not found, or an ldd that fails, fails the gate (Chrome loads libEGL, libGLESv2, SwiftShader and
#    libvulkan late, so checking the executables alone is not enough). Full Chrome's Qt shims are the
#    one exception (below).
# 2. A font with Hangul (fontconfig's Korean coverage): booking pages are Korean.
# 3. One real headless session through chromedriver and Selenium on about:blank, with --headless=new:
#    full Chrome's headless mode; the headless shell is headless whatever the flag says.
set -euo pipefail

is_elf() { [[ "$(od -An -N4 -tx1 "$1" | tr -d ' \n')" == 7f454c46 ]]; }

mapfile -t files < <(
  find -L /opt/chrome -type f
  readlink -f "$CHROME_BIN" "$CHROMEDRIVER_BIN"
)
checked=0
for file in "${files[@]}"; do
  is_elf "$file" || continue
  # Full Chrome's libqt5_shim.so and libqt6_shim.so link Qt, which Chrome dlopens only for a Qt desktop
  # theme and goes on without; Chromium's own Linux installer leaves them out of its dependency check
  # (chrome/installer/linux/BUILD.gn). Every other ELF file is checked.
  [[ "${file##*/}" =~ ^libqt[0-9]+_shim\.so$ ]] && continue
  if ! deps="$(ldd "$file" 2>&1)"; then
    echo "ldd failed on $file: $deps" >&2
    exit 1
  fi
  if grep -q "not found" <<<"$deps"; then
    echo "$file: missing libraries:" >&2
    grep "not found" <<<"$deps" >&2
    exit 1
  fi
  checked=$((checked + 1))
done
((checked >= 1)) || { echo "no ELF files under /opt/chrome: is the browser installed?" >&2; exit 1; }
echo "ldd: $checked ELF files, every library found"

korean="$(fc-list :lang=ko family)" || { echo "fc-list failed: is fontconfig installed?" >&2; exit 1; }
[[ -n "$korean" ]] || { echo "no font covers Korean (fc-list :lang=ko is empty)" >&2; exit 1; }
echo "Korean fonts: $(head -n1 <<<"$korean")"

python3 - <<'PY'
import os, tempfile
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

options = webdriver.ChromeOptions()
options.binary_location = os.environ["CHROME_BIN"]
for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-zygote"):
    options.add_argument(flag)
options.add_argument(f"--user-data-dir={tempfile.mkdtemp()}")
driver = webdriver.Chrome(service=Service(os.environ["CHROMEDRIVER_BIN"]), options=options)
try:
    driver.get("about:blank")
    print("headless session:", driver.capabilities.get("browserVersion"), "on", driver.current_url)
finally:
    driver.quit()
PY

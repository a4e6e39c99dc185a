# Shared by infra/run.sh and infra/test.sh (sourced, not run): make .venv and install
# the project into it. Idempotent and fast when nothing changed: the install is
# skipped while pyproject.toml and the chosen extras match the last install.

find_python() {
    local candidate
    for candidate in "${WATTPASS_PYTHON:-}" /root/.pyenv/versions/3.11*/bin/python3.11 \
        python3.11 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    echo "Python 3.11 or newer is needed (set WATTPASS_PYTHON to its path)." >&2
    return 1
}

# setup_venv [EXTRAS]  e.g. setup_venv dev
setup_venv() {
    local extras="${1:-}" spec="." stamp want python
    if [ -n "$extras" ]; then spec=".[$extras]"; fi
    if [ ! -x .venv/bin/python ]; then
        python="$(find_python)"
        echo "==> creating .venv with $python"
        "$python" -m venv .venv
    fi
    stamp=.venv/.wattpass-install
    want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ -x .venv/bin/wattpass ]; then
        local have_hash have_extras
        read -r have_hash have_extras <"$stamp" || true
        # An install with more extras serves a request for fewer (run after test).
        if [ "$have_hash" = "$want" ] && { [ -z "$extras" ] || [ "$have_extras" = "$extras" ]; }; then
            return 0
        fi
    fi
    echo "==> installing wattpass${extras:+ with [$extras]} into .venv"
    # Quiet when it works (this machine's pip prints a warning per package for its
    # extra index folders); everything pip said when it fails.
    local log
    log="$(mktemp)"
    if ! .venv/bin/python -m pip install --disable-pip-version-check -e "$spec" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        echo "FAILED: pip could not install the project into .venv" >&2
        return 1
    fi
    rm -f "$log"
    echo "$want $extras" >"$stamp"
}

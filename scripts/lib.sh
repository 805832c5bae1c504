# Shell helpers shared by the set-up scripts; source it, do not run it.

# as_root COMMAND...: run COMMAND as root (directly, or through sudo), or stop with the reason.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        echo "$(basename "$0"): '$*' needs root; run it as root or install sudo" >&2
        exit 1
    fi
}

# apt_install PACKAGE...: install Debian packages quietly.
apt_install() {
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

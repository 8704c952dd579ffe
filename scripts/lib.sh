# Helpers shared by the project's shell scripts. Source it after setting LOG_PREFIX (the name in each line
# printed) and, for the install helpers and go_env, CACHE (where tools are installed once and reused).

say() { echo "$LOG_PREFIX: $*" >&2; }

die() {
    say "ERROR: $*"
    exit 1
}

step() { # name outcome: one line of the summary a check prints at the end
    SUMMARY+=("$(printf '  %-15s %s' "$1" "$2")")
}

installed() { [[ -f $1/.installed ]]; }
already_installed() { # dir what: true, and says so, when dir holds a finished install
    installed "$1" || return 1
    say "$2: already installed"
}

begin_install() { # dir what
    rm -rf "$1"
    mkdir -p "$1"
    say "$2: installing into $1 (log: $1/install.log)"
    INSTALL_STARTED=$SECONDS
}

end_install() { # dir what
    touch "$1/.installed"
    say "$2: installed in $((SECONDS - INSTALL_STARTED))s"
    INSTALLED_SOMETHING=1
}

install_failed() { # dir what
    tail -n 20 "$1/install.log" >&2 || true
    die "$2: install failed; full log: $1/install.log"
}

go_env() { # Go state stays in the cache: a second build reuses its modules and compiled packages.
    env GOPATH="$CACHE/go" GOMODCACHE="$CACHE/go/pkg/mod" GOCACHE="$CACHE/go/build-cache" \
        GOFLAGS="-modcacherw -buildvcs=false${GO_EXTRA_FLAGS:+ $GO_EXTRA_FLAGS}" GOTOOLCHAIN=local CGO_ENABLED=0 "$@"
}

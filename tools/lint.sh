#!/bin/sh
# The lint gates, in one place: ctest runs each as a test (tests/lint,
# label lint, part of `make test`), tests/lint/test_gates_plant.py runs them on
# a copy of the tree with planted faults, and you can run them by hand.
#
#   tools/lint.sh [-C DIR] [GATE...]
#
# GATE is flake8, mypy, shellcheck or clang-format; none means all four.
# -C DIR checks the tree at DIR instead of this script's repository.
# Every gate works on folders (recursively), so a new file is checked
# without being listed anywhere:
#  - flake8: pyflakes (F) and syntax errors (E9) in harness/ peers/
#    tests/ bench/ (.flake8 leaves out the students' programs);
#  - mypy: harness/ and the Python peers' helpers (mypy.ini);
#  - shellcheck: every *.sh under peers/ and tools/, and .ci/run
#    (.shellcheckrc);
#  - clang-format: every *.c and *.h under c/ tests/ bench/ except the
#    students' programs, against .clang-format.
# Exit status: 0 clean, 1 a gate found something, 2 usage or a missing
# tool (the Debian package to install is named). SL_LINT_CACHE=DIR keeps
# mypy's cache in DIR/mypy instead of .mypy_cache in the tree.
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" = "-C" ]; then
    [ $# -ge 2 ] || { echo "usage: tools/lint.sh [-C DIR] [GATE...]" >&2; exit 2; }
    root=$(cd "$2" && pwd) || exit 2
    shift 2
fi
[ $# -gt 0 ] || set -- flake8 mypy shellcheck clang-format
cd "$root" || exit 2

tool_missing=0
missing() { # missing TOOL PACKAGE: says so; the caller returns 2
    echo "lint: $1 not found; install it: apt-get install $2" \
         "(tools/prereqs.sh does)" >&2
    tool_missing=1
}

# Files under the folders given, one a line (no names with blanks in this
# tree), sorted so the output is stable. The zoo's students and the test
# fixtures are test data, with their faults on purpose.
files() { # files PATTERN FOLDER...
    pattern=$1
    shift
    for d in "$@"; do
        [ -e "$d" ] && find "$d" -type f -name "$pattern" \
            -not -path 'tests/zoo/*/*' -not -path 'tests/harness/fixtures/*'
    done | sort
}

gate_flake8() {
    if command -v flake8 >/dev/null 2>&1; then
        flake8 --config .flake8 harness peers tests bench
    elif python3 -m flake8 --version >/dev/null 2>&1; then
        python3 -m flake8 --config .flake8 harness peers tests bench
    else
        missing flake8 flake8
        return 2
    fi
}

gate_mypy() {
    # Debian's python3-mypy installs the module for /usr/bin/python3 only
    # (no mypy command): find an interpreter that has it.
    mypy=""
    if command -v mypy >/dev/null 2>&1; then
        mypy=mypy
    else
        for py in "${PYTHON:-python3}" python3 /usr/bin/python3; do
            if "$py" -m mypy --version >/dev/null 2>&1; then
                mypy="$py -m mypy"
                break
            fi
        done
    fi
    [ -n "$mypy" ] || { missing mypy python3-mypy; return 2; }
    cache=""
    if [ -n "${SL_LINT_CACHE:-}" ]; then
        mkdir -p "$SL_LINT_CACHE" && cache="--cache-dir=$SL_LINT_CACHE/mypy"
    fi
    # shellcheck disable=SC2086  # $mypy is a command with arguments
    $mypy --config-file mypy.ini --no-error-summary $cache
}

gate_shellcheck() {
    command -v shellcheck >/dev/null 2>&1 || { missing shellcheck shellcheck; return 2; }
    # shellcheck disable=SC2046  # one file a line, no blanks in names
    set -- $(files '*.sh' peers tools) .ci/run
    shellcheck "$@"
}

gate_clang_format() {
    command -v clang-format >/dev/null 2>&1 || { missing clang-format clang-format; return 2; }
    # shellcheck disable=SC2046  # one file a line, no blanks in names
    set -- $(files '*.[ch]' c tests bench)
    clang-format --dry-run -Werror --style=file "$@"
}

status=0
for gate in "$@"; do
    case $gate in
    flake8) gate_flake8 ;;
    mypy) gate_mypy ;;
    shellcheck) gate_shellcheck ;;
    clang-format) gate_clang_format ;;
    *)
        echo "lint: unknown gate '$gate' (flake8, mypy, shellcheck, clang-format)" >&2
        exit 2
        ;;
    esac
    rc=$?
    if [ "$rc" -eq 0 ]; then
        echo "lint: $gate: clean"
    else
        echo "lint: $gate: FAILED (exit $rc)" >&2
        status=1
    fi
done
[ "$tool_missing" -eq 0 ] || exit 2
exit "$status"

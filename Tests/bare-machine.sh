#!/usr/bin/env bash
# The README's promise on a machine with only Swift and zlib: its two commands,
#
#   swift run ckpt inspect Samples/mlp.ckpt
#   swift test
#
# pass, and every test that needs what such a machine lacks is reported as skipped with its reason
# and the package to install.
#
#   Tests/bare-machine.sh [--pretend] [-- swift test arguments...]
#
# By default the optional things are really absent: as root, in a private mount namespace
# (`unshare -m`, nothing outside it changes), libhdf5, libdeflate and libisal are covered by an
# empty file, and so are python3, unzip, zip, chromium, zsh, fish, groff and h5diff; PATH loses
# pyenv's directories. `--pretend` (or without root/unshare) lists them in CKPT_PRETEND_MISSING
# instead. Either way no CKPT_REQUIRE_* is set. Prints the summary line of each command, the
# skips grouped by reason, and exits 0 only when both commands succeed, at least one test was
# skipped, and every skip names a package to install (`install it with`) or says it is optional.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

pretend=0
if [ "${1:-}" = --pretend ]; then pretend=1; shift; fi
[ "${1:-}" = -- ] && shift
extra=("$@")

hidden_ids="hdf5,libdeflate,python,chromium,unzip,zip,zsh,fish,groff"
hidden_programs="python3 python3.11 python3.12 python3.13 python unzip zip chromium chromium-browser zsh fish groff h5diff"
hidden_libraries="libhdf5 libdeflate libisal"

# Every CKPT_REQUIRE_* off: here a missing tool must be a skip.
for v in $(env | grep -oE '^CKPT_REQUIRE_[A-Z_]+'); do unset "$v"; done
unset CKPT_LIBHDF5 CKPT_PRETEND_MISSING

out=$(mktemp -d /tmp/ckpt-bare-XXXXXX)
inner="$out/inner.sh"
cat >"$inner" <<EOF
#!/usr/bin/env bash
set -uo pipefail
cd "$root"
if [ "\${CKPT_BARE_HIDE:-0}" = 1 ]; then
    mount --make-rprivate / || exit 3
    for p in $hidden_programs; do
        for d in /usr/bin /usr/local/bin /root/.pyenv/shims; do
            [ -e "\$d/\$p" ] && mount --bind /dev/null "\$d/\$p"
        done
    done
    for lib in $hidden_libraries; do
        for f in \$(find /usr/lib /usr/local/lib /lib -name "\$lib*.so*" 2>/dev/null); do
            [ -L "\$f" ] || mount --bind /dev/null "\$f"
        done
    done
    export PATH=\$(printf '%s' "\$PATH" | tr ':' '\n' | grep -v pyenv | paste -sd:)
    echo "python3 runs: \$(python3 -c 'print("yes")' 2>/dev/null || echo no); unzip runs: \$(unzip -v >/dev/null 2>&1 && echo yes || echo no)"
fi
echo "== swift run ckpt inspect Samples/mlp.ckpt"
swift run ckpt inspect Samples/mlp.ckpt >"$out/inspect.log" 2>&1
echo "exit \$?: \$(grep -m1 'Samples/mlp.ckpt:' "$out/inspect.log" | cut -c1-100)"
echo "== swift test \$*"
swift test "\$@" >"$out/test.log" 2>&1
echo "exit \$?"
EOF
chmod +x "$inner"

if [ "$pretend" = 0 ] && [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
    echo "== really absent (private mount namespace): $hidden_libraries, $hidden_programs"
    CKPT_BARE_HIDE=1 unshare -m "$inner" ${extra[@]+"${extra[@]}"} | tee "$out/summary.log"
else
    echo "== pretended missing: CKPT_PRETEND_MISSING=$hidden_ids"
    CKPT_PRETEND_MISSING=$hidden_ids "$inner" ${extra[@]+"${extra[@]}"} | tee "$out/summary.log"
fi

status=0
grep -q '^exit 0:' "$out/summary.log" || { echo "bare-machine.sh: the sample command failed (see $out/inspect.log)"; status=1; }
[ "$(grep -c '^exit 0' "$out/summary.log")" = 2 ] || { echo "bare-machine.sh: swift test failed (see $out/test.log)"; grep -E '✘' "$out/test.log" | head -20; status=1; }
grep -E 'Test run with|Executed [0-9]+ tests' "$out/test.log" | tail -3
skips=$(grep -E '^.{0,4}Test .* skipped' "$out/test.log")
count=$(printf '%s\n' "$skips" | grep -c skipped)
echo "skipped tests: $count; by reason:"
printf '%s\n' "$skips" | sed -E 's/.* skipped: //' | sort | uniq -c | sort -rn
# A skip either names the package to install or says it is optional (a fixture set too big to commit).
unexplained=$(printf '%s\n' "$skips" | grep skipped | grep -v 'install it with' | grep -vc 'skipped: "optional: ')
[ "$count" -gt 0 ] || { echo "bare-machine.sh: nothing was skipped: were the tools really hidden?"; status=1; }
[ "$unexplained" = 0 ] || { echo "bare-machine.sh: $unexplained skips do not name a package to install"; status=1; }
echo "logs in $out"
exit $status

#!/usr/bin/env bash
# Applies mutations of the sources one at a time and reports which the tests catch.
#
#   Tests/mutations.sh [--list | --check] [--only ID]... [--keep] [--dir DIR]
#
# --keep leaves the scratch worktree (and its logs); --dir DIR puts it there and reuses it later.
#
# Each mutation is a literal edit of one source line (the text must occur exactly once) that a
# test must notice: a check removed, a comparison loosened, a constant or a case changed. They are
# applied to a scratch copy of the committed tree (`git worktree add` under /tmp, or --dir; the
# working tree is never touched), built incrementally there, and judged by the suites that cover
# that code (`swift test --filter`): a failing run means caught, a passing run survived. A mutation
# whose text is no longer in the source is reported "stale", one that does not compile "no build";
# both count as failures of this script, like a survivor. Exit 0 only when every mutation is caught.
#
# Uncommitted changes are not in the copy: commit first. It takes a while (a full build of the
# copy, then one incremental build and a few focused suites per mutation); run it once before
# resolving a change to the code or its tests, not in a loop. `--check` only says whether every
# mutation's text is still in the sources (after a refactoring), in a second.
set -uo pipefail
# Run from a copy: bash reads a script as it goes, and this one runs long enough to be edited.
if [ -z "${CKPT_MUTATIONS_ROOT:-}" ]; then
    copy=$(mktemp /tmp/ckpt-mutations-script-XXXXXX)
    cp "$0" "$copy"
    CKPT_MUTATIONS_ROOT=$(cd "$(dirname "$0")/.." && pwd) exec bash "$copy" "$@"
fi
rm -f "$0"
cd "$CKPT_MUTATIONS_ROOT" || exit 2
root=$(pwd)

only=()
keep=0
list=0
scratch=""
while [ $# -gt 0 ]; do
    case "$1" in
        --only) only+=("$2"); shift 2 ;;
        --keep) keep=1; shift ;;
        --list) list=1; shift ;;
        --check) list=2; shift ;;
        --dir) scratch="$2"; shift 2 ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) echo "mutations.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

ids=() files=() olds=() news=() filters=() whats=()
# m ID FILE OLD NEW FILTER WHAT
m() { ids+=("$1"); files+=("$2"); olds+=("$3"); news+=("$4"); filters+=("$5"); whats+=("$6"); }

K=Sources/CheckpointKit
# ZIP
m zip-crc        $K/Zip/ZipArchive.swift 'guard c == entry.crc32 else {' 'guard c == entry.crc32 || true else {' \
  'HostileZipTests|CorruptionTests' "a whole member's CRC-32 is not checked"
m zip-localsize  $K/Zip/ZipArchive.swift '(csize == 0xFFFF_FFFF || UInt64(csize) == entry.compressedSize)' '(true)' \
  'HostileZipTests|CorruptionTests' "the local header's compressed size is not compared with the directory's"
m zip-dotdot     $K/Zip/ZipArchiveChecks.swift 'if len == 2 && b[componentStart] == 0x2E && b[componentStart + 1] == 0x2E {' 'if false {' \
  'HostileZipTests' "a member name with a '..' component is accepted"
m zip-method     $K/Zip/ZipArchive.swift 'guard method == entry.method else {' 'guard true else {' \
  'HostileZipTests|CorruptionTests' "the local header's method is not compared with the directory's"
m zip-dosdate    $K/Container/ContainerSpec.swift 'dosDate: UInt16 = 0x0021' 'dosDate: UInt16 = 0x0022' \
  'ContainerTests|ContainerSpecTests' "members carry another DOS date (the spec's fixed timestamp)"
# NPY
m npy-1d-comma   $K/NPY/NPY.swift 'if shape.count == 1 { shapeText += "," }' '' \
  'ContainerTests|NPZTests' "a 1-D shape is written as (n) instead of numpy's (n,)"
m npy-padding    $K/NPY/NPY.swift 'let pad = (64 - base % 64) % 64' 'let pad = (64 - base % 64) % 64 + 64' \
  'ContainerTests|NPZTests' "headers are padded past numpy's 64-byte multiple"
m npy-negative   $K/NPY/NPY.swift 'guard let v = Int(d), v >= 0 else' 'guard let v = Int(d), v >= -1 else' \
  'NPZTests' "a negative dimension is accepted"
m npz-fortran    $K/Formats/NPZ/NPZLayout.swift 'shape.filter { $0 > 1 }.count > 1 && TensorInfo.elementCount(shape) != 0' 'shape.filter { $0 > 1 }.count > 2 && TensorInfo.elementCount(shape) != 0' \
  'NPZTests' "a Fortran-order 2-D array is read as if it were C order"
# Manifest
m man-major      $K/Container/Manifest.swift 'guard version[0] == Int64(ContainerSpec.formatVersion.major) else {' 'guard version[0] >= Int64(ContainerSpec.formatVersion.major) else {' \
  'ContainerSpecTests|ContainerTests' "a future major version is read"
m man-chunkorder $K/Container/Manifest.swift 'guard o > last, o < stored else' 'guard o < stored else' \
  'ContainerSpecTests|CorruptionTests' "chunk offsets that do not increase are accepted"
m man-size       $K/Container/Manifest.swift 'guard !overflow, UInt64(size) == total else' 'guard !overflow else' \
  'CorruptionTests|HostileZipTests|ContainerTests|ReliabilityHostileInputTests' "a tensor's size that disagrees with its shape is accepted"
m man-dupkey     $K/Container/Manifest.swift 'guard seen & bit == 0 else' 'guard true else' \
  'CorruptionTests|ReliabilityHostileInputTests|ContainerSpecTests' "a tensor entry that repeats a key is accepted"
# Diff metrics
m diff-meanabs   $K/Analysis/DiffMetrics.swift '            s1 += d
            s2 += d * d
            dt += a * b' '            s1 += d + d
            s2 += d * d
            dt += a * b' \
  'DiffTests' "mean |Δ| doubled on the fast (SIMD) path"
m diff-cosine    $K/Analysis/DiffMetrics.swift '            dt += a * b
            na += a * a' '            dt += a * a
            na += a * a' \
  'DiffTests' "cosine similarity uses Σa² for Σab"
m diff-maxindex  $K/Analysis/DiffMetrics.swift 'm.maxAbsIndex = first + j' 'm.maxAbsIndex = first + j + 1' \
  'DiffTests' "the index of the largest |Δ| is off by one on the fast path"
m diff-maxrel    $K/Analysis/DiffMetrics.swift 'let r = ab == 0 ? Double.infinity : d / ab' 'let r = ab == 0 ? Double.infinity : d / (ab + ab)' \
  'DiffTests' "max relative Δ halved on the fast path"
m diff-nan       $K/Analysis/DiffMetrics.swift 'if !nanEqual { differing += 1 }' 'if nanEqual { differing += 1 }' \
  'DiffTests|ReliabilityNumbersTests' "NaN against NaN counted the wrong way round (--nan)"
# Tolerance
m tol-boundary   $K/Analysis/DiffMetrics.swift 'differing &+= d > tol.atol + tol.rtol * ab ? 1 : 0' 'differing &+= d >= tol.atol + tol.rtol * ab ? 1 : 0' \
  'DiffTests' "a pair exactly on |a−b| = atol + rtol·|b| is counted as differing"
m tol-simd       $K/Analysis/DiffMetrics.swift 'where: d .> vatol + vrtol * ab)' 'where: d .>= vatol + vrtol * ab)' \
  'DiffTests' "the boundary counted as differing on the fast (SIMD) path"
m tol-reference  $K/Analysis/DiffMetrics.swift 'if !finite || !(d <= tol.atol + tol.rtol * ab) { differing += 1 }' 'if !finite || !(d <= tol.atol + tol.rtol * abs(a)) { differing += 1 }' \
  'DiffTests|ReliabilityNumbersTests' "A instead of B is the reference of rtol (non-finite path)"
m tol-f32        $K/Analysis/DiffMetrics.swift 'case .float32: return DiffTolerance(atol: 1e-8, rtol: 1e-6)' 'case .float32: return DiffTolerance(atol: 1e-8, rtol: 1e-5)' \
  'DiffTests' "float32's default rtol 1e-5 instead of numpy's 1e-6 (assert_allclose)"
m tol-mixed      $K/Analysis/DiffMetrics.swift 'return DiffTolerance(atol: Swift.max(ta.atol, tb.atol), rtol: Swift.max(ta.rtol, tb.rtol))' 'return DiffTolerance(atol: Swift.min(ta.atol, tb.atol), rtol: Swift.min(ta.rtol, tb.rtol))' \
  'DiffTests' "mixed dtypes judged at the tighter tolerance"
# Strip
m strip-keeps-opt $K/Operations/Strip.swift 'let kept = index.tensors.indices.filter { index.tensors[$0].role == .weight }' 'let kept = Array(index.tensors.indices)' \
  'StripRebuildTests|OperationsTests' "strip keeps the optimizer tensors"
m strip-arch     $K/Operations/Strip.swift 'CheckpointIndex(tensors: index.weights, architecture: keepArchitecture ? index.architecture : nil,' 'CheckpointIndex(tensors: index.weights, architecture: index.architecture,' \
  'StripRebuildTests|InspectCommandTests' "strip keeps the architecture without --keep-architecture"
# Rebuild: optimizer slots
m slot-adam-order $K/Keras/Optimizers/KerasOptimizerRegistry.swift 'b.slots([("momentum", "_momentums"), ("velocity", "_velocities")])
                    if b.flag("amsgrad")' 'b.slots([("velocity", "_velocities"), ("momentum", "_momentums")])
                    if b.flag("amsgrad")' \
  'StripRebuildTests|KerasOptimizerTests' "Adam's slots built velocity first"
m slot-adagrad   $K/Keras/Optimizers/KerasOptimizerRegistry.swift 'b.slots([("accumulator", "_accumulators")], fill: [b.number("initial_accumulator_value")])' 'b.slots([("accumulator", "_accumulators")])' \
  'StripRebuildTests|KerasOptimizerTests' "Adagrad's accumulators start at 0, not initial_accumulator_value"
m slot-rmsprop   $K/Keras/Optimizers/KerasOptimizerRegistry.swift 'if b.number("momentum") > 0 { b.slots([("momentum", "_momentums")]) }' '' \
  'StripRebuildTests|KerasOptimizerTests' "RMSprop with momentum gets no momentum slots"
m slot-keras2    $K/Keras/Optimizers/KerasOptimizerRegistry.swift 'keras2Slots: ["m": "momentum", "v": "norm", "u": "norm"],' 'keras2Slots: ["m": "momentum", "v": "velocity", "u": "norm"],' \
  'KerasFileTests' "Keras 2's Adamax v slot read as velocity, not norm"
m rebuild-shape  $K/Operations/Rebuild.swift 'if v.shape != t.shape || v.dtype != t.dtype {' 'if v.dtype != t.dtype {' \
  'StripRebuildTests' "rebuild takes a weight whose shape differs from the architecture's"
# Safetensors
m st-order       $K/Formats/Safetensors/SafetensorsWriter.swift 'if ra != rb { return ra > rb }' 'if ra != rb { return ra < rb }' \
  'SafetensorsTests' "data in ascending dtype alignment, unlike the reference writer"
m st-padding     $K/Formats/Safetensors/SafetensorsWriter.swift 'json += [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8)' '' \
  'SafetensorsTests' "the header is not padded to 8 bytes"
m st-overlap     $K/Formats/Safetensors/SafetensorsParsing.swift 'if e.begin < expected, let prev = previous {' 'if false, e.begin < expected, let prev = previous {' \
  'SafetensorsTests|SafetensorsHeaderTests' "overlapping tensors are accepted"
m st-holes       $K/Formats/Safetensors/SafetensorsParsing.swift '            if e.begin > expected {
                throw CheckpointError(.invalidSafetensors, "bytes' '            if false && e.begin > expected {
                throw CheckpointError(.invalidSafetensors, "bytes' \
  'SafetensorsTests|SafetensorsHeaderTests' "a hole between tensors is accepted"
# HDF5 mapping
m h5-int16       $K/HDF5/HDF5TypeMapping.swift 'case (2, true): return .int16' 'case (2, true): return .uint16' \
  'HDF5Tests|HDF5WriteTests' "a signed 16-bit HDF5 integer read as uint16"
m h5-write-i16   $K/HDF5/HDF5TypeMapping.swift 'case .int16: return api.T_STD_I16LE' 'case .int16: return api.T_STD_U16LE' \
  'HDF5Tests|HDF5WriteTests' "int16 written as an unsigned HDF5 type"
m h5-bool        $K/HDF5/HDF5TypeMapping.swift 'return seen == ["FALSE": 0, "TRUE": 1]' 'return seen == ["FALSE": 1, "TRUE": 0]' \
  'HDF5Tests|HDF5WriteTests' "h5py's bool enum not recognised"
# Others: statistics, histograms, JSON, atomic writes, Keras layers
m stats-zeros    $K/Analysis/TensorStats.swift 'if x == 0 { zeros &+= 1 }' 'if x == 0 && x.sign == .plus { zeros &+= 1 }' \
  'ReliabilityNumbersTests|HistogramTests' "-0 is not counted as a zero"
m json-control   $K/JSON/JSONWriter.swift 'if u.value < 0x20 || u.value == 0x7F ||' 'if u.value < 0x1F || u.value == 0x7F ||' \
  'JSONTests|ReliabilityHostileInputTests' "U+001F is written raw inside a JSON string"
m atomic-exists  $K/IO/AtomicOutputFile.swift 'throw CheckpointError(.outputExists, "the output file already exists", file: destination, hint: "pass --force to replace it")' '_ = 0' \
  'NPZTests|SafetensorsTests|StripRebuildTests' "an existing output is replaced without --force"
m keras-dense    $K/Keras/Layers/KerasLayersCore.swift '        try b.addWeight("kernel", [inDim, units])
        if try b.cfg.bool("use_bias", default: true)' '        if try b.cfg.bool("use_bias", default: true)' \
  'KerasArchitectureTests' "Dense layers are built without their kernel and bias"
# One more for each suite the lists above do not reach.
C=Sources/CheckpointCommands
m term-clear     $C/Support/Progress.swift 'if drawn { console.write("\r\u{1B}[K", to: .err) }' 'if drawn { }' \
  'TerminalTests' "the progress bar is left on the terminal at the end"
m html-escape    $C/Report/HTML.swift 'case "<": out += "&lt;"' 'case "<": out += "<"' \
  'ReportTests' "a tensor name's '<' reaches the HTML report raw"
m cli-suggest    $C/CkptCommand.swift 'text += "; did you mean `ckpt \(guess)`?"' 'text += ""' \
  'ShellIntegrationTests' "a mistyped subcommand gets no suggestion"
m hint-format    $C/Support/CheckpointFiles.swift 'or pass \(fromFlag) \(actual.rawValue)"' 'or pass \(fromFlag) \(actual.displayName)"' \
  'ErrorMessageTests' "the wrong-extension hint names a format --from does not take"
m diff-exit      $K/Analysis/DiffEngine.swift 'public var exitCode: Int32 { hasDifferences ? 1 : 0 }' 'public var exitCode: Int32 { 0 }' \
  'DiffCommandTests' "ckpt diff exits 0 when the files differ"
m size-short     $K/Formats/TensorSource.swift '        guard got == need else {' '        guard got <= need else {' \
  'WriterSizeCheckTests' "a source that gives fewer bytes than the shape holds is written"
m strip-count    $K/Operations/Strip.swift 'summary.removedTensors += 1' 'summary.removedTensors += 2' \
  'GettingStartedTests|ReadmeTests' "strip reports twice the optimizer tensors it removed"
m stale-owner    $K/IO/TemporaryFiles.swift 'guard b.count > m.count + 2, b[0] == UInt8(ascii: ".") else { return nil }' 'return nil' \
  'ReliabilityWriteTests' "temporary files of dead writers are never recognised (and never removed)"
m h5-bf16-attr   $K/HDF5/HDF5TypeMapping.swift 'if info.size == 2 && bfloat16Marked { return .bfloat16 }' 'if info.size == 2 && bfloat16Marked && false { return .bfloat16 }' \
  'KerasFileTests' "Keras 3's opaque bfloat16 datasets are refused"
m shard-gib      $K/Formats/Safetensors/SafetensorsWriter.swift 'case "gib": multiplier = 1 << 30' 'case "gib": multiplier = 1_000_000_000' \
  'SafetensorsTests|SafetensorsConvertTests' "--max-shard-size 1GiB means 10^9 bytes"
m hist-slack     $K/Analysis/Histogram.swift 'let offset = (n * m - counts.count) / 2' 'let offset = 0' \
  'HistogramTests' "the spare bins all at the top: the histogram is not centred on [min, max]"
m registry-names $K/Formats/Open.swift 'all.first { $0.names.contains(lower) }' 'all.first { $0.names.dropFirst().contains(lower) }' \
  'OperationsTests' "a format is not found by its own identifier"

if [ "$list" != 0 ]; then
    # --check: whether each mutation's text occurs exactly once in the working tree (no build).
    bad=0
    for k in "${!ids[@]}"; do
        note=""
        if [ "$list" = 2 ]; then
            c=$(OLD="${olds[$k]}" perl -0ne 'BEGIN { $c = 0 } $c += () = /\Q$ENV{OLD}\E/g; END { print $c }' "${files[$k]}")
            [ "$c" = 1 ] && note="ok" || { note="STALE($c)"; bad=1; }
        fi
        printf '%-16s %-9s %s\n' "${ids[$k]}" "$note" "${whats[$k]}"
    done
    echo "${#ids[@]} mutations"
    exit $bad
fi

selected() { [ ${#only[@]} -eq 0 ] && return 0; for o in "${only[@]}"; do [ "$o" = "$1" ] && return 0; done; return 1; }

# The scratch copy: the committed tree, never the working tree. --dir DIR keeps it (and its
# build) between runs: an existing worktree there is moved to this HEAD and built incrementally.
made_worktree=0
head=$(git rev-parse HEAD)
if [ -z "$scratch" ]; then
    scratch=$(mktemp -d /tmp/ckpt-mutations-XXXXXX)
    rmdir "$scratch"
fi
if [ -e "$scratch/.git" ]; then
    git -C "$scratch" checkout --quiet --force --detach "$head" || { echo "mutations.sh: cannot move $scratch to $head" >&2; exit 2; }
else
    git worktree add --quiet --detach "$scratch" "$head" || { echo "mutations.sh: cannot make the scratch copy" >&2; exit 2; }
    [ "$keep" = 1 ] || made_worktree=1
fi
cleanup() {
    if [ "$made_worktree" = 1 ]; then git -C "$root" worktree remove --force "$scratch"; fi
}
trap cleanup EXIT
[ -f Package.resolved ] && cp Package.resolved "$scratch/"
log="$scratch/.mutations"
mkdir -p "$log"
cd "$scratch" || exit 2
export CKPT_PROGRESS_DELAY=1000

echo "== building the unmutated copy in $scratch"
if ! swift build --build-tests >"$log/build.log" 2>&1; then tail -30 "$log/build.log" >&2; echo "mutations.sh: the unmutated tree does not build" >&2; exit 2; fi
echo "warnings in the build of Sources and Tests: $(grep -c 'warning:' "$log/build.log")"
# Every focused suite passes before any mutation (else "caught" would mean nothing).
all_filters=$(for k in "${!ids[@]}"; do selected "${ids[$k]}" && echo "${filters[$k]}"; done | tr '|' '\n' | sort -u | paste -sd'|')
echo "== the suites the mutations use, unmutated: $all_filters"
if ! swift test --skip-build --filter "$all_filters" >"$log/baseline.log" 2>&1; then
    grep -E '✘' "$log/baseline.log" | head -20 >&2
    echo "mutations.sh: the focused suites fail without any mutation" >&2
    exit 2
fi

caught=0 survived=0 broken=0
printf '%-16s %-9s %6s  %s\n' mutation result secs what
for k in "${!ids[@]}"; do
    id=${ids[$k]}
    selected "$id" || continue
    file=${files[$k]}
    start=$(date +%s)
    count=$(OLD="${olds[$k]}" perl -0ne 'BEGIN { $c = 0 } $c += () = /\Q$ENV{OLD}\E/g; END { print $c }' "$file")
    if [ "$count" != 1 ]; then
        result="stale($count)"
        broken=$((broken + 1))
    else
        OLD="${olds[$k]}" NEW="${news[$k]}" perl -0pi -e 's/\Q$ENV{OLD}\E/$ENV{NEW}/' "$file"
        if ! swift build --build-tests >"$log/$id.build.log" 2>&1; then
            result="no build"
            broken=$((broken + 1))
        elif swift test --skip-build --filter "${filters[$k]}" >"$log/$id.test.log" 2>&1; then
            result=SURVIVED
            survived=$((survived + 1))
        else
            result=caught
            caught=$((caught + 1))
        fi
        git checkout --quiet -- "$file"
    fi
    printf '%-16s %-9s %6s  %s\n' "$id" "$result" "$(( $(date +%s) - start ))" "${whats[$k]}"
done
echo "caught $caught, survived $survived, stale or not building $broken (logs in $log$([ "$keep" = 1 ] || echo ', removed'))"
[ $survived -eq 0 ] && [ $broken -eq 0 ]

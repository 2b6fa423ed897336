import CheckpointSystem
// libFuzzer targets for the readers of untrusted bytes, and a replayer for their inputs.
//
// Built for fuzzing (Tests/Fuzz/run.sh does this):
//   swift build -c release --product ckpt-fuzz --sanitize=fuzzer --sanitize=address \
//       -Xswiftc -DFUZZING --scratch-path .build-fuzz
//   CKPT_FUZZ_TARGET=container .build-fuzz/release/ckpt-fuzz corpus/ -max_total_time=60
//
// Built normally (`swift build`), the same code is a replayer: `ckpt-fuzz [--target T] FILE...`
// runs each file through target T (or every target) and reports what the reader said. A reader
// may refuse an input only with a `CheckpointError`; any other outcome (a trap, another error
// type, a broken round trip) is a finding, and the harness aborts so libFuzzer keeps the input.
//
// Targets (`CKPT_FUZZ_TARGET`):
//   container    bytes as a .ckpt: open, list, verify, read every tensor, statistics, values
//   npz          bytes as a .npz: open, read every tensor, statistics
//   npy          bytes as a .npy member: header length and parse; a parsed header re-encodes
//                and parses back to the same dtype and shape
//   json         JSONParser.parse (re-serialised, it parses back equal) and Manifest.decode
//                (re-encoded, it decodes back equal)
//   keras        KerasArchitecture(bytes:), its variables both ways, its optimizer and slots
//   safetensors  SafetensorsSource.parseHeader (file size = input size) and parseShardIndex
//   gguf         GGUFSource over the bytes: header, metadata (summary JSON included), every tensor
//                read (dequantized) and its statistics; accepted tensors lie inside the input
//   pytorch      the restricted unpickler: the bytes as a bare data.pkl (strict and lenient), and
//                as a torch file (zip or legacy) in memory: open, read every tensor
//   tensorflow   the bytes as a checkpoint .index (LevelDB table, BundleHeaderProto, BundleEntryProto;
//                an accepted table re-built by the writer reads back equal), and as the protobuf
//                messages a checkpoint or SavedModel holds (TrackableObjectGraph, re-encoded it
//                decodes back equal; SavedModel signatures; SavedMetadata; a meta graph's collections)

import CheckpointKit

enum FuzzTarget: String, CaseIterable, Sendable {
    case container, npz, npy, json, keras, safetensors, gguf, pytorch, tensorflow
}

/// Low limits: a fuzzer's input is a few KiB, and nothing it says may make a reader allocate much.
let fuzzLimits: Limits = {
    var l = Limits()
    l.maxCentralDirectoryBytes = 1 << 20
    l.maxMembers = 512
    l.maxMemberNameBytes = 1024
    l.maxManifestBytes = 1 << 20
    l.maxJSONBytes = 1 << 20
    l.maxJSONDepth = 64
    l.maxNPYHeaderBytes = 8192
    l.maxRank = 32
    l.maxInMemoryTensorBytes = 64 << 20
    l.maxTensorBytes = 64 << 20
    l.maxHeaderBytes = 1 << 20
    return l
}()

/// Writes a line to standard error (fd 2: the C `stderr` global is not concurrency-safe in Swift 6).
func say(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { b in try? FileDescriptor.standardError.writeAll(UnsafeRawBufferPointer(b)) }
}

/// A finding: print it and abort (libFuzzer saves the input as a crash).
func finding(_ what: String) -> Never {
    say("ckpt-fuzz: FINDING: \(what)")
    SystemProcess.abort()
}

/// Runs `body`; a `CheckpointError` is an acceptable refusal, anything else is a finding.
@discardableResult
func refusal(_ target: FuzzTarget, _ step: String, _ body: () throws -> Void) -> CheckpointError? {
    do {
        try body()
        return nil
    } catch let e as CheckpointError {
        // Every refusal must render as one sentence (this also exercises the escaping).
        let text = e.description
        if text.isEmpty || !(text.hasSuffix(".") || text.hasSuffix("?") || text.hasSuffix("!")) { finding("\(target) \(step): an error without a sentence: \(e.code)") }
        return e
    } catch {
        finding("\(target) \(step): a non-CheckpointError was thrown: \(error)")
    }
}

/// Reads every tensor of `source` in memory, then again as statistics and printed values.
func readAll(_ target: FuzzTarget, _ source: any TensorSource) {
    for i in source.index.tensors.indices {
        let info = source.index.tensors[i]
        _ = info.shapeDescription
        _ = info.layer
        refusal(target, "read tensor \(i)") {
            let bytes = try source.readTensorBytes(i, limits: fuzzLimits)
            guard bytes.count == info.byteCount else { finding("\(target): tensor \(i) read as \(bytes.count) bytes, its shape says \(info.byteCount ?? -1)") }
            let n = min(info.elementCount ?? 0, 16)
            bytes.withUnsafeBytes { b in
                for k in 0..<n {
                    _ = Elements.text(info.dtype, b, at: k)
                    _ = Elements.json(info.dtype, b, at: k)
                }
            }
        }
        refusal(target, "stats of tensor \(i)") {
            let s = try TensorStats.compute(source, tensor: i, parallel: false)
            if s.count != (info.elementCount ?? -1) { finding("\(target): statistics counted \(s.count) elements of \(info.elementCount ?? -1)") }
            if s.finite + s.nans + s.infs != s.count { finding("\(target): statistics classes do not add up") }
        }
    }
}

func fuzzContainer(_ bytes: [UInt8]) -> [CheckpointError?] {
    // Odd sizes take the small-tail path, so the directory is read from the "file", not the tail.
    let file = ReadableFile(bytes: bytes, name: "fuzz.ckpt")
    return [refusal(.container, "open") {
        let zip = try ZipArchive(file: file, limits: fuzzLimits, tailBytes: bytes.count % 2 == 1 ? 64 : 256 << 10)
        let archive = try CheckpointArchive(zip: zip, limits: fuzzLimits)
        _ = archive.index.kind
        _ = archive.index.optimizer?.learningRate
        _ = archive.index.metadata.serialized()
        refusal(.container, "verify") { try archive.verify(parallel: false) }
        readAll(.container, archive)
    }]
}

func fuzzNPZ(_ bytes: [UInt8]) -> [CheckpointError?] {
    let file = ReadableFile(bytes: bytes, name: "fuzz.npz")
    return [refusal(.npz, "open") {
        let zip = try ZipArchive(file: file, limits: fuzzLimits, tailBytes: bytes.count % 2 == 1 ? 64 : 256 << 10)
        let npz = try NPZSource(zip: zip, limits: fuzzLimits)
        readAll(.npz, npz)
    }]
}

func fuzzNPY(_ bytes: [UInt8]) -> [CheckpointError?] {
    [refusal(.npy, "header length") { _ = try NPY.headerLength(prefix: Array(bytes.prefix(NPY.preambleLength)), limits: fuzzLimits) },
     refusal(.npy, "parse") {
        let h = try NPY.parseHeader(bytes, limits: fuzzLimits, file: "fuzz.npy", member: "x.npy", offset: 0)
        guard !h.bigEndian else { return }
        let again = try NPY.parseHeader(NPY.header(dtype: h.dtype, shape: h.shape), limits: Limits())
        if again.dtype != h.dtype || again.shape != h.shape || again.fortranOrder {
            finding("npy: \(h.descr) \(h.shape) re-encoded parses as \(again.descr) \(again.shape)")
        }
    }]
}

func fuzzJSON(_ bytes: [UInt8]) -> [CheckpointError?] {
    var options = JSONParser.Options()
    options.maxDepth = 64
    return [refusal(.json, "parse") {
        let v = try JSONParser.parse(bytes, options: options)
        for style in [JSONStyle.compact, .pretty] {
            let text = v.serializedBytes(style)
            let back: JSONValue
            do { back = try JSONParser.parse(text, options: options) } catch { finding("json: what the writer wrote (\(style)) does not parse: \(error)") }
            if back != v { finding("json: a value does not survive serialisation (\(style))") }
        }
    }, refusal(.json, "manifest") {
        let m = try Manifest.decode(bytes, file: "fuzz.json", offset: 0, limits: fuzzLimits)
        let again: Manifest
        do { again = try Manifest.decode(m.json().serializedBytes(), file: "again.json", offset: 0, limits: fuzzLimits) } catch {
            finding("json: a decoded manifest, re-encoded, does not decode: \(error)")
        }
        if again.tensors != m.tensors || again.kind != m.kind || again.chunkSize != m.chunkSize || again.metadata != m.metadata
            || (again.optimizerIterations ?? 0) != (m.optimizerIterations ?? 0) || again.architectureMember != m.architectureMember
            || again.optimizerMember != m.optimizerMember {
            finding("json: a manifest does not survive re-encoding")
        }
    }]
}

func fuzzKeras(_ bytes: [UInt8]) -> [CheckpointError?] {
    var inner: [CheckpointError?] = []
    let outer = refusal(.keras, "architecture") {
        let arch = try KerasArchitecture(bytes: bytes)
        for options in [KerasInferenceOptions(), KerasInferenceOptions(allowUnknownLayers: true, useRecordedShapes: false)] {
            inner.append(refusal(.keras, "variables") {
                let v = try arch.variables(options: options)
                if let opt = try arch.optimizerConfig(), v.unknownLayers.isEmpty {
                    _ = try opt.stateVariables(for: v)
                    _ = opt.optimizerInfo(iterations: 7)
                }
            })
        }
    }
    return [outer] + inner
}

func fuzzSafetensors(_ bytes: [UInt8]) -> [CheckpointError?] {
    [refusal(.safetensors, "header") {
        let h = try SafetensorsSource.parseHeader(bytes, fileSize: UInt64(bytes.count), limits: fuzzLimits, file: "fuzz.safetensors")
        var expected = h.dataStart
        for t in h.tensors {
            if t.begin + h.dataStart != expected || t.end < t.begin { finding("safetensors: an accepted header has holes or overlaps") }
            expected = h.dataStart + t.end
        }
        if expected != UInt64(bytes.count) { finding("safetensors: an accepted header does not cover the file exactly") }
    },
     refusal(.safetensors, "index") { _ = try SafetensorsSource.parseShardIndex(bytes, limits: fuzzLimits, file: "fuzz.index.json") }]
}

func fuzzGGUF(_ bytes: [UInt8]) -> [CheckpointError?] {
    [refusal(.gguf, "open") {
        let source = try GGUFSource(file: ReadableFile(bytes: bytes, name: "fuzz.gguf"), limits: fuzzLimits)
        let h = source.header
        _ = source.index.metadata.serialized()
        for e in h.metadata { _ = e.value.json() }
        if h.dataOffset % UInt64(h.alignment) != 0 || h.dataOffset < h.endOfTensorInfos { finding("gguf: the data offset is not the aligned end of the header") }
        for t in h.tensors where t.byteCount > 0 && t.absoluteOffset + UInt64(t.byteCount) > UInt64(bytes.count) {
            finding("gguf: an accepted tensor lies past the end of the input")
        }
        readAll(.gguf, source)
    }]
}

/// Low pickle limits, for the same reason as `fuzzLimits`.
let fuzzPickleLimits: PickleLimits = {
    var l = PickleLimits()
    l.maxPickleBytes = 1 << 20
    l.maxOpcodes = 1 << 20
    l.maxStack = 1 << 16
    l.maxMarks = 1 << 12
    l.maxMemo = 1 << 16
    l.maxAllocatedBytes = 64 << 20
    l.maxStringBytes = 1 << 20
    l.maxVisits = 1 << 16
    return l
}()

func fuzzPyTorch(_ bytes: [UInt8]) -> [CheckpointError?] {
    var out: [CheckpointError?] = []
    for lenient in [false, true] {
        out.append(refusal(.pytorch, "pickle\(lenient ? " (lenient)" : "")") {
            let index = try PyTorchSource.describePickle(bytes, limits: fuzzLimits, pickleLimits: fuzzPickleLimits, lenient: lenient)
            var names = Set<String>()
            for t in index.tensors where !names.insert(t.name).inserted { finding("pytorch: two tensors named \(t.name) were accepted") }
            _ = index.metadata.serialized()
            _ = index.optimizer?.config.serialized()
        })
    }
    out.append(refusal(.pytorch, "file") {
        let source = try PyTorchSource(file: ReadableFile(bytes: bytes, name: "fuzz.pt"), limits: fuzzLimits, pickleLimits: fuzzPickleLimits)
        _ = source.notes
        readAll(.pytorch, source)
        let plan = SharedTensors.plan(source, Array(source.index.tensors.indices))
        if plan.keep.count + plan.aliases.count != source.index.tensors.count { finding("pytorch: the shared-tensor plan loses tensors") }
    })
    return out
}

func fuzzTensorFlow(_ bytes: [UInt8]) -> [CheckpointError?] {
    [refusal(.tensorflow, "table") {
        let entries = try TFBundle.tableEntries(bytes, file: "fuzz.index", limits: fuzzLimits)
        let again = try TFBundle.tableEntries(TFBundle.table(entries), limits: fuzzLimits)
        if again.count != entries.count || zip(again, entries).contains(where: { $0.key != $1.key || $0.value != $1.value }) {
            finding("tensorflow: a table re-built from its entries reads back different")
        }
    }, refusal(.tensorflow, "bundle") {
        let bundle = try TFBundle(indexBytes: bytes, path: "fuzz.index", limits: fuzzLimits)
        for e in bundle.entries { _ = e.proto.dtype.name }
        let again = try TFBundle(indexBytes: TFBundle.table(bundle.reencoded()), path: "again.index", limits: fuzzLimits)
        if again.entries.map(\.key) != bundle.entries.map(\.key) || again.entries.map(\.proto) != bundle.entries.map(\.proto) || again.header != bundle.header {
            finding("tensorflow: a bundle index re-encoded reads back different")
        }
    }, refusal(.tensorflow, "object graph") {
        let g = try TFObjectGraph.decode(bytes, limits: fuzzLimits)
        if try TFObjectGraph.decode(g.encoded(), limits: fuzzLimits) != g { finding("tensorflow: an object graph re-encoded decodes different") }
    }, refusal(.tensorflow, "saved model") { _ = try TFSignature.decode(savedModel: bytes, limits: fuzzLimits) },
       refusal(.tensorflow, "keras metadata") { _ = try TFKerasMetadataNode.decode(bytes, limits: fuzzLimits) },
       refusal(.tensorflow, "meta graph") { _ = try TFBundle.trainableVariables(metaGraph: bytes, limits: fuzzLimits) }]
}

/// Runs one input; returns what each step said (nil: accepted), for the replayer.
@discardableResult
func fuzz(_ target: FuzzTarget, _ bytes: [UInt8]) -> [CheckpointError?] {
    switch target {
    case .container: fuzzContainer(bytes)
    case .npz: fuzzNPZ(bytes)
    case .npy: fuzzNPY(bytes)
    case .json: fuzzJSON(bytes)
    case .keras: fuzzKeras(bytes)
    case .safetensors: fuzzSafetensors(bytes)
    case .gguf: fuzzGGUF(bytes)
    case .pytorch: fuzzPyTorch(bytes)
    case .tensorflow: fuzzTensorFlow(bytes)
    }
}

/// The target named by `CKPT_FUZZ_TARGET`, read once.
let selectedTarget: FuzzTarget = {
    guard let name = SystemProcess.environment("CKPT_FUZZ_TARGET") else {
        say("ckpt-fuzz: set CKPT_FUZZ_TARGET to one of \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))")
        SystemProcess.exit(2)
    }
    guard let t = FuzzTarget(rawValue: name) else {
        say("ckpt-fuzz: unknown CKPT_FUZZ_TARGET \"\(name)\"")
        SystemProcess.exit(2)
    }
    return t
}()

/// Seeds: `CKPT_FUZZ_MAKE_SEEDS=DIR` writes them into DIR/<target>/ (made beforehand) and exits.
func makeSeedsIfAsked() {
    guard let dir = SystemProcess.environment("CKPT_FUZZ_MAKE_SEEDS") else { return }
    do {
        try Seeds.make(into: dir)
        SystemProcess.exit(0)
    } catch {
        say("ckpt-fuzz: cannot make the seeds: \(error)")
        SystemProcess.exit(2)
    }
}

@_cdecl("LLVMFuzzerInitialize")
public func LLVMFuzzerInitialize(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
    makeSeedsIfAsked()
    _ = selectedTarget
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    fuzz(selectedTarget, bytes)
    return 0
}

#if !FUZZING
/// `ckpt-fuzz [--target T] FILE...`: runs each file through T (default: `CKPT_FUZZ_TARGET`, else
/// every target), printing one line per file and target. Exits 0 unless a finding aborts it.
@main
struct Replayer {
    static func main() {
        makeSeedsIfAsked()
        var args = Array(CommandLine.arguments.dropFirst())
        var targets = FuzzTarget.allCases
        if let env = SystemProcess.environment("CKPT_FUZZ_TARGET"), let t = FuzzTarget(rawValue: env) { targets = [t] }
        if let k = args.firstIndex(of: "--target"), k + 1 < args.count {
            guard let t = FuzzTarget(rawValue: args[k + 1]) else {
                say("ckpt-fuzz: unknown target \"\(args[k + 1])\"")
                SystemProcess.exit(2)
            }
            targets = [t]
            args.removeSubrange(k...(k + 1))
        }
        if args.isEmpty {
            say("usage: ckpt-fuzz [--target \(FuzzTarget.allCases.map(\.rawValue).joined(separator: "|"))] FILE...")
            SystemProcess.exit(2)
        }
        for path in args {
            guard let file = try? ReadableFile(path: path), let bytes = try? file.read(at: 0, count: Int(file.size)) else {
                say("ckpt-fuzz: cannot read \(path)")
                SystemProcess.exit(2)
            }
            for t in targets {
                let outcome = fuzz(t, bytes).map { $0.map { "refused (\($0.code)): \($0)" } ?? "accepted" }
                print("\(t.rawValue)\t\(path)\t" + outcome.joined(separator: " | "))
            }
        }
    }
}
#endif

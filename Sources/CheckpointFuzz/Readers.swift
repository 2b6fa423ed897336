// The steps of each fuzz target (see FuzzTargets.swift for the contract):
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

import CheckpointKit

private var limits: Limits { FuzzTargets.limits }

/// Reads every tensor of `source` in memory, then again as statistics and printed values.
func readAll(_ run: FuzzRun, _ source: any TensorSource) {
    for i in source.index.tensors.indices {
        let info = source.index.tensors[i]
        _ = info.shapeDescription
        _ = info.layer
        run.step("read tensor \(i)") {
            let bytes = try source.readTensorBytes(i, limits: limits)
            guard bytes.count == info.byteCount else {
                run.finding("tensor \(i) read as \(bytes.count) bytes, its shape says \(info.byteCount ?? -1)")
                return
            }
            let n = min(info.elementCount ?? 0, 16)
            bytes.withUnsafeBytes { b in
                for k in 0..<n {
                    _ = Elements.text(info.dtype, b, at: k)
                    _ = Elements.json(info.dtype, b, at: k)
                }
            }
        }
        run.step("stats of tensor \(i)") {
            let s = try TensorStats.compute(source, tensor: i, parallel: false)
            if s.count != (info.elementCount ?? -1) { run.finding("statistics counted \(s.count) elements of \(info.elementCount ?? -1)") }
            if s.finite + s.nans + s.infs != s.count { run.finding("statistics classes do not add up") }
        }
    }
}

/// Odd sizes take the small-tail path, so the directory is read from the "file", not the tail.
private func tailBytes(_ bytes: [UInt8]) -> Int { bytes.count % 2 == 1 ? 64 : 256 << 10 }

func fuzzContainer(_ run: FuzzRun, _ bytes: [UInt8]) {
    run.step("open") {
        let zip = try ZipArchive(file: ReadableFile(bytes: bytes, name: "fuzz.ckpt"), limits: limits, tailBytes: tailBytes(bytes))
        let archive = try CheckpointArchive(zip: zip, limits: limits)
        _ = archive.index.kind
        _ = archive.index.optimizer?.learningRate
        _ = archive.index.metadata.serialized()
        run.step("verify") { try archive.verify(parallel: false) }
        readAll(run, archive)
    }
}

func fuzzNPZ(_ run: FuzzRun, _ bytes: [UInt8]) {
    run.step("open") {
        let zip = try ZipArchive(file: ReadableFile(bytes: bytes, name: "fuzz.npz"), limits: limits, tailBytes: tailBytes(bytes))
        readAll(run, try NPZSource(zip: zip, limits: limits))
    }
}

func fuzzNPY(_ run: FuzzRun, _ bytes: [UInt8]) {
    run.step("header length") { _ = try NPY.headerLength(prefix: Array(bytes.prefix(NPY.preambleLength)), limits: limits) }
    run.step("parse") {
        let h = try NPY.parseHeader(bytes, limits: limits, file: "fuzz.npy", member: "x.npy", offset: 0)
        guard !h.bigEndian else { return }
        let again = try NPY.parseHeader(NPY.header(dtype: h.dtype, shape: h.shape), limits: Limits())
        if again.dtype != h.dtype || again.shape != h.shape || again.fortranOrder {
            run.finding("\(h.descr) \(h.shape) re-encoded parses as \(again.descr) \(again.shape)")
        }
    }
}

func fuzzJSON(_ run: FuzzRun, _ bytes: [UInt8]) {
    var options = JSONParser.Options()
    options.maxDepth = 64
    run.step("parse") {
        let v = try JSONParser.parse(bytes, options: options)
        for style in [JSONStyle.compact, .pretty] {
            let text = v.serializedBytes(style)
            guard let back = try? JSONParser.parse(text, options: options) else {
                run.finding("what the writer wrote (\(style)) does not parse")
                continue
            }
            if back != v { run.finding("a value does not survive serialisation (\(style))") }
        }
    }
    run.step("manifest") {
        let m = try Manifest.decode(bytes, file: "fuzz.json", offset: 0, limits: limits)
        guard let again = try? Manifest.decode(m.json().serializedBytes(), file: "again.json", offset: 0, limits: limits) else {
            run.finding("a decoded manifest, re-encoded, does not decode")
            return
        }
        if again.tensors != m.tensors || again.kind != m.kind || again.chunkSize != m.chunkSize || again.metadata != m.metadata
            || (again.optimizerIterations ?? 0) != (m.optimizerIterations ?? 0) || again.architectureMember != m.architectureMember
            || again.optimizerMember != m.optimizerMember {
            run.finding("a manifest does not survive re-encoding")
        }
    }
}

func fuzzKeras(_ run: FuzzRun, _ bytes: [UInt8]) {
    run.step("architecture") {
        let arch = try KerasArchitecture(bytes: bytes)
        for options in [KerasInferenceOptions(), KerasInferenceOptions(allowUnknownLayers: true, useRecordedShapes: false)] {
            run.step("variables") {
                let v = try arch.variables(options: options)
                if let opt = try arch.optimizerConfig(), v.unknownLayers.isEmpty {
                    _ = try opt.stateVariables(for: v)
                    _ = opt.optimizerInfo(iterations: 7)
                }
            }
        }
    }
}

func fuzzSafetensors(_ run: FuzzRun, _ bytes: [UInt8]) {
    run.step("header") {
        let h = try SafetensorsSource.parseHeader(bytes, fileSize: UInt64(bytes.count), limits: limits, file: "fuzz.safetensors")
        var expected = h.dataStart
        for t in h.tensors {
            if t.begin + h.dataStart != expected || t.end < t.begin { run.finding("an accepted header has holes or overlaps") }
            expected = h.dataStart + t.end
        }
        if expected != UInt64(bytes.count) { run.finding("an accepted header does not cover the file exactly") }
    }
    run.step("index") { _ = try SafetensorsSource.parseShardIndex(bytes, limits: limits, file: "fuzz.index.json") }
}

func fuzzGGUF(_ run: FuzzRun, _ bytes: [UInt8]) {
    run.step("open") {
        let source = try GGUFSource(file: ReadableFile(bytes: bytes, name: "fuzz.gguf"), limits: limits)
        let h = source.header
        _ = source.index.metadata.serialized()
        for e in h.metadata { _ = e.value.json() }
        if h.dataOffset % UInt64(h.alignment) != 0 || h.dataOffset < h.endOfTensorInfos { run.finding("the data offset is not the aligned end of the header") }
        for t in h.tensors where t.byteCount > 0 && t.absoluteOffset + UInt64(t.byteCount) > UInt64(bytes.count) {
            run.finding("an accepted tensor lies past the end of the input")
        }
        readAll(run, source)
    }
}

/// Low pickle limits, for the same reason as `FuzzTargets.limits`.
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

func fuzzPyTorch(_ run: FuzzRun, _ bytes: [UInt8]) {
    for lenient in [false, true] {
        run.step("pickle\(lenient ? " (lenient)" : "")") {
            let index = try PyTorchSource.describePickle(bytes, limits: limits, pickleLimits: fuzzPickleLimits, lenient: lenient)
            var names = Set<String>()
            for t in index.tensors where !names.insert(t.name).inserted { run.finding("two tensors named \(t.name) were accepted") }
            _ = index.metadata.serialized()
            _ = index.optimizer?.config.serialized()
        }
    }
    run.step("file") {
        let source = try PyTorchSource(file: ReadableFile(bytes: bytes, name: "fuzz.pt"), limits: limits, pickleLimits: fuzzPickleLimits)
        _ = source.notes
        readAll(run, source)
        let plan = SharedTensors.plan(source, Array(source.index.tensors.indices))
        if plan.keep.count + plan.aliases.count != source.index.tensors.count { run.finding("the shared-tensor plan loses tensors") }
    }
}

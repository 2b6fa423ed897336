// The hdf5 target (issue 16): the bytes as an HDF5 file image in memory, read through the
// project's libhdf5 layer as the Keras readers read it — walk the tree, every object's attributes,
// every dataset's metadata and, within the fuzz limits, its data (the chunk-size, sparse and
// tensor-size checks run before any read). libhdf5 itself is in scope: a crash inside it is a
// finding too. Seeds: .weights.h5 files written by ckpt, and the small HDF5 fixtures.

import CheckpointKit

/// HDF5 bounds for fuzzing: a few KiB of input may not make libhdf5 allocate much.
let fuzzHDF5Limits: HDF5Limits = {
    var l = HDF5Limits()
    l.maxTensorBytes = 16 << 20
    l.maxAttributeBytes = 1 << 20
    l.maxLinksPerGroup = 4096
    l.maxAttributesPerObject = 256
    l.maxNodes = 4096
    l.maxDepth = 32
    l.maxChunkBytes = 1 << 20
    l.maxChunkCacheBytes = 4 << 20
    return l
}()

func fuzzHDF5(_ run: FuzzRun, _ bytes: [UInt8]) {
    guard !bytes.isEmpty, HDF5Library.isAvailable else { return }
    bytes.withUnsafeBytes { raw in
        guard let base = raw.baseAddress else { return }
        var file: HDF5File?
        run.step("open image") { file = try HDF5File.openImage(pointer: base, count: raw.count, fileName: "fuzz.h5", limits: fuzzHDF5Limits) }
        guard let file else { return }
        var nodes: [HDF5Node] = []
        run.step("walk") { nodes = try file.walk() }
        for node in nodes.prefix(256) {
            run.step("object \(node.path)") {
                guard let object = try file.object(node.path) else { return }
                for a in try object.attributes() { _ = a.stringValues }
                guard let dataset = object as? HDF5Dataset else { return }
                let info = try dataset.info()
                guard info.byteCount <= 4 << 20 else { return }
                let data = try dataset.read()
                if data.count != info.byteCount { run.finding("\(node.path): read \(data.count) bytes, its shape says \(info.byteCount)") }
            }
        }
        run.step("close") { try file.close() }
    }
}
